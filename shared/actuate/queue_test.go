package actuate_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/queue"
	"github.com/cloudtrim/cloudtrim/shared/queue/memqueue"
)

// queueClock is a manual clock for memqueue.
type queueClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *queueClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *queueClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// settle does with a delivery what the hosts do with its Result (see
// local.Runtime.Actuate and the Lambda app's actuate): ack, nack with
// the reason, dead-letter with the reason, or send again and ack.
func settle(t *testing.T, q queue.Queue, m queue.Message, res actuate.Result) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch res.Disposition {
	case actuate.Ack, actuate.Hold:
		err = q.Ack(ctx, m.ID)
	case actuate.Retry:
		err = q.Nack(ctx, m.ID, 0, res.Reason)
	case actuate.DeadLetter:
		err = q.Reject(ctx, m.ID, res.Reason)
	case actuate.Defer:
		if err = q.Send(ctx, m.Body); err == nil {
			err = q.Ack(ctx, m.ID)
		}
	default:
		t.Fatalf("unknown disposition in %+v", res)
	}
	if err != nil {
		t.Fatalf("settle %s (%s): %v", m.ID, res.Disposition, err)
	}
}

// drain runs act over q as a host does, moving the clock past the
// visibility timeout when nothing is visible, until q is empty or rounds
// run out, and returns the results by message body.
func drain(t *testing.T, q *memqueue.Queue, clock *queueClock, act *actuate.Actuator, rounds int) map[string][]actuate.Result {
	t.Helper()
	out := map[string][]actuate.Result{}
	for range rounds {
		if q.Len() == 0 {
			break
		}
		msgs, err := q.Receive(context.Background(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			clock.Advance(time.Minute)
			continue
		}
		for _, m := range msgs {
			res := act.Handle(context.Background(), m.Body)
			out[string(m.Body)] = append(out[string(m.Body)], res)
			settle(t, q, m, res)
		}
	}
	return out
}

// flakyStates is a lake whose action states can never be read for one
// action: a message that fails on every attempt.
type flakyStates struct {
	*lake.Lake
	actionID string
}

func (f flakyStates) ActionState(ctx context.Context, planID, actionID string) (domain.ActionState, error) {
	if actionID == f.actionID {
		return domain.ActionState{}, errors.New("state store unavailable")
	}
	return f.Lake.ActionState(ctx, planID, actionID)
}

// TestPoisonMessagesAreDeadLettered feeds a batch of good and bad
// messages through an in-process queue with three attempts per message:
// the good ones are applied, the malformed and unknown ones are
// dead-lettered at once with their reason, and the one that fails on
// every attempt is dead-lettered after three, with the last reason.
func TestPoisonMessagesAreDeadLettered(t *testing.T) {
	r1, r2 := vm("i-1", "m5.large", domain.StateRunning), vm("i-2", "m5.large", domain.StateRunning)
	stopped := domain.ResourceState{SKU: "m5.large", State: domain.StateStopped}
	good, doomed := action(domain.ActionStop, r1, stopped), action(domain.ActionStop, r2, stopped)
	c := newFakeCloud(r1, r2)
	e := setup(t, c, true, good, doomed)

	unknownPlan := good
	unknownPlan.PlanID = "plan-gone"
	wrongVersion, _ := json.Marshal(domain.QueuedAction{Version: "cloudtrim.queued-action/v0", Action: good})
	bodies := map[string]string{
		"good":         string(e.message(good)),
		"doomed":       string(e.message(doomed)),
		"malformed":    `{"version": "cloudtrim.queued-action/v1", "action": [}`,
		"not json":     "\x00\x01binary",
		"version":      string(wrongVersion),
		"unknown plan": string(e.message(unknownPlan)),
	}
	clock := &queueClock{now: t0}
	q := memqueue.New(memqueue.Options{Visibility: 30 * time.Second, MaxAttempts: 3, Now: clock.Now})
	for _, b := range bodies {
		if err := q.Send(context.Background(), []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	act := e.actuator(false)
	act.Records = flakyStates{e.lake, doomed.ID}
	results := drain(t, q, clock, act, 50)

	if q.Len() != 0 {
		t.Fatalf("%d messages left on the queue; want every one settled", q.Len())
	}
	if got := results[bodies["good"]]; len(got) != 1 || got[0].Status != domain.StatusApplied {
		t.Errorf("good message: %+v; want applied on its first delivery", got)
	}
	if got := results[bodies["doomed"]]; len(got) != 3 {
		t.Errorf("failing message handled %d times; want exactly 3 (MaxAttempts)", len(got))
	}
	dead, err := q.DeadLetters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, d := range dead {
		for name, b := range bodies {
			if string(d.Body) == b {
				reasons[name] = d.Reason
			}
		}
	}
	want := map[string]string{
		"malformed":    "malformed message",
		"not json":     "malformed message",
		"version":      `message version "cloudtrim.queued-action/v0" is not supported`,
		"unknown plan": "plan: get plan plan-gone",
		"doomed":       "gave up after 3 attempts: read state: state store unavailable",
	}
	if len(reasons) != len(want) {
		t.Errorf("dead letters %v; want exactly %v", reasons, want)
	}
	for name, sub := range want {
		if !strings.Contains(reasons[name], sub) {
			t.Errorf("dead letter %q has reason %q; want it to say %q", name, reasons[name], sub)
		}
	}
	for name, b := range bodies {
		if name == "doomed" || name == "good" {
			continue
		}
		if n := len(results[b]); n != 1 {
			t.Errorf("%s message handled %d times; want once (dead-lettered at once)", name, n)
		}
	}
	if diff := cmp.Diff([]string{"stop i-1"}, c.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
