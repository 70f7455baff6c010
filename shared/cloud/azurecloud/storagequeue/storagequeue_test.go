package storagequeue_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/storagequeue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
	"github.com/cloudtrim/cloudtrim/shared/queue"
	"github.com/cloudtrim/cloudtrim/shared/queue/queuetest"
)

// visibility is the visibility timeout of the tests' queues: the service
// counts in whole seconds, and two give a loaded machine room to make a
// few calls inside one window.
const visibility = 2 * time.Second

// account is an Azurite the tests share, with clients of its queues.
type account struct {
	az  standin.Azure
	key *azqueue.SharedKeyCredential
	svc *azqueue.ServiceClient
}

// azurite starts Azurite for t and its subtests.
func azurite(t *testing.T) *account {
	t.Helper()
	az := standin.Azurite(t)
	key, err := azqueue.NewSharedKeyCredential(az.AccountName, az.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := azqueue.NewServiceClientWithSharedKeyCredential(az.QueueEndpoint, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &account{az: az, key: key, svc: svc}
}

var queueSeq atomic.Int64

// queueName makes a queue name (3 to 56 lower case letters, digits and
// single hyphens) from a test name.
func queueName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
			b.WriteByte('-')
		}
	}
	suffix := fmt.Sprintf("-%d", queueSeq.Add(1))
	s := strings.Trim(b.String(), "-")
	if max := 56 - len("q") - len(suffix); len(s) > max {
		s = strings.Trim(s[len(s)-max:], "-")
	}
	return "q" + s + suffix
}

// open returns a Queue on a new queue named after t, created on first
// use, with opts' other settings.
func (a *account) open(t *testing.T, opts storagequeue.Options) *storagequeue.Queue {
	t.Helper()
	if opts.ServiceURL == "" {
		opts.ServiceURL = a.az.QueueEndpoint
	}
	if opts.QueueName == "" {
		opts.QueueName = queueName(t.Name())
		opts.CreateIfMissing = true
	}
	if opts.SharedKey == nil && opts.Credential == nil {
		opts.SharedKey = a.key
	}
	q, err := storagequeue.New(opts)
	if err != nil {
		t.Fatalf("New(%s) = %v", opts.QueueName, err)
	}
	return q
}

// raw returns a client of a queue of the account, for what the driver
// does not show: the message texts as stored.
func (a *account) raw(name string) *azqueue.QueueClient {
	return a.svc.NewQueueClient(name)
}

// peek returns the texts of the visible messages of a queue.
func peek(t *testing.T, c *azqueue.QueueClient) []string {
	t.Helper()
	resp, err := c.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr[int32](32)})
	if err != nil {
		t.Fatalf("peek %s: %v", c.URL(), err)
	}
	var out []string
	for _, m := range resp.Messages {
		out = append(out, *m.MessageText)
	}
	return out
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

func mustDeadLetters(t *testing.T, q queue.Queue) []queue.DeadLetter {
	t.Helper()
	dl, err := q.DeadLetters(context.Background())
	if err != nil {
		t.Fatalf("DeadLetters = %v", err)
	}
	return dl
}

// TestAzurite runs everything that needs the emulator on one Azurite:
// the queue suite, then the driver's own checks, those that wait for
// visibility timeouts side by side.
func TestAzurite(t *testing.T) {
	a := azurite(t)
	t.Run("Conformance", func(t *testing.T) {
		queuetest.Run(t, queuetest.Harness{
			New: func(t *testing.T) queue.Queue {
				return a.open(t, storagequeue.Options{Visibility: visibility, MaxAttempts: 3})
			},
			Advance:    func(t *testing.T, d time.Duration) { time.Sleep(d) },
			Visibility: visibility,
		})
	})
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *account)
	}{
		{"Base64OnTheWire", testBase64OnTheWire},
		{"BodyLimit", testBodyLimit},
		{"ReceiveMoreThan32", testReceiveMoreThan32},
		{"StalePopReceipt", testStalePopReceipt},
		{"NackReasonSurvivesATimeout", testNackReasonSurvivesATimeout},
		{"TimeoutsWithoutNack", testTimeoutsWithoutNack},
		{"LastNackDeadLetters", testLastNackDeadLetters},
		{"NotBase64GoesToPoison", testNotBase64GoesToPoison},
		{"HostMovedPoison", testHostMovedPoison},
		{"SendPoison", testSendPoison},
		{"DeadLettersBeyondPeek", testDeadLettersBeyondPeek},
		{"MissingQueue", testMissingQueue},
		{"DeliveriesOfAnotherHandle", testDeliveriesOfAnotherHandle},
		{"SendDelayed", testSendDelayed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, a)
		})
	}
}

// testSendDelayed: a delayed body is invisible until its delay has
// passed, then delivered on its first attempt; a delay beyond the
// service's limit sends nothing.
func testSendDelayed(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: 30 * time.Second})
	if err := q.SendDelayed(ctx, []byte("later"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, q, 10, 0)
	time.Sleep(2500 * time.Millisecond)
	ms := mustReceive(t, q, 10, 1)
	if string(ms[0].Body) != "later" || ms[0].Attempt != 1 {
		t.Fatalf("delayed message = %q attempt %d; want \"later\" on its first attempt", ms[0].Body, ms[0].Attempt)
	}
	if err := q.SendDelayed(ctx, []byte("never"), storagequeue.MaxVisibility+time.Second); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("SendDelayed beyond the limit = %v; want ErrInvalid", err)
	}
}

// testBase64OnTheWire checks the message text is the body in standard
// base64, whatever bytes it holds, and that a base64 message of another
// producer (a Functions output binding, say) is received decoded.
func testBase64OnTheWire(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: 30 * time.Second})
	body := []byte("{\"action\":\"stop\"}\x00\xff\xfe<&>\n")
	if err := q.Send(ctx, body); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(q.URL(), a.az.QueueEndpoint+"/")
	if got := peek(t, a.raw(name)); len(got) != 1 || got[0] != base64.StdEncoding.EncodeToString(body) {
		t.Fatalf("message texts = %q; want the body in base64", got)
	}
	if _, err := a.raw(name).EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte("from the host")), nil); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range mustReceive(t, q, 10, 2) {
		got[string(m.Body)] = true
	}
	if !got[string(body)] || !got["from the host"] {
		t.Errorf("received bodies %v; want the binary body and %q", got, "from the host")
	}
}

// testBodyLimit sends the largest body whose base64 fits the 64 KiB
// message limit and one byte more: the first arrives whole, the second
// is ErrInvalid and sends nothing.
func testBodyLimit(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{})
	largest := []byte(strings.Repeat("ab", storagequeue.MaxBodyBytes/2))
	if storagequeue.MaxBodyBytes != 49152 || base64.StdEncoding.EncodedLen(len(largest)) != 65536 {
		t.Fatalf("MaxBodyBytes = %d; want 49152, whose base64 is 65536 bytes", storagequeue.MaxBodyBytes)
	}
	over := append(largest, 'c')
	if err := q.Send(ctx, over); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), q.URL()) || !strings.Contains(err.Error(), "49153") {
		t.Fatalf("Send(%d bytes) = %v; want ErrInvalid naming the queue and the size", len(over), err)
	}
	if err := q.Send(ctx, largest); err != nil {
		t.Fatalf("Send(%d bytes) = %v; want nil", len(largest), err)
	}
	if err := q.Send(ctx, nil); err != nil {
		t.Fatalf("Send(empty) = %v; want nil", err)
	}
	sizes := map[int]bool{}
	for _, m := range mustReceive(t, q, 10, 2) {
		sizes[len(m.Body)] = true
		if len(m.Body) != len(largest) {
			continue
		}
		if string(m.Body) != string(largest) {
			t.Errorf("the largest body came back changed")
		}
		// No envelope has room for it beside its base64: it is
		// dead-lettered bare, as the Functions host moves a message,
		// whole but without the reason.
		if err := q.Reject(ctx, m.ID, "too large to act on"); err != nil {
			t.Fatalf("Reject(largest) = %v", err)
		}
	}
	if !sizes[len(largest)] || !sizes[0] {
		t.Errorf("received body sizes %v; want %d and 0", sizes, len(largest))
	}
	dl := mustDeadLetters(t, q)
	if len(dl) != 1 || string(dl[0].Body) != string(largest) || dl[0].Reason != storagequeue.HostMovedReason {
		t.Errorf("dead letters: %d; want the largest body whole, reason %q", len(dl), storagequeue.HostMovedReason)
	}
}

// testReceiveMoreThan32 receives 40 messages with one Receive: two Get
// Messages calls. Each has an ID, attempt 1 and its insertion time.
func testReceiveMoreThan32(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: 30 * time.Second})
	before := time.Now().Add(-time.Minute)
	for i := range 40 {
		if err := q.Send(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, m := range mustReceive(t, q, 50, 40) {
		seen[string(m.Body)] = true
		if m.Attempt != 1 || m.SentAt.Before(before) || m.SentAt.After(time.Now().Add(time.Minute)) || !strings.Contains(m.ID, ":") {
			t.Errorf("message %q: attempt %d, sent at %v, ID %q; want attempt 1, sent just now, <id>:<pop receipt>", m.Body, m.Attempt, m.SentAt, m.ID)
		}
	}
	if len(seen) != 40 {
		t.Errorf("Receive(50) gave %d distinct bodies; want 40", len(seen))
	}
	mustReceive(t, q, 50, 0)
}

// testStalePopReceipt acts on a delivery whose visibility timeout expired
// and which was delivered again: Ack is a no-op without error, Nack and
// Reject are ErrNotFound, and none of them touches the newer delivery.
func testStalePopReceipt(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: visibility, MaxAttempts: 5})
	if err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	first := mustReceive(t, q, 1, 1)[0]
	time.Sleep(2 * visibility)
	second := mustReceive(t, q, 1, 1)[0]
	if second.Attempt != 2 || second.ID == first.ID {
		t.Fatalf("redelivery: attempt %d, ID %q (first %q); want attempt 2 and a new pop receipt", second.Attempt, second.ID, first.ID)
	}
	if err := q.Ack(ctx, first.ID); err != nil {
		t.Errorf("Ack(stale) = %v; want nil", err)
	}
	if err := q.Nack(ctx, first.ID, 0, "late"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Nack(stale) = %v; want ErrNotFound", err)
	}
	if err := q.Reject(ctx, first.ID, "late"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Reject(stale) = %v; want ErrNotFound", err)
	}
	// The newer delivery is untouched: still hidden, still nackable, and
	// it comes back.
	mustReceive(t, q, 1, 0)
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
	if err := q.Ack(ctx, third.ID); err != nil {
		t.Errorf("second Ack = %v; want nil", err)
	}
	if dl := mustDeadLetters(t, q); len(dl) != 0 {
		t.Errorf("DeadLetters = %+v; want none", dl)
	}
}

// testNackReasonSurvivesATimeout nacks the first attempt and lets the
// last one time out: the message carries the reason in an envelope
// meanwhile, and the next Receive moves it to the poison queue with it.
func testNackReasonSurvivesATimeout(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: visibility, MaxAttempts: 2})
	if err := q.Send(ctx, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	m := mustReceive(t, q, 1, 1)[0]
	if err := q.Nack(ctx, m.ID, 0, "throttled by the compute API"); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(q.URL(), a.az.QueueEndpoint+"/")
	texts := peek(t, a.raw(name))
	var env map[string]any
	if len(texts) != 1 || json.Unmarshal([]byte(texts[0]), &env) != nil || env["reason"] != "throttled by the compute API" || env["type"] != storagequeue.EnvelopeType {
		t.Fatalf("nacked message text = %q; want an envelope with the reason", texts)
	}
	if m := mustReceive(t, q, 1, 1)[0]; m.Attempt != 2 || string(m.Body) != "slow" {
		t.Fatalf("second delivery %q attempt %d; want slow, 2", m.Body, m.Attempt)
	}
	time.Sleep(2 * visibility) // the worker died
	mustReceive(t, q, 1, 0)
	dl := mustDeadLetters(t, q)
	want := "exhausted 2 attempts; last failure: throttled by the compute API"
	if len(dl) != 1 || string(dl[0].Body) != "slow" || dl[0].Reason != want || dl[0].Attempts != 2 || dl[0].At.IsZero() {
		t.Fatalf("DeadLetters = %+v; want slow, %q, 2 attempts, a time", dl, want)
	}
}

// testTimeoutsWithoutNack lets every attempt time out: the dead letter
// says only that the body ran out of attempts. The queue has the
// shortest visibility timeout the service takes, one second.
func testTimeoutsWithoutNack(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: time.Second, MaxAttempts: 2})
	if err := q.Send(ctx, []byte("silent")); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if m := mustReceive(t, q, 1, 1)[0]; m.Attempt != attempt {
			t.Fatalf("attempt = %d; want %d", m.Attempt, attempt)
		}
		time.Sleep(2 * time.Second)
	}
	mustReceive(t, q, 1, 0)
	dl := mustDeadLetters(t, q)
	if len(dl) != 1 || string(dl[0].Body) != "silent" || dl[0].Reason != storagequeue.ExhaustedReason || dl[0].Attempts != 2 {
		t.Fatalf("DeadLetters = %+v; want silent, 2 attempts, %q", dl, storagequeue.ExhaustedReason)
	}
}

// testLastNackDeadLetters nacks every attempt: the last Nack moves the
// body to the poison queue itself, with its reason, and the raw poison
// message is the documented envelope.
func testLastNackDeadLetters(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: 30 * time.Second, MaxAttempts: 2})
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
	dl := mustDeadLetters(t, q)
	if len(dl) != 1 || dl[0].Reason != "gave up after 2 attempts: apply failed: boom" || dl[0].Attempts != 2 || string(dl[0].Body) != "poison" {
		t.Fatalf("DeadLetters = %+v; want poison, 2 attempts, the last reason", dl)
	}
	texts := peek(t, a.raw(strings.TrimPrefix(q.PoisonURL(), a.az.QueueEndpoint+"/")))
	var env struct {
		Type     string    `json:"type"`
		Body     []byte    `json:"body"`
		Attempts int       `json:"attempts"`
		Reason   string    `json:"reason"`
		At       time.Time `json:"at"`
	}
	if len(texts) != 1 || json.Unmarshal([]byte(texts[0]), &env) != nil {
		t.Fatalf("poison queue texts = %q; want one JSON envelope", texts)
	}
	if env.Type != storagequeue.EnvelopeType || string(env.Body) != "poison" || env.Attempts != 2 || env.Reason != dl[0].Reason || !env.At.Equal(dl[0].At) {
		t.Errorf("poison envelope = %+v; want type, body, attempts, reason and time", env)
	}
}

// testNotBase64GoesToPoison puts a message that is not base64 on the
// queue, as a producer with the wrong encoding would: Receive does not
// return it but dead-letters it at once, saying why.
func testNotBase64GoesToPoison(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{Visibility: 30 * time.Second})
	if err := q.Send(ctx, []byte("good")); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(q.URL(), a.az.QueueEndpoint+"/")
	if _, err := a.raw(name).EnqueueMessage(ctx, `{"action":"stop"}`, nil); err != nil {
		t.Fatal(err)
	}
	// Too large for an envelope: it goes to the poison queue as it is.
	large := strings.Repeat("!", 60<<10)
	if _, err := a.raw(name).EnqueueMessage(ctx, large, nil); err != nil {
		t.Fatal(err)
	}
	if ms := mustReceive(t, q, 10, 1); string(ms[0].Body) != "good" {
		t.Fatalf("received %q; want only good", ms[0].Body)
	} else if err := q.Ack(ctx, ms[0].ID); err != nil {
		t.Fatal(err)
	}
	if left := peek(t, a.raw(name)); len(left) != 0 {
		t.Errorf("%d messages left on the queue; want none", len(left))
	}
	byBody := map[string]queue.DeadLetter{}
	for _, d := range mustDeadLetters(t, q) {
		byBody[string(d.Body)] = d
	}
	if d, ok := byBody[`{"action":"stop"}`]; !ok || !strings.Contains(d.Reason, "neither base64") || d.Attempts != 0 {
		t.Errorf("dead letter of the JSON text = %+v (found %v); want 0 attempts, a reason about base64", d, ok)
	}
	if d, ok := byBody[large]; !ok || d.Reason != storagequeue.HostMovedReason {
		t.Errorf("dead letter of the large text found %v, reason %q; want it whole, reason %q", ok, d.Reason, storagequeue.HostMovedReason)
	}
	if len(byBody) != 2 {
		t.Errorf("DeadLetters listed %d bodies; want 2", len(byBody))
	}
}

// testHostMovedPoison writes the poison queue as the Functions host does
// (the message text as it was) beside an envelope of the driver's:
// DeadLetters reads both.
func testHostMovedPoison(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{MaxAttempts: 4})
	poison := a.raw(strings.TrimPrefix(q.PoisonURL(), a.az.QueueEndpoint+"/"))
	if _, err := poison.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Minute)
	for _, text := range []string{base64.StdEncoding.EncodeToString([]byte(`{"action":"resize"}`)), "plain text, not base64"} {
		if _, err := poison.EnqueueMessage(ctx, text, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.SendPoison(ctx, []byte("ours"), 3, "plan expired"); err != nil {
		t.Fatal(err)
	}
	byBody := map[string]queue.DeadLetter{}
	for _, d := range mustDeadLetters(t, q) {
		byBody[string(d.Body)] = d
	}
	for body, want := range map[string]struct {
		reason   string
		attempts int
	}{
		`{"action":"resize"}`:    {storagequeue.HostMovedReason, 4},
		"plain text, not base64": {storagequeue.HostMovedReason, 4},
		"ours":                   {"plan expired", 3},
	} {
		d, ok := byBody[body]
		if !ok || d.Reason != want.reason || d.Attempts != want.attempts || d.At.Before(before) || d.At.After(time.Now().Add(time.Minute)) {
			t.Errorf("dead letter %q = %+v (found %v); want reason %q, %d attempts, moved just now", body, d, ok, want.reason, want.attempts)
		}
	}
	if len(byBody) != 3 {
		t.Errorf("DeadLetters listed %d bodies; want 3", len(byBody))
	}
}

// testSendPoison dead-letters a body this Queue never received, as the
// Functions host's handler does, on a queue whose poison queue does not
// exist yet: it is created.
func testSendPoison(t *testing.T, a *account) {
	ctx := context.Background()
	name := queueName(t.Name())
	if _, err := a.raw(name).Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	q := a.open(t, storagequeue.Options{QueueName: name})
	if dl := mustDeadLetters(t, q); len(dl) != 0 {
		t.Fatalf("DeadLetters before any = %+v; want none", dl)
	}
	if err := q.SendPoison(ctx, []byte(`{"version":"bogus"}`), 0, strings.Repeat("r", 70<<10)); err != nil {
		t.Fatalf("SendPoison = %v", err)
	}
	dl := mustDeadLetters(t, q)
	if len(dl) != 1 || string(dl[0].Body) != `{"version":"bogus"}` || dl[0].Attempts != 1 || !strings.HasSuffix(dl[0].Reason, "r…") || len(dl[0].Reason) > 64<<10 {
		t.Fatalf("DeadLetters = %d entries, first %.80q…; want the body, 1 attempt, the reason cut to fit", len(dl), fmt.Sprint(dl))
	}
	mustReceive(t, q, 10, 0) // nothing went to the queue itself
}

// testDeadLettersBeyondPeek lists a poison queue of 40 messages, more
// than Peek Messages returns: all are listed, twice, and all are visible
// again afterwards.
func testDeadLettersBeyondPeek(t *testing.T, a *account) {
	ctx := context.Background()
	q := a.open(t, storagequeue.Options{})
	for i := range 40 {
		if err := q.SendPoison(ctx, []byte(fmt.Sprint(i)), 1, "r"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		seen := map[string]bool{}
		dl := mustDeadLetters(t, q)
		for i, d := range dl {
			seen[string(d.Body)] = true
			if i > 0 && d.At.Before(dl[i-1].At) {
				t.Errorf("dead letters out of time order at %d", i)
			}
		}
		if len(dl) != 40 || len(seen) != 40 {
			t.Fatalf("DeadLetters listed %d (%d distinct); want 40", len(dl), len(seen))
		}
	}
	poison := a.raw(strings.TrimPrefix(q.PoisonURL(), a.az.QueueEndpoint+"/"))
	resp, err := poison.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: to.Ptr[int32](32)})
	if err != nil || len(resp.Messages) != 32 {
		t.Fatalf("poison queue after listing: %d visible, %v; want 32 of 40 in one Get Messages", len(resp.Messages), err)
	}
}

// testMissingQueue uses a queue that does not exist without
// CreateIfMissing: calls are ErrNotFound naming the queue, and the
// missing poison queue lists no dead letters. With CreateIfMissing the
// same name works.
func testMissingQueue(t *testing.T, a *account) {
	ctx := context.Background()
	name := queueName(t.Name())
	q := a.open(t, storagequeue.Options{QueueName: name})
	if err := q.Send(ctx, []byte("x")); !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), q.URL()) {
		t.Errorf("Send(missing queue) = %v; want ErrNotFound naming %s", err, q.URL())
	}
	if _, err := q.Receive(ctx, 1); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Receive(missing queue) = %v; want ErrNotFound", err)
	}
	if dl, err := q.DeadLetters(ctx); err != nil || len(dl) != 0 {
		t.Errorf("DeadLetters(missing poison queue) = %v, %v; want none", dl, err)
	}
	q = a.open(t, storagequeue.Options{QueueName: name, CreateIfMissing: true})
	if err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatalf("Send with CreateIfMissing = %v", err)
	}
	mustReceive(t, q, 1, 1)
}

// testDeliveriesOfAnotherHandle acks, nacks and rejects deliveries that
// another Queue value received: Ack works (the ID carries the pop
// receipt), Nack and Reject are ErrNotFound (they need the body), and a
// malformed ID is ErrInvalid.
func testDeliveriesOfAnotherHandle(t *testing.T, a *account) {
	ctx := context.Background()
	name := queueName(t.Name())
	q1 := a.open(t, storagequeue.Options{QueueName: name, CreateIfMissing: true})
	q2 := a.open(t, storagequeue.Options{QueueName: name})
	for _, b := range []string{"a", "b"} {
		if err := q1.Send(ctx, []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	ms := mustReceive(t, q1, 2, 2)
	if err := q2.Nack(ctx, ms[0].ID, 0, "x"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Nack from another handle = %v; want ErrNotFound", err)
	}
	if err := q2.Reject(ctx, ms[0].ID, "x"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Reject from another handle = %v; want ErrNotFound", err)
	}
	for _, m := range ms {
		if err := q2.Ack(ctx, m.ID); err != nil {
			t.Errorf("Ack from another handle = %v; want nil", err)
		}
	}
	if err := q1.Nack(ctx, ms[1].ID, 0, "after ack"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Nack after another handle acked = %v; want ErrNotFound", err)
	}
	for _, id := range []string{"", "no-separator", ":pop", "id:"} {
		if err := q1.Ack(ctx, id); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Ack(%q) = %v; want ErrInvalid", id, err)
		}
	}
	if dl := mustDeadLetters(t, q1); len(dl) != 0 {
		t.Errorf("DeadLetters = %+v; want none", dl)
	}
}
