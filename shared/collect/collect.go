package collect

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Scope statuses recorded in a snapshot's manifest.
const (
	ScopeOK      = "ok"
	ScopePartial = "partial"
	ScopeFailed  = "failed"
)

// ScopeStatus says how much of one scope was read.
type ScopeStatus struct {
	Account   string `json:"account"`
	Region    string `json:"region"`
	Status    string `json:"status"`
	Error     string `json:"error,omitempty"`
	Resources int    `json:"resources"`
}

// Sink receives one snapshot. Nothing written is visible to readers
// until Commit returns without error; a run that fails before Commit
// leaves the previous snapshot the current one.
type Sink interface {
	WriteResources(ctx context.Context, rs []domain.Resource) error
	WriteSeries(ctx context.Context, account string, ss []domain.Series) error
	WriteCostRows(ctx context.Context, rows []domain.CostRow) error
	RecordScope(s ScopeStatus)
	// Commit makes the snapshot visible and returns where its manifest is.
	Commit(ctx context.Context) (string, error)
}

// Request configures one collection run.
type Request struct {
	RunID string
	// Days of utilization and cost history to read; default 14.
	Days int
	// Step of the utilization series; default one hour.
	Step time.Duration
}

// Result summarises a committed run.
type Result struct {
	Cloud     domain.Cloud  `json:"cloud"`
	RunID     string        `json:"run_id"`
	Manifest  string        `json:"manifest"`
	Window    Window        `json:"window"`
	Resources int           `json:"resources"`
	Series    int           `json:"series"`
	CostRows  int           `json:"cost_rows"`
	Scopes    []ScopeStatus `json:"scopes"`
}

// Progress is reported after each scope.
type Progress struct {
	Cloud     domain.Cloud
	Done      int
	Total     int
	Resources int
}

// Collector reads one cloud into one snapshot.
type Collector struct {
	Provider Provider
	// NewSink opens the snapshot a run writes to.
	NewSink    func(cloud domain.Cloud, runID string, window Window) Sink
	Now        func() time.Time
	Logger     *slog.Logger
	OnProgress func(Progress)
	// SeriesBatch is how many VMs are asked for per Series call; default 500.
	SeriesBatch int
}

// Run collects inventory, utilization and cost of every scope the
// provider lists and commits them as one snapshot. A scope that cannot
// be read is recorded as failed (or partial) in the manifest; a run in
// which no scope could be read commits nothing and returns an error, so
// the previous snapshot stays current.
func (c *Collector) Run(ctx context.Context, req Request) (Result, error) {
	cloud := c.Provider.Cloud()
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	days := req.Days
	if days <= 0 {
		days = 14
	}
	step := req.Step
	if step <= 0 {
		step = time.Hour
	}
	end := now().UTC().Truncate(step)
	window := Window{Start: end.Add(-time.Duration(days) * 24 * time.Hour), End: end}
	log := c.logger().With("cloud", cloud, "run_id", req.RunID)

	scopes, err := c.Provider.Scopes(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("collect %s: list scopes: %w", cloud, err)
	}
	sort.Slice(scopes, func(i, j int) bool {
		if scopes[i].Account != scopes[j].Account {
			return scopes[i].Account < scopes[j].Account
		}
		return scopes[i].Region < scopes[j].Region
	})
	sink := c.NewSink(cloud, req.RunID, window)
	res := Result{Cloud: cloud, RunID: req.RunID, Window: window}
	readOK := 0
	accounts := map[string]bool{}
	for i, sc := range scopes {
		st, err := c.scope(ctx, sink, sc, window, step, &res)
		if err != nil {
			return Result{}, err
		}
		sink.RecordScope(st)
		res.Scopes = append(res.Scopes, st)
		if st.Status != ScopeFailed {
			readOK++
			accounts[sc.Account] = true
		} else {
			log.WarnContext(ctx, "scope not readable", "account_id", sc.Account, "region", sc.Region, "error", st.Error)
		}
		if c.OnProgress != nil {
			c.OnProgress(Progress{Cloud: cloud, Done: i + 1, Total: len(scopes), Resources: res.Resources})
		}
	}
	if readOK == 0 {
		return Result{}, fmt.Errorf("collect %s: %w: none of %d scopes could be read; nothing committed", cloud, domain.ErrPermission, len(scopes))
	}
	accountList := make([]string, 0, len(accounts))
	for a := range accounts {
		accountList = append(accountList, a)
	}
	sort.Strings(accountList)
	for _, acct := range accountList {
		err := c.Provider.CostRows(ctx, acct, window, func(rows []domain.CostRow) error {
			res.CostRows += len(rows)
			return sink.WriteCostRows(ctx, rows)
		})
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("collect %s: costs of %s: %w", cloud, acct, err)
			}
			// Cost data missing for an account is recorded, not fatal.
			st := ScopeStatus{Account: acct, Region: "costs", Status: ScopeFailed, Error: err.Error()}
			sink.RecordScope(st)
			res.Scopes = append(res.Scopes, st)
			log.WarnContext(ctx, "cost data not readable", "account_id", acct, "error", err)
		}
	}
	manifest, err := sink.Commit(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("collect %s: commit: %w", cloud, err)
	}
	res.Manifest = manifest
	log.InfoContext(ctx, "snapshot committed", "resources", res.Resources, "series", res.Series, "cost_rows", res.CostRows, "manifest", manifest)
	return res, nil
}

// scope reads one scope. Provider errors become the scope's status;
// only sink errors and cancellation abort the run.
func (c *Collector) scope(ctx context.Context, sink Sink, sc Scope, window Window, step time.Duration, res *Result) (ScopeStatus, error) {
	st := ScopeStatus{Account: sc.Account, Region: sc.Region, Status: ScopeOK}
	var vms, buckets []string
	var sinkErr error
	err := c.Provider.Resources(ctx, sc, func(page []domain.Resource) error {
		for _, r := range page {
			switch {
			case r.Incomplete != "":
			case r.Kind == domain.KindVM:
				vms = append(vms, r.ID)
			case r.Kind == domain.KindBucket:
				buckets = append(buckets, r.ID)
			}
		}
		if err := sink.WriteResources(ctx, page); err != nil {
			sinkErr = err
			return err
		}
		st.Resources += len(page)
		res.Resources += len(page)
		return nil
	})
	if sinkErr != nil {
		return st, fmt.Errorf("collect %s/%s: write resources: %w", sc.Account, sc.Region, sinkErr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return st, fmt.Errorf("collect %s/%s: %w", sc.Account, sc.Region, err)
		}
		st.Error = err.Error()
		st.Status = ScopeFailed
		if st.Resources > 0 {
			st.Status = ScopePartial
		}
		return st, nil
	}
	batch := c.SeriesBatch
	if batch <= 0 {
		batch = 500
	}
	buf := make([]domain.Series, 0, 256)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := sink.WriteSeries(ctx, sc.Account, buf)
		res.Series += len(buf)
		buf = buf[:0]
		return err
	}
	emit := func(s domain.Series) error {
		buf = append(buf, s)
		if len(buf) == cap(buf) {
			if err := flush(); err != nil {
				sinkErr = err
				return err
			}
		}
		return nil
	}
	// read asks for the series of ids in batches; a provider error makes
	// the scope partial, naming what (utilization, bucket usage) failed.
	read := func(what string, ids []string, call func(ids []string) error) (bool, error) {
		for i := 0; i < len(ids); i += batch {
			err := call(ids[i:min(i+batch, len(ids))])
			if sinkErr != nil {
				return false, fmt.Errorf("collect %s/%s: write series: %w", sc.Account, sc.Region, sinkErr)
			}
			if err != nil {
				if ctx.Err() != nil {
					return false, fmt.Errorf("collect %s/%s: %w", sc.Account, sc.Region, err)
				}
				st.Status = ScopePartial
				st.Error = what + ": " + err.Error()
				return false, nil
			}
		}
		return true, nil
	}
	ok, err := read("utilization", vms, func(ids []string) error {
		return c.Provider.Series(ctx, sc, ids, window, step, emit)
	})
	if err != nil {
		return st, err
	}
	if bu, isBU := c.Provider.(BucketUsage); isBU && ok {
		if _, err := read("bucket usage", buckets, func(ids []string) error {
			return bu.BucketSeries(ctx, sc, ids, window, emit)
		}); err != nil {
			return st, err
		}
	}
	if err := flush(); err != nil {
		return st, fmt.Errorf("collect %s/%s: write series: %w", sc.Account, sc.Region, err)
	}
	return st, nil
}

func (c *Collector) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}
