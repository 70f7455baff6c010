package sqsqueue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/sqsqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestSendDeadLetterFindsTheQueueAndKeepsTheReason dead-letters a body
// this Queue never received, as the Lambda host does; the dead-letter
// queue comes from the RedrivePolicy.
func TestSendDeadLetterFindsTheQueueAndKeepsTheReason(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, _ := pair(t, c, 5, 30*time.Second)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url})
	if err := q.SendDeadLetter(ctx, []byte(`{"version":"bogus"}`), 2, "malformed message"); err != nil {
		t.Fatalf("SendDeadLetter = %v", err)
	}
	dls, err := q.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || string(dls[0].Body) != `{"version":"bogus"}` || dls[0].Reason != "malformed message" || dls[0].Attempts != 2 {
		t.Fatalf("dead letters = %+v; want the body with its reason and 2 attempts", dls)
	}
	mustReceive(t, q, 10, 0) // nothing went to the actions queue
}

// TestSendDelayedHidesTheBodyForTheDelay checks the delay is sent: the
// body is not visible at once, and is after the delay.
func TestSendDelayedHidesTheBodyForTheDelay(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, dlq := pair(t, c, 5, 30*time.Second)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url, DeadLetterURL: dlq, MaxAttempts: 5, Visibility: 30 * time.Second})
	if err := q.SendDelayed(ctx, []byte("held"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, q, 1, 0)
	time.Sleep(2500 * time.Millisecond)
	if got := mustReceive(t, q, 1, 1); string(got[0].Body) != "held" {
		t.Fatalf("body = %q", got[0].Body)
	}
	if err := q.SendDelayed(ctx, []byte("x"), 16*time.Minute); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("SendDelayed(16m) = %v; want invalid", err)
	}
}
