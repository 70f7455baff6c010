package actuate_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// errCrashed is what every call of a crashed process's wrappers returns.
var errCrashed = errors.New("process crashed (injected)")

// process is one simulated actuator process. When the event named by
// crashAt happens, the process dies: from then on every call of its lake
// and provider wrappers fails without reaching the lake or the cloud,
// including the reply of the call that triggered the crash (its effect
// stands, as it would after a real crash).
type process struct {
	crashAt string
	crashed atomic.Bool
	mu      sync.Mutex
	events  []string
}

// event records that name happened and reports whether the process died
// right after it.
func (p *process) event(name string) bool {
	p.mu.Lock()
	p.events = append(p.events, name)
	p.mu.Unlock()
	if p.crashAt != "" && name == p.crashAt && p.crashed.CompareAndSwap(false, true) {
		return true
	}
	return false
}

func (p *process) dead() bool { return p.crashed.Load() }

// crashingRecords is the lake as a crashing process sees it.
type crashingRecords struct {
	actuate.Records
	p *process
}

func (r crashingRecords) GetPlan(ctx context.Context, planID string) (domain.Plan, error) {
	if r.p.dead() {
		return domain.Plan{}, errCrashed
	}
	return r.Records.GetPlan(ctx, planID)
}

func (r crashingRecords) ActionDecisions(ctx context.Context, planID, actionID string) ([]domain.Decision, error) {
	if r.p.dead() {
		return nil, errCrashed
	}
	return r.Records.ActionDecisions(ctx, planID, actionID)
}

func (r crashingRecords) ActionState(ctx context.Context, planID, actionID string) (domain.ActionState, error) {
	if r.p.dead() {
		return domain.ActionState{}, errCrashed
	}
	return r.Records.ActionState(ctx, planID, actionID)
}

func (r crashingRecords) Transition(ctx context.Context, prev *domain.ActionState, next domain.ActionState) (domain.ActionState, error) {
	if r.p.dead() {
		return domain.ActionState{}, errCrashed
	}
	st, err := r.Records.Transition(ctx, prev, next)
	if err != nil {
		return st, err
	}
	name := "record"
	if next.Status == domain.StatusApplying {
		name = "claim"
	} else if !next.Status.Terminal() {
		name = "release"
	}
	if r.p.event(name) {
		return domain.ActionState{}, errCrashed
	}
	return st, nil
}

func (r crashingRecords) AppendAudit(ctx context.Context, ev domain.AuditEvent) error {
	if r.p.dead() || r.p.event("before-audit-"+string(ev.Type)) {
		return errCrashed
	}
	if err := r.Records.AppendAudit(ctx, ev); err != nil {
		return err
	}
	if r.p.event("after-audit-" + string(ev.Type)) {
		return errCrashed
	}
	return nil
}

func (r crashingRecords) KillSwitch(ctx context.Context) (domain.KillSwitch, error) {
	if r.p.dead() {
		return domain.KillSwitch{}, errCrashed
	}
	return r.Records.KillSwitch(ctx)
}

func (r crashingRecords) Breaker(ctx context.Context, cloud domain.Cloud) (domain.Breaker, error) {
	if r.p.dead() {
		return domain.Breaker{}, errCrashed
	}
	return r.Records.Breaker(ctx, cloud)
}

func (r crashingRecords) SwapBreaker(ctx context.Context, prev, next domain.Breaker) (domain.Breaker, error) {
	if r.p.dead() {
		return domain.Breaker{}, errCrashed
	}
	return r.Records.SwapBreaker(ctx, prev, next)
}

func (r crashingRecords) Override(ctx context.Context, ref domain.ResourceRef) (domain.Override, error) {
	if r.p.dead() {
		return domain.Override{}, errCrashed
	}
	return r.Records.Override(ctx, ref)
}

func (r crashingRecords) Coverage(ctx context.Context, snaps []domain.SnapshotRef) (domain.Coverage, error) {
	if r.p.dead() {
		return domain.Coverage{}, errCrashed
	}
	return r.Records.Coverage(ctx, snaps)
}

// crashingCloud is the provider as a crashing process sees it. Its
// mutating calls reach the cloud, then count as events "mutation-<n>".
type crashingCloud struct {
	actuate.Resources
	p *process
	n atomic.Int32
}

func (c *crashingCloud) Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	if c.p.dead() {
		return domain.Resource{}, errCrashed
	}
	return c.Resources.Get(ctx, ref)
}

func (c *crashingCloud) after(err error) error {
	if err == nil && c.p.event(fmt.Sprintf("mutation-%d", c.n.Add(1))) {
		return errCrashed
	}
	return err
}

func (c *crashingCloud) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.Stop(ctx, ref, token))
}

func (c *crashingCloud) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.Start(ctx, ref, token))
}

func (c *crashingCloud) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.Retype(ctx, ref, sku, token))
}

func (c *crashingCloud) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.SetTiering(ctx, ref, rule, token))
}

func (c *crashingCloud) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.Resize(ctx, ref, sku, token))
}

func (c *crashingCloud) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	if c.p.dead() {
		return "", errCrashed
	}
	id, err := c.Resources.Snapshot(ctx, ref, tags, token)
	return id, c.after(err)
}

func (c *crashingCloud) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.Delete(ctx, ref, token))
}

func (c *crashingCloud) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.Release(ctx, ref, token))
}

func (c *crashingCloud) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	if c.p.dead() {
		return errCrashed
	}
	return c.after(c.Resources.Tag(ctx, ref, tags, token))
}

// onceCase is one action kind with the effective calls it must cause.
type onceCase struct {
	name string
	res  domain.Resource
	act  func(domain.Resource) domain.Action
	want []string
}

func onceCases() []onceCase {
	offHours := domain.Schedule{TimeZone: "UTC", Days: "Mon-Fri", Start: "12:00", Stop: "20:00"} // 11:00 on Monday is outside
	return []onceCase{
		{"stop", vm("i-1", "m5.large", domain.StateRunning), func(r domain.Resource) domain.Action {
			return action(domain.ActionStop, r, domain.ResourceState{SKU: "m5.large", State: domain.StateStopped})
		}, []string{"stop i-1"}},
		{"rightsize", vm("i-1", "m5.2xlarge", domain.StateRunning), func(r domain.Resource) domain.Action {
			return action(domain.ActionRightsize, r, domain.ResourceState{SKU: "m5.large", State: domain.StateRunning})
		}, []string{"stop i-1", "resize i-1", "start i-1"}},
		{"schedule", vm("i-1", "m5.large", domain.StateRunning), func(r domain.Resource) domain.Action {
			a := action(domain.ActionSchedule, r, domain.ResourceState{SKU: "m5.large", State: domain.StateScheduled})
			a.Schedule = &offHours
			return a
		}, []string{"tag i-1", "stop i-1"}},
		{"delete disk", disk("vol-1"), func(r domain.Resource) domain.Action {
			return action(domain.ActionDeleteDisk, r, domain.ResourceState{State: domain.StateDeleted})
		}, []string{"snapshot vol-1", "delete vol-1"}},
		{"release ip", domain.Resource{Cloud: domain.AWS, Account: "111111111111", Region: "us-east-1", Kind: domain.KindIP,
			ID: "eipalloc-1", SKU: "public-ipv4", State: domain.StateAvailable, Tags: optIn}, func(r domain.Resource) domain.Action {
			return action(domain.ActionReleaseIP, r, domain.ResourceState{State: domain.StateReleased})
		}, []string{"release eipalloc-1"}},
		{"retype disk", gp2("vol-2"), func(r domain.Resource) domain.Action {
			after := r.Observed()
			after.SKU = "gp3"
			return action(domain.ActionRetypeDisk, r, after)
		}, []string{"retype vol-2"}},
		{"tier storage", bucket("logs"), func(r domain.Resource) domain.Action {
			after := r.Observed()
			after.Tiering = "STANDARD_IA@30d"
			return action(domain.ActionTierStorage, r, after)
		}, []string{"tier logs"}},
	}
}

// crashPoints are the events after which a process dies: the claim is
// written (before any change); after each mutating call (a change made,
// its reply lost); after the change, before its outcome is audited;
// after that audit, before the state is recorded; after the state is
// recorded, before the ack. "" is a run that does not crash.
func crashPoints(mutations int) []string {
	points := []string{"", "claim", "before-audit-apply_start"}
	for i := 1; i <= mutations; i++ {
		points = append(points, fmt.Sprintf("mutation-%d", i))
	}
	return append(points, "before-audit-apply_done", "after-audit-apply_done", "record")
}

// TestExactlyOnceUnderCrashes crashes a worker at every point of every
// kind of action, then delivers the same message three more times, by
// the restarted worker or by another one once the lease ran out: the
// cloud sees each change exactly once, and no mutating call repeats
// except where the provider's idempotency token is the only record of
// progress (a disk's snapshot, taken again with the same token).
func TestExactlyOnceUnderCrashes(t *testing.T) {
	for _, tc := range onceCases() {
		for _, point := range crashPoints(len(tc.want)) {
			for _, takeover := range []bool{false, true} {
				name := fmt.Sprintf("%s/crash=%s/takeover=%v", tc.name, point, takeover)
				if point == "" {
					name = fmt.Sprintf("%s/no crash/takeover=%v", tc.name, takeover)
				}
				t.Run(name, func(t *testing.T) {
					c := newFakeCloud(tc.res)
					a := tc.act(tc.res)
					e := setup(t, c, true, a)
					ctx := context.Background()
					msg := e.message(a)

					p := &process{crashAt: point}
					crashing := e.actuator(false)
					crashing.Records = crashingRecords{e.lake, p}
					crashing.Providers = map[domain.Cloud]actuate.Resources{domain.AWS: &crashingCloud{Resources: c, p: p}}
					first := crashing.Handle(ctx, msg)
					if point != "" && !p.dead() {
						t.Fatalf("the process never reached %q; events: %v", point, p.events)
					}
					if point == "" && (first.Disposition != actuate.Ack || first.Status != domain.StatusApplied) {
						t.Fatalf("Handle without a crash = %+v; want ack/applied", first)
					}

					var last actuate.Result
					for i := range 3 {
						act := e.actuator(false)
						if takeover {
							act.Worker = "w2"
							if i == 0 {
								// Within w1's lease a claim it left is respected.
								res := act.Handle(ctx, msg)
								if res.Disposition == actuate.Retry {
									continue
								}
								last = res
								continue
							}
							e.mu.Lock()
							e.now = e.now.Add(11 * time.Minute)
							e.mu.Unlock()
						}
						last = act.Handle(ctx, msg)
					}
					if last.Disposition != actuate.Ack || last.Status != domain.StatusApplied {
						t.Fatalf("after 3 redeliveries: %+v; want ack/applied", last)
					}
					if diff := cmp.Diff(tc.want, c.Calls()); diff != "" {
						t.Errorf("effective mutating calls (-want +got):\n%s", diff)
					}
					var wantReplays []string
					if tc.name == "delete disk" && point == "mutation-1" {
						wantReplays = []string{"snapshot vol-1 " + a.PlanID + "/" + a.ID + "/snapshot"}
					}
					if diff := cmp.Diff(wantReplays, replays(c.Tried())); diff != "" {
						t.Errorf("repeated mutating calls (-want +got):\n%s\nall calls: %v", diff, c.Tried())
					}
					if st := e.state(a); st.Status != domain.StatusApplied {
						t.Errorf("state = %+v; want applied", st)
					}
				})
			}
		}
	}
}

// replays lists the calls of tried whose token an earlier call used.
func replays(tried []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range tried {
		token := c[strings.LastIndexByte(c, ' ')+1:]
		if seen[token] {
			out = append(out, c)
		}
		seen[token] = true
	}
	return out
}

// TestTwoWorkersApplyOnce runs two actuators (two worker names) on the
// same message at the same time, many times over, for every kind: the
// cloud sees each change once, no call is repeated, and exactly one of
// the two made the change.
func TestTwoWorkersApplyOnce(t *testing.T) {
	for _, tc := range onceCases() {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 25 {
				c := newFakeCloud(tc.res)
				a := tc.act(tc.res)
				e := setup(t, c, true, a)
				msg := e.message(a)
				// The first live read waits a little for a second one, so
				// that two workers that both got past the claim would
				// both see the resource unchanged and both change it.
				var reads atomic.Int32
				both := make(chan struct{})
				c.onGet = func(domain.ResourceRef) {
					if reads.Add(1) == 2 {
						close(both)
					}
					select {
					case <-both:
					case <-time.After(5 * time.Millisecond):
					}
				}
				results := make([]actuate.Result, 2)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for w := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						act := e.actuator(false)
						act.Worker = fmt.Sprintf("w%d", w+1)
						<-start
						results[w] = act.Handle(context.Background(), msg)
					}()
				}
				close(start)
				wg.Wait()
				if diff := cmp.Diff(tc.want, c.Calls()); diff != "" {
					t.Fatalf("round %d: effective calls (-want +got):\n%s", round, diff)
				}
				if n := len(c.Tried()); n != len(tc.want) {
					t.Fatalf("round %d: %d mutating calls %v; want %d", round, n, c.Tried(), len(tc.want))
				}
				applied := 0
				for _, res := range results {
					switch {
					case res.Disposition == actuate.Ack && res.Status == domain.StatusApplied && !strings.HasPrefix(res.Reason, "already"):
						applied++
					case res.Disposition == actuate.Retry, res.Disposition == actuate.Ack && res.Reason == "already applied":
					default:
						t.Fatalf("round %d: unexpected result %+v", round, res)
					}
				}
				if applied != 1 {
					t.Fatalf("round %d: %d workers applied the action; want exactly 1: %+v", round, applied, results)
				}
			}
		})
	}
}
