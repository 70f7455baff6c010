package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// IngestProgress is reported while billing files are read.
type IngestProgress struct {
	File    string
	Files   int // files finished
	Rows    int64
	Bytes   int64
	Elapsed time.Duration
}

// IngestOptions tunes Ingest.
type IngestOptions struct {
	Read focus.Options
	// Progress, when set, is called about every 250,000 rows and after
	// each file.
	Progress func(IngestProgress)
	// RowsPerPart bounds the rows of one Parquet part file (default
	// DefaultIngestRowsPerPart).
	RowsPerPart int
}

// DefaultIngestRowsPerPart is the part size of billing snapshots. Cost
// rows are wide and an export spans many accounts: the writer buffers up
// to four parts' worth of rows, and 10,000 rows a part keeps an ingest
// under 400 MiB whatever the file size, with files still large enough
// for analysts' engines.
const DefaultIngestRowsPerPart = 10_000

// IngestResult describes one ingest run.
type IngestResult struct {
	RunID   string                         `json:"run_id"`
	Files   []*focus.Summary               `json:"files"`
	Total   *focus.Summary                 `json:"total"`
	Skipped []string                       `json:"skipped,omitempty"`
	Commits map[domain.Cloud]lake.Manifest `json:"commits"`
	// ReadBack holds, per currency, the BilledCost and EffectiveCost
	// totals read back from the committed billing snapshots; Ingest fails
	// if they differ from what was kept.
	ReadBack map[string]focus.Amounts `json:"read_back"`
	Elapsed  time.Duration            `json:"elapsed_ns"`
}

// Ingest reads billing exports, converts every row to FOCUS and commits
// one billing snapshot per cloud found in them. Every file must read: a
// file that cannot (bad gzip, broken quoting, unknown format) fails the
// run before anything is committed, naming the file and where it broke,
// and the billing data already in the lake stays as it was. Rows that
// break a FOCUS rule are counted per rule with examples and left out.
// After the commits the rows are read back and their totals compared
// with what was kept, per currency and cost column.
func (p *Pipeline) Ingest(ctx context.Context, src *Sources, opts IngestOptions) (*IngestResult, error) {
	start := time.Now()
	now := p.now()
	runID := lake.NewRunID(now)
	res := &IngestResult{RunID: runID, Total: &focus.Summary{}, Skipped: src.Skipped, Commits: map[domain.Cloud]lake.Manifest{}}
	writers := map[domain.Cloud]*lake.SnapshotWriter{}
	windows := map[domain.Cloud]*lake.Window{}
	var rows, bytes int64
	nextReport := int64(250_000)

	for i, in := range src.Inputs {
		var werr error
		emit := func(batch []domain.CostRow) error {
			// Rows arrive in file order; group runs of one cloud.
			for len(batch) > 0 {
				c := batch[0].XCloud
				n := 1
				for n < len(batch) && batch[n].XCloud == c {
					n++
				}
				w := writers[c]
				if w == nil {
					w = p.Lake.BeginBilling(c, runID, lake.Window{}, now)
					w.Collector = "ingest"
					w.CostRowsPerPart = cmp.Or(opts.RowsPerPart, DefaultIngestRowsPerPart)
					writers[c] = w
					windows[c] = &lake.Window{}
				}
				win := windows[c]
				for _, r := range batch[:n] {
					if win.Start.IsZero() || r.ChargePeriodStart.Before(win.Start) {
						win.Start = r.ChargePeriodStart
					}
					if r.ChargePeriodEnd.After(win.End) {
						win.End = r.ChargePeriodEnd
					}
				}
				if err := w.WriteCostRows(ctx, batch[:n]); err != nil {
					werr = err
					return err
				}
				batch = batch[n:]
				rows += int64(n)
			}
			if opts.Progress != nil && rows >= nextReport {
				nextReport = rows + 250_000
				opts.Progress(IngestProgress{File: in.Name, Files: i, Rows: rows, Bytes: bytes, Elapsed: time.Since(start)})
			}
			return nil
		}
		sum, err := focus.Read(ctx, in, opts.Read, emit)
		if err != nil {
			if werr != nil {
				return nil, fmt.Errorf("ingest %s: write billing snapshot: %w (nothing committed)", in.Name, err)
			}
			return nil, fmt.Errorf("ingest: %w (nothing committed; the billing data in the lake is unchanged)", err)
		}
		if err := sum.Reconcile(); err != nil {
			return nil, fmt.Errorf("ingest: %w (nothing committed)", err)
		}
		bytes += sum.Bytes
		res.Files = append(res.Files, sum)
		res.Total.Merge(sum)
		if opts.Progress != nil {
			opts.Progress(IngestProgress{File: in.Name, Files: i + 1, Rows: rows, Bytes: bytes, Elapsed: time.Since(start)})
		}
	}
	if len(writers) == 0 {
		return res, fmt.Errorf("ingest: %w: no row of any file could be kept (%d read, %d rejected); nothing committed", domain.ErrInvalid, res.Total.Rows, res.Total.Rejected)
	}

	clouds := make([]domain.Cloud, 0, len(writers))
	for c := range writers {
		clouds = append(clouds, c)
	}
	sort.Slice(clouds, func(i, j int) bool { return clouds[i] < clouds[j] })
	var commitErrs []string
	for _, c := range clouds {
		writers[c].SetWindow(*windows[c])
		m, err := writers[c].Commit(ctx)
		if err != nil && m.RunID == "" {
			commitErrs = append(commitErrs, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		res.Commits[c] = m
	}
	if len(commitErrs) > 0 {
		return res, fmt.Errorf("ingest: commit billing snapshots: %s", strings.Join(commitErrs, "; "))
	}
	if err := p.readBack(ctx, res); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	p.logger().InfoContext(ctx, "billing ingested", "run_id", runID, "files", len(res.Files), "rows", res.Total.Rows,
		"kept", res.Total.Kept, "rejected", res.Total.Rejected)
	return res, nil
}

// readBack sums the committed rows and compares them with what the
// readers kept.
func (p *Pipeline) readBack(ctx context.Context, res *IngestResult) error {
	res.ReadBack = map[string]focus.Amounts{}
	for c, m := range res.Commits {
		s, err := p.Lake.OpenBilling(ctx, c, m.RunID)
		if err != nil {
			return fmt.Errorf("ingest: read back: %w", err)
		}
		err = s.CostUsage(ctx, func(r domain.CostRow) error {
			a := res.ReadBack[r.BillingCurrency]
			a[0] += r.BilledCost.Micros
			a[1] += r.EffectiveCost.Micros
			a[2] += r.ListCost.Micros
			a[3] += r.ContractedCost.Micros
			res.ReadBack[r.BillingCurrency] = a
			return nil
		})
		if err != nil {
			return fmt.Errorf("ingest: read back: %w", err)
		}
	}
	var errs []error
	for cur, t := range res.Total.Totals {
		if got := res.ReadBack[cur]; got != t.Kept {
			errs = append(errs, fmt.Errorf("%w: %s: kept %v, the lake holds %v", domain.ErrInvalid, cur, t.Kept, got))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("ingest: read back does not reconcile: %w", errors.Join(errs...))
	}
	return nil
}
