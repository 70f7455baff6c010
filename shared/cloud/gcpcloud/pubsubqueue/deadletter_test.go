package pubsubqueue_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
	"github.com/cloudtrim/cloudtrim/shared/queue"
)

// dlTopic is the full name of a config's dead-letter topic.
func dlTopic(cfg pubsubqueue.Config) string {
	return "projects/" + project + "/topics/" + cfg.Topic + pubsubqueue.DeadLetterSuffix
}

// TestReject dead-letters a delivery: the body goes to the dead-letter
// topic with the reason, the attempts and the first publish time as
// attributes, the delivery is acknowledged, and DeadLetters lists it.
func TestReject(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	q := e.open(t, cfg)
	ctx := context.Background()
	body := []byte("{\"action\":\"delete\"}\x00\xff")
	if err := q.Send(ctx, body); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	m := mustReceive(t, q, 1, 1)[0]
	if err := q.Reject(ctx, m.ID, "malformed body"); err != nil {
		t.Fatalf("Reject = %v", err)
	}
	dead := e.published(dlTopic(cfg))
	if len(dead) != 1 {
		t.Fatalf("%d messages on the dead-letter topic; want 1", len(dead))
	}
	want := map[string]string{
		pubsubqueue.ReasonAttribute:    "malformed body",
		pubsubqueue.AttemptsAttribute:  "1",
		pubsubqueue.FirstSentAttribute: t0.Format(time.RFC3339Nano),
	}
	if diff := cmp.Diff(want, dead[0].Attributes); diff != "" {
		t.Errorf("dead letter's attributes (-want +got):\n%s", diff)
	}
	if original := e.published(q.Topic())[0]; original.Acks != 1 {
		t.Errorf("rejected message acknowledged %d times; want 1", original.Acks)
	}
	e.clock.Advance(2 * time.Minute)
	mustReceive(t, q, 1, 0)
	wantDL := []queue.DeadLetter{{Body: body, Attempts: 1, Reason: "malformed body", At: t0.Add(time.Minute)}}
	if diff := cmp.Diff(wantDL, mustDeadLetters(t, q)); diff != "" {
		t.Errorf("DeadLetters (-want +got):\n%s", diff)
	}
}

// TestReasonAttribute: a reason longer than Pub/Sub's 1024-byte limit on
// an attribute value is cut at a character boundary and marked; one that
// is not UTF-8 is made so.
func TestReasonAttribute(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	q := e.open(t, cfg)
	ctx := context.Background()
	for _, tc := range []struct {
		reason string
		check  func(string) bool
	}{
		{strings.Repeat("é", 600), func(r string) bool {
			return len(r) <= 1024 && strings.HasSuffix(r, "é…") && len(r) > 1000
		}},
		{"bad \xff byte", func(r string) bool { return r == "bad \uFFFD byte" }},
		{"", func(r string) bool { return r == "" }},
	} {
		if err := q.SendDeadLetter(ctx, []byte("x"), 2, tc.reason); err != nil {
			t.Fatalf("SendDeadLetter(%.20q…) = %v", tc.reason, err)
		}
		dead := e.published(dlTopic(cfg))
		got := dead[len(dead)-1].Attributes[pubsubqueue.ReasonAttribute]
		if !utf8.ValidString(got) || !tc.check(got) {
			t.Errorf("reason %.20q… became the attribute %.40q… (%d bytes)", tc.reason, got, len(got))
		}
	}
}

// TestSendDeadLetter dead-letters a body the queue never delivered, as a
// push host does: it is listed with its reason and attempts (at least
// one), and nothing reaches the queue itself.
func TestSendDeadLetter(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	q := e.open(t, cfg)
	ctx := context.Background()
	if err := q.SendDeadLetter(ctx, []byte(`{"version":"bogus"}`), 0, "unknown version"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{pubsubqueue.ReasonAttribute: "unknown version", pubsubqueue.AttemptsAttribute: "1"}
	if dead := e.published(dlTopic(cfg)); len(dead) != 1 || !cmp.Equal(want, dead[0].Attributes) {
		t.Fatalf("dead-letter topic holds %d messages, first attributes %v; want one with %v", len(dead), dead[0].Attributes, want)
	}
	wantDL := []queue.DeadLetter{{Body: []byte(`{"version":"bogus"}`), Attempts: 1, Reason: "unknown version", At: t0}}
	if diff := cmp.Diff(wantDL, mustDeadLetters(t, q)); diff != "" {
		t.Errorf("DeadLetters (-want +got):\n%s", diff)
	}
	mustReceive(t, q, 10, 0)
}

// TestLastNackDeadLetters nacks every attempt: the Nack of the last one
// dead-letters the body itself, saying so, with the last reason.
func TestLastNackDeadLetters(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	cfg.MaxAttempts = 2
	q := e.open(t, cfg)
	ctx := context.Background()
	if err := q.Send(ctx, []byte("poison")); err != nil {
		t.Fatal(err)
	}
	for i, reason := range []string{"first", "apply failed: boom"} {
		m := mustReceive(t, q, 1, 1)[0]
		if m.Attempt != i+1 {
			t.Fatalf("attempt = %d; want %d", m.Attempt, i+1)
		}
		if err := q.Nack(ctx, m.ID, 0, reason); err != nil {
			t.Fatalf("Nack = %v", err)
		}
	}
	mustReceive(t, q, 1, 0)
	want := []queue.DeadLetter{{Body: []byte("poison"), Attempts: 2, Reason: "gave up after 2 attempts: apply failed: boom", At: t0}}
	if diff := cmp.Diff(want, mustDeadLetters(t, q)); diff != "" {
		t.Errorf("DeadLetters (-want +got):\n%s", diff)
	}
}

// TestNackReasonSurvivesATimeout nacks the first attempt and lets the
// last one time out (the worker died): the next Receive does not return
// the extra delivery but dead-letters it with the remembered reason.
func TestNackReasonSurvivesATimeout(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	cfg.MaxAttempts = 2
	q := e.open(t, cfg)
	ctx := context.Background()
	if err := q.Send(ctx, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	m := mustReceive(t, q, 1, 1)[0]
	if err := q.Nack(ctx, m.ID, 0, "throttled by the compute API"); err != nil {
		t.Fatal(err)
	}
	if m := mustReceive(t, q, 1, 1)[0]; m.Attempt != 2 {
		t.Fatalf("second delivery attempt %d; want 2", m.Attempt)
	}
	e.clock.Advance(2 * time.Minute)
	mustReceive(t, q, 1, 0)
	want := []queue.DeadLetter{{Body: []byte("slow"), Attempts: 2, Reason: "exhausted 2 attempts; last failure: throttled by the compute API", At: t0.Add(2 * time.Minute)}}
	if diff := cmp.Diff(want, mustDeadLetters(t, q)); diff != "" {
		t.Errorf("DeadLetters (-want +got):\n%s", diff)
	}
}

// TestTimeoutsWithoutNack lets every attempt time out: the dead letter
// says only that the body ran out of attempts. A handle that did not see
// the Nack (another process) reports the same.
func TestTimeoutsWithoutNack(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	cfg.MaxAttempts = 2
	q := e.open(t, cfg)
	other := e.handle(t, cfg)
	ctx := context.Background()
	if err := q.Send(ctx, []byte("silent")); err != nil {
		t.Fatal(err)
	}
	m := mustReceive(t, q, 1, 1)[0]
	if err := q.Nack(ctx, m.ID, 0, "known to q only"); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, other, 1, 1)
	e.clock.Advance(2 * time.Minute)
	mustReceive(t, other, 1, 0)
	want := []queue.DeadLetter{{Body: []byte("silent"), Attempts: 2, Reason: pubsubqueue.ExhaustedReason, At: t0.Add(2 * time.Minute)}}
	if diff := cmp.Diff(want, mustDeadLetters(t, q)); diff != "" {
		t.Errorf("DeadLetters (-want +got):\n%s", diff)
	}
}

// TestPolicyMovesWhatNoReceiverAnswers: when even the extra delivery goes
// to a receiver that dies, Pub/Sub's dead-letter policy moves the message
// itself, with no reason of ours; DeadLetters reports ExhaustedReason and
// the policy's count, or the count Pub/Sub noted on the message.
func TestPolicyMovesWhatNoReceiverAnswers(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	cfg.MaxAttempts = 2 // the policy allows 3 deliveries
	q := e.open(t, cfg)
	ctx := context.Background()
	if err := q.Send(ctx, []byte("orphan")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		mustReceive(t, q, 1, 1)
		e.clock.Advance(2 * time.Minute)
	}
	raw := e.client(t).SubscriptionAdminClient
	resp, err := raw.Pull(ctx, &pubsubpb.PullRequest{Subscription: q.Subscription(), MaxMessages: 1})
	if err != nil || len(resp.ReceivedMessages) != 1 || resp.ReceivedMessages[0].DeliveryAttempt != 3 {
		t.Fatalf("raw Pull = %v, %v; want the third delivery", resp.GetReceivedMessages(), err)
	}
	e.clock.Advance(2 * time.Minute)
	mustReceive(t, q, 1, 0)
	// As the real service forwards a message: with its delivery count.
	e.srv.Publish(dlTopic(cfg), []byte("counted"), map[string]string{"CloudPubSubDeadLetterSourceDeliveryCount": "7"})

	got := mustDeadLetters(t, q)
	byBody := map[string]queue.DeadLetter{}
	for _, d := range got {
		byBody[string(d.Body)] = d
	}
	for body, attempts := range map[string]int{"orphan": 3, "counted": 7} {
		if d, ok := byBody[body]; !ok || d.Reason != pubsubqueue.ExhaustedReason || d.Attempts != attempts {
			t.Errorf("dead letter %q = %+v (found %v); want %q after %d attempts", body, d, ok, pubsubqueue.ExhaustedReason, attempts)
		}
	}
	if len(got) != 2 {
		t.Errorf("DeadLetters listed %d; want 2", len(got))
	}
}

// TestDeadLettersConsumeNothing lists 25 dead letters twice: each listing
// has all of them, oldest first, and they are all there to pull
// afterwards.
func TestDeadLettersConsumeNothing(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	q := e.open(t, cfg)
	ctx := context.Background()
	for i := range 25 {
		if err := q.SendDeadLetter(ctx, []byte(fmt.Sprint(i)), 1, "r"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
	for range 2 {
		dl := mustDeadLetters(t, q)
		if len(dl) != 25 {
			t.Fatalf("DeadLetters listed %d; want 25", len(dl))
		}
		for i, d := range dl {
			if string(d.Body) != fmt.Sprint(i) || !d.At.Equal(t0.Add(time.Duration(i)*time.Second)) {
				t.Fatalf("dead letter %d = %q at %v; want %d at %v", i, d.Body, d.At, i, t0.Add(time.Duration(i)*time.Second))
			}
		}
	}
	raw := e.client(t).SubscriptionAdminClient
	resp, err := raw.Pull(ctx, &pubsubpb.PullRequest{Subscription: q.Subscription() + pubsubqueue.DeadLetterSuffix, MaxMessages: 100})
	if err != nil || len(resp.ReceivedMessages) != 25 {
		t.Errorf("raw Pull of the dead-letter subscription after listing = %d messages, %v; want all 25", len(resp.GetReceivedMessages()), err)
	}
}
