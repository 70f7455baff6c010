package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Message is one message of an SQS batch.
type Message struct {
	// ID is the SQS message ID, by which a batch item failure is
	// reported.
	ID   string
	Body []byte
	// Attempt is the message's ApproximateReceiveCount: 1 on its first
	// delivery.
	Attempt int
	// SentAt is when the message was sent (SentTimestamp); zero when the
	// event did not say.
	SentAt time.Time
	// ReceiptHandle identifies this delivery, for DeleteMessage or
	// ChangeMessageVisibility.
	ReceiptHandle string
	// QueueARN is the queue the message came from (eventSourceARN).
	QueueARN string
}

// DeadlineMargin is how much time must be left before the invocation's
// deadline for the actuate function to start on another message. When
// less is left, it reports the batch's remaining messages as failures,
// so SQS delivers them again, rather than being cut off in the middle of
// a change.
const DeadlineMargin = 10 * time.Second

const actuateWant = `an SQS event {"Records": [{"messageId": ..., "body": ..., "eventSource": "aws:sqs"}]}`

func (f *Function) actuate(ctx context.Context, payload []byte) (any, error) {
	if isScheduleTick(payload) {
		if f.h.Schedules == nil {
			return nil, f.eventError(actuateWant, "a schedules timer event, and this function does not enforce schedules")
		}
		res, err := f.h.Schedules(ctx)
		if err != nil {
			return nil, &FunctionError{Function: f.name, Err: fmt.Errorf("schedules: %w", err)}
		}
		return res, nil
	}
	msgs, fifo, err := f.parseSQS(payload)
	if err != nil {
		return nil, err
	}
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	leave := func(rest []Message, reason string) {
		for _, m := range rest {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.ID})
		}
		f.logger.WarnContext(ctx, "messages left for redelivery", "messages", len(rest), "reason", reason)
	}
	deadline, hasDeadline := ctx.Deadline()
	for i, m := range msgs {
		if ctx.Err() != nil {
			leave(msgs[i:], "the invocation's context ended: "+context.Cause(ctx).Error())
			break
		}
		if left := deadline.Sub(f.now()); hasDeadline && left < DeadlineMargin {
			leave(msgs[i:], fmt.Sprintf("%v left before the deadline, less than %v", left.Round(time.Millisecond), DeadlineMargin))
			break
		}
		if err := f.callActuate(ctx, m); err != nil {
			f.logger.WarnContext(ctx, "message left for redelivery", "message_id", m.ID, "attempt", m.Attempt, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.ID})
			if fifo && i+1 < len(msgs) {
				// A FIFO queue keeps order only if nothing after a
				// failed message is processed before it.
				leave(msgs[i+1:], "an earlier message of this FIFO batch failed")
				break
			}
		}
	}
	f.logger.InfoContext(ctx, "batch handled", "messages", len(msgs), "failures", len(resp.BatchItemFailures))
	return resp, nil
}

// isScheduleTick reports whether payload is the schedules timer: the
// EventBridge Scheduler input {"cloudtrim": "schedules"}, or an
// EventBridge rule's "Scheduled Event".
func isScheduleTick(payload []byte) bool {
	var ev struct {
		Cloudtrim  string `json:"cloudtrim"`
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
	}
	if !isObject(payload) || json.Unmarshal(payload, &ev) != nil {
		return false
	}
	return ev.Cloudtrim == "schedules" || (ev.DetailType == "Scheduled Event" && ev.Source == "aws.events")
}

// callActuate calls Handlers.Actuate, turning a panic into an error so
// that one message cannot fail the whole batch.
func (f *Function) callActuate(ctx context.Context, m Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			f.logger.ErrorContext(ctx, "panic", "message_id", m.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f.h.Actuate(ctx, m)
}

// parseSQS reads an SQS event into messages, in the order of the batch,
// and reports whether the queue is a FIFO queue.
func (f *Function) parseSQS(payload []byte) ([]Message, bool, error) {
	if !isObject(payload) {
		return nil, false, f.eventError(actuateWant, "got %s", jsonKind(payload))
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, false, f.eventError(actuateWant, "decode SQS event: %v", err)
	}
	if len(ev.Records) == 0 {
		return nil, false, f.eventError(actuateWant, "the event has no Records")
	}
	msgs := make([]Message, len(ev.Records))
	for i, r := range ev.Records {
		if r.EventSource != "aws:sqs" {
			return nil, false, f.eventError(actuateWant, "record %d has eventSource %q, not aws:sqs", i, r.EventSource)
		}
		if r.MessageId == "" {
			return nil, false, f.eventError(actuateWant, "record %d has no messageId", i)
		}
		m := Message{ID: r.MessageId, Body: []byte(r.Body), Attempt: 1, ReceiptHandle: r.ReceiptHandle, QueueARN: r.EventSourceARN}
		if s, ok := r.Attributes["ApproximateReceiveCount"]; ok {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return nil, false, f.eventError(actuateWant, "message %s: ApproximateReceiveCount %q is not a positive count", r.MessageId, s)
			}
			m.Attempt = n
		}
		if s, ok := r.Attributes["SentTimestamp"]; ok {
			ms, err := strconv.ParseInt(s, 10, 64)
			if err != nil || ms < 0 {
				return nil, false, f.eventError(actuateWant, "message %s: SentTimestamp %q is not milliseconds since the epoch", r.MessageId, s)
			}
			m.SentAt = time.UnixMilli(ms).UTC()
		}
		msgs[i] = m
	}
	return msgs, strings.HasSuffix(ev.Records[0].EventSourceARN, ".fifo"), nil
}
