package storagequeue

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/queue"
)

// PoisonSuffix makes the name of a queue's poison queue, as the Azure
// Functions host names it.
const PoisonSuffix = "-poison"

// The reasons DeadLetters reports for dead letters that carry none of
// their own.
const (
	// HostMovedReason is the reason of a raw message in the poison
	// queue: the Functions host moves a message there, as it was, once
	// its DequeueCount reaches the host's maxDequeueCount.
	HostMovedReason = "exceeded maxDequeueCount"
	// ExhaustedReason is the reason of a body whose last attempt ended
	// with its visibility timeout (the worker died or hung), never
	// nacked.
	ExhaustedReason = "exhausted its attempts"
)

// Defaults and limits of Options.
const (
	// DefaultVisibility is how long a received message stays hidden
	// unless Options say otherwise, the service's own default.
	DefaultVisibility = 30 * time.Second
	// DefaultMaxAttempts is the default number of deliveries before a
	// body goes to the poison queue, the Functions host's default
	// maxDequeueCount.
	DefaultMaxAttempts = 5
	// MaxVisibility is the longest visibility timeout and Nack delay the
	// service takes.
	MaxVisibility = 7 * 24 * time.Hour
	// maxBatch is the most messages one Get Messages call returns, and
	// one Peek Messages call.
	maxBatch = 32
	// maxDeadLetters bounds one DeadLetters listing.
	maxDeadLetters = 5000
	// holdTimeout is the visibility timeout a message gets while it is
	// copied to the poison queue, and poison messages while DeadLetters
	// reads them.
	holdTimeout = 30 * time.Second
	// maxQueueName is the longest queue name whose poison queue's name is
	// valid (63 characters).
	maxQueueName = 63 - len(PoisonSuffix)
)

// Options configures a Queue.
type Options struct {
	// ServiceURL is the Queue service endpoint of the storage account,
	// https://<account>.queue.core.windows.net/, or an emulator's
	// path-style http://127.0.0.1:10001/devstoreaccount1. It may carry a
	// SAS token as its query, and then needs no credential. Required.
	ServiceURL string
	// QueueName is the queue's name: 3 to 56 lower case letters, digits
	// and single hyphens, starting and ending with a letter or digit (56
	// leaves room for PoisonSuffix). Required.
	QueueName string
	// SharedKey signs requests with an account key, as for Azurite's
	// well-known account.
	SharedKey *azqueue.SharedKeyCredential
	// Credential gets Entra ID tokens, such as azidentity's
	// ManagedIdentityCredential in a Function app. The identity needs the
	// Storage Queue Data Contributor role on the account or both queues:
	// Nack, Reject and DeadLetters update messages, and the first dead
	// letter creates the poison queue, which the Message Processor and
	// Sender roles do not allow. At most one of SharedKey and Credential.
	Credential azcore.TokenCredential
	// Visibility is how long a received message stays hidden, rounded up
	// to whole seconds, 1 s to 7 days; default DefaultVisibility.
	Visibility time.Duration
	// MaxAttempts is how many deliveries a body gets before it is moved
	// to the poison queue; default DefaultMaxAttempts. It should equal the
	// Functions host's maxDequeueCount (host.json) when the host also
	// consumes the queue.
	MaxAttempts int
	// CreateIfMissing creates the queue and its poison queue on first
	// use. Without it a missing queue is domain.ErrNotFound; the poison
	// queue is created when the first dead letter needs it either way,
	// as the Functions host does.
	CreateIfMissing bool
	// ClientOptions go to the SDK's client: retries, transport, the
	// token audience. Nil takes the SDK's defaults.
	ClientOptions *azqueue.ClientOptions
	// Now is the clock of the dead letters' times and of forgetting old
	// deliveries; default time.Now.
	Now func() time.Time
}

// Queue is a queue.Queue on one Azure Storage queue and its poison queue.
// It is safe for concurrent use. The zero value is not usable; call New.
type Queue struct {
	main, poison *azqueue.QueueClient
	opts         Options
	visibility   int32 // seconds

	mu         sync.Mutex
	created    bool                 // the queues exist (CreateIfMissing)
	deliveries map[string]*delivery // by Message.ID
}

var _ queue.Queue = (*Queue)(nil)

// delivery is what Receive remembers of a message it handed out: Nack
// rewrites the message, and Reject copies it, both from this.
type delivery struct {
	text    string // the message text as received
	body    []byte
	attempt int
	hidden  time.Time // when its visibility timeout ends, by Options.Now
}

// New returns a Queue on opts.QueueName in the account at
// opts.ServiceURL. It makes no request. It fails with domain.ErrInvalid
// for invalid options.
func New(opts Options) (*Queue, error) {
	bad := func(format string, args ...any) (*Queue, error) {
		return nil, fmt.Errorf("storagequeue %s: %w: "+format, append([]any{opts.QueueName, domain.ErrInvalid}, args...)...)
	}
	u, err := url.Parse(opts.ServiceURL)
	switch {
	case opts.ServiceURL == "":
		return bad("no service URL")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return bad("service URL %q is not an http(s) URL", redact(opts.ServiceURL))
	case !validQueueName(opts.QueueName):
		return bad("queue name %q is not 3 to %d lower case letters, digits and single hyphens", opts.QueueName, maxQueueName)
	case opts.SharedKey != nil && opts.Credential != nil:
		return bad("both a shared key and a token credential")
	case opts.SharedKey == nil && opts.Credential == nil && !u.Query().Has("sig"):
		return bad("no credential: set SharedKey or Credential, or put a SAS token in the service URL")
	case opts.Visibility < 0 || opts.Visibility > MaxVisibility:
		return bad("visibility %s is not between 1s and 7 days", opts.Visibility)
	case opts.MaxAttempts < 0:
		return bad("negative MaxAttempts %d", opts.MaxAttempts)
	}
	if opts.Visibility == 0 {
		opts.Visibility = DefaultVisibility
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var svc *azqueue.ServiceClient
	switch {
	case opts.SharedKey != nil:
		svc, err = azqueue.NewServiceClientWithSharedKeyCredential(opts.ServiceURL, opts.SharedKey, opts.ClientOptions)
	case opts.Credential != nil:
		svc, err = azqueue.NewServiceClient(opts.ServiceURL, markedCredential{opts.Credential}, opts.ClientOptions)
	default:
		svc, err = azqueue.NewServiceClientWithNoCredential(opts.ServiceURL, opts.ClientOptions)
	}
	if err != nil {
		return bad("%v", err)
	}
	return &Queue{
		main:       svc.NewQueueClient(opts.QueueName),
		poison:     svc.NewQueueClient(opts.QueueName + PoisonSuffix),
		opts:       opts,
		visibility: seconds(opts.Visibility, 1),
		deliveries: map[string]*delivery{},
	}, nil
}

// validQueueName reports whether name is a valid queue name that leaves
// room for PoisonSuffix.
func validQueueName(name string) bool {
	if len(name) < 3 || len(name) > maxQueueName || name[0] == '-' || name[len(name)-1] == '-' || strings.Contains(name, "--") {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// redact drops the query (a SAS token) of a URL for messages.
func redact(raw string) string {
	before, _, _ := strings.Cut(raw, "?")
	return before
}

// URL returns the queue's URL, without any SAS token.
func (q *Queue) URL() string { return redact(q.main.URL()) }

// PoisonURL returns the poison queue's URL, without any SAS token.
func (q *Queue) PoisonURL() string { return redact(q.poison.URL()) }

// Send implements queue.Queue. The message text is the body in standard
// base64, as the Functions queue trigger decodes it by default; a body
// whose encoding exceeds the 64 KiB message limit (a body over
// MaxBodyBytes) is domain.ErrInvalid, and nothing is sent. Messages never
// expire: a stale action is refused by the actuator and dead-lettered
// with its reason rather than dropped by the service.
func (q *Queue) Send(ctx context.Context, body []byte) error {
	if err := checkBody(body); err != nil {
		return fmt.Errorf("azure queue send %s: %w: %w", q.URL(), domain.ErrInvalid, err)
	}
	if err := q.ensure(ctx); err != nil {
		return err
	}
	_, err := q.main.EnqueueMessage(ctx, encodeBody(body), &azqueue.EnqueueMessageOptions{TimeToLive: to.Ptr[int32](-1)})
	return wrap("send", q.URL(), err)
}

// SendDelayed enqueues body so that it becomes visible after delay
// (whole seconds, at most MaxVisibility): how a host puts back a message
// held by the blast-radius cap or deferred by the kill switch, as a new
// message whose wait counts no attempt.
func (q *Queue) SendDelayed(ctx context.Context, body []byte, delay time.Duration) error {
	if delay < 0 || delay > MaxVisibility {
		return fmt.Errorf("azure queue send delayed %s: %w: delay %s is outside 0..%s", q.URL(), domain.ErrInvalid, delay, MaxVisibility)
	}
	if err := checkBody(body); err != nil {
		return fmt.Errorf("azure queue send delayed %s: %w: %w", q.URL(), domain.ErrInvalid, err)
	}
	if err := q.ensure(ctx); err != nil {
		return err
	}
	_, err := q.main.EnqueueMessage(ctx, encodeBody(body), &azqueue.EnqueueMessageOptions{
		TimeToLive: to.Ptr[int32](-1), VisibilityTimeout: to.Ptr(seconds(delay, 0)),
	})
	return wrap("send delayed", q.URL(), err)
}

// Receive implements queue.Queue. It gets up to 32 messages a call with
// the visibility timeout of Options, and calls again while full batches
// come back and max is not reached. Message.ID is the message ID and the
// pop receipt, Attempt the DequeueCount and SentAt the insertion time.
//
// A message whose DequeueCount exceeds MaxAttempts is not returned but
// moved to the poison queue, with the reason of its last Nack if it has
// one, else ExhaustedReason; so is a message whose text is not base64
// (nor an envelope of Nack's), at once. If moving one fails it stays
// hidden for the visibility timeout and is tried again later.
//
// If a later call fails, the messages already received are returned
// without the error, which the next Receive meets again.
func (q *Queue) Receive(ctx context.Context, max int) ([]queue.Message, error) {
	if max <= 0 {
		return nil, fmt.Errorf("azure queue receive %s: %w: max %d is not positive", q.URL(), domain.ErrInvalid, max)
	}
	if err := q.ensure(ctx); err != nil {
		return nil, err
	}
	out := make([]queue.Message, 0, min(max, maxBatch))
	var moveErr error
	for len(out) < max {
		n := min(maxBatch, max-len(out))
		start := q.opts.Now()
		resp, err := q.main.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
			NumberOfMessages:  to.Ptr(int32(n)),
			VisibilityTimeout: to.Ptr(q.visibility),
		})
		if err != nil {
			if len(out) > 0 {
				break
			}
			return nil, wrap("receive", q.URL(), err)
		}
		for _, m := range resp.Messages {
			if m == nil || m.MessageID == nil || m.PopReceipt == nil {
				continue
			}
			id, pop, text := *m.MessageID, *m.PopReceipt, deref(m.MessageText)
			attempt := int(deref(m.DequeueCount))
			body, last, err := decodeText(text)
			switch {
			case err != nil:
				moveErr = errors.Join(moveErr, q.moveToPoison(ctx, id, pop, text, envelope{Body: []byte(text), Attempts: attempt - 1, Reason: err.Error()}))
				continue
			case attempt > q.opts.MaxAttempts:
				reason := ExhaustedReason
				if last.Reason != "" {
					reason = fmt.Sprintf("exhausted %d attempts; last failure: %s", attempt-1, last.Reason)
				}
				moveErr = errors.Join(moveErr, q.moveToPoison(ctx, id, pop, text, envelope{Body: body, Attempts: attempt - 1, Reason: reason}))
				continue
			}
			mid := id + idSep + pop
			q.mu.Lock()
			q.deliveries[mid] = &delivery{text: text, body: body, attempt: attempt, hidden: start.Add(q.opts.Visibility)}
			q.mu.Unlock()
			out = append(out, queue.Message{ID: mid, Body: append([]byte(nil), body...), Attempt: attempt, SentAt: deref(m.InsertionTime)})
		}
		q.forgetExpired(start)
		if len(resp.Messages) < n {
			break
		}
	}
	if len(out) == 0 && moveErr != nil {
		return nil, moveErr
	}
	return out, nil
}

// moveToPoison writes e to the poison queue (or text, the message as it
// is, if e does not fit) and deletes the message, which this Queue holds
// hidden under pop.
func (q *Queue) moveToPoison(ctx context.Context, id, pop, text string, e envelope) error {
	if err := q.sendPoison(ctx, e, text); err != nil {
		return err
	}
	if _, err := q.main.DeleteMessage(ctx, id, pop, nil); err != nil && !stalePopReceipt(err) {
		return wrap("receive: copied a message to the poison queue but did not delete it, so it may be dead-lettered twice", q.URL(), err)
	}
	return nil
}

// idSep separates the message ID (a GUID) from the pop receipt in
// Message.ID.
const idSep = ":"

// parseID splits a Message.ID.
func (q *Queue) parseID(op, id string) (messageID, popReceipt string, err error) {
	messageID, popReceipt, ok := strings.Cut(id, idSep)
	if !ok || messageID == "" || popReceipt == "" {
		return "", "", fmt.Errorf("azure queue %s %s: %w: message ID %q is not <message ID>%s<pop receipt>", op, q.URL(), domain.ErrInvalid, id, idSep)
	}
	return messageID, popReceipt, nil
}

// Ack implements queue.Queue: Delete Message with the delivery's pop
// receipt. A stale pop receipt (the message was delivered again, or is
// already deleted) is not an error, and the service leaves the newer
// delivery alone.
func (q *Queue) Ack(ctx context.Context, id string) error {
	msgID, pop, err := q.parseID("ack", id)
	if err != nil {
		return err
	}
	if _, err := q.main.DeleteMessage(ctx, msgID, pop, nil); err != nil && !stalePopReceipt(err) {
		return wrap("ack", q.URL(), err)
	}
	q.forget(id)
	return nil
}

// Nack implements queue.Queue. It rewrites the message as an envelope
// holding the body, the attempt count and reason (Update Message), made
// visible after delay, rounded up to whole seconds (domain.ErrInvalid
// outside 0 to 7 days). So the reason travels with the message: if a
// later attempt times out and the body is dead-lettered, the dead letter
// reports it. A reason that would push the envelope over the message
// limit is cut short; a body within 80 bytes of MaxBodyBytes
// leaves no room and is put back as it was, without its reason.
//
// When the delivery was the last attempt MaxAttempts allows, Nack moves
// the body to the poison queue at once, with the reason "gave up after N
// attempts: reason", instead of leaving it to the next Receive.
//
// Nack needs the delivery to have been received by this Queue value (the
// rewrite needs the body, which the service returns only on receipt); a
// delivery that is not, or is no longer in flight, is domain.ErrNotFound.
func (q *Queue) Nack(ctx context.Context, id string, delay time.Duration, reason string) error {
	msgID, pop, err := q.parseID("nack", id)
	if err != nil {
		return err
	}
	if delay < 0 || delay > MaxVisibility {
		return fmt.Errorf("azure queue nack %s: %w: delay %s is not between 0 and 7 days", q.URL(), domain.ErrInvalid, delay)
	}
	d, err := q.delivery("nack", id)
	if err != nil {
		return err
	}
	if d.attempt >= q.opts.MaxAttempts {
		return q.deadLetter(ctx, "nack", msgID, pop, id, d, fmt.Sprintf("gave up after %d attempts: %s", d.attempt, reason))
	}
	text, ok := encodeEnvelope(envelope{Body: d.body, Attempts: d.attempt, Reason: reason, At: q.opts.Now().UTC()})
	if !ok {
		text = d.text
	}
	_, err = q.main.UpdateMessage(ctx, msgID, pop, text, &azqueue.UpdateMessageOptions{VisibilityTimeout: to.Ptr(seconds(delay, 0))})
	if err != nil {
		if stalePopReceipt(err) {
			q.forget(id)
			return fmt.Errorf("azure queue nack %s: %w: the delivery is no longer in flight: %w", q.URL(), domain.ErrNotFound, err)
		}
		return wrap("nack", q.URL(), err)
	}
	q.forget(id)
	return nil
}

// Reject implements queue.Queue: it writes the body to the poison queue
// in an envelope with the reason, then deletes the message. A delivery
// that this Queue value did not receive, or that is no longer in flight,
// is domain.ErrNotFound. If the copy succeeded but the delete failed, the
// error says so: the body is in the poison queue and may be delivered
// again.
func (q *Queue) Reject(ctx context.Context, id string, reason string) error {
	msgID, pop, err := q.parseID("reject", id)
	if err != nil {
		return err
	}
	d, err := q.delivery("reject", id)
	if err != nil {
		return err
	}
	return q.deadLetter(ctx, "reject", msgID, pop, id, d, reason)
}

// delivery returns what Receive kept of delivery id.
func (q *Queue) delivery(op, id string) (*delivery, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.deliveries[id]
	if d == nil {
		return nil, fmt.Errorf("azure queue %s %s: %w: no delivery %.40s… in flight from this queue handle (the service returns a body only on receipt)",
			op, q.URL(), domain.ErrNotFound, id)
	}
	return d, nil
}

// deadLetter moves delivery id to the poison queue with reason. It first
// checks, with Update Message, that the delivery is still the current one
// and keeps it hidden while it copies it; a crash between the copy and the
// delete leaves a duplicate, never a loss.
func (q *Queue) deadLetter(ctx context.Context, op, msgID, pop, id string, d *delivery, reason string) error {
	held, err := q.main.UpdateMessage(ctx, msgID, pop, d.text, &azqueue.UpdateMessageOptions{VisibilityTimeout: to.Ptr(seconds(holdTimeout, 0))})
	if err != nil {
		if stalePopReceipt(err) {
			q.forget(id)
			return fmt.Errorf("azure queue %s %s: %w: the delivery is no longer in flight: %w", op, q.URL(), domain.ErrNotFound, err)
		}
		return wrap(op, q.URL(), err)
	}
	if err := q.sendPoison(ctx, envelope{Body: d.body, Attempts: d.attempt, Reason: reason}, d.text); err != nil {
		return fmt.Errorf("azure queue %s %s: %w", op, q.URL(), err)
	}
	if _, err := q.main.DeleteMessage(ctx, msgID, deref(held.PopReceipt), nil); err != nil && !stalePopReceipt(err) {
		return wrap(op+": copied to the poison queue but not deleted, so it may be delivered again", q.URL(), err)
	}
	q.forget(id)
	return nil
}

// SendPoison puts body on the poison queue with the number of attempts
// and the reason, as Reject does, for hosts that did not receive the
// message through this Queue: the Functions host delivers a queue
// message to the handler itself and deletes it when the handler
// succeeds, so the handler dead-letters a message it refuses with this
// and reports success. The poison queue is created if missing. A body
// over MaxBodyBytes is domain.ErrInvalid; one within 80 bytes of it is
// dead-lettered without its reason (see Nack).
func (q *Queue) SendPoison(ctx context.Context, body []byte, attempts int, reason string) error {
	return q.sendPoison(ctx, envelope{Body: body, Attempts: max(attempts, 1), Reason: reason}, "")
}

// sendPoison writes e, stamped with the time, to the poison queue,
// creating the queue if it is missing. A body too large for an envelope
// goes there bare, as the Functions host moves a message: raw, the
// message text it came in, or else its base64; DeadLetters lists it with
// HostMovedReason, or with the reason of an earlier Nack that raw holds.
func (q *Queue) sendPoison(ctx context.Context, e envelope, raw string) error {
	e.At = q.opts.Now().UTC()
	text, ok := encodeEnvelope(e)
	switch {
	case ok:
	case raw != "":
		text = raw
	default:
		if err := checkBody(e.Body); err != nil {
			return fmt.Errorf("azure queue send to poison queue %s: %w: %w", q.PoisonURL(), domain.ErrInvalid, err)
		}
		text = encodeBody(e.Body)
	}
	opts := &azqueue.EnqueueMessageOptions{TimeToLive: to.Ptr[int32](-1)}
	_, err := q.poison.EnqueueMessage(ctx, text, opts)
	if queueMissing(err) {
		if _, cerr := q.poison.Create(ctx, nil); cerr != nil && !hasCode(cerr, "QueueAlreadyExists") {
			return wrap("create poison queue", q.PoisonURL(), cerr)
		}
		_, err = q.poison.EnqueueMessage(ctx, text, opts)
	}
	return wrap("send to poison queue", q.PoisonURL(), err)
}

// DeadLetters implements queue.Queue: the poison queue's messages,
// ordered by time. An envelope written by this driver gives the body,
// attempts, reason and time of dead-lettering. A raw message, which the
// Functions host moved there itself, gives its body (base64-decoded when
// it is base64), HostMovedReason, MaxAttempts as Attempts and the time it
// was moved. A missing poison queue has no dead letters.
//
// Peek Messages returns at most 32 messages and always the first ones, so
// a poison queue holding 32 or more is read instead with Get Messages,
// which hides each message for 30 seconds and adds one to its
// DequeueCount, and every message is then made visible again with Update
// Message: the listing consumes nothing, but while it runs (and for up
// to 30 s if giving a message back fails, which the error then says)
// another reader sees fewer messages. Messages another reader holds
// hidden are not listed. A listing stops at 5,000 dead letters, with an
// error saying it is incomplete.
func (q *Queue) DeadLetters(ctx context.Context) ([]queue.DeadLetter, error) {
	peeked, err := q.poison.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr[int32](maxBatch)})
	if err != nil {
		if queueMissing(err) {
			return nil, nil
		}
		return nil, wrap("list dead letters", q.PoisonURL(), err)
	}
	var out []queue.DeadLetter
	if len(peeked.Messages) < maxBatch {
		for _, m := range peeked.Messages {
			if m != nil {
				out = append(out, q.toDeadLetter(deref(m.MessageText), deref(m.InsertionTime)))
			}
		}
	} else if out, err = q.readAllPoison(ctx); err != nil && out == nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, err
}

// readAllPoison lists the poison queue with Get Messages and gives every
// message back.
func (q *Queue) readAllPoison(ctx context.Context) ([]queue.DeadLetter, error) {
	type held struct{ id, pop, text string }
	var (
		out     []queue.DeadLetter
		holds   []held
		listErr error
	)
	for len(out) < maxDeadLetters {
		resp, err := q.poison.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
			NumberOfMessages:  to.Ptr[int32](maxBatch),
			VisibilityTimeout: to.Ptr(seconds(holdTimeout, 1)),
		})
		if err != nil {
			listErr = wrap("list dead letters", q.PoisonURL(), err)
			break
		}
		for _, m := range resp.Messages {
			if m == nil || m.MessageID == nil || m.PopReceipt == nil {
				continue
			}
			holds = append(holds, held{*m.MessageID, *m.PopReceipt, deref(m.MessageText)})
			out = append(out, q.toDeadLetter(deref(m.MessageText), deref(m.InsertionTime)))
		}
		if len(resp.Messages) < maxBatch {
			break
		}
	}
	if listErr == nil && len(out) >= maxDeadLetters {
		listErr = fmt.Errorf("azure queue list dead letters %s: more than %d dead letters; listed the first %d", q.PoisonURL(), maxDeadLetters, len(out))
	}
	// Give them back, even when ctx is done, within holdTimeout, a few
	// at a time.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), holdTimeout)
	defer cancel()
	var (
		mu     sync.Mutex
		failed []error
		wg     sync.WaitGroup
		next   = make(chan held)
	)
	for range min(8, len(holds)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range next {
				if _, err := q.poison.UpdateMessage(gctx, h.id, h.pop, h.text, &azqueue.UpdateMessageOptions{VisibilityTimeout: to.Ptr[int32](0)}); err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, h := range holds {
		next <- h
	}
	close(next)
	wg.Wait()
	if len(failed) > 0 {
		giveBack := wrap("list dead letters: give back", q.PoisonURL(),
			fmt.Errorf("%d of %d messages stay hidden for up to %s: %w", len(failed), len(holds), holdTimeout, errors.Join(failed...)))
		listErr = errors.Join(listErr, giveBack)
	}
	return out, listErr
}

// toDeadLetter reads a message of the poison queue.
func (q *Queue) toDeadLetter(text string, inserted time.Time) queue.DeadLetter {
	if e, ok := decodeEnvelope(text); ok {
		return queue.DeadLetter{Body: e.Body, Attempts: e.Attempts, Reason: e.Reason, At: e.At}
	}
	dl := queue.DeadLetter{Body: []byte(text), Attempts: q.opts.MaxAttempts, Reason: HostMovedReason, At: inserted}
	if body, err := base64.StdEncoding.DecodeString(text); err == nil {
		dl.Body = body
	}
	return dl
}

// ensure creates the queue and its poison queue once, when
// CreateIfMissing asks for it.
func (q *Queue) ensure(ctx context.Context) error {
	if !q.opts.CreateIfMissing {
		return nil
	}
	q.mu.Lock()
	done := q.created
	q.mu.Unlock()
	if done {
		return nil
	}
	for _, c := range []*azqueue.QueueClient{q.main, q.poison} {
		// Creating an existing queue without metadata succeeds (204);
		// QueueAlreadyExists means it exists with other metadata.
		if _, err := c.Create(ctx, nil); err != nil && !hasCode(err, "QueueAlreadyExists") {
			return wrap("create queue", redact(c.URL()), err)
		}
	}
	q.mu.Lock()
	q.created = true
	q.mu.Unlock()
	return nil
}

// forget drops what Receive kept of delivery id.
func (q *Queue) forget(id string) {
	q.mu.Lock()
	delete(q.deliveries, id)
	q.mu.Unlock()
}

// forgetExpired drops deliveries whose visibility timeout ended long
// ago: the service has delivered them again or will, under a new pop
// receipt.
func (q *Queue) forgetExpired(now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for id, d := range q.deliveries {
		if now.Sub(d.hidden) > q.opts.Visibility+time.Minute {
			delete(q.deliveries, id)
		}
	}
}

// seconds rounds d up to whole seconds, at least least.
func seconds(d time.Duration, least int32) int32 {
	s := int32((d + time.Second - 1) / time.Second)
	return max(s, least)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
