package pubsubqueue_test

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
)

// TestSendDelayed sends a body five minutes ahead: it is published at
// once with its due time, hidden from Receive with one ModifyAckDeadline
// of the five minutes, and once due re-published and delivered as a new
// message on its first attempt, sent when it was first sent.
func TestSendDelayed(t *testing.T) {
	e := newEmulator(t)
	q := e.open(t, e.config())
	ctx := context.Background()
	if err := q.SendDelayed(ctx, []byte("later"), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, q, 10, 0)
	e.clock.Advance(4 * time.Minute)
	mustReceive(t, q, 10, 0)
	msgs := e.published(q.Topic())
	if len(msgs) != 1 {
		t.Fatalf("%d messages published; want the delayed one", len(msgs))
	}
	due := t0.Add(5 * time.Minute).Format(time.RFC3339Nano)
	if diff := cmp.Diff(map[string]string{pubsubqueue.NotBeforeAttribute: due}, msgs[0].Attributes); diff != "" {
		t.Errorf("delayed message's attributes (-want +got):\n%s", diff)
	}
	if len(msgs[0].Modacks) != 1 || msgs[0].Modacks[0].AckDeadline != 300 {
		t.Errorf("delayed message's modacks = %+v; want one of 300s", msgs[0].Modacks)
	}

	e.clock.Advance(time.Minute + time.Second)
	m := mustReceive(t, q, 10, 1)[0]
	if string(m.Body) != "later" || m.Attempt != 1 || !m.SentAt.Equal(t0) {
		t.Errorf("delayed body = %q, attempt %d, sent at %v; want later, 1, %v", m.Body, m.Attempt, m.SentAt, t0)
	}
	msgs = e.published(q.Topic())
	if len(msgs) != 2 || msgs[0].Acks != 1 {
		t.Fatalf("%d messages published, the delayed one acknowledged %d times; want 2 and 1", len(msgs), msgs[0].Acks)
	}
	if diff := cmp.Diff(map[string]string{pubsubqueue.FirstSentAttribute: t0.Format(time.RFC3339Nano)}, msgs[1].Attributes); diff != "" {
		t.Errorf("re-published message's attributes (-want +got):\n%s", diff)
	}
}

// TestSendDelayedNow: a zero delay is a plain Send, delivered at once.
func TestSendDelayedNow(t *testing.T) {
	e := newEmulator(t)
	q := e.open(t, e.config())
	if err := q.SendDelayed(context.Background(), []byte("now"), 0); err != nil {
		t.Fatal(err)
	}
	if m := mustReceive(t, q, 10, 1)[0]; string(m.Body) != "now" || m.Attempt != 1 {
		t.Errorf("got %q attempt %d; want now, 1", m.Body, m.Attempt)
	}
	if msgs := e.published(q.Topic()); len(msgs) != 1 || len(msgs[0].Attributes) != 0 {
		t.Errorf("published %d messages, attributes %v; want one, without attributes", len(msgs), msgs[0].Attributes)
	}
}

// TestSendDelayedNearTheDeadLetterLimit: every pull of a delayed message
// counts as a delivery for Pub/Sub. When one that is not due comes with
// MaxAttempts deliveries (here the first went to a receiver that let it
// go), one short of the dead-letter policy, Receive re-publishes it
// afresh and hides the copy instead; the body is delivered on its first
// attempt when due, and never dead-lettered.
func TestSendDelayedNearTheDeadLetterLimit(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	cfg.MaxAttempts = 2 // the policy allows 3 deliveries
	q := e.open(t, cfg)
	ctx := context.Background()
	if err := q.SendDelayed(ctx, []byte("held"), 9*time.Minute); err != nil {
		t.Fatal(err)
	}
	raw := e.client(t).SubscriptionAdminClient
	resp, err := raw.Pull(ctx, &pubsubpb.PullRequest{Subscription: q.Subscription(), MaxMessages: 1})
	if err != nil || len(resp.ReceivedMessages) != 1 {
		t.Fatalf("raw Pull = %d messages, %v; want the delayed one", len(resp.GetReceivedMessages()), err)
	}
	if err := raw.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: q.Subscription(), AckIds: []string{resp.ReceivedMessages[0].AckId}}); err != nil {
		t.Fatal(err)
	}

	mustReceive(t, q, 10, 0)
	msgs := e.published(q.Topic())
	if len(msgs) != 2 || msgs[0].Acks != 1 || msgs[0].Deliveries != 2 {
		t.Fatalf("%d messages published, the first delivered %d times and acknowledged %d; want 2, 2 and 1", len(msgs), msgs[0].Deliveries, msgs[0].Acks)
	}
	want := map[string]string{
		pubsubqueue.NotBeforeAttribute: t0.Add(9 * time.Minute).Format(time.RFC3339Nano),
		pubsubqueue.FirstSentAttribute: t0.Format(time.RFC3339Nano),
	}
	if diff := cmp.Diff(want, msgs[1].Attributes); diff != "" {
		t.Errorf("fresh copy's attributes (-want +got):\n%s", diff)
	}
	if len(msgs[1].Modacks) != 1 || msgs[1].Modacks[0].AckDeadline != 540 {
		t.Errorf("fresh copy's modacks = %+v; want it hidden for the 540s left", msgs[1].Modacks)
	}

	e.clock.Advance(9*time.Minute + time.Second)
	m := mustReceive(t, q, 10, 1)[0]
	if string(m.Body) != "held" || m.Attempt != 1 || !m.SentAt.Equal(t0) {
		t.Errorf("delayed body = %q, attempt %d, sent at %v; want held, 1, %v", m.Body, m.Attempt, m.SentAt, t0)
	}
	if dl := mustDeadLetters(t, q); len(dl) != 0 {
		t.Errorf("DeadLetters = %+v; want none", dl)
	}
}

// TestMalformedNotBefore: a not-before time that does not parse makes the
// message due; it is delivered as it is.
func TestMalformedNotBefore(t *testing.T) {
	e := newEmulator(t)
	q := e.open(t, e.config())
	e.srv.Publish(q.Topic(), []byte("odd"), map[string]string{pubsubqueue.NotBeforeAttribute: "soon"})
	if m := mustReceive(t, q, 10, 1)[0]; string(m.Body) != "odd" || m.Attempt != 1 {
		t.Errorf("got %q attempt %d; want odd, 1", m.Body, m.Attempt)
	}
}

func TestNotBefore(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]string
		want  time.Time
		ok    bool
	}{
		{nil, time.Time{}, false},
		{map[string]string{"other": "x"}, time.Time{}, false},
		{map[string]string{pubsubqueue.NotBeforeAttribute: "2026-11-23T08:05:00.5Z"}, t0.Add(5*time.Minute + 500*time.Millisecond), true},
		{map[string]string{pubsubqueue.NotBeforeAttribute: "2026-11-23T09:05:00+01:00"}, t0.Add(5 * time.Minute), true},
		{map[string]string{pubsubqueue.NotBeforeAttribute: "tomorrow"}, time.Time{}, false},
		{map[string]string{pubsubqueue.NotBeforeAttribute: ""}, time.Time{}, false},
	} {
		got, ok := pubsubqueue.NotBefore(tc.attrs)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("NotBefore(%v) = %v, %v; want %v, %v", tc.attrs, got, ok, tc.want, tc.ok)
		}
	}
}
