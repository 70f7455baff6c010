package actuate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

func (e *env) breaker() domain.Breaker {
	e.t.Helper()
	b, err := e.lake.Breaker(context.Background(), domain.AWS)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *env) auditTypes(typ domain.AuditType) []domain.AuditEvent {
	var out []domain.AuditEvent
	for _, ev := range e.audit() {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// TestBreakerOpensAfterConsecutiveFailures: five failed applies in a row
// open the breaker in the lake; every worker then defers changes on that
// cloud for the cool-down, with an audit record; after it a success
// closes the breaker.
func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	rs, as := stopBatch(8)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	ctx := context.Background()
	w1 := e.actuator(false)
	for i := range 5 {
		c.failOn["stop"] = fmt.Errorf("stop: %w: instance limit", domain.ErrConflict)
		if res := w1.Handle(ctx, e.message(as[i])); res.Status != domain.StatusFailed {
			t.Fatalf("action %d = %+v; want failed", i, res)
		}
	}
	b := e.breaker()
	if b.Failures != 5 || !b.Open(e.now) {
		t.Fatalf("breaker after 5 failures = %+v; want open", b)
	}
	if evs := e.auditTypes(domain.AuditBreakerOpen); len(evs) != 1 || !strings.Contains(evs[0].Outcome, "5 failed applies") {
		t.Errorf("breaker_open audit = %+v; want one saying 5 failed applies", evs)
	}

	// Another worker sees the breaker in the lake.
	w2 := e.actuator(false)
	w2.Worker = "w2"
	calls := c.Attempts()
	for _, act := range []*actuate.Actuator{w1, w2} {
		res := act.Handle(ctx, e.message(as[5]))
		if res.Disposition != actuate.Defer || !strings.Contains(res.Reason, "circuit breaker of aws open") {
			t.Fatalf("Handle while open = %+v; want defer (breaker open)", res)
		}
	}
	if c.Attempts() != calls {
		t.Errorf("mutating calls while the breaker is open")
	}
	if n := len(e.deferrals()); n != 2 {
		t.Errorf("%d deferral audit events; want 2", n)
	}
	// A dry run changes nothing and goes on.
	if res := e.actuator(true).Handle(ctx, e.message(as[6])); res.Status != domain.StatusDryRun {
		t.Errorf("dry run while open = %+v; want dry_run", res)
	}

	e.advance(actuate.DefaultBreakerCoolDown + time.Second)
	if res := w2.Handle(ctx, e.message(as[5])); res.Status != domain.StatusApplied {
		t.Fatalf("after the cool-down = %+v; want applied", res)
	}
	if b := e.breaker(); b.Failures != 0 || !b.OpenUntil.IsZero() {
		t.Errorf("breaker after a success = %+v; want reset", b)
	}
	if n := len(e.auditTypes(domain.AuditBreakerReset)); n != 1 {
		t.Errorf("%d breaker_reset audit events; want 1", n)
	}
}

// TestBreakerHalfOpenFailureReopens: after the cool-down one more
// failure opens the breaker again at once.
func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	rs, as := stopBatch(4)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	act := e.actuator(false)
	act.BreakerThreshold, act.BreakerCoolDown = 2, time.Minute
	for i := range 2 {
		c.failOn["stop"] = fmt.Errorf("stop: %w", domain.ErrThrottled) // transient, after a mutating call: counts
		if res := act.Handle(context.Background(), e.message(as[i])); res.Disposition != actuate.Retry {
			t.Fatalf("Handle = %+v; want retry", res)
		}
	}
	if !e.breaker().Open(e.now) {
		t.Fatalf("breaker = %+v; want open after 2 failures", e.breaker())
	}
	e.advance(2 * time.Minute)
	c.failOn["stop"] = fmt.Errorf("stop: %w: no", domain.ErrConflict)
	act.Handle(context.Background(), e.message(as[2]))
	if b := e.breaker(); b.Failures != 3 || !b.Open(e.now) {
		t.Fatalf("breaker after a failure in half-open = %+v; want open again", b)
	}
}

// TestBreakerCountsOnlyFailedApplies: refusals and skips are not
// failures, and a success resets the count.
func TestBreakerCountsOnlyFailedApplies(t *testing.T) {
	rs, as := stopBatch(12)
	for i := range 6 { // protected, not opted in, drifted: policy skips
		switch i % 3 {
		case 0:
			rs[i].Tags = map[string]string{"cloudtrim-optin": "true", "cloudtrim-protect": "1"}
		case 1:
			rs[i].Tags = nil
		case 2:
			rs[i].SKU = "m5.xlarge"
		}
	}
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	act := e.actuator(false)
	for i := range 6 {
		if res := act.Handle(context.Background(), e.message(as[i])); res.Status != domain.StatusSkipped {
			t.Fatalf("Handle = %+v; want skipped", res)
		}
	}
	if b := e.breaker(); b.Failures != 0 {
		t.Fatalf("breaker after policy skips = %+v; want no failure counted", b)
	}
	fail := func(i int) {
		c.failOn["stop"] = fmt.Errorf("stop: %w", domain.ErrConflict)
		act.Handle(context.Background(), e.message(as[i]))
	}
	for i := 6; i < 10; i++ {
		fail(i)
	}
	if b := e.breaker(); b.Failures != 4 || b.Open(e.now) {
		t.Fatalf("breaker after 4 failures = %+v; want 4, closed", b)
	}
	if res := act.Handle(context.Background(), e.message(as[10])); res.Status != domain.StatusApplied {
		t.Fatalf("Handle = %+v; want applied", res)
	}
	if b := e.breaker(); b.Failures != 0 {
		t.Fatalf("breaker after a success = %+v; want reset", b)
	}
	fail(11)
	if b := e.breaker(); b.Failures != 1 || b.Open(e.now) {
		t.Errorf("breaker = %+v; want 1 failure, closed", b)
	}
}

// TestBreakerConcurrentWorkersLoseNoFailure: failures recorded at the
// same time by many workers are all counted (conditional writes).
func TestBreakerConcurrentWorkersLoseNoFailure(t *testing.T) {
	const n = 12
	rs, as := stopBatch(n)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	c.stuck["stop"] = true // every stop "succeeds" and the VM stays running: verification fails
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			act := e.actuator(false)
			act.Worker = fmt.Sprintf("w%d", i)
			act.BreakerThreshold = 100
			if res := act.Handle(context.Background(), e.message(as[i])); res.Status != domain.StatusFailed {
				t.Errorf("Handle = %+v; want failed (verification)", res)
			}
		}()
	}
	wg.Wait()
	if b := e.breaker(); b.Failures != n {
		t.Errorf("breaker counts %d failures; want %d", b.Failures, n)
	}
}

// racingBreaker is a lake where another worker moves the breaker right
// before this one's first write.
type racingBreaker struct {
	*lake.Lake
	raced bool
}

func (r *racingBreaker) SwapBreaker(ctx context.Context, prev, next domain.Breaker) (domain.Breaker, error) {
	if !r.raced {
		r.raced = true
		other := prev
		other.Failures++
		other.Worker = "w-other"
		if _, err := r.Lake.SwapBreaker(ctx, prev, other); err != nil {
			return domain.Breaker{}, err
		}
	}
	return r.Lake.SwapBreaker(ctx, prev, next)
}

// TestBreakerRetriesALostRace: when another worker moved the breaker
// first, the failure is counted on top of the other's, not lost.
func TestBreakerRetriesALostRace(t *testing.T) {
	rs, as := stopBatch(1)
	c := newFakeCloud(rs...)
	e := setup(t, c, true, as...)
	act := e.actuator(false)
	racing := &racingBreaker{Lake: e.lake}
	act.Records = racing
	c.failOn["stop"] = fmt.Errorf("stop: %w", domain.ErrConflict)
	act.Handle(context.Background(), e.message(as[0]))
	if b := e.breaker(); !racing.raced || b.Failures != 2 || b.Worker != "w1" {
		t.Errorf("breaker = %+v; want 2 failures, the last by w1", b)
	}
}

func TestBreakerFromEnv(t *testing.T) {
	tests := []struct {
		threshold, coolDown string
		wantN               int
		wantD               time.Duration
		wantErr             string
	}{
		{"", "", 0, 0, ""},
		{"3", "30m", 3, 30 * time.Minute, ""},
		{" 1000 ", "24h", 1000, 24 * time.Hour, ""},
		{"0", "", 0, 0, "CLOUDTRIM_BREAKER_THRESHOLD=\"0\""},
		{"1001", "", 0, 0, "from 1 to 1000"},
		{"five", "", 0, 0, "CLOUDTRIM_BREAKER_THRESHOLD"},
		{"", "30s", 0, 0, "CLOUDTRIM_BREAKER_COOLDOWN=\"30s\""},
		{"", "25h", 0, 0, "from 1m to 24h"},
		{"", "15", 0, 0, "CLOUDTRIM_BREAKER_COOLDOWN"},
	}
	for _, tt := range tests {
		env := map[string]string{actuate.BreakerThresholdEnv: tt.threshold, actuate.BreakerCoolDownEnv: tt.coolDown}
		n, d, err := actuate.BreakerFromEnv(func(k string) string { return env[k] })
		if tt.wantErr != "" {
			if err == nil || !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("BreakerFromEnv(%q, %q) error = %v; want ErrInvalid containing %q", tt.threshold, tt.coolDown, err, tt.wantErr)
			}
			continue
		}
		if err != nil || n != tt.wantN || d != tt.wantD {
			t.Errorf("BreakerFromEnv(%q, %q) = %d, %s, %v; want %d, %s", tt.threshold, tt.coolDown, n, d, err, tt.wantN, tt.wantD)
		}
	}
}
