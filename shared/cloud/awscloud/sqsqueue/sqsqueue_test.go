package sqsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/sqsqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
	"github.com/cloudtrim/cloudtrim/shared/queue"
	"github.com/cloudtrim/cloudtrim/shared/queue/queuetest"
)

// visibility is the visibility timeout of the queues the tests make:
// SQS counts in whole seconds, and two give a loaded machine room to make
// a few calls inside one window.
const visibility = 2 * time.Second

// fauxqs starts the SQS stand-in and returns a client of it.
func fauxqs(t *testing.T) *sqs.Client {
	t.Helper()
	return sqs.NewFromConfig(standin.Config(standin.SQS(t)))
}

var queueSeq atomic.Int64

// pair makes a queue whose RedrivePolicy sends a body to a new
// dead-letter queue after maxReceiveCount deliveries, and returns both
// URLs.
func pair(t *testing.T, c *sqs.Client, maxReceiveCount int, vis time.Duration) (queueURL, deadLetterURL string) {
	t.Helper()
	ctx := context.Background()
	name := queueName(t.Name(), queueSeq.Add(1))
	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("create dead-letter queue: %v", err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("get dead-letter queue ARN: %v", err)
	}
	policy := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":%d}`, attrs.Attributes["QueueArn"], maxReceiveCount)
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"RedrivePolicy":     policy,
		"VisibilityTimeout": fmt.Sprint(int(vis / time.Second)),
	}})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	return aws.ToString(q.QueueUrl), aws.ToString(dlq.QueueUrl)
}

// queueName makes an SQS queue name (up to 80 letters, digits, hyphens
// and underscores) from a test name.
func queueName(test string, seq int64) string {
	var b strings.Builder
	for _, r := range test {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	suffix := fmt.Sprintf("-%d", seq)
	if max := 80 - len("-dlq") - len(suffix); len(s) > max {
		s = s[len(s)-max:]
	}
	return s + suffix
}

func newQueue(t *testing.T, c *sqs.Client, opts sqsqueue.Options) *sqsqueue.Queue {
	t.Helper()
	q, err := sqsqueue.New(c, opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	return q
}

// TestConformance runs the queue suite on fauxqs. The driver is told
// only the queue URL and the visibility timeout: it finds the
// dead-letter queue and maxReceiveCount (3, as the suite wants) in the
// queue's RedrivePolicy. The suite's Advance sleeps, SQS's clock being
// real.
func TestConformance(t *testing.T) {
	c := fauxqs(t)
	queuetest.Run(t, queuetest.Harness{
		New: func(t *testing.T) queue.Queue {
			url, _ := pair(t, c, 3, visibility)
			return newQueue(t, c, sqsqueue.Options{QueueURL: url, Visibility: visibility})
		},
		Advance:    func(t *testing.T, d time.Duration) { time.Sleep(d) },
		Visibility: visibility,
	})
}

func mustReceive(t *testing.T, q queue.Queue, max, want int) []queue.Message {
	t.Helper()
	ms, err := q.Receive(context.Background(), max)
	if err != nil {
		t.Fatalf("Receive(%d) = %v", max, err)
	}
	if len(ms) != want {
		t.Fatalf("Receive(%d) returned %d messages; want %d", max, len(ms), want)
	}
	return ms
}

func TestReceiveMoreThanTen(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, _ := pair(t, c, 3, 30*time.Second)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url})
	for i := range 25 {
		if err := q.Send(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().Add(-time.Minute)
	ms := mustReceive(t, q, 40, 25)
	seen := map[string]bool{}
	for _, m := range ms {
		seen[string(m.Body)] = true
		if m.Attempt != 1 || m.SentAt.Before(before) || m.SentAt.After(time.Now().Add(time.Minute)) || m.ID == "" {
			t.Errorf("message %q: attempt %d, sent at %v, ID %q; want attempt 1, sent just now, an ID", m.Body, m.Attempt, m.SentAt, m.ID)
		}
	}
	if len(seen) != 25 {
		t.Errorf("Receive(40) gave %d distinct bodies; want 25", len(seen))
	}
	mustReceive(t, q, 40, 0)
}

// TestStaleDelivery checks what the interface promises for a delivery
// whose visibility timeout expired and which was delivered again: Ack is
// a no-op without error, Nack and Reject are domain.ErrNotFound and
// change nothing.
func TestStaleDelivery(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, _ := pair(t, c, 3, visibility)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url, Visibility: visibility})
	if err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	first := mustReceive(t, q, 1, 1)[0]
	time.Sleep(2 * visibility)
	second := mustReceive(t, q, 1, 1)[0]
	if second.Attempt != 2 {
		t.Fatalf("redelivery attempt = %d; want 2", second.Attempt)
	}
	if err := q.Reject(ctx, first.ID, "late"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Reject(stale) = %v; want ErrNotFound", err)
	}
	if err := q.Nack(ctx, first.ID, 0, "late"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Nack(stale) = %v; want ErrNotFound", err)
	}
	if err := q.Ack(ctx, first.ID); err != nil {
		t.Errorf("Ack(stale) = %v; want nil", err)
	}
	// The newer delivery is untouched: still in flight, so it can be
	// nacked, and it comes back.
	if err := q.Nack(ctx, second.ID, 0, "again"); err != nil {
		t.Fatalf("Nack(current) after the stale calls = %v; want nil", err)
	}
	third := mustReceive(t, q, 1, 1)[0]
	if third.Attempt != 3 || string(third.Body) != "x" {
		t.Errorf("after the stale calls got %q attempt %d; want x attempt 3", third.Body, third.Attempt)
	}
	if err := q.Ack(ctx, third.ID); err != nil {
		t.Fatal(err)
	}
	if dl, err := q.DeadLetters(ctx); err != nil || len(dl) != 0 {
		t.Errorf("DeadLetters = %v, %v; want none", dl, err)
	}
	// Acking twice is fine too.
	if err := q.Ack(ctx, third.ID); err != nil {
		t.Errorf("second Ack = %v; want nil", err)
	}
}

// TestRedrivenBySQS lets SQS move a body to the dead-letter queue (its
// last delivery times out instead of being nacked): the dead letter has
// no reason of ours, and says it exhausted its attempts.
func TestRedrivenBySQS(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, dlqURL := pair(t, c, 2, time.Second)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url})
	if err := q.Send(ctx, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		m := mustReceive(t, q, 1, 1)[0]
		if m.Attempt != attempt {
			t.Fatalf("delivery attempt = %d; want %d", m.Attempt, attempt)
		}
		if attempt == 1 {
			// A nack's reason is not kept when a later attempt times out.
			if err := q.Nack(ctx, m.ID, 0, "first failure"); err != nil {
				t.Fatal(err)
			}
			continue
		}
		time.Sleep(2 * time.Second)
	}
	mustReceive(t, q, 1, 0)
	for range 2 { // listing consumes nothing
		dl, err := q.DeadLetters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(dl) != 1 || string(dl[0].Body) != "slow" || dl[0].Reason != sqsqueue.ExhaustedReason || dl[0].Attempts != 2 || dl[0].At.IsZero() {
			t.Fatalf("DeadLetters = %+v; want slow, %q, 2 attempts, a time", dl, sqsqueue.ExhaustedReason)
		}
	}
	raw, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10})
	if err != nil || len(raw.Messages) != 1 {
		t.Fatalf("dead-letter queue after listing: %d messages, %v; want the one, visible", len(raw.Messages), err)
	}
}

// TestRejectKeepsAttributes rejects a message sent by another producer
// with attributes of its own, with every option given explicitly (no
// GetQueueAttributes), and reads the dead-letter queue directly.
func TestRejectKeepsAttributes(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, dlqURL := pair(t, c, 5, 30*time.Second)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url, DeadLetterURL: dlqURL, MaxAttempts: 5, Visibility: 30 * time.Second})
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"action":"stop"}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"trace": {DataType: aws.String("String"), StringValue: aws.String("t-1")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	m := mustReceive(t, q, 1, 1)[0]
	if err := q.Reject(ctx, m.ID, "plan expired\x00 ✓"); err != nil {
		t.Fatalf("Reject = %v", err)
	}
	mustReceive(t, q, 1, 0)
	raw, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}})
	if err != nil || len(raw.Messages) != 1 {
		t.Fatalf("dead-letter queue: %d messages, %v; want 1", len(raw.Messages), err)
	}
	got := raw.Messages[0]
	want := map[string]string{"trace": "t-1", sqsqueue.ReasonAttribute: "plan expired\uFFFD ✓", sqsqueue.AttemptsAttribute: "1"}
	for k, v := range want {
		if a, ok := got.MessageAttributes[k]; !ok || aws.ToString(a.StringValue) != v {
			t.Errorf("dead letter attribute %s = %q; want %q", k, aws.ToString(a.StringValue), v)
		}
	}
	if aws.ToString(got.Body) != `{"action":"stop"}` {
		t.Errorf("dead letter body = %q", aws.ToString(got.Body))
	}
	// Reject of a delivery this Queue never saw.
	if err := q.Reject(ctx, "not-a-receipt-handle", "x"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Reject(unknown) = %v; want ErrNotFound", err)
	}
}

func TestBodiesSQSCannotCarry(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, _ := pair(t, c, 3, 30*time.Second)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url})
	for name, body := range map[string][]byte{
		"empty":      {},
		"over 256K":  []byte(strings.Repeat("a", 256<<10+1)),
		"NUL":        []byte("a\x00b"),
		"not UTF-8":  {0xff, 0xfe},
		"surrogate":  []byte("\xed\xa0\x80"),
		"form feed":  []byte("a\fb"),
		"noncharact": []byte("\uFFFE"),
	} {
		if err := q.Send(ctx, body); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), url) {
			t.Errorf("Send(%s) = %v; want ErrInvalid naming the queue", name, err)
		}
	}
	// SQS also carries characters beyond U+FFFF (an emoji, say); fauxqs
	// 2.4.1 refuses them, so none is sent here.
	for _, body := range []string{strings.Repeat("a", 256<<10), "tab\tnewline\nreturn\r ünïcødé \uE000\uFFFD"} {
		if err := q.Send(ctx, []byte(body)); err != nil {
			t.Errorf("Send(%.20q…) = %v; want nil", body, err)
		}
	}
	ms := mustReceive(t, q, 10, 2)
	for _, m := range ms {
		if len(m.Body) != 256<<10 && string(m.Body) != "tab\tnewline\nreturn\r ünïcødé \uE000\uFFFD" {
			t.Errorf("body came back as %.40q", m.Body)
		}
	}
}

func TestMissingQueue(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, _ := pair(t, c, 3, 30*time.Second)
	missing := url + "-gone"
	q := newQueue(t, c, sqsqueue.Options{QueueURL: missing})
	if err := q.Send(ctx, []byte("x")); !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Send(missing queue) = %v; want ErrNotFound naming %s", err, missing)
	}
	if _, err := q.Receive(ctx, 1); !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Receive(missing queue) = %v; want ErrNotFound naming %s", err, missing)
	}
	if _, err := q.DeadLetters(ctx); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("DeadLetters(missing queue) = %v; want ErrNotFound", err)
	}
	// A queue without a redrive policy has no dead-letter queue to use.
	plain, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queueName(t.Name(), queueSeq.Add(1)))})
	if err != nil {
		t.Fatal(err)
	}
	q = newQueue(t, c, sqsqueue.Options{QueueURL: aws.ToString(plain.QueueUrl)})
	if _, err := q.DeadLetters(ctx); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("DeadLetters(no redrive policy) = %v; want ErrInvalid", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := sqs.NewFromConfig(standin.Config("http://127.0.0.1:9"))
	for name, tc := range map[string]struct {
		opts sqsqueue.Options
		kind error
	}{
		"no URL":          {sqsqueue.Options{}, domain.ErrInvalid},
		"FIFO":            {sqsqueue.Options{QueueURL: "https://sqs.us-east-1.amazonaws.com/1/q.fifo"}, domain.ErrUnsupported},
		"visibility 13h":  {sqsqueue.Options{QueueURL: "u", Visibility: 13 * time.Hour}, domain.ErrInvalid},
		"wait 21s":        {sqsqueue.Options{QueueURL: "u", WaitTime: 21 * time.Second}, domain.ErrInvalid},
		"body over 1 MiB": {sqsqueue.Options{QueueURL: "u", MaxBodyBytes: 1<<20 + 1}, domain.ErrInvalid},
	} {
		if _, err := sqsqueue.New(c, tc.opts); !errors.Is(err, tc.kind) {
			t.Errorf("New(%s) = %v; want %v", name, err, tc.kind)
		}
	}
	if _, err := sqsqueue.New(nil, sqsqueue.Options{QueueURL: "u"}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("New(nil client) = %v; want ErrInvalid", err)
	}
}

// TestErrorKinds answers every call with one SQS error, as SQS writes it
// in the AWS JSON protocol with its query-compatible code, and checks
// the domain kind the driver gives it.
func TestErrorKinds(t *testing.T) {
	const url = "https://sqs.us-east-1.amazonaws.com/123456789012/actions"
	for _, tc := range []struct {
		typ, query, message string
		kind                error
	}{
		{"com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue;Sender", "The specified queue does not exist.", domain.ErrNotFound},
		{"com.amazon.coral.service#AccessDeniedException", "AccessDenied;Sender", "Access to the resource is denied.", domain.ErrPermission},
		{"com.amazon.coral.service#InvalidClientTokenId", "InvalidClientTokenId;Sender", "The security token included in the request is invalid.", domain.ErrPermission},
		{"com.amazonaws.sqs#KmsAccessDenied", "KMS.AccessDeniedException;Sender", "denied", domain.ErrPermission},
		{"com.amazonaws.sqs#RequestThrottled", "RequestThrottled;Sender", "Rate exceeded", domain.ErrThrottled},
		{"com.amazon.coral.availability#ThrottlingException", "ThrottlingException;Sender", "Rate exceeded", domain.ErrThrottled},
		{"com.amazonaws.sqs#OverLimit", "OverLimit;Sender", "too many messages in flight", domain.ErrThrottled},
		{"com.amazonaws.sqs#InvalidParameterValue", "InvalidParameterValue;Sender", "Value for parameter MaxNumberOfMessages is invalid.", domain.ErrInvalid},
		{"com.amazonaws.sqs#InvalidMessageContents", "InvalidMessageContents;Sender", "Invalid binary character", domain.ErrInvalid},
		{"com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation;Sender", "no", domain.ErrUnsupported},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			q := newQueue(t, fakeSQS(t, tc.typ, tc.query, tc.message), sqsqueue.Options{QueueURL: url, Visibility: time.Minute, DeadLetterURL: url + "-dlq", MaxAttempts: 3})
			err := q.Send(context.Background(), []byte("x"))
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), url) {
				t.Errorf("Send = %v; want %v naming %s", err, tc.kind, url)
			}
			var api interface{ ErrorCode() string }
			if !errors.As(err, &api) {
				t.Errorf("Send = %v; the SDK's error is not in the chain", err)
			}
			if _, err := q.Receive(context.Background(), 1); !errors.Is(err, tc.kind) {
				t.Errorf("Receive = %v; want %v", err, tc.kind)
			}
		})
	}
}

// TestAckOfStaleHandles checks the answers SQS gives a stale or unknown
// receipt handle: none of them fails Ack, and each is ErrNotFound for
// Nack.
func TestAckOfStaleHandles(t *testing.T) {
	const url = "https://sqs.us-east-1.amazonaws.com/123456789012/actions"
	for _, tc := range []struct{ typ, query, message string }{
		{"com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid;Sender", `The input receipt handle "x" is not a valid receipt handle.`},
		{"com.amazonaws.sqs#InvalidParameterValue", "InvalidParameterValue;Sender", "Value x for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."},
		{"com.amazonaws.sqs#MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight;Sender", "Message does not exist or is not available for visibility timeout change."},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			q := newQueue(t, fakeSQS(t, tc.typ, tc.query, tc.message), sqsqueue.Options{QueueURL: url, Visibility: time.Minute, DeadLetterURL: url + "-dlq", MaxAttempts: 3})
			if err := q.Ack(context.Background(), "x"); err != nil {
				t.Errorf("Ack = %v; want nil", err)
			}
			if err := q.Nack(context.Background(), "x", time.Second, "r"); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("Nack = %v; want ErrNotFound", err)
			}
		})
	}
}

// fakeSQS returns a client of a loopback server that answers every call
// with one error. The client does not retry.
func fakeSQS(t *testing.T, typ, query, message string) *sqs.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("x-amzn-query-error", query)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, message)
	}))
	t.Cleanup(srv.Close)
	return sqs.NewFromConfig(standin.Config(srv.URL), func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
}

// TestLastNackKeepsReason nacks every attempt: the last Nack moves the
// body to the dead-letter queue itself, with its reason.
func TestLastNackKeepsReason(t *testing.T) {
	c := fauxqs(t)
	ctx := context.Background()
	url, _ := pair(t, c, 2, 30*time.Second)
	q := newQueue(t, c, sqsqueue.Options{QueueURL: url})
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
	dl, err := q.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].Reason != "gave up after 2 attempts: apply failed: boom" || dl[0].Attempts != 2 || string(dl[0].Body) != "poison" {
		t.Fatalf("DeadLetters = %+v; want poison, 2 attempts, the last reason", dl)
	}
}
