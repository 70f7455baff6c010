package gcpfunc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// The CloudEvent types the functions take: Eventarc delivers Pub/Sub
// messages and Cloud Storage notifications as these, and the Functions
// Framework turns a Pub/Sub push body into the first.
const (
	TypePubSubMessage   = "google.cloud.pubsub.topic.v1.messagePublished"
	TypeObjectFinalized = "google.cloud.storage.object.v1.finalized"
)

// Handlers are the functions of the binary; a nil one is not served.
type Handlers struct {
	// Collect runs one scheduled collection.
	Collect func(ctx context.Context) (any, error)
	// Optimize plans after the snapshot manifest at key (a key in the
	// lake) was committed.
	Optimize func(ctx context.Context, key string) (any, error)
	// Actuate handles one action message; an error leaves it to Pub/Sub's
	// redelivery.
	Actuate func(ctx context.Context, msg funcapp.Message) error
	// Queue puts an action message that is not due yet back, and one
	// that cannot be read on the dead-letter topic.
	Queue funcapp.Queue
	// MaxDeliveryAttempts is the actions subscription's dead-letter
	// policy: an early message is sent again, not refused, when it has
	// come this often less one.
	MaxDeliveryAttempts int
	// Approve serves the approval channels.
	Approve http.Handler
	// Bucket is the lake's bucket and Prefix its key prefix: object
	// events of other buckets or keys are ignored.
	Bucket, Prefix string
	Now            func() time.Time
}

// Ignored is what a function answers for an event it had nothing to do
// for (an object that is not a snapshot manifest).
type Ignored struct {
	Ignored string `json:"ignored"`
	Reason  string `json:"reason"`
}

// errPermanent marks failures a redelivery cannot mend (a malformed
// event, a configuration refusal): the event is acknowledged, with the
// error logged, rather than sent again until Pub/Sub gives up.
var errPermanent = errors.New("permanent")

// settle turns a function's outcome into the CloudEvent handler's
// answer: nil acknowledges the event, an error makes Eventarc and
// Pub/Sub send it again with backoff.
func settle(ctx context.Context, log *slog.Logger, name string, start time.Time, out any, err error) error {
	switch {
	case err == nil:
		log.InfoContext(ctx, "invocation done", "function", name, "duration_ms", time.Since(start).Milliseconds(), "result", out)
		return nil
	case errors.Is(err, errPermanent) || errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrUnsupported) || errors.Is(err, domain.ErrPermission):
		log.ErrorContext(ctx, "invocation failed; the event is acknowledged: sending it again cannot succeed", "function", name, "error", err)
		return nil
	}
	log.ErrorContext(ctx, "invocation failed; the event will be sent again", "function", name, "error", err)
	return fmt.Errorf("%s: %w", name, err)
}

// PubSubMessage is the data of a messagePublished CloudEvent, which is
// also the body of a Pub/Sub push request.
type PubSubMessage struct {
	Message struct {
		Data        []byte            `json:"data"`
		Attributes  map[string]string `json:"attributes"`
		MessageID   string            `json:"messageId"`
		PublishTime time.Time         `json:"publishTime"`
	} `json:"message"`
	Subscription string `json:"subscription"`
	// DeliveryAttempt is set by subscriptions with a dead-letter policy.
	DeliveryAttempt int `json:"deliveryAttempt"`
}

// pubSubMessage decodes a messagePublished event.
func pubSubMessage(e cloudevents.Event) (PubSubMessage, error) {
	var m PubSubMessage
	if e.Type() != TypePubSubMessage {
		return m, fmt.Errorf("%w: %w: CloudEvent %s has type %q, want %s", errPermanent, domain.ErrInvalid, funcapp.Clean(e.ID()), funcapp.Clean(e.Type()), TypePubSubMessage)
	}
	if err := json.Unmarshal(e.Data(), &m); err != nil {
		return m, fmt.Errorf("%w: %w: CloudEvent %s: data is not a Pub/Sub message ({\"message\": {\"data\": base64, ...}}): %v", errPermanent, domain.ErrInvalid, funcapp.Clean(e.ID()), err)
	}
	if m.Message.MessageID == "" {
		return m, fmt.Errorf("%w: %w: CloudEvent %s: the Pub/Sub message has no messageId", errPermanent, domain.ErrInvalid, funcapp.Clean(e.ID()))
	}
	if m.DeliveryAttempt < 1 {
		m.DeliveryAttempt = 1
	}
	return m, nil
}

// StorageObject is the part of a Cloud Storage object event's data the
// optimize function reads.
type StorageObject struct {
	Bucket     string `json:"bucket"`
	Name       string `json:"name"`
	Generation string `json:"generation"`
}

func (h Handlers) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// collect runs a scheduled collection for a Pub/Sub message from Cloud
// Scheduler; the message's content is not read.
func (h Handlers) collect(log *slog.Logger) func(context.Context, cloudevents.Event) error {
	return func(ctx context.Context, e cloudevents.Event) error {
		start := time.Now()
		m, err := pubSubMessage(e)
		if err != nil {
			return settle(ctx, log, TargetCollect, start, nil, err)
		}
		if age := h.now().Sub(m.Message.PublishTime); !m.Message.PublishTime.IsZero() && age > time.Hour {
			log.WarnContext(ctx, "collection is late: the schedule's message waited", "message_id", funcapp.Clean(m.Message.MessageID), "age", age.Round(time.Second))
		}
		out, err := h.Collect(ctx)
		return settle(ctx, log, TargetCollect, start, out, err)
	}
}

// optimize plans when a snapshot manifest is finalized in the lake's
// bucket; other objects are ignored.
func (h Handlers) optimize(log *slog.Logger) func(context.Context, cloudevents.Event) error {
	return func(ctx context.Context, e cloudevents.Event) error {
		start := time.Now()
		out, err := h.optimizeEvent(ctx, e)
		return settle(ctx, log, TargetOptimize, start, out, err)
	}
}

func (h Handlers) optimizeEvent(ctx context.Context, e cloudevents.Event) (any, error) {
	if e.Type() != TypeObjectFinalized {
		return nil, fmt.Errorf("%w: %w: CloudEvent %s has type %q, want %s", errPermanent, domain.ErrInvalid, funcapp.Clean(e.ID()), funcapp.Clean(e.Type()), TypeObjectFinalized)
	}
	var obj StorageObject
	if err := json.Unmarshal(e.Data(), &obj); err != nil || obj.Bucket == "" || obj.Name == "" {
		return nil, fmt.Errorf("%w: %w: CloudEvent %s: data is not a Cloud Storage object ({\"bucket\", \"name\", ...})", errPermanent, domain.ErrInvalid, funcapp.Clean(e.ID()))
	}
	if obj.Bucket != h.Bucket {
		return Ignored{Ignored: "gs://" + funcapp.Clean(obj.Bucket) + "/" + funcapp.Clean(obj.Name), Reason: "not the lake's bucket " + h.Bucket}, nil
	}
	key, ok := strings.CutPrefix(obj.Name, h.Prefix)
	if !ok || !funcapp.IsSnapshotManifest(key) {
		return Ignored{Ignored: funcapp.Clean(obj.Name), Reason: "not a snapshot manifest (snapshots/cloud=<cloud>/run=<run>/_manifest.json)"}, nil
	}
	return h.Optimize(ctx, key)
}

// actuate carries one action message through the actuator. An event
// that holds no readable message is dead-lettered with the reason and
// acknowledged; a message not due yet is refused, or sent again when it
// would otherwise reach the dead-letter policy.
func (h Handlers) actuate(log *slog.Logger) func(context.Context, cloudevents.Event) error {
	return func(ctx context.Context, e cloudevents.Event) error {
		start := time.Now()
		m, err := pubSubMessage(e)
		if err != nil {
			if dlErr := h.Queue.SendDeadLetter(ctx, e.Data(), 1, err.Error()); dlErr != nil {
				return settle(ctx, log, TargetActuate, start, nil, fmt.Errorf("dead-letter an unreadable event: %w", dlErr))
			}
			return settle(ctx, log, TargetActuate, start, nil, err)
		}
		msg := funcapp.Message{ID: m.Message.MessageID, Body: m.Message.Data, Attempt: m.DeliveryAttempt}
		mlog := log.With("message_id", funcapp.Clean(msg.ID), "attempt", msg.Attempt)
		// A held or deferred message is published at once with the time
		// it is due (pubsubqueue.SendDelayed): Pub/Sub has no delayed
		// delivery, so one delivered early is refused until then.
		if due, ok := pubsubqueue.NotBefore(m.Message.Attributes); ok {
			if wait := due.Sub(h.now()); wait > 0 {
				return h.notYetDue(ctx, mlog, msg, wait)
			}
		} else if v, set := m.Message.Attributes[pubsubqueue.NotBeforeAttribute]; set {
			mlog.WarnContext(ctx, "unreadable not-before attribute; the message is handled now", "value", funcapp.Clean(v))
		}
		err = h.Actuate(ctx, msg)
		if err != nil {
			mlog.ErrorContext(ctx, "action message left for redelivery", "error", err)
			return fmt.Errorf("%s: %w", TargetActuate, err)
		}
		mlog.InfoContext(ctx, "invocation done", "function", TargetActuate, "duration_ms", time.Since(start).Milliseconds())
		return nil
	}
}

// errNotYetDue refuses a held message delivered before it is due.
var errNotYetDue = errors.New("not due yet")

// notYetDue refuses an early message so that Pub/Sub sends it again
// after its backoff, unless one more refusal could dead-letter it: then
// it is published again (a fresh message with the same due time) and
// this delivery acknowledged, so waiting never counts towards the
// dead-letter policy.
func (h Handlers) notYetDue(ctx context.Context, log *slog.Logger, msg funcapp.Message, wait time.Duration) error {
	if msg.Attempt < h.MaxDeliveryAttempts-1 {
		log.InfoContext(ctx, "action message not due yet", "wait", wait.Round(time.Second))
		return fmt.Errorf("%s: %w (%s more)", TargetActuate, errNotYetDue, wait.Round(time.Second))
	}
	if err := h.Queue.SendDelayed(ctx, msg.Body, wait); err != nil {
		return fmt.Errorf("%s: send a waiting message again: %w", TargetActuate, err)
	}
	log.InfoContext(ctx, "action message sent again to wait out its hold", "wait", wait.Round(time.Second))
	return nil
}
