package lake

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	return "snapshots/cloud=" + string(cloud) + "/run=" + runID + "/"
}

// ManifestKey returns the key of a run's manifest.
func ManifestKey(cloud domain.Cloud, runID string) string {
	return RunPrefix(cloud, runID) + "_manifest.json"
}

// LatestPointer returns the name of the pointer to a cloud's latest
// committed snapshot.
func LatestPointer(cloud domain.Cloud) string { return "snapshots/" + string(cloud) + "/latest" }

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
	if err := checkCloud(cloud); err != nil {
		return nil, fmt.Errorf("open snapshot %s/%s: %w", cloud, runID, err)
	}
	if err := checkSegment("run id", runID); err != nil {
		return nil, fmt.Errorf("open snapshot %s/%s: %w", cloud, runID, err)
	}
	key := ManifestKey(cloud, runID)
	b, err := l.st.Get(ctx, key)
	if isNotFound(err) {
		return nil, fmt.Errorf("open snapshot %s/%s: %w: no manifest %s (not committed)", cloud, runID, domain.ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("open snapshot %s/%s: read %s: %w", cloud, runID, key, err)
	}
	m, err := parseManifest(key, b)
	if err != nil {
		return nil, fmt.Errorf("open snapshot %s/%s: %w", cloud, runID, err)
	}
	if m.Cloud != cloud || m.RunID != runID {
		return nil, fmt.Errorf("open snapshot %s/%s: %w: %s describes run %s/%s", cloud, runID, domain.ErrInvalid, key, m.Cloud, m.RunID)
	}
	sum := sha256.Sum256(b)
	return &Snapshot{l: l, m: m, key: key, checksum: "sha256:" + hex.EncodeToString(sum[:])}, nil
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
		if info.Schema != want {
			return Manifest{}, fmt.Errorf("%w: manifest %s: table %s has schema version %q; this build reads %q", domain.ErrUnsupported, key, table, info.Schema, want)
		}
	}
	prefix := RunPrefix(m.Cloud, m.RunID)
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
	if err := checkCloud(cloud); err != nil {
		return nil, fmt.Errorf("latest snapshot %s: %w", cloud, err)
	}
	p, err := l.ReadPointer(ctx, LatestPointer(cloud))
	if isNotFound(err) {
		return nil, fmt.Errorf("latest snapshot %s: %w: none committed", cloud, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("latest snapshot %s: %w", cloud, err)
	}
	s, err := l.OpenSnapshot(ctx, cloud, p.Target)
	if err != nil {
		return nil, fmt.Errorf("latest snapshot %s: %w", cloud, err)
	}
	return s, nil
}

// ListSnapshots returns the manifests of the cloud's committed
// snapshots, oldest run first. Runs without a manifest are left out; a
// manifest that cannot be read fails the listing (see OpenSnapshot for
// the kinds).
func (l *Lake) ListSnapshots(ctx context.Context, cloud domain.Cloud) ([]Manifest, error) {
	if err := checkCloud(cloud); err != nil {
		return nil, fmt.Errorf("list snapshots %s: %w", cloud, err)
	}
	dir := "snapshots/cloud=" + string(cloud) + "/"
	entries, err := l.st.List(ctx, dir, "/")
	if err != nil {
		return nil, fmt.Errorf("list snapshots %s: %w", cloud, err)
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
		return nil, fmt.Errorf("list snapshots %s: %w", cloud, err)
	}
	var out []Manifest
	for i, b := range bodies {
		if b == nil {
			continue
		}
		m, err := parseManifest(keys[i], b)
		if err != nil {
			return nil, fmt.Errorf("list snapshots %s: %w", cloud, err)
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].RunID < out[j].RunID })
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
