package lake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Default part sizes: rows per Parquet file of each table.
const (
	DefaultResourcesPerPart = 20_000
	DefaultSeriesPerPart    = 5_000
	DefaultCostRowsPerPart  = 50_000
)

// SnapshotWriter writes one run's snapshot. Rows are buffered per table,
// account and date and written as Parquet part files every N rows, so
// memory stays bounded whatever the size of the estate; part files are
// encoded and uploaded in the background, a few at a time. Nothing is
// visible to readers until Commit writes the manifest.
//
// The exported fields may be set before the first write. A
// SnapshotWriter is safe for concurrent use, though collectors write
// from one goroutine. Part files upload under the context of the write
// (or Commit) that filled them. After any failed upload the writer is broken:
// every later call returns that error, and the run can only be abandoned
// (its files are garbage no reader sees).
type SnapshotWriter struct {
	// Collector names what produced the snapshot, e.g. "simcloud".
	Collector string
	// ResourcesPerPart, SeriesPerPart and CostRowsPerPart bound the rows
	// of one part file; zero means the Default value.
	ResourcesPerPart, SeriesPerPart, CostRowsPerPart int
	// Parallelism bounds how many part files are encoded and uploaded at
	// once; zero means GOMAXPROCS.
	Parallelism int

	l       *Lake
	dataset string
	cloud   domain.Cloud
	runID   string
	window  Window
	now     time.Time
	prefix  string
	date    string // partition date of resources and series

	mu        sync.Mutex
	err       error // sticky: the writer is broken
	committed bool
	parts     map[partKey]*partBuf
	buffered  map[string]int // rows buffered per table
	nextPart  map[string]int // next part number per partition directory
	scopes    []ScopeStatus
	sem       chan struct{}
	inflight  sync.WaitGroup

	fmu      sync.Mutex // guards files and flushErr
	files    []FileEntry
	flushErr error
}

type partKey struct{ table, account, date string }

type partBuf struct {
	resources []resourceRow
	series    []seriesRow
	// costs are kept in fixed-size chunks: cost rows are wide, and growing
	// one slice of them would copy every row again at each doubling.
	costs  [][]costRow
	nCosts int
}

// costChunk is the number of cost rows per chunk of a partBuf.
const costChunk = 2048

func (p *partBuf) len() int { return len(p.resources) + len(p.series) + p.nCosts }

func (p *partBuf) addCost(r costRow) {
	if n := len(p.costs); n == 0 || len(p.costs[n-1]) == costChunk {
		p.costs = append(p.costs, make([]costRow, 0, costChunk))
	}
	last := &p.costs[len(p.costs)-1]
	*last = append(*last, r)
	p.nCosts++
}

// partJob is one part file on its way to the store.
type partJob struct {
	entry     FileEntry
	resources []resourceRow
	series    []seriesRow
	costs     [][]costRow
}

// BeginSnapshot starts the snapshot of one collector run. now is the
// manifest's creation time and, when window.End is zero, the partition
// date. An invalid cloud or run ID is reported by the first write and by
// Commit as domain.ErrInvalid.
func (l *Lake) BeginSnapshot(cloud domain.Cloud, runID string, window Window, now time.Time) *SnapshotWriter {
	return l.begin(DatasetSnapshots, cloud, runID, window, now)
}

// BeginBilling starts the billing snapshot of one ingest run: cost rows
// only, committed like a snapshot, under "billing/". Its manifest lists
// the charge months it holds; CurrentBilling lets the newest run of a
// month replace older ones.
func (l *Lake) BeginBilling(cloud domain.Cloud, runID string, window Window, now time.Time) *SnapshotWriter {
	return l.begin(DatasetBilling, cloud, runID, window, now)
}

func (l *Lake) begin(dataset string, cloud domain.Cloud, runID string, window Window, now time.Time) *SnapshotWriter {
	w := &SnapshotWriter{
		l: l, dataset: dataset, cloud: cloud, runID: runID, now: now.UTC(),
		window:   Window{Start: window.Start.UTC(), End: window.End.UTC()},
		prefix:   runPrefix(dataset, cloud, runID),
		parts:    map[partKey]*partBuf{},
		buffered: map[string]int{},
		nextPart: map[string]int{},
	}
	day := window.End
	if day.IsZero() {
		day = now
	}
	w.date = day.UTC().Format(time.DateOnly)
	if err := checkCloud(cloud); err != nil {
		w.err = fmt.Errorf("snapshot %s/%s: %w", cloud, runID, err)
	} else if err := checkSegment("run id", runID); err != nil {
		w.err = fmt.Errorf("snapshot %s/%s: %w", cloud, runID, err)
	}
	return w
}

func (w *SnapshotWriter) name() string {
	if w.dataset == DatasetBilling {
		return "billing " + string(w.cloud) + "/" + w.runID
	}
	return string(w.cloud) + "/" + w.runID
}

// SetWindow sets the time range the manifest records, for writers that
// learn it from the rows (an ingest run).
func (w *SnapshotWriter) SetWindow(win Window) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.window = Window{Start: win.Start.UTC(), End: win.End.UTC()}
}

// usable returns why the writer cannot take more rows, if it cannot.
// It is called with w.mu held.
func (w *SnapshotWriter) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.committed {
		return fmt.Errorf("snapshot %s: %w: already committed", w.name(), domain.ErrInvalid)
	}
	w.fmu.Lock()
	defer w.fmu.Unlock()
	if w.flushErr != nil {
		w.err = w.flushErr
	}
	return w.err
}

func (w *SnapshotWriter) limit(table string) int {
	pick := func(n, def int) int {
		if n > 0 {
			return n
		}
		return def
	}
	switch table {
	case TableResources:
		return pick(w.ResourcesPerPart, DefaultResourcesPerPart)
	case TableUtilization:
		return pick(w.SeriesPerPart, DefaultSeriesPerPart)
	}
	return pick(w.CostRowsPerPart, DefaultCostRowsPerPart)
}

func (w *SnapshotWriter) part(k partKey) *partBuf {
	p := w.parts[k]
	if p == nil {
		p = &partBuf{}
		w.parts[k] = p
	}
	return p
}

// WriteResources buffers resources, partitioned by each resource's
// account and the window's end date. Every resource must be valid and of
// the snapshot's cloud, or the whole batch is rejected with
// domain.ErrInvalid and nothing of it is kept. Upload failures of earlier
// parts surface here and break the writer.
func (w *SnapshotWriter) WriteResources(ctx context.Context, rs []domain.Resource) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("snapshot %s: write resources: %w", w.name(), err)
		}
		if r.Cloud != w.cloud {
			return fmt.Errorf("snapshot %s: write resources: %w: resource %s is in %s", w.name(), domain.ErrInvalid, r.ID, r.Cloud)
		}
	}
	limit := w.limit(TableResources)
	for _, r := range rs {
		k := partKey{TableResources, r.Account, w.date}
		p := w.part(k)
		p.resources = append(p.resources, toResourceRow(r))
		w.buffered[TableResources]++
		if len(p.resources) >= limit {
			if err := w.flush(ctx, k); err != nil {
				return err
			}
		}
	}
	return w.bound(ctx, TableResources)
}

// WriteSeries buffers the utilization series of one account, partitioned
// by account and the window's end date. The values are copied, so the
// caller may reuse its buffers. An invalid series (see
// domain.Series.Validate; the step must also be whole seconds) rejects the
// batch with domain.ErrInvalid.
func (w *SnapshotWriter) WriteSeries(ctx context.Context, account string, ss []domain.Series) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	if err := checkSegment("account", account); err != nil {
		return fmt.Errorf("snapshot %s: write series: %w", w.name(), err)
	}
	rows := make([]seriesRow, len(ss))
	for i, s := range ss {
		row, err := toSeriesRow(s)
		if err != nil {
			return fmt.Errorf("snapshot %s: write series: %w", w.name(), err)
		}
		rows[i] = row
	}
	limit := w.limit(TableUtilization)
	k := partKey{TableUtilization, account, w.date}
	for len(rows) > 0 {
		p := w.part(k)
		n := min(limit-len(p.series), len(rows))
		p.series = append(p.series, rows[:n]...)
		rows = rows[n:]
		w.buffered[TableUtilization] += n
		if len(p.series) >= limit {
			if err := w.flush(ctx, k); err != nil {
				return err
			}
		}
	}
	return w.bound(ctx, TableUtilization)
}

// WriteCostRows buffers FOCUS cost rows, partitioned by SubAccountId
// (BillingAccountId when a row has none) and the UTC date of
// ChargePeriodStart (its month, "month=2006-01", in a billing snapshot). A row without ChargePeriodStart or with an amount in
// another currency than its BillingCurrency rejects the batch with
// domain.ErrInvalid.
func (w *SnapshotWriter) WriteCostRows(ctx context.Context, rows []domain.CostRow) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	conv := make([]costRow, len(rows))
	keys := make([]partKey, len(rows))
	for i, c := range rows {
		row, err := toCostRow(c)
		if err != nil {
			return fmt.Errorf("snapshot %s: write cost rows: %w", w.name(), err)
		}
		if c.ChargePeriodStart.IsZero() {
			return fmt.Errorf("snapshot %s: write cost rows: %w: row for %q has no ChargePeriodStart", w.name(), domain.ErrInvalid, c.ResourceID)
		}
		acct := c.SubAccountID
		if acct == "" {
			acct = c.BillingAccountID
		}
		if err := checkPartitionValue("account", acct); err != nil {
			return fmt.Errorf("snapshot %s: write cost rows: %w", w.name(), err)
		}
		conv[i] = row
		if w.dataset == DatasetBilling {
			// Exports are hourly or daily and span months: one partition a
			// day would make thousands of small files.
			keys[i] = partKey{TableCosts, acct, c.ChargePeriodStart.UTC().Format("2006-01")}
		} else {
			keys[i] = partKey{TableCosts, acct, c.ChargePeriodStart.UTC().Format(time.DateOnly)}
		}
	}
	limit := w.limit(TableCosts)
	for i := range conv {
		p := w.part(keys[i])
		p.addCost(conv[i])
		w.buffered[TableCosts]++
		if p.nCosts >= limit {
			if err := w.flush(ctx, keys[i]); err != nil {
				return err
			}
		}
	}
	return w.bound(ctx, TableCosts)
}

// RecordScope records how reading one scope went; the statuses go into
// the manifest.
func (w *SnapshotWriter) RecordScope(s ScopeStatus) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scopes = append(w.scopes, s)
}

// bound flushes the fullest partitions of a table while it buffers more
// than four parts' worth of rows across all its partitions (many
// accounts or days), keeping memory bounded. Called with w.mu held.
func (w *SnapshotWriter) bound(ctx context.Context, table string) error {
	limit := w.limit(table)
	for w.buffered[table] > 4*limit {
		var big partKey
		most := 0
		for k, p := range w.parts {
			if k.table == table && p.len() > most {
				big, most = k, p.len()
			}
		}
		if most == 0 {
			break
		}
		if err := w.flush(ctx, big); err != nil {
			return err
		}
	}
	return w.usable()
}

// flush hands the rows buffered for k to a background upload, waiting
// for a free slot first. Called with w.mu held.
func (w *SnapshotWriter) flush(ctx context.Context, k partKey) error {
	p := w.parts[k]
	if p == nil || p.len() == 0 {
		return nil
	}
	delete(w.parts, k)
	w.buffered[k.table] -= p.len()
	part := "/date="
	if len(k.date) == len("2006-01") {
		part = "/month="
	}
	dir := w.prefix + k.table + "/account=" + escapePartition(k.account) + part + k.date + "/"
	n := w.nextPart[dir]
	w.nextPart[dir]++
	job := &partJob{
		entry:     FileEntry{Path: fmt.Sprintf("%spart-%05d.parquet", dir, n), Table: k.table, Account: k.account, Date: k.date, Rows: int64(p.len())},
		resources: p.resources, series: p.series, costs: p.costs,
	}
	if w.sem == nil {
		par := w.Parallelism
		if par <= 0 {
			par = runtime.GOMAXPROCS(0)
		}
		w.sem = make(chan struct{}, par)
	}
	select {
	case w.sem <- struct{}{}:
	case <-ctx.Done():
		w.err = fmt.Errorf("snapshot %s: write %s: %w", w.name(), job.entry.Path, ctx.Err())
		return w.err
	}
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Done()
		defer func() { <-w.sem }()
		err := w.upload(ctx, job)
		w.fmu.Lock()
		defer w.fmu.Unlock()
		if err != nil {
			if w.flushErr == nil {
				w.flushErr = fmt.Errorf("snapshot %s: %w", w.name(), err)
			}
			return
		}
		w.files = append(w.files, job.entry)
	}()
	return nil
}

// upload encodes one part file and writes it, filling in its size and
// checksum.
func (w *SnapshotWriter) upload(ctx context.Context, job *partJob) error {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	data, err := e.encode(job)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	job.entry.Bytes = int64(len(data))
	job.entry.SHA256 = hex.EncodeToString(sum[:])
	if err := w.l.st.Put(ctx, job.entry.Path, data, false); err != nil {
		return fmt.Errorf("write %s: %w", job.entry.Path, err)
	}
	return nil
}

// Commit flushes what is buffered, waits for every part file, writes the
// manifest last (create-if-absent) and then moves the cloud's latest
// pointer to this run unless a run with a greater ID is already latest.
//
// Errors: whatever broke the writer; domain.ErrConflict when the run was
// committed before (by this or another writer). If the manifest was
// written but the pointer could not be moved, the snapshot is committed
// (OpenSnapshot and ListSnapshots see it) and Commit returns its manifest
// together with the error.
func (w *SnapshotWriter) Commit(ctx context.Context) (Manifest, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.committed {
		return Manifest{}, fmt.Errorf("commit snapshot %s: %w: already committed", w.name(), domain.ErrConflict)
	}
	if err := w.usable(); err != nil {
		w.inflight.Wait()
		return Manifest{}, err
	}
	keys := make([]partKey, 0, len(w.parts))
	for k := range w.parts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.table != b.table {
			return a.table < b.table
		}
		if a.account != b.account {
			return a.account < b.account
		}
		return a.date < b.date
	})
	for _, k := range keys {
		if err := w.flush(ctx, k); err != nil {
			w.inflight.Wait()
			return Manifest{}, err
		}
	}
	w.inflight.Wait()
	if err := w.usable(); err != nil {
		return Manifest{}, err
	}

	m := w.manifest()
	key := runPrefix(w.dataset, w.cloud, w.runID) + "_manifest.json"
	if err := w.l.putJSON(ctx, key, m, true); err != nil {
		w.err = fmt.Errorf("commit snapshot %s: %w", w.name(), err)
		return Manifest{}, w.err
	}
	w.committed = true
	if _, err := w.l.advancePointer(ctx, latestPointer(w.dataset, w.cloud), w.runID, w.now); err != nil {
		return m, fmt.Errorf("commit snapshot %s: manifest %s written but the latest pointer was not moved: %w", w.name(), key, err)
	}
	return m, nil
}

// manifest builds the manifest from the uploaded files.
func (w *SnapshotWriter) manifest() Manifest {
	w.fmu.Lock()
	files := append([]FileEntry(nil), w.files...)
	w.fmu.Unlock()
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	tables := make(map[string]TableInfo, len(tableSchemas))
	for t, schema := range tableSchemas {
		tables[t] = TableInfo{Schema: schema}
	}
	for _, f := range files {
		ti := tables[f.Table]
		ti.Rows += f.Rows
		ti.Files++
		tables[f.Table] = ti
	}
	m := Manifest{
		Version: SnapshotVersion, Cloud: w.cloud, RunID: w.runID, CreatedAt: w.now,
		Window: w.window, Tables: tables, Files: files,
		Scopes: append([]ScopeStatus(nil), w.scopes...), Collector: w.Collector,
	}
	if w.dataset == DatasetBilling {
		m.Dataset = DatasetBilling
		seen := map[string]bool{}
		for _, f := range files {
			if f.Table == TableCosts && len(f.Date) >= 7 && !seen[f.Date[:7]] {
				seen[f.Date[:7]] = true
				m.Periods = append(m.Periods, f.Date[:7])
			}
		}
		sort.Strings(m.Periods)
	}
	return m
}

// escapePartition makes a value safe as a Hive partition value: letters,
// digits and "-_.~" stay, everything else (and the names "." and "..")
// is percent-encoded.
func escapePartition(s string) string {
	if s == "." || s == ".." {
		return strings.ReplaceAll(s, ".", "%2E")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
