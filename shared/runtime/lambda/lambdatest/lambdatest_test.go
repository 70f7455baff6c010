package lambdatest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda/lambdatest"
)

// echo is the bootstrap built from testdata/echo.
var echo string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdatest-echo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	echo, err = lambdatest.Build(ctx, "./testdata/echo", dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestInvokeEchoesTheEvent(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo})
	for _, event := range []string{`{"hello":"world"}`, `[1,2,3]`, `"text"`, `{}`} {
		res := h.Invoke(t.Context(), []byte(event))
		if res.Err != nil {
			t.Fatalf("Invoke(%s) error = %v", event, res.Err)
		}
		if string(res.Payload) != event {
			t.Errorf("Invoke(%s) = %s; want the event back", event, res.Payload)
		}
		if res.RequestID == "" {
			t.Errorf("Invoke(%s) has no request ID", event)
		}
	}
	cs := h.ColdStart()
	if cs.ToFirstNext <= 0 || cs.ToFirstResponse < cs.ToFirstNext {
		t.Errorf("ColdStart() = %+v; want a first next, then a first response", cs)
	}
}

func TestInvocationContext(t *testing.T) {
	opts := lambdatest.Options{Binary: echo, FunctionName: "cloudtrim-optimize", MemoryMiB: 512, Region: "eu-west-1",
		Timeout: time.Minute, Env: []string{"ECHO_EXTRA=yes", "AWS_REGION=eu-west-3"}}
	h := lambdatest.Start(t, opts)
	before := time.Now()
	res := h.Invoke(t.Context(), []byte(`{"context":true}`))
	after := time.Now()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var got struct {
		RequestID   string            `json:"request_id"`
		FunctionARN string            `json:"function_arn"`
		DeadlineMS  int64             `json:"deadline_ms"`
		Env         map[string]string `json:"env"`
	}
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatal(err)
	}
	if got.RequestID != res.RequestID {
		t.Errorf("request ID seen by the function = %q; want %q", got.RequestID, res.RequestID)
	}
	if want := "arn:aws:lambda:eu-west-1:123456789012:function:cloudtrim-optimize"; got.FunctionARN != want {
		t.Errorf("function ARN = %q; want %q", got.FunctionARN, want)
	}
	if lo, hi := before.Add(opts.Timeout).UnixMilli(), after.Add(opts.Timeout).UnixMilli(); got.DeadlineMS < lo || got.DeadlineMS > hi {
		t.Errorf("deadline = %d; want the timeout after the invocation, in [%d, %d]", got.DeadlineMS, lo, hi)
	}
	if !strings.HasPrefix(got.Env["_X_AMZN_TRACE_ID"], "Root=1-") {
		t.Errorf("trace ID = %q; want an X-Ray trace header", got.Env["_X_AMZN_TRACE_ID"])
	}
	delete(got.Env, "_X_AMZN_TRACE_ID")
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "cloudtrim-optimize", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
		"AWS_REGION": "eu-west-3", "_HANDLER": "bootstrap", "ECHO_EXTRA": "yes",
	}
	if diff := cmp.Diff(want, got.Env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}

func TestFunctionErrorKeepsTheProcess(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo})
	res := h.Invoke(t.Context(), []byte(`{"fail":"plan not found"}`))
	want := &lambdatest.InvokeError{Type: "echoError", Message: "plan not found"}
	if diff := cmp.Diff(want, res.Err); diff != "" {
		t.Errorf("Invoke(fail).Err (-want +got):\n%s", diff)
	}
	if res.Payload != nil {
		t.Errorf("Invoke(fail).Payload = %s; want none", res.Payload)
	}
	if res := h.Invoke(t.Context(), []byte(`{"after":"error"}`)); res.Err != nil || string(res.Payload) != `{"after":"error"}` {
		t.Errorf("Invoke after an error = %s, %v; want the event back", res.Payload, res.Err)
	}
}

func TestPanicEndsTheProcess(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo})
	res := h.Invoke(t.Context(), []byte(`{"panic":"kaboom"}`))
	if res.Err == nil || res.Err.Message != "kaboom" || len(res.Err.StackTrace) == 0 {
		t.Fatalf("Invoke(panic).Err = %+v; want the panic with its stack", res.Err)
	}
	res = h.Invoke(t.Context(), []byte(`{}`))
	if res.Err == nil || res.Err.Type != lambdatest.ErrorTypeExit {
		t.Errorf("Invoke after the panic: Err = %v; want %s", res.Err, lambdatest.ErrorTypeExit)
	}
	if ex := h.Stop(); ex.Code != 1 || ex.Killed {
		t.Errorf("Stop() = %+v; want exit status 1 (aws-lambda-go exits after a panic)", ex)
	}
}

func TestInitFailures(t *testing.T) {
	tests := []struct {
		init     string
		wantErr  *lambdatest.InvokeError
		wantCode int
	}{
		{"exit", nil, 3},
		{"error", &lambdatest.InvokeError{Type: "Runtime.InitError", Message: "echo: configuration is missing"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.init, func(t *testing.T) {
			h := lambdatest.Start(t, lambdatest.Options{Binary: echo, Env: []string{"ECHO_INIT=" + tt.init}})
			res := h.Invoke(t.Context(), []byte(`{}`))
			if tt.wantErr == nil {
				if res.Err == nil || res.Err.Type != lambdatest.ErrorTypeExit {
					t.Errorf("Invoke().Err = %v; want %s", res.Err, lambdatest.ErrorTypeExit)
				}
			} else if diff := cmp.Diff(tt.wantErr, res.Err); diff != "" {
				t.Errorf("Invoke().Err (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, h.InitError()); diff != "" {
				t.Errorf("InitError() (-want +got):\n%s", diff)
			}
			if ex := h.Stop(); ex.Code != tt.wantCode {
				t.Errorf("Stop() = %+v; want exit status %d", ex, tt.wantCode)
			}
			if cs := h.ColdStart(); cs != (lambdatest.ColdStart{}) {
				t.Errorf("ColdStart() = %+v; want none: the runtime never asked for an event", cs)
			}
		})
	}
}

func TestTimeoutKillsTheProcess(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo, Timeout: 300 * time.Millisecond})
	res := h.Invoke(t.Context(), []byte(`{"block":true}`))
	if res.Err == nil || res.Err.Type != lambdatest.ErrorTypeTimeout {
		t.Fatalf("Invoke(block).Err = %v; want %s", res.Err, lambdatest.ErrorTypeTimeout)
	}
	if ex := h.Stop(); !ex.Killed || ex.Signal != "killed" {
		t.Errorf("Stop() = %+v; want the process killed", ex)
	}
}

func TestResponseTooLarge(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo})
	res := h.Invoke(t.Context(), fmt.Appendf(nil, `{"big":%d}`, lambdatest.MaxResponse))
	if res.Err == nil || res.Err.Type != lambdatest.ErrorTypeResponseTooLarge {
		t.Errorf("Invoke(big).Err = %v; want %s", res.Err, lambdatest.ErrorTypeResponseTooLarge)
	}
}

func TestStopSendsSIGTERM(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo})
	if res := h.Invoke(t.Context(), []byte(`{}`)); res.Err != nil {
		t.Fatal(res.Err)
	}
	if ex := h.Stop(); ex != (lambdatest.Exit{Code: 0}) {
		t.Errorf("Stop() = %+v; want a clean exit", ex)
	}
	if !strings.Contains(h.Stderr(), "echo: shutting down") {
		t.Errorf("the function did not see SIGTERM; stderr:\n%s", h.Stderr())
	}
	if strings.Contains(h.Stderr(), "WARNING") {
		t.Errorf("aws-lambda-go could not register for SIGTERM with the Extensions API; stderr:\n%s", h.Stderr())
	}
	if ex := h.Stop(); ex != (lambdatest.Exit{Code: 0}) {
		t.Errorf("second Stop() = %+v; want the same exit", ex)
	}
	res := h.Invoke(t.Context(), []byte(`{}`))
	if res.Err == nil || res.Err.Type != lambdatest.ErrorTypeExit {
		t.Errorf("Invoke after Stop: Err = %v; want %s", res.Err, lambdatest.ErrorTypeExit)
	}
}

func TestStopKillsAProcessThatIgnoresSIGTERM(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo, StopGrace: 200 * time.Millisecond, Env: []string{"ECHO_IGNORE_SIGTERM=true"}})
	if res := h.Invoke(t.Context(), []byte(`{}`)); res.Err != nil {
		t.Fatal(res.Err)
	}
	if ex := h.Stop(); !ex.Killed || ex.Code != -1 || ex.Signal != "killed" {
		t.Errorf("Stop() = %+v; want the process killed", ex)
	}
}

func TestConcurrentInvocationsAreQueued(t *testing.T) {
	for _, concurrency := range []string{"1", "3"} {
		t.Run("max_concurrency="+concurrency, func(t *testing.T) {
			h := lambdatest.Start(t, lambdatest.Options{Binary: echo, Env: []string{"AWS_LAMBDA_MAX_CONCURRENCY=" + concurrency}})
			const n = 12
			results := make([]lambdatest.Result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i] = h.Invoke(t.Context(), fmt.Appendf(nil, `{"n":%d}`, i)) })
			}
			wg.Wait()
			ids := map[string]bool{}
			for i, res := range results {
				if res.Err != nil {
					t.Errorf("invocation %d: %v", i, res.Err)
					continue
				}
				if want := fmt.Sprintf(`{"n":%d}`, i); string(res.Payload) != want {
					t.Errorf("invocation %d = %s; want %s", i, res.Payload, want)
				}
				if ids[res.RequestID] {
					t.Errorf("request ID %s used twice", res.RequestID)
				}
				ids[res.RequestID] = true
			}
		})
	}
}

func TestInvokeAfterContextOrHarnessEnded(t *testing.T) {
	h, err := lambdatest.New(lambdatest.Options{Binary: echo})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res := h.Invoke(ctx, []byte(`{}`)); res.Err == nil || res.Err.Type != lambdatest.ErrorTypeCanceled {
		t.Errorf("Invoke(canceled).Err = %v; want %s", res.Err, lambdatest.ErrorTypeCanceled)
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if res := h.Invoke(t.Context(), []byte(`{}`)); res.Err == nil || res.Err.Type != lambdatest.ErrorTypeClosed {
		t.Errorf("Invoke after Close: Err = %v; want %s", res.Err, lambdatest.ErrorTypeClosed)
	}
}

func TestRuntimeAPIRefusesUnknownRequestIDs(t *testing.T) {
	h := lambdatest.Start(t, lambdatest.Options{Binary: echo})
	for _, path := range []string{"/2018-06-01/runtime/invocation/no-such-id/response", "/2018-06-01/runtime/invocation/no-such-id/error"} {
		resp, err := http.Post("http://"+h.RuntimeAPI()+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s = %d; want 400", path, resp.StatusCode)
		}
	}
}
