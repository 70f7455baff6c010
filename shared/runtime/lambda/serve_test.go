package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda/lambdatest"
)

var (
	buildDir       string
	bootstrapOnce  sync.Once
	bootstrapPath  string
	bootstrapError error
)

func TestMain(m *testing.M) {
	var err error
	buildDir, err = os.MkdirTemp("", "lambda-bootstrap-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// bootstrap builds testdata/bootstrap once per test binary.
func bootstrap(t *testing.T) string {
	t.Helper()
	bootstrapOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		bootstrapPath, bootstrapError = lambdatest.Build(ctx, "./testdata/bootstrap", buildDir)
	})
	if bootstrapError != nil {
		t.Fatal(bootstrapError)
	}
	return bootstrapPath
}

// TestServeUnderTheRuntimeAPI runs every function's real runtime loop
// (Serve, aws-lambda-go, -tags lambda.norpc) in its own process under the
// Runtime API harness, with the sample events.
func TestServeUnderTheRuntimeAPI(t *testing.T) {
	bin := bootstrap(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	signed := func(t *testing.T) []byte {
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(sample(t, "approve.function-url.json"), &ev); err != nil {
			t.Fatal(err)
		}
		ev.Headers["x-cloudtrim-timestamp"], ev.Headers["x-cloudtrim-signature"] = approve.Sign(secret, time.Now(), []byte(ev.Body))
		b, _ := json.Marshal(ev)
		return b
	}
	type invocation struct {
		event []byte
		want  any // the decoded payload, or the *lambdatest.InvokeError
	}
	tests := []struct {
		function    string
		invocations []invocation
	}{
		{"collect-aws", []invocation{
			{sample(t, "collect-aws.scheduled.json"), map[string]any{"cloud": "aws", "source": "aws.scheduler",
				"event_id": "8d3f0c2e-6b1a-4f57-9e2d-7c4b5a6e1f03", "scheduled_at": "2026-11-23T06:00:00Z"}},
			{[]byte(`{"days": 3, "regions": ["eu-west-1"]}`), map[string]any{"cloud": "aws", "days": 3.0, "regions": []any{"eu-west-1"}}},
		}},
		{"collect-azure", []invocation{{[]byte(`{}`), map[string]any{"cloud": "azure"}}}},
		{"collect-gcp", []invocation{{[]byte(`{"days": 120}`), &lambdatest.InvokeError{Type: "EventError",
			Message: "collect-gcp: invalid event: \"days\" must be a whole number from 1 to 90, got 120 (want " + collectWant + ")"}}}},
		{"optimize", []invocation{
			{sample(t, "optimize.s3-manifest.json"), map[string]any{"optimized": []any{map[string]any{
				"bucket": "cloudtrim-lake-example", "key": "snapshots/cloud=aws/run=" + sampleRun + "/_manifest.json", "cloud": "aws",
				"run_id": sampleRun, "etag": "9b2cf535f27731c974343645a3985328", "result": map[string]any{"plan_id": "plan-" + sampleRun},
			}}}},
			{sample(t, "optimize.s3-other.json"), map[string]any{"optimized": []any{}, "ignored": []any{map[string]any{
				"bucket": "cloudtrim-lake-example", "key": "snapshots/cloud=aws/run=" + sampleRun + "/resources/account=123456789012/date=2026-11-23/part-00000.parquet",
				"reason": "not a snapshot manifest (snapshots/cloud=<cloud>/run=<run>/_manifest.json)",
			}}}},
		}},
		{"approve", []invocation{
			{signed(t), map[string]any{"statusCode": 200.0, "headers": map[string]any{"Content-Type": "application/json"},
				"body":            `{"plan_id":"plan-20261123T063000.000Z-5a6b7c8d","approved":null,"rejected":null,"enqueued":0,"decisions":null}` + "\n",
				"isBase64Encoded": false, "cookies": nil}},
			{sample(t, "approve.function-url.json"), map[string]any{"statusCode": 401.0, "headers": map[string]any{"Content-Type": "application/json"},
				"body": `{"error":"permission denied: request timestamp is ` + "\x00", "isBase64Encoded": false, "cookies": nil}},
		}},
		{"actuate", []invocation{{sample(t, "actuate.sqs-batch.json"), map[string]any{"batchItemFailures": []any{
			map[string]any{"itemIdentifier": "c3a9e5f1-0b2d-4a6c-8e7f-1d2b3c4a5e6f"},
		}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			h := lambdatest.Start(t, lambdatest.Options{Binary: bin, FunctionName: tt.function,
				Env: []string{"TEST_WEBHOOK_SECRET=" + string(secret), "TEST_RETRY_KIND=" + string(domain.ActionDeleteDisk)}})
			invocations := append(tt.invocations, invocation{sample(t, "malformed.json"), &lambdatest.InvokeError{Type: "EventError"}})
			var requestIDs []string
			for i, inv := range invocations {
				res := h.Invoke(t.Context(), inv.event)
				requestIDs = append(requestIDs, res.RequestID)
				if wantErr, ok := inv.want.(*lambdatest.InvokeError); ok {
					if res.Err == nil || res.Err.Type != wantErr.Type || !strings.HasPrefix(res.Err.Message, tt.function+": invalid event: ") ||
						(wantErr.Message != "" && res.Err.Message != wantErr.Message) {
						t.Errorf("invocation %d: Err = %v; want %v", i, res.Err, wantErr)
					}
					continue
				}
				if res.Err != nil {
					t.Errorf("invocation %d: %v", i, res.Err)
					continue
				}
				var got any
				if err := json.Unmarshal(res.Payload, &got); err != nil {
					t.Fatalf("invocation %d: %s: %v", i, res.Payload, err)
				}
				if diff := cmp.Diff(inv.want, got, cmp.Comparer(prefixedBody)); diff != "" {
					t.Errorf("invocation %d response (-want +got):\n%s", i, diff)
				}
			}
			if ex := h.Stop(); ex != (lambdatest.Exit{}) {
				t.Errorf("Stop() = %+v; want a clean exit on SIGTERM", ex)
			}
			checkLogs(t, h.Stderr(), tt.function, requestIDs)
		})
	}
}

// prefixedBody compares strings, a want ending in "\x00" being a prefix.
func prefixedBody(want, got string) bool {
	if w, ok := strings.CutSuffix(want, "\x00"); ok {
		return strings.HasPrefix(got, w)
	}
	if w, ok := strings.CutSuffix(got, "\x00"); ok {
		return strings.HasPrefix(want, w)
	}
	return want == got
}

// checkLogs checks that the function logged JSON records naming it, at
// least one per invocation with its request ID, and "shutting down".
func checkLogs(t *testing.T, stderr, function string, requestIDs []string) {
	t.Helper()
	seen := map[string]bool{}
	shutdown := false
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // aws-lambda-go prints each error it reports
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line %q: %v", line, err)
			continue
		}
		if rec["function"] != function {
			t.Errorf("log line %s does not name the function %s", line, function)
		}
		if id, ok := rec["request_id"].(string); ok {
			seen[id] = true
		}
		shutdown = shutdown || rec["msg"] == "shutting down"
	}
	for _, id := range requestIDs {
		if !seen[id] {
			t.Errorf("no log record of request %s", id)
		}
	}
	if !shutdown {
		t.Errorf("no shutting down record in:\n%s", stderr)
	}
}

func TestServeRefuses(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	var called []string
	err := Serve(t.Context(), "optimize", allHandlers(&called), nil)
	if err == nil || !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "AWS_LAMBDA_RUNTIME_API is not set") {
		t.Errorf("Serve outside Lambda = %v; want an error saying so", err)
	}
	if err := Serve(t.Context(), "report", allHandlers(&called), nil); err == nil || !strings.Contains(err.Error(), `unknown function "report"`) {
		t.Errorf("Serve(report) = %v; want an unknown function error", err)
	}
}
