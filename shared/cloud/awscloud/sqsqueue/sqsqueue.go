package sqsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/queue"
)

// The message attributes a dead letter written by Reject (or by a Nack
// of the last attempt) carries.
const (
	// ReasonAttribute holds the reason, a String attribute.
	ReasonAttribute = "cloudtrim-reason"
	// AttemptsAttribute holds how many deliveries the body had, a Number
	// attribute.
	AttemptsAttribute = "cloudtrim-attempts"
)

// ExhaustedReason is the reason DeadLetters reports for a body that SQS
// itself moved to the dead-letter queue after maxReceiveCount deliveries,
// which carries no reason of ours.
const ExhaustedReason = "exhausted its attempts"

// Limits of SQS that the driver checks before sending anything.
const (
	// DefaultMaxBodyBytes is the default limit on a body: 256 KiB, the
	// historical SQS message size limit and still the default of many
	// queues' MaximumMessageSize.
	DefaultMaxBodyBytes = 256 << 10
	// maxMessageBytes is the largest message SQS accepts at all, 1 MiB.
	maxMessageBytes = 1 << 20
	// maxVisibility is SQS's longest visibility timeout.
	maxVisibility = 12 * time.Hour
	// maxWait is SQS's longest long poll.
	maxWait = 20 * time.Second
	// maxBatch is the most messages one ReceiveMessage returns.
	maxBatch = 10
	// maxReasonBytes bounds the reason attribute of a dead letter.
	maxReasonBytes = 4 << 10
)

// holdTimeout is the visibility timeout Reject sets while it copies a
// message to the dead-letter queue, and DeadLetters while it reads it.
const holdTimeout = 30 * time.Second

// maxDeadLetters bounds one DeadLetters listing.
const maxDeadLetters = 10_000

// Options configures a Queue.
type Options struct {
	// QueueURL is the URL of the (standard, not FIFO) queue. Required.
	QueueURL string
	// DeadLetterURL is the URL of its dead-letter queue. When empty it is
	// found from the queue's RedrivePolicy.
	DeadLetterURL string
	// Visibility is how long a received message stays hidden, rounded up
	// to whole seconds, at most 12 hours. Zero uses the queue's
	// VisibilityTimeout attribute.
	Visibility time.Duration
	// WaitTime is how long the first ReceiveMessage call of a Receive
	// waits for a message (long polling), rounded up to whole seconds, at
	// most 20 seconds. Zero uses the queue's ReceiveMessageWaitTimeSeconds
	// attribute (SQS cannot be asked for zero explicitly): 0 unless the
	// queue was created with long polling.
	WaitTime time.Duration
	// MaxAttempts is the queue's maxReceiveCount: how many deliveries a
	// body gets before SQS moves it to the dead-letter queue. When zero
	// it is read from the queue's RedrivePolicy. It does not change the
	// queue; it must agree with the policy.
	MaxAttempts int
	// MaxBodyBytes is the largest body Send accepts; default
	// DefaultMaxBodyBytes, at most 1 MiB (SQS's own limit).
	MaxBodyBytes int
	// Now is the clock used to forget deliveries long past their
	// visibility timeout; default time.Now.
	Now func() time.Time
}

// api lists the SQS calls the driver makes; *sqs.Client implements it.
type api interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(context.Context, *sqs.DeleteMessageInput, ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// Queue is a queue.Queue on one SQS queue and its dead-letter queue. It
// is safe for concurrent use. The zero value is not usable; call New.
type Queue struct {
	api  api
	opts Options

	mu         sync.Mutex
	settings   *settings            // nil until loaded
	deliveries map[string]*delivery // by receipt handle
}

var _ queue.Queue = (*Queue)(nil)

// settings are what the driver needs to know of the queue, from Options
// or from the queue's attributes.
type settings struct {
	visibility    time.Duration
	maxAttempts   int    // 0: no redrive policy, no limit known
	deadLetterURL string // "": none
}

// delivery is what Receive remembers of a message it handed out.
type delivery struct {
	body    []byte
	attempt int
	attrs   map[string]types.MessageAttributeValue
	hidden  time.Time // when its visibility timeout ends, by Options.Now
}

// New returns a Queue on opts.QueueURL. It makes no request: the queue's
// attributes are read on first use when Options leaves them out. It fails
// with domain.ErrInvalid for a nil client or invalid options and with
// domain.ErrUnsupported for a FIFO queue.
func New(client *sqs.Client, opts Options) (*Queue, error) {
	if client == nil {
		return nil, fmt.Errorf("sqsqueue: %w: nil SQS client", domain.ErrInvalid)
	}
	return newQueue(client, opts)
}

func newQueue(c api, opts Options) (*Queue, error) {
	bad := func(format string, args ...any) (*Queue, error) {
		return nil, fmt.Errorf("sqsqueue %s: %w: "+format, append([]any{opts.QueueURL, domain.ErrInvalid}, args...)...)
	}
	switch {
	case opts.QueueURL == "":
		return bad("no queue URL")
	case strings.HasSuffix(opts.QueueURL, ".fifo") || strings.HasSuffix(opts.DeadLetterURL, ".fifo"):
		return nil, fmt.Errorf("sqsqueue %s: %w: FIFO queues", opts.QueueURL, domain.ErrUnsupported)
	case opts.Visibility < 0 || opts.Visibility > maxVisibility:
		return bad("visibility %s is not between 0 and 12h", opts.Visibility)
	case opts.WaitTime < 0 || opts.WaitTime > maxWait:
		return bad("wait time %s is not between 0 and 20s", opts.WaitTime)
	case opts.MaxAttempts < 0:
		return bad("negative MaxAttempts %d", opts.MaxAttempts)
	case opts.MaxBodyBytes < 0 || opts.MaxBodyBytes > maxMessageBytes:
		return bad("MaxBodyBytes %d is not between 0 and %d", opts.MaxBodyBytes, maxMessageBytes)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Queue{api: c, opts: opts, deliveries: map[string]*delivery{}}, nil
}

// Send implements queue.Queue. A body longer than Options.MaxBodyBytes,
// empty, or holding bytes SQS does not carry (invalid UTF-8, most control
// characters) is domain.ErrInvalid, and nothing is sent.
func (q *Queue) Send(ctx context.Context, body []byte) error {
	if err := checkBody(body, q.opts.MaxBodyBytes); err != nil {
		return fmt.Errorf("sqs send %s: %w", q.opts.QueueURL, err)
	}
	_, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(q.opts.QueueURL),
		MessageBody: aws.String(string(body)),
	})
	return wrap("send", q.opts.QueueURL, err)
}

// Receive implements queue.Queue. It asks SQS for ten messages at a time
// and asks again while full batches come back, up to max. If a later call
// fails, the messages already received are returned without the error,
// which the next Receive meets again.
func (q *Queue) Receive(ctx context.Context, max int) ([]queue.Message, error) {
	if max <= 0 {
		return nil, fmt.Errorf("sqs receive %s: %w: max %d is not positive", q.opts.QueueURL, domain.ErrInvalid, max)
	}
	s, err := q.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]queue.Message, 0, min(max, maxBatch))
	wait := seconds(q.opts.WaitTime)
	for len(out) < max {
		n := min(maxBatch, max-len(out))
		start := q.opts.Now()
		resp, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(q.opts.QueueURL),
			MaxNumberOfMessages: int32(n),
			VisibilityTimeout:   seconds(q.opts.Visibility), // 0: the queue's own
			WaitTimeSeconds:     wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameApproximateReceiveCount,
				types.MessageSystemAttributeNameSentTimestamp,
			},
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			if len(out) > 0 {
				break
			}
			return nil, wrap("receive", q.opts.QueueURL, err)
		}
		q.mu.Lock()
		for _, m := range resp.Messages {
			if m.ReceiptHandle == nil {
				continue
			}
			body := []byte(aws.ToString(m.Body))
			attempt := atoiOr(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)], 1)
			q.deliveries[*m.ReceiptHandle] = &delivery{body: body, attempt: attempt,
				attrs: m.MessageAttributes, hidden: start.Add(s.visibility)}
			out = append(out, queue.Message{
				ID:      *m.ReceiptHandle,
				Body:    append([]byte(nil), body...),
				Attempt: attempt,
				SentAt:  millis(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)]),
			})
		}
		q.forgetExpiredLocked(start)
		q.mu.Unlock()
		if len(resp.Messages) < n {
			break
		}
		wait = 0 // only the first call waits
	}
	return out, nil
}

// Ack implements queue.Queue: DeleteMessage. A stale receipt handle (the
// message was delivered again, or already deleted) is not an error.
func (q *Queue) Ack(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("sqs ack %s: %w: empty message ID", q.opts.QueueURL, domain.ErrInvalid)
	}
	_, err := q.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl:      aws.String(q.opts.QueueURL),
		ReceiptHandle: aws.String(id),
	})
	if err != nil && !staleHandle(err) {
		return wrap("ack", q.opts.QueueURL, err)
	}
	q.forget(id)
	return nil
}

// Nack implements queue.Queue: ChangeMessageVisibility to delay, rounded
// up to whole seconds (domain.ErrInvalid outside 0 to 12 hours). A
// delivery that is no longer in flight is domain.ErrNotFound.
//
// SQS keeps nothing with a message in flight, so reason survives only
// when this delivery was the last attempt the redrive policy allows:
// then, instead of leaving SQS to move the body to the dead-letter queue
// without a reason on the next receive, Nack moves it there itself as
// Reject does, with the reason "gave up after N attempts: reason". This
// needs the delivery to have been received by this Queue value; otherwise,
// and for earlier attempts, reason is dropped.
func (q *Queue) Nack(ctx context.Context, id string, delay time.Duration, reason string) error {
	if id == "" {
		return fmt.Errorf("sqs nack %s: %w: empty message ID", q.opts.QueueURL, domain.ErrInvalid)
	}
	if delay < 0 || delay > maxVisibility {
		return fmt.Errorf("sqs nack %s: %w: delay %s is not between 0 and 12h", q.opts.QueueURL, domain.ErrInvalid, delay)
	}
	q.mu.Lock()
	d := q.deliveries[id]
	s := q.settings
	q.mu.Unlock()
	if d != nil && s != nil && s.maxAttempts > 0 && d.attempt >= s.maxAttempts && s.deadLetterURL != "" {
		return q.deadLetter(ctx, "nack", id, d, *s, fmt.Sprintf("gave up after %d attempts: %s", d.attempt, reason))
	}
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.opts.QueueURL),
		ReceiptHandle:     aws.String(id),
		VisibilityTimeout: seconds(delay),
	})
	if err != nil {
		if staleHandle(err) {
			q.forget(id)
			return fmt.Errorf("sqs nack %s: %w: the delivery is no longer in flight: %w", q.opts.QueueURL, domain.ErrNotFound, err)
		}
		return wrap("nack", q.opts.QueueURL, err)
	}
	q.forget(id)
	return nil
}

// Reject implements queue.Queue: it copies the body to the dead-letter
// queue with the reason and the attempt count as message attributes, then
// deletes the original. A delivery that this Queue did not receive, or
// that is no longer in flight, is domain.ErrNotFound; a queue without a
// dead-letter queue is domain.ErrInvalid. If the copy succeeded but the
// delete failed, the error says so: the body is in the dead-letter queue
// and may still be delivered again.
func (q *Queue) Reject(ctx context.Context, id string, reason string) error {
	if id == "" {
		return fmt.Errorf("sqs reject %s: %w: empty message ID", q.opts.QueueURL, domain.ErrInvalid)
	}
	s, err := q.load(ctx)
	if err != nil {
		return err
	}
	q.mu.Lock()
	d := q.deliveries[id]
	q.mu.Unlock()
	if d == nil {
		return fmt.Errorf("sqs reject %s: %w: no delivery %.24s… in flight from this queue handle (SQS cannot return a body by receipt handle)",
			q.opts.QueueURL, domain.ErrNotFound, id)
	}
	return q.deadLetter(ctx, "reject", id, d, s, reason)
}

// deadLetter moves delivery id to the dead-letter queue with reason.
func (q *Queue) deadLetter(ctx context.Context, op, id string, d *delivery, s settings, reason string) error {
	if s.deadLetterURL == "" {
		return fmt.Errorf("sqs %s %s: %w: no dead-letter queue (set Options.DeadLetterURL or a RedrivePolicy)", op, q.opts.QueueURL, domain.ErrInvalid)
	}
	// Check the delivery is still the current one, and keep it hidden
	// while it is copied.
	_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.opts.QueueURL),
		ReceiptHandle:     aws.String(id),
		VisibilityTimeout: seconds(holdTimeout),
	})
	if err != nil {
		if staleHandle(err) {
			q.forget(id)
			return fmt.Errorf("sqs %s %s: %w: the delivery is no longer in flight: %w", op, q.opts.QueueURL, domain.ErrNotFound, err)
		}
		return wrap(op, q.opts.QueueURL, err)
	}
	attrs := make(map[string]types.MessageAttributeValue, len(d.attrs)+2)
	for k, v := range d.attrs {
		if k != ReasonAttribute && k != AttemptsAttribute {
			attrs[k] = v
		}
	}
	attrs[ReasonAttribute] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(attributeText(reason))}
	attrs[AttemptsAttribute] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(d.attempt))}
	if _, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(s.deadLetterURL),
		MessageBody:       aws.String(string(d.body)),
		MessageAttributes: attrs,
	}); err != nil {
		return wrap(op+": send to dead-letter queue", s.deadLetterURL, err)
	}
	if _, err := q.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl:      aws.String(q.opts.QueueURL),
		ReceiptHandle: aws.String(id),
	}); err != nil && !staleHandle(err) {
		return wrap(op+": copied to the dead-letter queue but not deleted, so it may be delivered again", q.opts.QueueURL, err)
	}
	q.forget(id)
	return nil
}

// DeadLetters implements queue.Queue. It receives every message of the
// dead-letter queue with a 30-second visibility timeout and then makes
// them all visible again; it consumes nothing. Bodies SQS moved there by
// itself report ExhaustedReason and the queue's maxReceiveCount as
// Attempts; At is the dead-letter message's SentTimestamp, which for
// those is when the body was first sent (SQS keeps it when it moves a
// message). The list is ordered by At. It holds at most 10,000 entries:
// past that, the error says it is incomplete. If giving the messages back
// fails the list is still returned, with an error: they become visible
// again 30 seconds after they were read.
func (q *Queue) DeadLetters(ctx context.Context) ([]queue.DeadLetter, error) {
	s, err := q.load(ctx)
	if err != nil {
		return nil, err
	}
	if s.deadLetterURL == "" {
		return nil, fmt.Errorf("sqs dead letters %s: %w: no dead-letter queue (set Options.DeadLetterURL or a RedrivePolicy)", q.opts.QueueURL, domain.ErrInvalid)
	}
	var (
		out     []queue.DeadLetter
		handles []string
		seen    = map[string]bool{}
		listErr error
	)
	for len(out) < maxDeadLetters {
		resp, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(s.deadLetterURL),
			MaxNumberOfMessages: maxBatch,
			VisibilityTimeout:   seconds(holdTimeout),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameSentTimestamp,
			},
			MessageAttributeNames: []string{ReasonAttribute, AttemptsAttribute},
		})
		if err != nil {
			listErr = wrap("list dead letters", s.deadLetterURL, err)
			break
		}
		fresh := 0
		for _, m := range resp.Messages {
			if m.ReceiptHandle != nil {
				handles = append(handles, *m.ReceiptHandle)
			}
			if id := aws.ToString(m.MessageId); seen[id] {
				continue
			} else {
				seen[id] = true
			}
			fresh++
			out = append(out, toDeadLetter(m, s.maxAttempts))
		}
		if fresh == 0 {
			break
		}
	}
	if listErr == nil && len(out) >= maxDeadLetters {
		listErr = fmt.Errorf("sqs list dead letters %s: more than %d dead letters; listed the first %d", s.deadLetterURL, maxDeadLetters, len(out))
	}
	if err := q.giveBack(ctx, s.deadLetterURL, handles); err != nil {
		if listErr != nil {
			return nil, errors.Join(listErr, err)
		}
		listErr = err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, listErr
}

// toDeadLetter reads a message of the dead-letter queue.
func toDeadLetter(m types.Message, maxAttempts int) queue.DeadLetter {
	dl := queue.DeadLetter{
		Body: []byte(aws.ToString(m.Body)),
		At:   millis(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)]),
	}
	if r, ok := m.MessageAttributes[ReasonAttribute]; ok && r.StringValue != nil {
		dl.Reason = *r.StringValue
		if a, ok := m.MessageAttributes[AttemptsAttribute]; ok {
			dl.Attempts = atoiOr(aws.ToString(a.StringValue), 0)
		}
		return dl
	}
	dl.Reason = ExhaustedReason
	dl.Attempts = maxAttempts
	return dl
}

// giveBack makes the messages read by DeadLetters visible again. It runs
// even when ctx is done, within holdTimeout.
func (q *Queue) giveBack(ctx context.Context, queueURL string, handles []string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), holdTimeout)
	defer cancel()
	var errs []error
	for i := 0; i < len(handles); i += maxBatch {
		chunk := handles[i:min(i+maxBatch, len(handles))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for j, h := range chunk {
			entries[j] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(j)), ReceiptHandle: aws.String(h), VisibilityTimeout: 0,
			}
		}
		resp, err := q.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(queueURL), Entries: entries,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range resp.Failed {
			errs = append(errs, fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	if len(errs) > 0 {
		return wrap("list dead letters: give back", queueURL, fmt.Errorf("%d of %d messages stay hidden for up to %s: %w",
			len(errs), len(handles), holdTimeout, errors.Join(errs...)))
	}
	return nil
}

// load returns the queue's settings, reading the queue's attributes the
// first time when Options leaves something out.
func (q *Queue) load(ctx context.Context) (settings, error) {
	q.mu.Lock()
	if q.settings != nil {
		s := *q.settings
		q.mu.Unlock()
		return s, nil
	}
	q.mu.Unlock()
	s := settings{visibility: q.opts.Visibility, maxAttempts: q.opts.MaxAttempts, deadLetterURL: q.opts.DeadLetterURL}
	if s.visibility == 0 || s.maxAttempts == 0 || s.deadLetterURL == "" {
		out, err := q.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(q.opts.QueueURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameRedrivePolicy},
		})
		if err != nil {
			return settings{}, wrap("get queue attributes", q.opts.QueueURL, err)
		}
		if s.visibility == 0 {
			s.visibility = time.Duration(atoiOr(out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)], 30)) * time.Second
		}
		if rp := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]; rp != "" {
			arn, max, err := parseRedrivePolicy(rp)
			if err != nil {
				return settings{}, fmt.Errorf("sqs get queue attributes %s: %w: %w", q.opts.QueueURL, domain.ErrInvalid, err)
			}
			if s.maxAttempts == 0 {
				s.maxAttempts = max
			}
			if s.deadLetterURL == "" {
				if s.deadLetterURL, err = q.queueURLOf(ctx, arn); err != nil {
					return settings{}, err
				}
			}
		}
	}
	q.mu.Lock()
	q.settings = &s
	q.mu.Unlock()
	return s, nil
}

// parseRedrivePolicy reads a RedrivePolicy attribute. SQS writes
// maxReceiveCount as a number; some tools write it as a string.
func parseRedrivePolicy(s string) (arn string, maxReceiveCount int, err error) {
	var p struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return "", 0, fmt.Errorf("redrive policy %q: %w", s, err)
	}
	n, err := strconv.Atoi(strings.Trim(string(p.MaxReceiveCount), `"`))
	if err != nil || n < 1 || p.DeadLetterTargetArn == "" {
		return "", 0, fmt.Errorf("redrive policy %q: want a deadLetterTargetArn and a positive maxReceiveCount", s)
	}
	return p.DeadLetterTargetArn, n, nil
}

// queueURLOf finds the URL of the queue with an ARN
// arn:aws:sqs:region:account:name.
func (q *Queue) queueURLOf(ctx context.Context, arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sqs" || parts[5] == "" {
		return "", fmt.Errorf("sqs get queue attributes %s: %w: dead-letter target %q is not an SQS queue ARN", q.opts.QueueURL, domain.ErrInvalid, arn)
	}
	in := &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5])}
	if parts[4] != "" {
		in.QueueOwnerAWSAccountId = aws.String(parts[4])
	}
	out, err := q.api.GetQueueUrl(ctx, in)
	if err != nil {
		return "", wrap("get dead-letter queue URL of", q.opts.QueueURL, fmt.Errorf("%s: %w", arn, err))
	}
	return aws.ToString(out.QueueUrl), nil
}

// forget drops what Receive remembered of delivery id.
func (q *Queue) forget(id string) {
	q.mu.Lock()
	delete(q.deliveries, id)
	q.mu.Unlock()
}

// forgetExpiredLocked drops deliveries whose visibility timeout ended
// more than a minute (or one timeout, if longer) before now: SQS has
// delivered them again or will, so their receipt handles are stale.
func (q *Queue) forgetExpiredLocked(now time.Time) {
	grace := time.Minute
	if q.settings != nil && q.settings.visibility > grace {
		grace = q.settings.visibility
	}
	for id, d := range q.deliveries {
		if now.Sub(d.hidden) > grace {
			delete(q.deliveries, id)
		}
	}
}

// checkBody reports why SQS would refuse body.
func checkBody(body []byte, max int) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty body (SQS needs at least one character)", domain.ErrInvalid)
	}
	if len(body) > max {
		return fmt.Errorf("%w: body of %d bytes is over the limit of %d", domain.ErrInvalid, len(body), max)
	}
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Errorf("%w: body is not valid UTF-8 at byte %d", domain.ErrInvalid, i)
		}
		if !sqsChar(r) {
			return fmt.Errorf("%w: body holds %U at byte %d, which SQS does not carry", domain.ErrInvalid, r, i)
		}
		i += size
	}
	return nil
}

// sqsChar reports whether SQS accepts r in a message: #x9 | #xA | #xD |
// #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func sqsChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// attributeText makes a reason fit a String attribute: characters SQS
// refuses become U+FFFD, it is cut to maxReasonBytes, and an empty one
// says so (SQS refuses empty attribute values).
func attributeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !sqsChar(r) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > maxReasonBytes {
			break
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "(no reason given)"
	}
	return b.String()
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}

// millis reads an SQS timestamp in epoch milliseconds; zero when absent.
func millis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
