package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// actuateBatch invokes f with payload and returns the IDs of the
// messages reported as batch item failures.
func actuateBatch(t *testing.T, ctx context.Context, f *Function, payload []byte) []string {
	t.Helper()
	out, err := f.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.BatchItemFailures == nil {
		t.Errorf("Invoke() = %s; want a batchItemFailures list, even empty", out)
	}
	ids := []string{}
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// sqsBatch is an SQS event of n messages m1..mn from queue arn.
func sqsBatch(arn string, n int) []byte {
	var ev events.SQSEvent
	for i := 1; i <= n; i++ {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: fmt.Sprintf("m%d", i), Body: fmt.Sprintf(`{"n":%d}`, i), EventSource: "aws:sqs", EventSourceARN: arn,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"},
		})
	}
	b, _ := json.Marshal(ev)
	return b
}

// TestActuateSample runs the sample batch the way the composition will:
// the malformed message is dead-lettered by Actuate itself, so nothing
// is left for redelivery.
func TestActuateSample(t *testing.T) {
	var seen []Message
	var deadLettered []string
	f := newFunction(t, "actuate", Handlers{Actuate: func(_ context.Context, m Message) error {
		seen = append(seen, m)
		var qa domain.QueuedAction
		if err := json.Unmarshal(m.Body, &qa); err != nil {
			deadLettered = append(deadLettered, m.ID)
		}
		return nil
	}}, nil)
	failures := actuateBatch(t, t.Context(), f, sample(t, "actuate.sqs-batch.json"))
	if len(failures) != 0 {
		t.Errorf("batch item failures = %v; want none", failures)
	}
	const arn = "arn:aws:sqs:us-east-1:123456789012:cloudtrim-actions-aws"
	sent := time.Date(2026, 11, 23, 7, 5, 12, 0, time.UTC)
	var got []Message
	for _, m := range seen {
		m.Body = nil
		m.ReceiptHandle = m.ReceiptHandle[:4]
		got = append(got, m)
	}
	want := []Message{
		{ID: "2e1424d4-f796-459a-8184-9c92662be6da", Attempt: 1, SentAt: sent.Add(123 * time.Millisecond), ReceiptHandle: "AQEB", QueueARN: arn},
		{ID: "8f6d2b0e-7c1a-4e39-9a5b-3d4c2e1f0a98", Attempt: 1, SentAt: sent.Add(301 * time.Millisecond), ReceiptHandle: "AQEB", QueueARN: arn},
		{ID: "c3a9e5f1-0b2d-4a6c-8e7f-1d2b3c4a5e6f", Attempt: 2, SentAt: sent.Add(-5*time.Minute + 17*time.Millisecond), ReceiptHandle: "AQEB", QueueARN: arn},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages, in order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"8f6d2b0e-7c1a-4e39-9a5b-3d4c2e1f0a98"}, deadLettered); diff != "" {
		t.Errorf("malformed messages (-want +got):\n%s", diff)
	}
	var qa domain.QueuedAction
	if err := json.Unmarshal(seen[2].Body, &qa); err != nil || qa.Version != domain.QueueMessageVersion || qa.Action.Kind != domain.ActionDeleteDisk {
		t.Errorf("third message = %+v, %v; want the queued disk deletion", qa, err)
	}
}

func TestActuatePartialFailures(t *testing.T) {
	tests := []struct {
		name         string
		arn          string
		fail         map[string]string // message → "error" or "panic"
		wantCalls    []string
		wantFailures []string
	}{
		{"all done", "arn:aws:sqs:us-east-1:1:q", nil, []string{"m1", "m2", "m3", "m4"}, []string{}},
		{"one retry", "arn:aws:sqs:us-east-1:1:q", map[string]string{"m2": "error"}, []string{"m1", "m2", "m3", "m4"}, []string{"m2"}},
		{"retries and a panic", "arn:aws:sqs:us-east-1:1:q", map[string]string{"m1": "panic", "m3": "error"},
			[]string{"m1", "m2", "m3", "m4"}, []string{"m1", "m3"}},
		{"FIFO stops at the first failure", "arn:aws:sqs:us-east-1:1:q.fifo", map[string]string{"m2": "error"},
			[]string{"m1", "m2"}, []string{"m2", "m3", "m4"}},
		{"FIFO, last fails", "arn:aws:sqs:us-east-1:1:q.fifo", map[string]string{"m4": "error"},
			[]string{"m1", "m2", "m3", "m4"}, []string{"m4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []string
			f := newFunction(t, "actuate", Handlers{Actuate: func(_ context.Context, m Message) error {
				calls = append(calls, m.ID)
				switch tt.fail[m.ID] {
				case "panic":
					panic("nil provider")
				case "error":
					return errors.New("throttled")
				}
				return nil
			}}, nil)
			failures := actuateBatch(t, t.Context(), f, sqsBatch(tt.arn, 4))
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("Actuate calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailures, failures); diff != "" {
				t.Errorf("batch item failures (-want +got):\n%s", diff)
			}
		})
	}
}

// TestActuateNearTheDeadline: each message takes 10 s on a fake clock
// and the invocation has 35 s; a message is started only with at least
// DeadlineMargin left, so m1 (35 s left), m2 (25 s) and m3 (15 s) run
// and m4 (5 s) and m5 are left for redelivery.
func TestActuateNearTheDeadline(t *testing.T) {
	start := time.Now()
	clock := start
	var calls []string
	f := newFunction(t, "actuate", Handlers{Actuate: func(_ context.Context, m Message) error {
		calls = append(calls, m.ID)
		clock = clock.Add(10 * time.Second)
		return nil
	}}, nil)
	f.now = func() time.Time { return clock }
	ctx, cancel := context.WithDeadline(t.Context(), start.Add(35*time.Second))
	defer cancel()
	failures := actuateBatch(t, ctx, f, sqsBatch("arn:aws:sqs:us-east-1:1:q", 5))
	if diff := cmp.Diff([]string{"m1", "m2", "m3"}, calls); diff != "" {
		t.Errorf("Actuate calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"m4", "m5"}, failures); diff != "" {
		t.Errorf("batch item failures (-want +got):\n%s", diff)
	}
}

func TestActuateAfterTheContextEnded(t *testing.T) {
	called := false
	f := newFunction(t, "actuate", Handlers{Actuate: func(context.Context, Message) error {
		called = true
		return nil
	}}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	failures := actuateBatch(t, ctx, f, sqsBatch("arn:aws:sqs:us-east-1:1:q", 2))
	if diff := cmp.Diff([]string{"m1", "m2"}, failures); diff != "" || called {
		t.Errorf("batch item failures (-want +got):\n%s\nActuate called: %v; want every message left, none started", diff, called)
	}
}

func TestActuateRefuses(t *testing.T) {
	edit := func(change func(*events.SQSMessage)) string {
		var ev events.SQSEvent
		_ = json.Unmarshal(sqsBatch("arn:aws:sqs:us-east-1:1:q", 2), &ev)
		change(&ev.Records[1])
		b, _ := json.Marshal(ev)
		return string(b)
	}
	tests := []struct {
		name, event, want string
	}{
		{"no records", `{"Records": []}`, "the event has no Records"},
		{"S3 event", string(sample(t, "optimize.s3-manifest.json")), `record 0 has eventSource "aws:s3", not aws:sqs`},
		{"no message ID", edit(func(m *events.SQSMessage) { m.MessageId = "" }), "record 1 has no messageId"},
		{"bad receive count", edit(func(m *events.SQSMessage) { m.Attributes["ApproximateReceiveCount"] = "many" }),
			`message m2: ApproximateReceiveCount "many" is not a positive count`},
		{"zero receive count", edit(func(m *events.SQSMessage) { m.Attributes["ApproximateReceiveCount"] = "0" }),
			`ApproximateReceiveCount "0" is not a positive count`},
		{"bad sent time", edit(func(m *events.SQSMessage) { m.Attributes["SentTimestamp"] = "2026-11-23" }),
			`message m2: SentTimestamp "2026-11-23" is not milliseconds since the epoch`},
		{"body not a string", `{"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": {"n": 1}}]}`, "decode SQS event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			f := newFunction(t, "actuate", Handlers{Actuate: func(context.Context, Message) error {
				called = true
				return nil
			}}, nil)
			_, err := f.Invoke(t.Context(), []byte(tt.event))
			var evErr *EventError
			if !errors.As(err, &evErr) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "actuate: invalid event: ") {
				t.Errorf("Invoke(%s) = %v; want an *EventError saying %q", tt.name, err, tt.want)
			}
			if called {
				t.Errorf("Invoke(%s) called Actuate: a batch is refused whole, before any message", tt.name)
			}
		})
	}
}

func TestActuateDefaultsAttemptToOne(t *testing.T) {
	var got []Message
	f := newFunction(t, "actuate", Handlers{Actuate: func(_ context.Context, m Message) error {
		got = append(got, m)
		return nil
	}}, nil)
	actuateBatch(t, t.Context(), f, []byte(`{"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": "b"}]}`))
	if diff := cmp.Diff([]Message{{ID: "m1", Body: []byte("b"), Attempt: 1}}, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

// TestActuateSchedulesTimer: the timer input and an EventBridge
// "Scheduled Event" run the scheduler; without one the event is refused,
// and an SQS event never reaches it.
func TestActuateSchedulesTimer(t *testing.T) {
	ctx := context.Background()
	runs := 0
	h := Handlers{
		Actuate: func(ctx context.Context, m Message) error { return nil },
		Schedules: func(ctx context.Context) (any, error) {
			runs++
			return map[string]int{"started": 1}, nil
		},
	}
	f, err := NewHandler("actuate", h, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{
		`{"cloudtrim": "schedules"}`,
		`{"version": "0", "id": "e-1", "detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-23T09:00:00Z", "detail": {}}`,
	} {
		out, err := f.Invoke(ctx, []byte(payload))
		if err != nil || string(out) != `{"started":1}` {
			t.Errorf("Invoke(%s) = %s, %v; want the scheduler's report", payload, out, err)
		}
	}
	if runs != 2 {
		t.Errorf("scheduler ran %d times; want 2", runs)
	}
	actuateBatch(t, ctx, f, sqsBatch("arn:aws:sqs:us-east-1:111111111111:actions", 1))
	if runs != 2 {
		t.Errorf("an SQS event ran the scheduler")
	}
	h.Schedules = nil
	f, _ = NewHandler("actuate", h, nil)
	var ee *EventError
	if _, err := f.Invoke(ctx, []byte(`{"cloudtrim": "schedules"}`)); !errors.As(err, &ee) {
		t.Errorf("Invoke(timer) without a scheduler = %v; want an EventError", err)
	}
}
