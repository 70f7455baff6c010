package pubsubqueue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// noRetries makes the client give every error back at once.
var noRetries = func() *pubsub.ClientConfig {
	never := []gax.CallOption{gax.WithRetry(func() gax.Retryer { return nil })}
	return &pubsub.ClientConfig{
		TopicAdminCallOptions:        &vkit.TopicAdminCallOptions{Publish: never},
		SubscriptionAdminCallOptions: &vkit.SubscriptionAdminCallOptions{Pull: never, Acknowledge: never, ModifyAckDeadline: never},
	}
}()

// TestErrorKinds has the emulator answer Publish, Pull and Acknowledge
// with each gRPC code and checks the domain kind of the driver's error,
// which names the call and the resource and keeps the status.
func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		code codes.Code
		kind error // nil: transient, of no kind
	}{
		{codes.NotFound, domain.ErrNotFound},
		{codes.PermissionDenied, domain.ErrPermission},
		{codes.Unauthenticated, domain.ErrPermission},
		{codes.ResourceExhausted, domain.ErrThrottled},
		{codes.Unavailable, domain.ErrThrottled},
		{codes.AlreadyExists, domain.ErrConflict},
		{codes.FailedPrecondition, domain.ErrConflict},
		{codes.InvalidArgument, domain.ErrInvalid},
		{codes.Unimplemented, domain.ErrUnsupported},
		{codes.Internal, nil},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			e := newEmulator(t,
				pstest.WithErrorInjection("Publish", tc.code, "injected"),
				pstest.WithErrorInjection("Pull", tc.code, "injected"),
				pstest.WithErrorInjection("Acknowledge", tc.code, "injected"))
			cfg := e.config()
			cfg.ClientConfig = noRetries
			q := e.handle(t, cfg)
			ctx := context.Background()
			_, recvErr := q.Receive(ctx, 1)
			for _, c := range []struct {
				op, resource string
				err          error
			}{
				{"send", q.Topic(), q.Send(ctx, []byte("x"))},
				{"receive", q.Subscription(), recvErr},
				{"ack", q.Subscription(), q.Ack(ctx, "ack-1")},
			} {
				if status.Code(c.err) != tc.code || !strings.Contains(c.err.Error(), "pubsub "+c.op+" "+c.resource) {
					t.Errorf("%s = %v; want code %v naming %s", c.op, c.err, tc.code, c.resource)
				}
				for _, k := range []error{domain.ErrNotFound, domain.ErrPermission, domain.ErrThrottled, domain.ErrConflict, domain.ErrInvalid, domain.ErrUnsupported} {
					if got := errors.Is(c.err, k); got != (k == tc.kind) {
						t.Errorf("errors.Is(%s error, %v) = %v; want %v", c.op, k, got, k == tc.kind)
					}
				}
			}
		})
	}
}

// TestCallDeadline: the client retries Unavailable on Publish for as long
// as the call's context lasts; CallTimeout ends it, with
// context.DeadlineExceeded in the error's chain.
func TestCallDeadline(t *testing.T) {
	e := newEmulator(t, pstest.WithErrorInjection("Publish", codes.Unavailable, "down"))
	cfg := e.config()
	cfg.CallTimeout, cfg.PullWait = 300*time.Millisecond, 100*time.Millisecond
	q := e.handle(t, cfg)
	err := q.Send(context.Background(), []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), q.Topic()) {
		t.Fatalf("Send against an unavailable service = %v; want DeadlineExceeded naming the topic", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Receive(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Receive with a cancelled context = %v; want context.Canceled", err)
	}
}
