package pubsubqueue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/queue"
	"github.com/cloudtrim/cloudtrim/shared/queue/queuetest"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// The driver serves the actuate function's queue on Google Cloud.
var _ funcapp.Queue = (*pubsubqueue.Queue)(nil)

const project = "cloudtrim-test"

// t0 is where the tests' clock starts.
var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// clock is the time of both the emulator and the driver, moved by the
// tests instead of sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// emulator is pstest, the Pub/Sub emulator of the v2 client, in this
// process, on a clock of the test's.
type emulator struct {
	srv   *pstest.Server
	clock *clock
	seq   atomic.Int64
}

func newEmulator(t *testing.T, opts ...pstest.ServerReactorOption) *emulator {
	t.Helper()
	e := &emulator{srv: pstest.NewServer(opts...), clock: &clock{now: t0}}
	t.Cleanup(func() { _ = e.srv.Close() })
	e.srv.SetTimeNowFunc(e.clock.Now)
	return e
}

// clientOptions reach the emulator without TLS or credentials.
func (e *emulator) clientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(e.srv.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// config is a Config on new names and the emulator, with a one-minute ack
// deadline and MaxAttempts 3. PullWait is longer than the half second
// the emulator waits before answering an empty Pull, so that no result
// depends on how fast the machine is.
func (e *emulator) config() pubsubqueue.Config {
	n := e.seq.Add(1)
	return pubsubqueue.Config{
		Project: project, Topic: fmt.Sprintf("actions-%d", n), Subscription: fmt.Sprintf("actuate-%d", n),
		AckDeadline: time.Minute, MaxAttempts: 3, PullWait: 5 * time.Second,
		Options: e.clientOptions(), Now: e.clock.Now,
	}
}

// open returns a Queue on cfg, its topics and subscriptions ensured.
func (e *emulator) open(t *testing.T, cfg pubsubqueue.Config) *pubsubqueue.Queue {
	t.Helper()
	q := e.handle(t, cfg)
	if err := q.Ensure(context.Background()); err != nil {
		t.Fatalf("Ensure = %v", err)
	}
	return q
}

// handle returns a Queue on cfg without ensuring anything.
func (e *emulator) handle(t *testing.T, cfg pubsubqueue.Config) *pubsubqueue.Queue {
	t.Helper()
	q, err := pubsubqueue.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// client is a plain Pub/Sub client of the emulator, for what the driver
// does not show and for acting as another process would.
func (e *emulator) client(t *testing.T) *pubsub.Client {
	t.Helper()
	c, err := pubsub.NewClient(context.Background(), project, e.clientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// published returns the messages ever published to a topic (full name),
// oldest first.
func (e *emulator) published(topic string) []*pstest.Message {
	var out []*pstest.Message
	for _, m := range e.srv.Messages() {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && seqOf(out[j].ID) < seqOf(out[j-1].ID); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// seqOf is the number in an emulator message ID ("m12").
func seqOf(id string) int {
	var n int
	_, _ = fmt.Sscanf(id, "m%d", &n)
	return n
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

// TestConformance runs the queue suite on the emulator, each subtest on
// new topics and subscriptions, its clock moved by the harness.
func TestConformance(t *testing.T) {
	e := newEmulator(t)
	queuetest.Run(t, queuetest.Harness{
		New:        func(t *testing.T) queue.Queue { return e.open(t, e.config()) },
		Advance:    func(t *testing.T, d time.Duration) { e.clock.Advance(d) },
		Visibility: time.Minute,
	})
}

// TestBodiesRoundTrip sends bodies of every kind of byte and size and
// receives each back byte for byte, with its publish time.
func TestBodiesRoundTrip(t *testing.T) {
	e := newEmulator(t)
	q := e.open(t, e.config())
	ctx := context.Background()
	bodies := [][]byte{
		[]byte(`{"action":"stop","target":"projects/p/zones/z/instances/i"}`),
		{0x00},
		{0x00, 0xff, 0xfe, 0x80, '\n', '\r', 0x7f},
		[]byte("not UTF-8: \xc3\x28 and a NUL \x00 inside"),
		bytes.Repeat([]byte{0xA5, 0x00, 0x5A}, 1<<20), // 3 MiB, under the emulator's 4 MiB gRPC limit
	}
	for _, b := range bodies {
		if err := q.Send(ctx, b); err != nil {
			t.Fatalf("Send(%d bytes) = %v", len(b), err)
		}
	}
	got := map[string]bool{}
	for _, m := range mustReceive(t, q, 10, len(bodies)) {
		got[string(m.Body)] = true
		if !m.SentAt.Equal(t0) || m.Attempt != 1 {
			t.Errorf("message of %d bytes: sent at %v, attempt %d; want %v, 1", len(m.Body), m.SentAt, m.Attempt, t0)
		}
	}
	for _, b := range bodies {
		if !got[string(b)] {
			t.Errorf("body of %d bytes (%.12q…) did not come back byte for byte", len(b), b)
		}
	}
	for _, m := range e.published(q.Topic()) {
		if len(m.Attributes) != 0 {
			t.Errorf("Send published attributes %v; want none", m.Attributes)
		}
	}
}

// TestBodyLimits: an empty body and one over MaxBodyBytes are
// ErrInvalid, naming the topic, and nothing is published.
func TestBodyLimits(t *testing.T) {
	e := newEmulator(t)
	q := e.open(t, e.config())
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		send func() error
	}{
		{"empty", func() error { return q.Send(ctx, nil) }},
		{"over the limit", func() error { return q.Send(ctx, make([]byte, pubsubqueue.MaxBodyBytes+1)) }},
		{"empty delayed", func() error { return q.SendDelayed(ctx, []byte{}, time.Minute) }},
		{"empty dead letter", func() error { return q.SendDeadLetter(ctx, nil, 1, "r") }},
	} {
		err := tc.send()
		if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "projects/"+project+"/topics/") {
			t.Errorf("%s: %v; want ErrInvalid naming the topic", tc.name, err)
		}
	}
	if n := len(e.srv.Messages()); n != 0 {
		t.Errorf("%d messages published; want none", n)
	}
}

// TestReceiveLeavesTheRest receives 2 of 5 messages: the other 3 are not
// taken (a second handle receives exactly them), so one receiver never
// holds more than it was asked for.
func TestReceiveLeavesTheRest(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	q1 := e.open(t, cfg)
	q2 := e.handle(t, cfg)
	ctx := context.Background()
	for i := range 5 {
		if err := q1.Send(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	first := mustReceive(t, q1, 2, 2)
	rest := mustReceive(t, q2, 10, 3)
	seen := map[string]bool{}
	for _, m := range append(first, rest...) {
		seen[string(m.Body)] = true
	}
	if len(seen) != 5 {
		t.Errorf("two receivers got %d distinct bodies; want 5", len(seen))
	}
	for _, m := range e.published(q1.Topic()) {
		if m.Deliveries != 1 {
			t.Errorf("message %s delivered %d times; want once", m.ID, m.Deliveries)
		}
	}
}

// TestStaleAndForeignDeliveries acts on deliveries that are stale or that
// another handle received: acking a stale ack ID is no error and leaves
// the newer delivery alone; Reject needs the receiving handle
// (ErrNotFound); Nack from another handle puts the message back without
// a reason. Malformed calls are ErrInvalid.
func TestStaleAndForeignDeliveries(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	q := e.open(t, cfg)
	other := e.handle(t, cfg)
	ctx := context.Background()
	if err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	first := mustReceive(t, q, 1, 1)[0]
	e.clock.Advance(2 * time.Minute)
	second := mustReceive(t, q, 1, 1)[0]
	if second.Attempt != 2 || second.ID == first.ID {
		t.Fatalf("redelivery: attempt %d, ID %q (first %q); want attempt 2 and a new ack ID", second.Attempt, second.ID, first.ID)
	}
	if err := q.Ack(ctx, first.ID); err != nil {
		t.Errorf("Ack(stale) = %v; want nil", err)
	}
	mustReceive(t, q, 1, 0) // the newer delivery is still in flight
	if err := other.Reject(ctx, second.ID, "not mine"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Reject from another handle = %v; want ErrNotFound", err)
	}
	if err := other.Nack(ctx, second.ID, 0, "from elsewhere"); err != nil {
		t.Errorf("Nack from another handle = %v; want nil", err)
	}
	third := mustReceive(t, q, 1, 1)[0]
	if third.Attempt != 3 {
		t.Errorf("after the foreign Nack: attempt %d; want 3", third.Attempt)
	}
	if err := q.Ack(ctx, third.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(ctx, third.ID); err != nil {
		t.Errorf("second Ack = %v; want nil", err)
	}
	for name, err := range map[string]error{
		"Ack(\"\")":         q.Ack(ctx, ""),
		"Nack(\"\")":        q.Nack(ctx, "", 0, "r"),
		"Reject(\"\")":      q.Reject(ctx, "", "r"),
		"Nack(delay -1s)":   q.Nack(ctx, third.ID, -time.Second, "r"),
		"SendDelayed(-1s)":  q.SendDelayed(ctx, []byte("x"), -time.Second),
		"SendDelayed(long)": q.SendDelayed(ctx, []byte("x"), pubsubqueue.MaxDelay+time.Second),
	} {
		if !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s = %v; want ErrInvalid", name, err)
		}
	}
	if _, err := q.Receive(ctx, 0); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Receive(0) = %v; want ErrInvalid", err)
	}
	if dl := mustDeadLetters(t, q); len(dl) != 0 {
		t.Errorf("DeadLetters = %+v; want none", dl)
	}
}

// TestNackDelay: Nack's delay becomes the delivery's ack deadline in
// whole seconds, cut to Pub/Sub's 600 s, and the message comes back only
// once it has passed.
func TestNackDelay(t *testing.T) {
	e := newEmulator(t)
	q := e.open(t, e.config())
	ctx := context.Background()
	if err := q.Send(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	lastModack := func() pstest.Modack {
		ms := e.published(q.Topic())[0].Modacks
		return ms[len(ms)-1]
	}
	m := mustReceive(t, q, 1, 1)[0]
	if err := q.Nack(ctx, m.ID, 1500*time.Millisecond, "later"); err != nil {
		t.Fatal(err)
	}
	if got := lastModack(); got.AckDeadline != 2 || got.AckID != m.ID {
		t.Errorf("Nack(1.5s) sent ModifyAckDeadline %ds for %s; want 2s for %s", got.AckDeadline, got.AckID, m.ID)
	}
	e.clock.Advance(time.Second)
	mustReceive(t, q, 1, 0)
	e.clock.Advance(2 * time.Second)
	m = mustReceive(t, q, 1, 1)[0]
	if err := q.Nack(ctx, m.ID, time.Hour, "much later"); err != nil {
		t.Fatal(err)
	}
	if got := lastModack(); got.AckDeadline != 600 {
		t.Errorf("Nack(1h) sent ModifyAckDeadline %ds; want Pub/Sub's 600s", got.AckDeadline)
	}
	mustReceive(t, q, 1, 0)
	// The emulator drops a message ten minutes after its publication, so
	// the 600 s are not waited out: a second Nack of the same delivery
	// puts it back at once.
	if err := q.Nack(ctx, m.ID, 0, "now"); err != nil {
		t.Fatal(err)
	}
	if m := mustReceive(t, q, 1, 1)[0]; m.Attempt != 3 {
		t.Errorf("after two nacks: attempt %d; want 3", m.Attempt)
	}
}
