package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Functions lists the functions this host serves.
var Functions = []string{"collect-aws", "collect-azure", "collect-gcp", "optimize", "approve", "actuate"}

// Handlers are the functions the host calls for each trigger. A function
// needs only its own: the collectors Collect, optimize Optimize, approve
// Approve and actuate Actuate.
type Handlers struct {
	// Collect runs one collection of req.Cloud, on a schedule. Its
	// result, encoded as JSON, is the invocation's response; an error
	// fails the invocation (Lambda retries asynchronous invocations).
	Collect func(ctx context.Context, req CollectRequest) (any, error)
	// Optimize plans from the snapshot whose manifest m was just
	// written. It is called once per manifest of an S3 event.
	Optimize func(ctx context.Context, m SnapshotManifest) (any, error)
	// Ingest reads a billing export whose manifest d was just delivered
	// (an AWS CUR or Data Export written under cur/ in the lake's bucket)
	// and plans again with the new bill. It is called once per manifest
	// of an S3 event; nil ignores such objects.
	Ingest func(ctx context.Context, d BillingDelivery) (any, error)
	// Approve serves the approval webhook behind a Function URL (or an
	// API Gateway HTTP API, payload format 2.0).
	Approve http.Handler
	// Actuate handles one message of the action queue. A nil error means
	// the message is done and SQS deletes it; that includes a message
	// Actuate itself sent to the dead-letter queue. An error reports the
	// message as a batch item failure: SQS delivers it again after the
	// visibility timeout, and its redrive policy dead-letters it after
	// maxReceiveCount deliveries.
	Actuate func(ctx context.Context, msg Message) error
	// Schedules keeps the VMs of applied schedules on them; the actuate
	// function calls it on the timer event {"cloudtrim": "schedules"}
	// (or an EventBridge "Scheduled Event"). Nil refuses that event.
	Schedules func(ctx context.Context) (any, error)
}

// EventError reports an event that is not what the function's trigger
// sends. It wraps domain.ErrInvalid; Lambda reports it with the error
// type "EventError".
type EventError struct {
	Function string // the function that received the event
	Want     string // the event the function takes
	Problem  string // what is wrong with the event received
}

// Error implements error.
func (e *EventError) Error() string {
	return fmt.Sprintf("%s: invalid event: %s (want %s)", e.Function, e.Problem, e.Want)
}

// Unwrap returns domain.ErrInvalid.
func (e *EventError) Unwrap() error { return domain.ErrInvalid }

// FunctionError is the failure of the handler called for an event, or
// its panic. Lambda reports it with the error type "FunctionError".
type FunctionError struct {
	Function string
	Err      error
}

// Error implements error.
func (e *FunctionError) Error() string { return e.Function + ": " + e.Err.Error() }

// Unwrap returns the handler's error.
func (e *FunctionError) Unwrap() error { return e.Err }

// Function is the Lambda handler of one function: it decodes the
// trigger's event, calls the function's handler and encodes its
// response. It implements aws-lambda-go's lambda.Handler and is safe for
// concurrent invocations.
type Function struct {
	name     string
	kind     string // collect, optimize, approve or actuate
	cloud    domain.Cloud
	h        Handlers
	logger   *slog.Logger
	now      func() time.Time
	inflight inflight
}

// NewHandler returns the handler of the function name, one of Functions.
// It fails when name is unknown or the handler it needs is nil. A nil
// logger discards; a logger not made by NewLogger or NewLogHandler is
// wrapped so that its records carry the request ID.
func NewHandler(name string, h Handlers, logger *slog.Logger) (*Function, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Function{name: name, h: h, logger: slog.New(NewLogHandler(logger.Handler())), now: time.Now}
	missing := ""
	switch name {
	case "collect-aws", "collect-azure", "collect-gcp":
		f.kind, f.cloud = "collect", domain.Cloud(strings.TrimPrefix(name, "collect-"))
		if h.Collect == nil {
			missing = "Collect"
		}
	case "optimize":
		f.kind = name
		if h.Optimize == nil {
			missing = "Optimize"
		}
	case "approve":
		f.kind = name
		if h.Approve == nil {
			missing = "Approve"
		}
	case "actuate":
		f.kind = name
		if h.Actuate == nil {
			missing = "Actuate"
		}
	default:
		return nil, fmt.Errorf("lambda handler: %w: unknown function %q (want one of %s)", domain.ErrInvalid, name, strings.Join(Functions, ", "))
	}
	if missing != "" {
		return nil, fmt.Errorf("lambda handler %s: %w: Handlers.%s is nil", name, domain.ErrInvalid, missing)
	}
	return f, nil
}

var _ awslambda.Handler = (*Function)(nil)

// Name returns the function's name.
func (f *Function) Name() string { return f.name }

// Invoke handles one event. It returns an *EventError when the event is
// not the function's trigger's, a *FunctionError when the handler failed
// or panicked (the stack is logged), and the JSON response otherwise.
func (f *Function) Invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	f.inflight.add()
	defer f.inflight.done()
	defer func() {
		if p := recover(); p != nil {
			f.logger.ErrorContext(ctx, "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = nil, &FunctionError{Function: f.name, Err: fmt.Errorf("panic: %v", p)}
		}
		if err != nil {
			f.logger.ErrorContext(ctx, "invocation failed", "error", err)
		}
	}()
	var res any
	switch f.kind {
	case "collect":
		res, err = f.collect(ctx, payload)
	case "optimize":
		res, err = f.optimize(ctx, payload)
	case "approve":
		res, err = f.approve(ctx, payload)
	case "actuate":
		res, err = f.actuate(ctx, payload)
	}
	if err != nil {
		return nil, err
	}
	out, err = json.Marshal(res)
	if err != nil {
		return nil, &FunctionError{Function: f.name, Err: fmt.Errorf("encode response: %w", err)}
	}
	return out, nil
}

// eventError returns an *EventError of f.
func (f *Function) eventError(want, format string, args ...any) error {
	return &EventError{Function: f.name, Want: want, Problem: fmt.Sprintf(format, args...)}
}

// jsonKind names the kind of JSON value payload holds, for error
// messages that must not echo the event (it may hold a secret).
func jsonKind(payload []byte) string {
	if !json.Valid(payload) {
		if len(bytes.TrimSpace(payload)) == 0 {
			return "an empty payload"
		}
		return "a payload that is not JSON"
	}
	switch bytes.TrimSpace(payload)[0] {
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "JSON null"
	}
	return "a JSON number"
}

// isObject reports whether payload is a JSON object.
func isObject(payload []byte) bool {
	return json.Valid(payload) && bytes.TrimSpace(payload)[0] == '{'
}

// ShutdownGrace bounds how long Serve waits, after SIGTERM, for the
// invocations in flight to end: Lambda sends SIGKILL about 500 ms after
// SIGTERM.
const ShutdownGrace = 400 * time.Millisecond

// Serve runs the Lambda runtime loop with the handler of the function
// name (see NewHandler), every invocation's context derived from ctx. It
// returns nil after SIGTERM (Lambda's shutdown, enabled with
// WithEnableSIGTERM) or when ctx ends, once the invocations in flight
// have ended or ShutdownGrace has passed, so that main can close what
// it opened. It returns an error at once when the process is not inside
// Lambda (AWS_LAMBDA_RUNTIME_API unset: aws-lambda-go would end the
// process) or NewHandler fails. When the Runtime API fails,
// aws-lambda-go ends the process with status 1, as Lambda expects.
func Serve(ctx context.Context, name string, h Handlers, logger *slog.Logger) error {
	f, err := NewHandler(name, h, logger)
	if err != nil {
		return err
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" {
		return fmt.Errorf("serve %s: %w: AWS_LAMBDA_RUNTIME_API is not set; this host runs only inside AWS Lambda or a Lambda Runtime API emulator", name, domain.ErrInvalid)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigterm := make(chan struct{})
	var once sync.Once
	go awslambda.StartWithOptions(f,
		awslambda.WithContext(ctx),
		awslambda.WithEnableSIGTERM(func() { once.Do(func() { close(sigterm) }) }),
	)
	reason := "SIGTERM"
	select {
	case <-sigterm:
	case <-ctx.Done():
		reason = "context ended"
	}
	f.logger.Info("shutting down", "reason", reason)
	cancel()
	if n := f.inflight.wait(ShutdownGrace); n > 0 {
		f.logger.Warn("shutdown grace passed with invocations in flight", "in_flight", n, "grace", ShutdownGrace.String())
	}
	return nil
}

// inflight counts the invocations being handled.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{}
}

func (c *inflight) add() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *inflight) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 && c.zero != nil {
		close(c.zero)
		c.zero = nil
	}
}

// wait waits until no invocation is in flight or d has passed, and
// returns how many still are.
func (c *inflight) wait(d time.Duration) int {
	c.mu.Lock()
	if c.n == 0 {
		c.mu.Unlock()
		return 0
	}
	zero := make(chan struct{})
	c.zero = zero
	c.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-zero:
		return 0
	case <-t.C:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.n
	}
}
