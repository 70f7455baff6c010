package pubsubqueue

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Ensure creates what the queue needs, where it is missing: the topic and
// the dead-letter topic, the dead-letter subscription (no dead-letter
// policy of its own), then the subscription with the ack deadline of
// Config and a dead-letter policy of MaxAttempts+1 deliveries to the
// dead-letter topic; both subscriptions retain messages for MaxDelay. The
// dead-letter subscription comes first: Pub/Sub drops what is published
// to a topic without subscriptions.
//
// An existing subscription is left as it is if it matches; one on another
// topic, or with another ack deadline or dead-letter policy, is
// domain.ErrConflict naming the difference. Ensure does not grant the
// Pub/Sub service agent the roles its dead-letter policy needs
// (publisher on the dead-letter topic, subscriber on the subscription):
// the deployment does.
func (q *Queue) Ensure(ctx context.Context) error {
	for _, t := range []string{q.topic, q.dlTopic} {
		_, err := call(ctx, q, "create topic", t, func(ctx context.Context) (*pubsubpb.Topic, error) {
			return q.client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: t})
		})
		if err != nil && status.Code(err) != codes.AlreadyExists {
			return err
		}
	}
	deadline := seconds(q.cfg.AckDeadline)
	for _, want := range []*pubsubpb.Subscription{
		{Name: q.dlSub, Topic: q.dlTopic, AckDeadlineSeconds: deadline, MessageRetentionDuration: durationpb.New(MaxDelay)},
		{
			Name: q.sub, Topic: q.topic, AckDeadlineSeconds: deadline, MessageRetentionDuration: durationpb.New(MaxDelay),
			DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{DeadLetterTopic: q.dlTopic, MaxDeliveryAttempts: int32(q.cfg.MaxAttempts + 1)},
		},
	} {
		_, err := call(ctx, q, "create subscription", want.Name, func(ctx context.Context) (*pubsubpb.Subscription, error) {
			return q.client.SubscriptionAdminClient.CreateSubscription(ctx, want)
		})
		if status.Code(err) != codes.AlreadyExists {
			if err != nil {
				return err
			}
			continue
		}
		got, err := call(ctx, q, "get subscription", want.Name, func(ctx context.Context) (*pubsubpb.Subscription, error) {
			return q.client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: want.Name})
		})
		if err != nil {
			return err
		}
		if diff := subscriptionDiff(want, got); diff != "" {
			return fmt.Errorf("pubsub ensure %s: %w: the subscription exists with %s", want.Name, domain.ErrConflict, diff)
		}
	}
	return nil
}

// subscriptionDiff says how got differs from want in what the queue
// relies on, or "".
func subscriptionDiff(want, got *pubsubpb.Subscription) string {
	var diffs []string
	if got.GetTopic() != want.GetTopic() {
		diffs = append(diffs, fmt.Sprintf("topic %s (want %s)", got.GetTopic(), want.GetTopic()))
	}
	if got.GetAckDeadlineSeconds() != want.GetAckDeadlineSeconds() {
		diffs = append(diffs, fmt.Sprintf("ack deadline %ds (want %ds)", got.GetAckDeadlineSeconds(), want.GetAckDeadlineSeconds()))
	}
	gp, wp := got.GetDeadLetterPolicy(), want.GetDeadLetterPolicy()
	if gp.GetDeadLetterTopic() != wp.GetDeadLetterTopic() || gp.GetMaxDeliveryAttempts() != wp.GetMaxDeliveryAttempts() {
		diffs = append(diffs, fmt.Sprintf("dead-letter policy %s after %d deliveries (want %s after %d)",
			orNone(gp.GetDeadLetterTopic()), gp.GetMaxDeliveryAttempts(), orNone(wp.GetDeadLetterTopic()), wp.GetMaxDeliveryAttempts()))
	}
	return strings.Join(diffs, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
