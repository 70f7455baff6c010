// Package queuetest is the conformance suite every queue driver passes.
package queuetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/queue"
)

// Harness builds a fresh, empty queue for one subtest. MaxAttempts must
// be 3, and Advance must make hidden messages visible again (for drivers
// on a real clock it may sleep past the visibility timeout).
type Harness struct {
	New     func(t *testing.T) queue.Queue
	Advance func(t *testing.T, d time.Duration)
	// Visibility is the driver's visibility timeout.
	Visibility time.Duration
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("SendReceiveAck", func(t *testing.T) {
		q := h.New(t)
		for i := range 3 {
			if err := q.Send(ctx, []byte(fmt.Sprintf("m%d", i))); err != nil {
				t.Fatalf("Send: %v", err)
			}
		}
		got := receiveAll(t, q, 10)
		if len(got) != 3 {
			t.Fatalf("Receive returned %d messages; want 3", len(got))
		}
		var bodies []string
		for _, m := range got {
			if m.Attempt != 1 {
				t.Errorf("message %q attempt = %d; want 1", m.Body, m.Attempt)
			}
			bodies = append(bodies, string(m.Body))
			if err := q.Ack(ctx, m.ID); err != nil {
				t.Fatalf("Ack: %v", err)
			}
		}
		sort.Strings(bodies)
		if fmt.Sprint(bodies) != "[m0 m1 m2]" {
			t.Errorf("bodies = %v; want [m0 m1 m2]", bodies)
		}
		h.Advance(t, 2*h.Visibility)
		if again := receiveAll(t, q, 10); len(again) != 0 {
			t.Errorf("acked messages delivered again: %d", len(again))
		}
	})
	t.Run("HiddenWhileInFlight", func(t *testing.T) {
		q := h.New(t)
		_ = q.Send(ctx, []byte("x"))
		if got := receiveAll(t, q, 10); len(got) != 1 {
			t.Fatalf("first receive got %d; want 1", len(got))
		}
		if got := receiveAll(t, q, 10); len(got) != 0 {
			t.Errorf("in-flight message delivered twice before its visibility expired")
		}
	})
	t.Run("RedeliveryCountsAttempts", func(t *testing.T) {
		q := h.New(t)
		_ = q.Send(ctx, []byte("x"))
		first := receiveAll(t, q, 1)
		h.Advance(t, 2*h.Visibility)
		second := receiveAll(t, q, 1)
		if len(first) != 1 || len(second) != 1 {
			t.Fatalf("got %d then %d deliveries; want 1 and 1", len(first), len(second))
		}
		if second[0].Attempt != 2 {
			t.Errorf("redelivery attempt = %d; want 2", second[0].Attempt)
		}
	})
	t.Run("NackRedelivers", func(t *testing.T) {
		q := h.New(t)
		_ = q.Send(ctx, []byte("x"))
		m := receiveAll(t, q, 1)
		if len(m) != 1 {
			t.Fatal("no delivery")
		}
		if err := q.Nack(ctx, m[0].ID, 0, "try later"); err != nil {
			t.Fatalf("Nack: %v", err)
		}
		again := receiveAll(t, q, 1)
		if len(again) != 1 || again[0].Attempt != 2 {
			t.Fatalf("after nack got %v; want one delivery with attempt 2", again)
		}
	})
	t.Run("DeadLetterAfterMaxAttempts", func(t *testing.T) {
		q := h.New(t)
		_ = q.Send(ctx, []byte("poison"))
		for i := 0; i < 3; i++ {
			m := receiveAll(t, q, 1)
			if len(m) != 1 {
				t.Fatalf("attempt %d: got %d deliveries; want 1", i+1, len(m))
			}
			_ = q.Nack(ctx, m[0].ID, 0, "apply failed: boom")
		}
		if m := receiveAll(t, q, 1); len(m) != 0 {
			t.Fatalf("poison message delivered a 4th time")
		}
		dl, err := q.DeadLetters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(dl) != 1 || string(dl[0].Body) != "poison" || dl[0].Reason == "" {
			t.Fatalf("dead letters = %+v; want the poison body with a reason", dl)
		}
	})
	t.Run("RejectDeadLettersAtOnce", func(t *testing.T) {
		q := h.New(t)
		_ = q.Send(ctx, []byte("bad"))
		m := receiveAll(t, q, 1)
		if err := q.Reject(ctx, m[0].ID, "malformed body"); err != nil {
			t.Fatalf("Reject: %v", err)
		}
		dl, _ := q.DeadLetters(ctx)
		if len(dl) != 1 || dl[0].Reason != "malformed body" {
			t.Fatalf("dead letters = %+v; want one with reason %q", dl, "malformed body")
		}
	})
	t.Run("ConcurrentReceiversGetDistinctMessages", func(t *testing.T) {
		q := h.New(t)
		const n = 50
		for i := range n {
			_ = q.Send(ctx, []byte(fmt.Sprint(i)))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					ms, err := q.Receive(ctx, 5)
					if err != nil || len(ms) == 0 {
						return
					}
					for _, m := range ms {
						mu.Lock()
						seen[string(m.Body)]++
						mu.Unlock()
						_ = q.Ack(ctx, m.ID)
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Errorf("received %d distinct bodies; want %d", len(seen), n)
		}
		for b, c := range seen {
			if c != 1 {
				t.Errorf("body %s received %d times within one visibility window", b, c)
			}
		}
	})
}

func receiveAll(t *testing.T, q queue.Queue, max int) []queue.Message {
	t.Helper()
	ms, err := q.Receive(context.Background(), max)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return ms
}
