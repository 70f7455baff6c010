package pubsubqueue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/queue"
)

// The message attributes the driver writes.
const (
	// ReasonAttribute holds a dead letter's reason, at most 1024 bytes
	// (Pub/Sub's limit on an attribute value).
	ReasonAttribute = "cloudtrim-reason"
	// AttemptsAttribute holds how many deliveries a dead letter had, in
	// decimal.
	AttemptsAttribute = "cloudtrim-attempts"
	// FirstSentAttribute holds when a body was first published (RFC 3339),
	// on a dead letter and on a re-published delayed message.
	FirstSentAttribute = "cloudtrim-first-sent"
	// NotBeforeAttribute holds when a delayed message is due (RFC 3339).
	NotBeforeAttribute = "cloudtrim-not-before"
)

// deliveryCountAttribute is the attribute Pub/Sub sets on a message its
// dead-letter policy forwarded: how many deliveries it had.
const deliveryCountAttribute = "CloudPubSubDeadLetterSourceDeliveryCount"

// ExhaustedReason is the reason DeadLetters reports for a body that
// carries none: one Pub/Sub's dead-letter policy moved itself, and
// Receive's for a body whose last attempt timed out without a Nack.
const ExhaustedReason = "exhausted its attempts"

const (
	// maxAttributeBytes is Pub/Sub's limit on an attribute value.
	maxAttributeBytes = 1024
	// holdTimeout is the ack deadline a delivery gets while it is copied
	// to the dead-letter topic.
	holdTimeout = time.Minute
	// maxDeadLetters bounds one DeadLetters listing.
	maxDeadLetters = 10_000
	// maxAckIDs is how many ack IDs one give-back ModifyAckDeadline
	// carries, well within Pub/Sub's 512 KB request limit.
	maxAckIDs = 1000
)

// Reject implements queue.Queue: the body is published to the dead-letter
// topic with ReasonAttribute, AttemptsAttribute and FirstSentAttribute,
// then the delivery is acknowledged. Its deadline is first extended so
// that it stays hidden while it is copied: a crash in between leaves a
// duplicate, never a loss. Reject needs the delivery to have been
// received by this Queue value (Pub/Sub returns a body only on receipt);
// another is domain.ErrNotFound. Pub/Sub does not say whether an ack ID
// is still current, so a delivery whose deadline passed is dead-lettered
// all the same and may also be delivered again.
func (q *Queue) Reject(ctx context.Context, id string, reason string) error {
	if id == "" {
		return fmt.Errorf("pubsub reject %s: %w: empty message ID", q.sub, domain.ErrInvalid)
	}
	q.mu.Lock()
	d := q.deliveries[id]
	q.mu.Unlock()
	if d == nil {
		return fmt.Errorf("pubsub reject %s: %w: no delivery %.40s… in flight from this queue handle (Pub/Sub returns a body only on receipt)", q.sub, domain.ErrNotFound, id)
	}
	return q.deadLetter(ctx, "reject", id, d, d.attempt, reason)
}

// deadLetter moves delivery ackID, d, to the dead-letter topic.
func (q *Queue) deadLetter(ctx context.Context, op, ackID string, d *delivery, attempts int, reason string) error {
	if err := q.modifyAckDeadline(ctx, op, q.sub, holdTimeout, ackID); err != nil {
		return err
	}
	if err := q.publish(ctx, op+": publish to the dead-letter topic", q.dlTopic, d.body, deadLetterAttributes(attempts, reason, d.sentAt)); err != nil {
		return err
	}
	if err := q.acknowledge(ctx, op+": dead-lettered but not acknowledged, so it may be delivered again", q.sub, ackID); err != nil {
		return err
	}
	q.mu.Lock()
	delete(q.deliveries, ackID)
	delete(q.reasons, d.messageID)
	q.mu.Unlock()
	return nil
}

// SendDeadLetter publishes body to the dead-letter topic with the reason
// and the number of attempts, as Reject does, for hosts that did not
// receive the message through this Queue: a Cloud Function triggered by
// the subscription gets each message from Pub/Sub itself and
// acknowledges it by succeeding, so it dead-letters a message it refuses
// with this and succeeds. A body that is empty or over MaxBodyBytes is
// domain.ErrInvalid.
func (q *Queue) SendDeadLetter(ctx context.Context, body []byte, attempts int, reason string) error {
	return q.publish(ctx, "send dead letter", q.dlTopic, body, deadLetterAttributes(attempts, reason, time.Time{}))
}

// deadLetterAttributes are the attributes of a dead letter.
func deadLetterAttributes(attempts int, reason string, firstSent time.Time) map[string]string {
	attrs := map[string]string{
		ReasonAttribute:   clip(reason, maxAttributeBytes),
		AttemptsAttribute: strconv.Itoa(max(attempts, 1)),
	}
	if !firstSent.IsZero() {
		attrs[FirstSentAttribute] = firstSent.UTC().Format(time.RFC3339Nano)
	}
	return attrs
}

// clip makes s valid UTF-8 of at most n bytes, cut at a rune boundary and
// marked with "…" when it was longer.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// DeadLetters implements queue.Queue: the messages of the dead-letter
// subscription, ordered by the time they were dead-lettered. A message
// written by Reject, Nack, Receive or SendDeadLetter gives its reason and
// attempts from its attributes; one Pub/Sub's dead-letter policy moved
// gives ExhaustedReason and the delivery count Pub/Sub noted (else
// MaxAttempts+1, the policy's limit).
//
// Pub/Sub cannot peek: the listing pulls the whole dead-letter
// subscription, until a Pull waits PullWait for nothing (or brings only
// messages already listed), then gives every
// message back at once with ModifyAckDeadline 0. It consumes nothing,
// but while it runs (and for up to the subscription's ack deadline if
// giving back fails, which the error then says) another reader of the
// dead-letter subscription sees fewer messages, and messages another
// reader holds are not listed. Each listing counts a delivery of every
// dead letter, harmless on a subscription without a dead-letter policy.
// A listing stops at 10,000 dead letters, with an error saying it is
// incomplete.
func (q *Queue) DeadLetters(ctx context.Context) ([]queue.DeadLetter, error) {
	var (
		out     []queue.DeadLetter
		ackIDs  []string
		seen    = map[string]bool{}
		listErr error
	)
	for len(out) < maxDeadLetters {
		got, err := q.pull(ctx, "list dead letters", q.dlSub, min(maxPull, maxDeadLetters-len(out)))
		if err != nil {
			listErr = err
			break
		}
		fresh := 0
		for _, rm := range got {
			m := rm.GetMessage()
			if m == nil || rm.GetAckId() == "" {
				continue
			}
			ackIDs = append(ackIDs, rm.GetAckId())
			// A message whose deadline passed during a long listing comes
			// twice; one that keeps coming back ends the listing.
			if !seen[m.GetMessageId()] {
				seen[m.GetMessageId()] = true
				out = append(out, q.toDeadLetter(m))
				fresh++
			}
		}
		if fresh == 0 {
			break
		}
	}
	if listErr == nil && len(out) >= maxDeadLetters {
		listErr = fmt.Errorf("pubsub list dead letters %s: more than %d dead letters; listed the first %d", q.dlSub, maxDeadLetters, len(out))
	}
	// Give them back even when ctx is done.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.cfg.CallTimeout)
	defer cancel()
	for i := 0; i < len(ackIDs); i += maxAckIDs {
		batch := ackIDs[i:min(i+maxAckIDs, len(ackIDs))]
		if err := q.modifyAckDeadline(gctx, "list dead letters: give back (they stay hidden for the ack deadline)", q.dlSub, 0, batch...); err != nil {
			listErr = errors.Join(listErr, err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	if len(out) == 0 {
		return nil, listErr
	}
	return out, listErr
}

// toDeadLetter reads a message of the dead-letter subscription.
func (q *Queue) toDeadLetter(m *pubsubpb.PubsubMessage) queue.DeadLetter {
	attrs := m.GetAttributes()
	dl := queue.DeadLetter{
		Body: append([]byte(nil), m.GetData()...), Reason: ExhaustedReason,
		Attempts: q.cfg.MaxAttempts + 1, At: m.GetPublishTime().AsTime(),
	}
	if r, ok := attrs[ReasonAttribute]; ok {
		dl.Reason = r
	}
	for _, k := range []string{AttemptsAttribute, deliveryCountAttribute} {
		if n, err := strconv.Atoi(attrs[k]); err == nil && n > 0 {
			dl.Attempts = n
			break
		}
	}
	return dl
}
