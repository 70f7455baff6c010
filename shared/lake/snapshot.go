package lake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// SnapshotVersion is the schema version of snapshot manifests.
const SnapshotVersion = "cloudtrim.snapshot/v1"

// Scope statuses recorded in a manifest.
const (
	ScopeOK      = "ok"
	ScopePartial = "partial"
	ScopeFailed  = "failed"
)

// Window is the time range a snapshot's utilization and costs cover,
// [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ScopeStatus says how reading one account and region went.
type ScopeStatus struct {
	Account   string `json:"account"`
	Region    string `json:"region"`
	Status    string `json:"status"` // ScopeOK, ScopePartial or ScopeFailed
	Error     string `json:"error,omitempty"`
	Resources int    `json:"resources"`
}

// FileEntry is one Parquet file of a snapshot. Path is the key from the
// lake's root; readers check Bytes and SHA256 (hex) before decoding.
type FileEntry struct {
	Path    string `json:"path"`
	Table   string `json:"table"`
	Account string `json:"account"`
	Date    string `json:"date"`
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// TableInfo describes one table of a snapshot.
type TableInfo struct {
	Schema string `json:"schema"`
	Rows   int64  `json:"rows"`
	Files  int    `json:"files"`
}

// Manifest commits a snapshot: it is written last, and a run without one
// does not exist for readers.
type Manifest struct {
	Version   string               `json:"version"`
	Cloud     domain.Cloud         `json:"cloud"`
	RunID     string               `json:"run_id"`
	CreatedAt time.Time            `json:"created_at"`
	Window    Window               `json:"window"`
	Tables    map[string]TableInfo `json:"tables"`
	Files     []FileEntry          `json:"files"`
	Scopes    []ScopeStatus        `json:"scopes"`
	Collector string               `json:"collector,omitempty"`
	// Dataset is DatasetBilling for an ingested billing export, empty for
	// a collector's snapshot.
	Dataset string `json:"dataset,omitempty"`
	// Periods are the charge months ("2024-09") a billing snapshot holds
	// cost rows for.
	Periods []string `json:"periods,omitempty"`
}

// Datasets: the two kinds of committed run. Collector snapshots live under
// "snapshots/", ingested billing exports under "billing/"; both use the
// same manifest, tables and commit protocol.
const (
	DatasetSnapshots = "snapshots"
	DatasetBilling   = "billing"
)

func datasetRoot(dataset string) string {
	if dataset == DatasetBilling {
		return DatasetBilling
	}
	return DatasetSnapshots
}

func runPrefix(dataset string, cloud domain.Cloud, runID string) string {
	return datasetRoot(dataset) + "/cloud=" + string(cloud) + "/run=" + runID + "/"
}

func latestPointer(dataset string, cloud domain.Cloud) string {
	return datasetRoot(dataset) + "/" + string(cloud) + "/latest"
}

// NewRunID returns a run ID that sorts by time: the UTC time to the
// millisecond and 8 random hex digits, e.g. "20261123T083000.123Z-1f2e3d4c".
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return now.UTC().Format("20060102T150405.000Z") + "-" + hex.EncodeToString(b[:])
}

// RunPrefix returns the key prefix of a run's files, ending with "/".
func RunPrefix(cloud domain.Cloud, runID string) string {
	return runPrefix(DatasetSnapshots, cloud, runID)
}

// ManifestKey returns the key of a run's manifest.
func ManifestKey(cloud domain.Cloud, runID string) string {
	return RunPrefix(cloud, runID) + "_manifest.json"
}

// LatestPointer returns the name of the pointer to a cloud's latest
// committed snapshot.
func LatestPointer(cloud domain.Cloud) string { return latestPointer(DatasetSnapshots, cloud) }

// BillingManifestKey returns the key of a billing run's manifest.
func BillingManifestKey(cloud domain.Cloud, runID string) string {
	return runPrefix(DatasetBilling, cloud, runID) + "_manifest.json"
}

func checkCloud(c domain.Cloud) error {
	switch c {
	case domain.AWS, domain.Azure, domain.GCP:
		return nil
	}
	return fmt.Errorf("%w: unknown cloud %q", domain.ErrInvalid, c)
}

// Snapshot is a committed snapshot open for reading. Its methods stream
// the tables; each file is checked against the manifest before decoding.
type Snapshot struct {
	l        *Lake
	m        Manifest
	key      string
	checksum string
	// months, when set, limits the cost rows read to files of these
	// charge months (see CurrentBilling).
	months map[string]bool
}

// Manifest returns the snapshot's manifest.
func (s *Snapshot) Manifest() Manifest { return s.m }

// Key returns the key of the snapshot's manifest.
func (s *Snapshot) Key() string { return s.key }

// Checksum returns "sha256:" and the hex digest of the manifest as
// stored, which names this exact snapshot.
func (s *Snapshot) Checksum() string { return s.checksum }

// Ref returns the reference a plan records for the snapshot.
func (s *Snapshot) Ref() domain.SnapshotRef {
	return domain.SnapshotRef{Cloud: s.m.Cloud, RunID: s.m.RunID, Manifest: s.key, Checksum: s.checksum, At: s.m.CreatedAt}
}

func (s *Snapshot) name() string { return string(s.m.Cloud) + "/" + s.m.RunID }

// OpenSnapshot opens the committed snapshot of a run. A run without a
// manifest (never committed, or still being written) is
// domain.ErrNotFound. A manifest that is not valid JSON or does not
// describe this run is domain.ErrInvalid naming its key; one whose version
// or a table schema version this code does not know is
// domain.ErrUnsupported naming the version.
func (l *Lake) OpenSnapshot(ctx context.Context, cloud domain.Cloud, runID string) (*Snapshot, error) {
	return l.openRun(ctx, DatasetSnapshots, cloud, runID)
}

// OpenBilling opens the committed billing snapshot of an ingest run, with
// the errors of OpenSnapshot.
func (l *Lake) OpenBilling(ctx context.Context, cloud domain.Cloud, runID string) (*Snapshot, error) {
	return l.openRun(ctx, DatasetBilling, cloud, runID)
}

func (l *Lake) openRun(ctx context.Context, dataset string, cloud domain.Cloud, runID string) (*Snapshot, error) {
	what := "open " + kindName(dataset)
	if err := checkCloud(cloud); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", what, cloud, runID, err)
	}
	if err := checkSegment("run id", runID); err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", what, cloud, runID, err)
	}
	key := runPrefix(dataset, cloud, runID) + "_manifest.json"
	b, err := l.st.Get(ctx, key)
	if isNotFound(err) {
		return nil, fmt.Errorf("%s %s/%s: %w: no manifest %s (not committed)", what, cloud, runID, domain.ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: read %s: %w", what, cloud, runID, key, err)
	}
	m, err := parseManifest(key, b)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", what, cloud, runID, err)
	}
	if m.Cloud != cloud || m.RunID != runID || datasetRoot(m.Dataset) != datasetRoot(dataset) {
		return nil, fmt.Errorf("%s %s/%s: %w: %s describes run %s/%s", what, cloud, runID, domain.ErrInvalid, key, m.Cloud, m.RunID)
	}
	sum := sha256.Sum256(b)
	return &Snapshot{l: l, m: m, key: key, checksum: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

func kindName(dataset string) string {
	if dataset == DatasetBilling {
		return "billing snapshot"
	}
	return "snapshot"
}

// parseManifest decodes and checks a manifest read from key.
func parseManifest(key string, b []byte) (Manifest, error) {
	var m Manifest
	if err := decodeJSON(key, b, &m); err != nil {
		return Manifest{}, err
	}
	if m.Version != SnapshotVersion {
		return Manifest{}, fmt.Errorf("%w: manifest %s has version %q; this build reads %q", domain.ErrUnsupported, key, m.Version, SnapshotVersion)
	}
	for table, info := range m.Tables {
		want, ok := tableSchemas[table]
		if !ok {
			return Manifest{}, fmt.Errorf("%w: manifest %s: unknown table %q (schema %q)", domain.ErrUnsupported, key, table, info.Schema)
		}
		if info.Schema != want && !slices.Contains(readableSchemas[table], info.Schema) {
			return Manifest{}, fmt.Errorf("%w: manifest %s: table %s has schema version %q; this build reads %q", domain.ErrUnsupported, key, table, info.Schema, want)
		}
	}
	prefix := runPrefix(m.Dataset, m.Cloud, m.RunID)
	for _, f := range m.Files {
		if _, ok := m.Tables[f.Table]; !ok {
			return Manifest{}, fmt.Errorf("%w: manifest %s: file %s belongs to table %q, which the manifest does not describe", domain.ErrInvalid, key, f.Path, f.Table)
		}
		if !strings.HasPrefix(f.Path, prefix) || checkKey(f.Path) != nil {
			return Manifest{}, fmt.Errorf("%w: manifest %s: file %s lies outside the run", domain.ErrInvalid, key, f.Path)
		}
	}
	return m, nil
}

// LatestSnapshot opens the snapshot the cloud's latest pointer names:
// the committed run with the greatest run ID. It is domain.ErrNotFound
// when the cloud has no committed snapshot.
func (l *Lake) LatestSnapshot(ctx context.Context, cloud domain.Cloud) (*Snapshot, error) {
	return l.latest(ctx, DatasetSnapshots, cloud)
}

// LatestBilling opens the newest committed billing snapshot of a cloud,
// with the errors of LatestSnapshot.
func (l *Lake) LatestBilling(ctx context.Context, cloud domain.Cloud) (*Snapshot, error) {
	return l.latest(ctx, DatasetBilling, cloud)
}

func (l *Lake) latest(ctx context.Context, dataset string, cloud domain.Cloud) (*Snapshot, error) {
	what := "latest " + kindName(dataset)
	if err := checkCloud(cloud); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, cloud, err)
	}
	p, err := l.ReadPointer(ctx, latestPointer(dataset, cloud))
	if isNotFound(err) {
		return nil, fmt.Errorf("%s %s: %w: none committed", what, cloud, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, cloud, err)
	}
	s, err := l.openRun(ctx, dataset, cloud, p.Target)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, cloud, err)
	}
	return s, nil
}

// ListSnapshots returns the manifests of the cloud's committed
// snapshots, oldest run first. Runs without a manifest are left out; a
// manifest that cannot be read fails the listing (see OpenSnapshot for
// the kinds).
func (l *Lake) ListSnapshots(ctx context.Context, cloud domain.Cloud) ([]Manifest, error) {
	return l.list(ctx, DatasetSnapshots, cloud)
}

// ListBilling returns the manifests of the cloud's committed billing
// snapshots, oldest run first, like ListSnapshots.
func (l *Lake) ListBilling(ctx context.Context, cloud domain.Cloud) ([]Manifest, error) {
	return l.list(ctx, DatasetBilling, cloud)
}

func (l *Lake) list(ctx context.Context, dataset string, cloud domain.Cloud) ([]Manifest, error) {
	what := "list " + kindName(dataset) + "s"
	if err := checkCloud(cloud); err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, cloud, err)
	}
	dir := datasetRoot(dataset) + "/cloud=" + string(cloud) + "/"
	entries, err := l.st.List(ctx, dir, "/")
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, cloud, err)
	}
	var keys []string
	for _, e := range entries {
		run, ok := strings.CutPrefix(e, dir+"run=")
		if !ok || !strings.HasSuffix(run, "/") {
			continue
		}
		keys = append(keys, e+"_manifest.json")
	}
	bodies, err := l.getMany(ctx, keys, true)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, cloud, err)
	}
	var out []Manifest
	for i, b := range bodies {
		if b == nil {
			continue
		}
		m, err := parseManifest(keys[i], b)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, cloud, err)
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RunID < out[j].RunID })
	return out, nil
}

// CurrentBilling returns the billing data of a cloud as it stands: for
// every charge month, the newest committed billing snapshot holding it
// (a re-ingested month replaces the earlier one; other months stay).
// Each returned snapshot reads only the cost rows of the months it owns.
// Oldest run first; none (and no error) when nothing was ingested.
func (l *Lake) CurrentBilling(ctx context.Context, cloud domain.Cloud) ([]*Snapshot, error) {
	ms, err := l.ListBilling(ctx, cloud)
	if err != nil {
		return nil, err
	}
	owner := map[string]int{}
	for i, m := range ms {
		for _, p := range m.Periods {
			owner[p] = i // ms is oldest first: the newest run wins
		}
	}
	var out []*Snapshot
	for i, m := range ms {
		months := map[string]bool{}
		for p, j := range owner {
			if j == i {
				months[p] = true
			}
		}
		if len(months) == 0 {
			continue
		}
		s, err := l.OpenBilling(ctx, cloud, m.RunID)
		if err != nil {
			return nil, fmt.Errorf("current billing %s: %w", cloud, err)
		}
		s.months = months
		out = append(out, s)
	}
	return out, nil
}

// Resources calls fn for every resource of the snapshot, file by file,
// stopping at the first error. A file whose size or checksum differs
// from the manifest fails with an error naming it before anything of it
// is decoded.
func (s *Snapshot) Resources(ctx context.Context, fn func(domain.Resource) error) error {
	return readTable(ctx, s, TableResources, func(row *resourceRow) error { return fn(row.domain()) })
}

// Series calls fn for every utilization series of the snapshot, with the
// error contract of Resources. Gaps come back as NaN.
func (s *Snapshot) Series(ctx context.Context, fn func(domain.Series) error) error {
	return readTable(ctx, s, TableUtilization, func(row *seriesRow) error { return fn(row.domain()) })
}

// CostRows calls fn for every cost row of the snapshot, with the error
// contract of Resources.
func (s *Snapshot) CostRows(ctx context.Context, fn func(domain.CostRow) error) error {
	return readTable(ctx, s, TableCosts, func(row *costRow) error { return fn(row.domain()) })
}

// CostUsage streams the cost rows like CostRows but decodes only the
// columns that price a resource: BillingAccountId, SubAccountId,
// ChargePeriodStart/End, ChargeCategory, BillingCurrency, the four cost
// columns, ResourceId, RegionId and x_Cloud. Every other field of the
// rows it gives is zero. Files are checked as in CostRows.
func (s *Snapshot) CostUsage(ctx context.Context, fn func(domain.CostRow) error) error {
	return readTable(ctx, s, TableCosts, func(row *costUsageRow) error { return fn(row.domain()) })
}
