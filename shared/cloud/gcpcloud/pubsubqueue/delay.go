package pubsubqueue

import (
	"context"
	"fmt"
	"maps"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// MaxDelay is the longest delay SendDelayed takes: the longest time a
// subscription retains a message (Ensure sets it).
const MaxDelay = 7 * 24 * time.Hour

// SendDelayed enqueues body to become visible after delay, at most
// MaxDelay: how a host puts back a message held by the blast-radius cap or
// deferred by the kill switch, as a new message whose wait counts no
// attempt. Pub/Sub has no delayed delivery: the message is published at
// once with NotBeforeAttribute, and Receive keeps it from the caller until
// then (see doc.go for what that costs). A zero delay is Send.
func (q *Queue) SendDelayed(ctx context.Context, body []byte, delay time.Duration) error {
	if delay < 0 || delay > MaxDelay {
		return fmt.Errorf("pubsub send delayed %s: %w: delay %s is outside 0..%s", q.topic, domain.ErrInvalid, delay, MaxDelay)
	}
	if delay == 0 {
		return q.Send(ctx, body)
	}
	due := q.cfg.Now().Add(delay).UTC().Format(time.RFC3339Nano)
	return q.publish(ctx, "send delayed", q.topic, body, map[string]string{NotBeforeAttribute: due})
}

// NotBefore returns the time a message's attributes say it is due, and
// whether they say so. A host consuming the subscription by push (where
// Receive does not run) must honour it too: answer a message that is not
// due yet with a failure, so that Pub/Sub delivers it again later. A
// malformed time counts as no time: the message is due.
func NotBefore(attrs map[string]string) (time.Time, bool) {
	v, ok := attrs[NotBeforeAttribute]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// holdDelayed deals with a pulled message that carries NotBeforeAttribute
// due at nb. One that is not due yet is hidden until it is, for at most
// MaxAckDeadline at a time. Each of those pulls is a delivery attempt
// for Pub/Sub, so before the dead-letter policy would move it, the
// message is re-published afresh, its attempts at zero. One that is due
// is re-published without NotBeforeAttribute, with FirstSentAttribute,
// and acknowledged: the caller sees it from its first attempt.
func (q *Queue) holdDelayed(ctx context.Context, rm *pubsubpb.ReceivedMessage, nb time.Time) error {
	now := q.cfg.Now()
	m := rm.GetMessage()
	attrs := maps.Clone(m.GetAttributes())
	attrs[FirstSentAttribute] = sentAt(m).UTC().Format(time.RFC3339Nano)
	switch {
	case !now.Before(nb):
		delete(attrs, NotBeforeAttribute)
	case rm.GetDeliveryAttempt() < int32(max(q.cfg.MaxAttempts, 2)):
		return q.modifyAckDeadline(ctx, "receive: hide a delayed message", q.sub, nb.Sub(now), rm.GetAckId())
	}
	if err := q.publish(ctx, "receive: re-publish a delayed message", q.topic, m.GetData(), attrs); err != nil {
		return err
	}
	return q.acknowledge(ctx, "receive: re-published a delayed message but did not acknowledge it, so it may come twice", q.sub, rm.GetAckId())
}
