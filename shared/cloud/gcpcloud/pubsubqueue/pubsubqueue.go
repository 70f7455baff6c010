package pubsubqueue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/queue"
)

// Defaults and limits of Config, most of them Pub/Sub's own.
const (
	// DefaultAckDeadline is the subscription's ack deadline unless Config
	// says otherwise: how long a received message stays hidden.
	DefaultAckDeadline = time.Minute
	// MinAckDeadline and MaxAckDeadline bound a subscription's ack
	// deadline; MaxAckDeadline also bounds one ModifyAckDeadline, so a
	// Nack's delay.
	MinAckDeadline = 10 * time.Second
	MaxAckDeadline = 600 * time.Second
	// DefaultMaxAttempts is how many deliveries the caller sees of a body
	// before it is dead-lettered: the subscription's dead-letter policy
	// then allows one more (see doc.go), Pub/Sub's default of 5.
	DefaultMaxAttempts = 4
	// maxMaxAttempts keeps the policy's max_delivery_attempts (MaxAttempts
	// plus one) within Pub/Sub's 5 to 100.
	maxMaxAttempts = 99
	// DefaultCallTimeout bounds one Pub/Sub call: the client retries some
	// codes for as long as its context lasts.
	DefaultCallTimeout = 30 * time.Second
	// DefaultPullWait is how long a Receive waits for a first message.
	DefaultPullWait = time.Second
	// DeadLetterSuffix names the dead-letter topic and subscription after
	// the queue's when Config leaves them out.
	DeadLetterSuffix = "-dead-letter"
	// maxPull is the most messages one Pull returns.
	maxPull = 1000
	// maxRounds bounds the Pulls of one Receive.
	maxRounds = 10
)

// Config configures a Queue. Topic and subscription names are IDs within
// Project, not full resource names.
type Config struct {
	// Project is the Google Cloud project of the topics and
	// subscriptions. Required.
	Project string
	// Topic is the topic Send publishes to; Subscription the pull
	// subscription Receive reads from. Required. The topic is the queue's
	// own: SendDelayed re-publishes to it, so any other subscription of
	// the topic would see delayed bodies twice.
	Topic, Subscription string
	// DeadLetterTopic and DeadLetterSubscription receive the dead letters;
	// default Topic and Subscription with DeadLetterSuffix. The
	// dead-letter subscription must have no dead-letter policy of its
	// own: DeadLetters reads it by pulling and giving back.
	DeadLetterTopic, DeadLetterSubscription string
	// AckDeadline is the subscription's ack deadline, which Ensure sets
	// and which Receive assumes: 10 s to 600 s, default DefaultAckDeadline.
	AckDeadline time.Duration
	// MaxAttempts is how many deliveries of a body the caller sees before
	// the driver dead-letters it, default DefaultMaxAttempts. Ensure gives
	// the subscription a dead-letter policy of MaxAttempts+1 deliveries;
	// Pub/Sub takes 5 to 100, so MaxAttempts from 4 to 99 (the emulator
	// takes fewer). On a subscription without a dead-letter policy Pub/Sub
	// counts no deliveries: every Attempt is 1, and only Reject
	// dead-letters.
	MaxAttempts int
	// CallTimeout bounds each call, default DefaultCallTimeout.
	CallTimeout time.Duration
	// PullWait is how long a Receive waits for a first message when none
	// is waiting, and how long DeadLetters waits to be sure the
	// dead-letter subscription has no more (default DefaultPullWait, at
	// most CallTimeout). Each empty Receive costs this much time.
	PullWait time.Duration
	// Options are the Pub/Sub client's options: credentials in
	// production (none means Application Default Credentials), an
	// emulator's endpoint or connection in tests.
	Options []option.ClientOption
	// ClientConfig tunes the client's calls (retries, timeouts); nil
	// takes the library's defaults.
	ClientConfig *pubsub.ClientConfig
	// Now is the clock of SendDelayed and of forgetting old deliveries;
	// default time.Now.
	Now func() time.Time
}

// Queue is a queue.Queue on a Pub/Sub topic and pull subscription, with a
// dead-letter topic and subscription. It is safe for concurrent use. The
// zero value is not usable; call New.
type Queue struct {
	client *pubsub.Client
	cfg    Config
	// Full resource names.
	topic, sub, dlTopic, dlSub string

	mu         sync.Mutex
	deliveries map[string]*delivery // by ack ID
	reasons    map[string]nacked    // the last Nack's reason, by message ID
}

var _ queue.Queue = (*Queue)(nil)

// delivery is what Receive remembers of a message it handed out: Reject
// and a Nack of the last attempt dead-letter the body, which Pub/Sub
// cannot return from an ack ID.
type delivery struct {
	messageID string
	body      []byte
	attempt   int
	counted   bool // Pub/Sub counted the attempt (a dead-letter policy)
	sentAt    time.Time
	hidden    time.Time // when the ack deadline ends, by Config.Now
}

// nacked is the reason of a message's last Nack and when it was given.
type nacked struct {
	reason string
	at     time.Time
}

// reasonTTL is how long a Nack's reason is remembered without the
// message coming back.
const reasonTTL = 24 * time.Hour

// resourceID is the form of Pub/Sub topic and subscription IDs.
var resourceID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$`)

// New returns a Queue over a new Pub/Sub client. It makes no request;
// call Ensure to create the topics and subscriptions. It fails with
// domain.ErrInvalid for invalid configuration.
func New(ctx context.Context, cfg Config) (*Queue, error) {
	if cfg.DeadLetterTopic == "" && cfg.Topic != "" {
		cfg.DeadLetterTopic = cfg.Topic + DeadLetterSuffix
	}
	if cfg.DeadLetterSubscription == "" && cfg.Subscription != "" {
		cfg.DeadLetterSubscription = cfg.Subscription + DeadLetterSuffix
	}
	cfg.AckDeadline = orDefault(cfg.AckDeadline, DefaultAckDeadline)
	cfg.MaxAttempts = orDefault(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.CallTimeout = orDefault(cfg.CallTimeout, DefaultCallTimeout)
	cfg.PullWait = orDefault(cfg.PullWait, min(DefaultPullWait, cfg.CallTimeout))
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("pubsubqueue %s/%s: %w: %w", cfg.Project, cfg.Topic, domain.ErrInvalid, err)
	}
	client, err := pubsub.NewClientWithConfig(ctx, cfg.Project, cfg.ClientConfig, cfg.Options...)
	if err != nil {
		return nil, fmt.Errorf("pubsubqueue %s/%s: new client: %w", cfg.Project, cfg.Topic, err)
	}
	p := "projects/" + cfg.Project
	return &Queue{
		client: client, cfg: cfg,
		topic: p + "/topics/" + cfg.Topic, sub: p + "/subscriptions/" + cfg.Subscription,
		dlTopic: p + "/topics/" + cfg.DeadLetterTopic, dlSub: p + "/subscriptions/" + cfg.DeadLetterSubscription,
		deliveries: map[string]*delivery{}, reasons: map[string]nacked{},
	}, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// check validates a Config whose defaults are set.
func (c Config) check() error {
	if c.Project == "" || strings.ContainsAny(c.Project, "/ \t\n") {
		return fmt.Errorf("project %q is not a project ID", c.Project)
	}
	for _, n := range []struct{ what, id string }{
		{"topic", c.Topic}, {"subscription", c.Subscription},
		{"dead-letter topic", c.DeadLetterTopic}, {"dead-letter subscription", c.DeadLetterSubscription},
	} {
		if !resourceID.MatchString(n.id) || strings.HasPrefix(strings.ToLower(n.id), "goog") {
			return fmt.Errorf("%s %q is not 3 to 255 letters, digits and -._~+%% starting with a letter (and not goog)", n.what, n.id)
		}
	}
	switch {
	case c.Topic == c.DeadLetterTopic:
		return fmt.Errorf("topic %q is its own dead-letter topic", c.Topic)
	case c.Subscription == c.DeadLetterSubscription:
		return fmt.Errorf("subscription %q is its own dead-letter subscription", c.Subscription)
	case c.AckDeadline < MinAckDeadline || c.AckDeadline > MaxAckDeadline:
		return fmt.Errorf("ack deadline %s is not between %s and %s", c.AckDeadline, MinAckDeadline, MaxAckDeadline)
	case c.MaxAttempts < 1 || c.MaxAttempts > maxMaxAttempts:
		return fmt.Errorf("MaxAttempts %d is not between 1 and %d", c.MaxAttempts, maxMaxAttempts)
	case c.CallTimeout < 0:
		return fmt.Errorf("negative call timeout %s", c.CallTimeout)
	case c.PullWait < 0 || c.PullWait > c.CallTimeout:
		return fmt.Errorf("pull wait %s is not between 0 and the call timeout %s", c.PullWait, c.CallTimeout)
	}
	return nil
}

// Close releases the client.
func (q *Queue) Close() error {
	if err := q.client.Close(); err != nil {
		return fmt.Errorf("pubsubqueue %s: close: %w", q.topic, err)
	}
	return nil
}

// Topic returns the full name of the queue's topic.
func (q *Queue) Topic() string { return q.topic }

// Subscription returns the full name of the queue's subscription.
func (q *Queue) Subscription() string { return q.sub }

// Send implements queue.Queue: one Publish of the body as the message's
// data, with no attributes. A body that is empty or over MaxBodyBytes is
// domain.ErrInvalid, and nothing is sent.
func (q *Queue) Send(ctx context.Context, body []byte) error {
	return q.publish(ctx, "send", q.topic, body, nil)
}

// publish publishes one message and returns when Pub/Sub has stored it.
func (q *Queue) publish(ctx context.Context, op, topic string, body []byte, attrs map[string]string) error {
	if err := checkBody(body); err != nil {
		return fmt.Errorf("pubsub %s %s: %w: %w", op, topic, domain.ErrInvalid, err)
	}
	_, err := call(ctx, q, op, topic, func(ctx context.Context) (*pubsubpb.PublishResponse, error) {
		return q.client.TopicAdminClient.Publish(ctx, &pubsubpb.PublishRequest{
			Topic:    topic,
			Messages: []*pubsubpb.PubsubMessage{{Data: body, Attributes: attrs}},
		})
	})
	return err
}

// MaxBodyBytes is the largest body the driver publishes: Pub/Sub takes
// publish requests of up to 10 MB, and this leaves room for the
// attributes of a dead letter.
const MaxBodyBytes = 10_000_000 - 16<<10

// checkBody refuses a body Pub/Sub would refuse: an empty one (a message
// needs data or attributes) or one over MaxBodyBytes.
func checkBody(body []byte) error {
	switch {
	case len(body) == 0:
		return errors.New("empty body")
	case len(body) > MaxBodyBytes:
		return fmt.Errorf("body of %d bytes is over the %d-byte limit", len(body), MaxBodyBytes)
	}
	return nil
}

// pull pulls up to n messages from sub, waiting up to PullWait for the
// first: when that wait ends with nothing, the answer is empty. A failed
// Pull is not retried, so that the wait cannot hide a failure: the error
// goes to the caller, who polls again.
func (q *Queue) pull(ctx context.Context, op, sub string, n int) ([]*pubsubpb.ReceivedMessage, error) {
	wctx, cancel := context.WithTimeout(ctx, q.cfg.PullWait)
	defer cancel()
	resp, err := q.client.SubscriptionAdminClient.Pull(wctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: int32(n)},
		gax.WithRetry(func() gax.Retryer { return nil }))
	if err != nil {
		// The wait ended with nothing: the context's timer, or the server
		// ending the call at the deadline it was sent (which it may do a
		// moment before the timer fires here), as the real service also
		// answers an empty long poll.
		if ctx.Err() == nil && (wctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded) {
			return nil, nil
		}
		return nil, wrap(wctx, op, sub, err)
	}
	return resp.GetReceivedMessages(), nil
}

// Receive implements queue.Queue. It pulls up to max messages (never more,
// so the rest stay for other receivers), waiting up to PullWait for the
// first, and pulls again while full batches come back. Message.ID is the
// ack ID, Attempt the delivery attempt Pub/Sub counted (1 without a
// dead-letter policy), SentAt the publish time (of the first publish,
// for a delayed body).
//
// Some messages are not returned but dealt with here, and Receive pulls
// again for more: a delayed message that is not due yet is hidden again
// until it is, and one that is due is re-published as a fresh message
// (see SendDelayed); a message delivered for the (MaxAttempts+1)th time
// (its last attempt timed out) is dead-lettered with the reason of its
// last Nack if this Queue remembers it, else ExhaustedReason. If that
// fails, the message comes back after its ack deadline.
//
// If a later Pull fails, the messages already received are returned
// without the error, which the next Receive meets again.
func (q *Queue) Receive(ctx context.Context, limit int) ([]queue.Message, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pubsub receive %s: %w: max %d is not positive", q.sub, domain.ErrInvalid, limit)
	}
	out := make([]queue.Message, 0, min(limit, maxPull))
	var keptErrs error
	for round := 0; round < maxRounds && len(out) < limit; round++ {
		n := min(maxPull, limit-len(out))
		start := q.cfg.Now()
		got, err := q.pull(ctx, "receive", q.sub, n)
		if err != nil {
			if len(out) > 0 {
				break
			}
			return nil, err
		}
		kept := 0
		for _, rm := range got {
			m := rm.GetMessage()
			if m == nil || rm.GetAckId() == "" {
				continue
			}
			if nb, ok := NotBefore(m.GetAttributes()); ok {
				keptErrs = errors.Join(keptErrs, q.holdDelayed(ctx, rm, nb))
				kept++
				continue
			}
			d := &delivery{
				messageID: m.GetMessageId(), body: m.GetData(),
				attempt: max(int(rm.GetDeliveryAttempt()), 1), counted: rm.GetDeliveryAttempt() > 0,
				sentAt: sentAt(m), hidden: start.Add(q.cfg.AckDeadline),
			}
			if d.counted && d.attempt > q.cfg.MaxAttempts {
				keptErrs = errors.Join(keptErrs, q.deadLetter(ctx, "receive", rm.GetAckId(), d, d.attempt-1, q.exhausted(d)))
				kept++
				continue
			}
			q.mu.Lock()
			q.deliveries[rm.GetAckId()] = d
			q.mu.Unlock()
			out = append(out, queue.Message{ID: rm.GetAckId(), Body: append([]byte(nil), d.body...), Attempt: d.attempt, SentAt: d.sentAt})
		}
		q.forgetExpired(start)
		if kept == 0 && len(got) < n {
			break
		}
	}
	if len(out) == 0 && keptErrs != nil {
		return nil, keptErrs
	}
	return out, nil
}

// sentAt is when the body was first published: the FirstSentAttribute of
// a re-published message, else the publish time.
func sentAt(m *pubsubpb.PubsubMessage) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, m.GetAttributes()[FirstSentAttribute]); err == nil {
		return t
	}
	return m.GetPublishTime().AsTime()
}

// exhausted is the reason of a body whose last attempt timed out.
func (q *Queue) exhausted(d *delivery) string {
	q.mu.Lock()
	n, ok := q.reasons[d.messageID]
	q.mu.Unlock()
	if ok {
		return fmt.Sprintf("exhausted %d attempts; last failure: %s", d.attempt-1, n.reason)
	}
	return ExhaustedReason
}

// Ack implements queue.Queue: Acknowledge. Pub/Sub ignores an ack ID
// whose deadline passed (the message was delivered again, or is already
// acknowledged): that is not an error, and the newer delivery stays.
func (q *Queue) Ack(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("pubsub ack %s: %w: empty message ID", q.sub, domain.ErrInvalid)
	}
	if err := q.acknowledge(ctx, "ack", q.sub, id); err != nil {
		return err
	}
	q.forget(id, true)
	return nil
}

func (q *Queue) acknowledge(ctx context.Context, op, sub string, ackIDs ...string) error {
	_, err := call(ctx, q, op, sub, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, q.client.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: sub, AckIds: ackIDs})
	})
	return err
}

func (q *Queue) modifyAckDeadline(ctx context.Context, op, sub string, d time.Duration, ackIDs ...string) error {
	_, err := call(ctx, q, op, sub, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, q.client.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{
			Subscription: sub, AckIds: ackIDs, AckDeadlineSeconds: seconds(d),
		})
	})
	return err
}

// seconds rounds d up to whole seconds, at most MaxAckDeadline.
func seconds(d time.Duration) int32 {
	return int32((min(d, MaxAckDeadline) + time.Second - 1) / time.Second)
}

// Nack implements queue.Queue: ModifyAckDeadline to delay, rounded up to
// whole seconds and capped at MaxAckDeadline (600 s), Pub/Sub's limit;
// a negative delay is domain.ErrInvalid. Pub/Sub keeps nothing with a
// message in flight, so the reason is remembered by this Queue value, by
// message ID, for a day: if the body comes back and its last attempt
// times out, Receive dead-letters it with this reason. A Queue in another
// process, or a Queue that did not receive the delivery, does not know
// it.
//
// When the delivery was the last attempt MaxAttempts allows, Nack
// dead-letters the body itself, as Reject does, with the reason "gave up
// after N attempts: reason". That needs the delivery to have been
// received by this Queue value; for one it did not, Nack only changes
// the deadline.
func (q *Queue) Nack(ctx context.Context, id string, delay time.Duration, reason string) error {
	if id == "" {
		return fmt.Errorf("pubsub nack %s: %w: empty message ID", q.sub, domain.ErrInvalid)
	}
	if delay < 0 {
		return fmt.Errorf("pubsub nack %s: %w: negative delay %s", q.sub, domain.ErrInvalid, delay)
	}
	q.mu.Lock()
	d := q.deliveries[id]
	q.mu.Unlock()
	if d != nil && d.counted && d.attempt >= q.cfg.MaxAttempts {
		return q.deadLetter(ctx, "nack", id, d, d.attempt, fmt.Sprintf("gave up after %d attempts: %s", d.attempt, reason))
	}
	if err := q.modifyAckDeadline(ctx, "nack", q.sub, delay, id); err != nil {
		return err
	}
	q.forget(id, false)
	if d != nil {
		now := q.cfg.Now()
		q.mu.Lock()
		for mid, n := range q.reasons {
			if now.Sub(n.at) > reasonTTL {
				delete(q.reasons, mid)
			}
		}
		q.reasons[d.messageID] = nacked{reason: reason, at: now}
		q.mu.Unlock()
	}
	return nil
}

// forget drops what Receive kept of delivery id and, when done, the
// reason remembered for its message.
func (q *Queue) forget(id string, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d := q.deliveries[id]; d != nil && done {
		delete(q.reasons, d.messageID)
	}
	delete(q.deliveries, id)
}

// forgetExpired drops deliveries whose ack deadline ended long ago:
// Pub/Sub has delivered them again or will, under new ack IDs.
func (q *Queue) forgetExpired(now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, d := range q.deliveries {
		if now.Sub(d.hidden) > q.cfg.AckDeadline+time.Minute {
			delete(q.deliveries, id)
		}
	}
}
