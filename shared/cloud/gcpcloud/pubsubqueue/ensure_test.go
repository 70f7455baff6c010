package pubsubqueue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestEnsure creates the topics and subscriptions, with the dead-letter
// names defaulted, and checks what Pub/Sub holds; a second Ensure is a
// no-op, and one whose settings disagree with the subscription that
// exists is a conflict naming the difference.
func TestEnsure(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	cfg.AckDeadline = 90 * time.Second
	cfg.MaxAttempts = 5
	q := e.open(t, cfg)
	ctx := context.Background()
	p := "projects/" + project
	admin := e.client(t)
	for _, name := range []string{p + "/topics/" + cfg.Topic, p + "/topics/" + cfg.Topic + "-dead-letter"} {
		if _, err := admin.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: name}); err != nil {
			t.Errorf("topic %s: %v", name, err)
		}
	}
	retention := durationpb.New(7 * 24 * time.Hour)
	for _, want := range []*pubsubpb.Subscription{
		{
			Name: p + "/subscriptions/" + cfg.Subscription, Topic: p + "/topics/" + cfg.Topic, AckDeadlineSeconds: 90,
			DeadLetterPolicy:         &pubsubpb.DeadLetterPolicy{DeadLetterTopic: p + "/topics/" + cfg.Topic + "-dead-letter", MaxDeliveryAttempts: 6},
			MessageRetentionDuration: retention,
		},
		{
			Name: p + "/subscriptions/" + cfg.Subscription + "-dead-letter", Topic: p + "/topics/" + cfg.Topic + "-dead-letter",
			AckDeadlineSeconds: 90, MessageRetentionDuration: retention,
		},
	} {
		got, err := admin.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: want.Name})
		if err != nil {
			t.Fatalf("subscription %s: %v", want.Name, err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&pubsubpb.Subscription{},
			"push_config", "state", "topic_message_retention_duration")); diff != "" {
			t.Errorf("subscription %s (-want +got):\n%s", want.Name, diff)
		}
	}
	if err := q.Ensure(ctx); err != nil {
		t.Errorf("second Ensure = %v; want nil", err)
	}

	for _, tc := range []struct {
		change func(*pubsubqueue.Config)
		want   string
	}{
		{func(c *pubsubqueue.Config) { c.MaxAttempts = 9 }, "after 6 deliveries (want " + p + "/topics/" + cfg.Topic + "-dead-letter after 10)"},
		{func(c *pubsubqueue.Config) { c.AckDeadline = time.Minute }, "ack deadline 90s (want 60s)"},
		{func(c *pubsubqueue.Config) { c.DeadLetterTopic = "elsewhere" }, "topic " + p + "/topics/" + cfg.Topic + "-dead-letter (want " + p + "/topics/elsewhere)"},
	} {
		other := cfg
		tc.change(&other)
		err := e.handle(t, other).Ensure(ctx)
		if !errors.Is(err, domain.ErrConflict) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Ensure with other settings = %v; want ErrConflict saying %q", err, tc.want)
		}
	}
}

// TestMissingTopicAndSubscription uses a queue nothing was created for:
// every call is ErrNotFound naming what is missing.
func TestMissingTopicAndSubscription(t *testing.T) {
	e := newEmulator(t)
	cfg := e.config()
	q := e.handle(t, cfg)
	ctx := context.Background()
	p := "projects/" + project
	if err := q.Send(ctx, []byte("x")); !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), p+"/topics/"+cfg.Topic) {
		t.Errorf("Send = %v; want ErrNotFound naming the topic", err)
	}
	if _, err := q.Receive(ctx, 1); !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), p+"/subscriptions/"+cfg.Subscription) {
		t.Errorf("Receive = %v; want ErrNotFound naming the subscription", err)
	}
	if _, err := q.DeadLetters(ctx); !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), cfg.Subscription+"-dead-letter") {
		t.Errorf("DeadLetters = %v; want ErrNotFound naming the dead-letter subscription", err)
	}
	if err := q.SendDeadLetter(ctx, []byte("x"), 1, "r"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("SendDeadLetter = %v; want ErrNotFound", err)
	}
}

// TestConfig refuses configurations Pub/Sub or the driver cannot work
// with, before any request, and fills in the defaults.
func TestConfig(t *testing.T) {
	e := newEmulator(t)
	for name, change := range map[string]func(*pubsubqueue.Config){
		"no project":                 func(c *pubsubqueue.Config) { c.Project = "" },
		"project with a slash":       func(c *pubsubqueue.Config) { c.Project = "a/b" },
		"no topic":                   func(c *pubsubqueue.Config) { c.Topic = "" },
		"short topic":                func(c *pubsubqueue.Config) { c.Topic = "ab" },
		"topic starting with goog":   func(c *pubsubqueue.Config) { c.Topic = "google-actions" },
		"topic with a slash":         func(c *pubsubqueue.Config) { c.Topic = "a/bcd" },
		"subscription with a digit":  func(c *pubsubqueue.Config) { c.Subscription = "1abc" },
		"own dead-letter topic":      func(c *pubsubqueue.Config) { c.DeadLetterTopic = c.Topic },
		"own dead-letter sub":        func(c *pubsubqueue.Config) { c.DeadLetterSubscription = c.Subscription },
		"ack deadline of 5s":         func(c *pubsubqueue.Config) { c.AckDeadline = 5 * time.Second },
		"ack deadline of 11 minutes": func(c *pubsubqueue.Config) { c.AckDeadline = 11 * time.Minute },
		"negative MaxAttempts":       func(c *pubsubqueue.Config) { c.MaxAttempts = -1 },
		"MaxAttempts of 100":         func(c *pubsubqueue.Config) { c.MaxAttempts = 100 },
		"negative call timeout":      func(c *pubsubqueue.Config) { c.CallTimeout = -time.Second },
		"pull wait over the timeout": func(c *pubsubqueue.Config) { c.CallTimeout, c.PullWait = time.Second, 2*time.Second },
	} {
		cfg := e.config()
		change(&cfg)
		if q, err := pubsubqueue.New(context.Background(), cfg); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("New(%s) = %v, %v; want ErrInvalid", name, q, err)
		}
	}
	cfg := e.config()
	cfg.AckDeadline, cfg.MaxAttempts, cfg.PullWait = 0, 0, 0
	q := e.handle(t, cfg)
	if got, want := q.Subscription(), "projects/"+project+"/subscriptions/"+cfg.Subscription; got != want {
		t.Errorf("Subscription() = %s; want %s", got, want)
	}
	if err := q.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := e.client(t).SubscriptionAdminClient.GetSubscription(context.Background(), &pubsubpb.GetSubscriptionRequest{Subscription: q.Subscription()})
	if err != nil || got.AckDeadlineSeconds != 60 || got.DeadLetterPolicy.GetMaxDeliveryAttempts() != 5 {
		t.Errorf("default subscription: ack deadline %ds, %d deliveries, %v; want 60s and Pub/Sub's default of 5", got.GetAckDeadlineSeconds(), got.GetDeadLetterPolicy().GetMaxDeliveryAttempts(), err)
	}
}
