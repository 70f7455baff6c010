// Command bootstrap serves one cloudtrim function, named by
// AWS_LAMBDA_FUNCTION_NAME, through lambda.Serve with stand-in handlers,
// for the tests that run Serve under the Lambda Runtime API harness.
// Approve checks signatures with TEST_WEBHOOK_SECRET through the real
// webhook adapter; Actuate dead-letters malformed messages itself and
// leaves actions of kind TEST_RETRY_KIND for redelivery.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda"
)

type approver struct{ secret []byte }

func (a approver) Handle(_ context.Context, req approve.Request) (approve.Result, error) {
	if err := approve.Verify([][]byte{a.secret}, req.Timestamp, req.Signature, req.Body, time.Now(), approve.DefaultWindow); err != nil {
		return approve.Result{}, err
	}
	var b approve.Body
	if err := json.Unmarshal(req.Body, &b); err != nil {
		return approve.Result{}, fmt.Errorf("%w: body: %v", domain.ErrInvalid, err)
	}
	return approve.Result{PlanID: b.PlanID}, nil
}

func main() {
	name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	logger := lambda.NewLogger(os.Stderr, name, lambda.LogLevel(os.Getenv))
	h := lambda.Handlers{
		Collect: func(ctx context.Context, req lambda.CollectRequest) (any, error) {
			logger.InfoContext(ctx, "collecting", "cloud", req.Cloud)
			return req, nil
		},
		Optimize: func(ctx context.Context, m lambda.SnapshotManifest) (any, error) {
			return map[string]string{"plan_id": "plan-" + m.RunID}, nil
		},
		Approve: httpapi.ApproveHandler(approver{secret: []byte(os.Getenv("TEST_WEBHOOK_SECRET"))}, logger),
		Actuate: func(ctx context.Context, m lambda.Message) error {
			var qa domain.QueuedAction
			if err := json.Unmarshal(m.Body, &qa); err != nil {
				logger.WarnContext(ctx, "dead-lettered", "message_id", m.ID, "reason", err.Error())
				return nil
			}
			if string(qa.Action.Kind) == os.Getenv("TEST_RETRY_KIND") {
				return errors.New("throttled")
			}
			return nil
		},
	}
	if err := lambda.Serve(context.Background(), name, h, logger); err != nil {
		logger.Error("serve", "error", err)
		os.Exit(1)
	}
}
