package collect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// recordingSink is a hand-written Sink that keeps what it is given and
// can be told to fail.
type recordingSink struct {
	resources, series, costs int
	scopes                   []collect.ScopeStatus
	commits                  int
	failWrites               error
	window                   collect.Window
}

func (s *recordingSink) WriteResources(ctx context.Context, rs []domain.Resource) error {
	if s.failWrites != nil {
		return s.failWrites
	}
	s.resources += len(rs)
	return nil
}

func (s *recordingSink) WriteSeries(ctx context.Context, account string, ss []domain.Series) error {
	for _, x := range ss {
		if x.End().After(s.window.End) || x.Start.Before(s.window.Start) {
			return fmt.Errorf("series %s/%s outside the window", x.ResourceID, x.Metric)
		}
	}
	s.series += len(ss)
	return nil
}

func (s *recordingSink) WriteCostRows(ctx context.Context, rows []domain.CostRow) error {
	s.costs += len(rows)
	return nil
}

func (s *recordingSink) RecordScope(st collect.ScopeStatus) { s.scopes = append(s.scopes, st) }

func (s *recordingSink) Commit(ctx context.Context) (string, error) {
	s.commits++
	return "manifest", nil
}

func estate(t *testing.T, denied ...collect.Scope) *simcloud.Estate {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	cfg := simcloud.Demo(now)
	cfg.DeniedScopes = denied
	e, err := simcloud.New(cfg, prices)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func collector(p collect.Provider, sink *recordingSink) *collect.Collector {
	return &collect.Collector{
		Provider: p,
		NewSink: func(c domain.Cloud, runID string, w collect.Window) collect.Sink {
			sink.window = w
			return sink
		},
		Now: func() time.Time { return now },
	}
}

func TestCollectEveryScope(t *testing.T) {
	e := estate(t)
	for _, c := range domain.Clouds {
		t.Run(string(c), func(t *testing.T) {
			sink := &recordingSink{}
			res, err := collector(e.Cloud(c), sink).Run(context.Background(), collect.Request{RunID: "run-1"})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := 0
			for _, r := range e.Resources() {
				if r.Cloud == c {
					want++
				}
			}
			if res.Resources != want || sink.resources != want {
				t.Errorf("collected %d resources (sink %d); the estate has %d", res.Resources, sink.resources, want)
			}
			if res.Series == 0 || sink.series != res.Series || res.CostRows == 0 || sink.costs != res.CostRows {
				t.Errorf("result %+v vs sink %d series, %d cost rows", res, sink.series, sink.costs)
			}
			if sink.commits != 1 {
				t.Errorf("Commit called %d times; want 1", sink.commits)
			}
			for _, s := range res.Scopes {
				if s.Status != collect.ScopeOK {
					t.Errorf("scope %+v not ok", s)
				}
			}
			if got := res.Window.End.Sub(res.Window.Start); got != 14*24*time.Hour {
				t.Errorf("window is %v long; want 14 days", got)
			}
		})
	}
}

func TestUnreadableScopeIsRecordedNotHidden(t *testing.T) {
	probe := estate(t)
	scopes, _ := probe.Cloud(domain.Azure).Scopes(context.Background())
	if len(scopes) < 2 {
		t.Fatalf("the demo estate has %d azure scopes; the test needs 2", len(scopes))
	}
	denied := scopes[0]
	e := estate(t, denied)
	sink := &recordingSink{}
	res, err := collector(e.Cloud(domain.Azure), sink).Run(context.Background(), collect.Request{RunID: "run-1"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	found := false
	for _, s := range sink.scopes {
		if s.Account == denied.Account && s.Region == denied.Region {
			found = true
			if s.Status != collect.ScopeFailed || !strings.Contains(s.Error, "permission") {
				t.Errorf("denied scope recorded as %+v; want failed with the permission error", s)
			}
		}
	}
	if !found {
		t.Errorf("denied scope %v not recorded in %+v", denied, sink.scopes)
	}
	if sink.commits != 1 || res.Resources == 0 {
		t.Errorf("the readable scopes were not committed: %+v", res)
	}
}

func TestNothingReadableCommitsNothing(t *testing.T) {
	probe := estate(t)
	scopes, _ := probe.Cloud(domain.GCP).Scopes(context.Background())
	e := estate(t, scopes...)
	sink := &recordingSink{}
	_, err := collector(e.Cloud(domain.GCP), sink).Run(context.Background(), collect.Request{RunID: "run-1"})
	if !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("Run with every scope denied = %v; want ErrPermission", err)
	}
	if sink.commits != 0 {
		t.Error("a run that read nothing was committed")
	}
}

func TestSinkFailureAbortsWithoutCommit(t *testing.T) {
	e := estate(t)
	sink := &recordingSink{failWrites: errors.New("disk full")}
	_, err := collector(e.Cloud(domain.AWS), sink).Run(context.Background(), collect.Request{RunID: "run-1"})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Run with a failing sink = %v; want the sink's error", err)
	}
	if sink.commits != 0 {
		t.Error("a run whose writes failed was committed")
	}
}

func TestUtilizationAndCostFailuresAreRecorded(t *testing.T) {
	e := estate(t)
	e.FailNext(simcloud.OpSeries, fmt.Errorf("get metric data: %w", domain.ErrThrottled))
	e.FailNext(simcloud.OpCostRows, fmt.Errorf("cost explorer: %w", domain.ErrPermission))
	sink := &recordingSink{}
	res, err := collector(e.Cloud(domain.AWS), sink).Run(context.Background(), collect.Request{RunID: "run-1"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var partial, costs bool
	for _, s := range res.Scopes {
		partial = partial || (s.Status == collect.ScopePartial && strings.Contains(s.Error, "utilization"))
		costs = costs || (s.Region == "costs" && s.Status == collect.ScopeFailed)
	}
	if !partial || !costs {
		t.Errorf("scopes %+v; want one partial (utilization) and one failed cost read", res.Scopes)
	}
	if sink.commits != 1 {
		t.Error("partial data was not committed")
	}
}

func TestCancelledRunCommitsNothing(t *testing.T) {
	e := estate(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sink := &recordingSink{}
	if _, err := collector(e.Cloud(domain.AWS), sink).Run(ctx, collect.Request{RunID: "run-1"}); err == nil {
		t.Fatal("Run on a cancelled context succeeded")
	}
	if sink.commits != 0 {
		t.Error("a cancelled run was committed")
	}
}
