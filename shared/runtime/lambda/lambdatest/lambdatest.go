// Package lambdatest runs a Lambda function's bootstrap binary as a
// process against a small implementation of the Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)
// served on a loopback port, so tests and benchmarks can invoke the real
// binary as Lambda would: events are queued and handed out one by one
// by "next", answers come back through "response" and "error", and init
// errors, timeouts, crashes and SIGTERM shutdown behave as on Lambda.
// The Extensions API's register and next calls are answered too, so a
// runtime that enables SIGTERM (aws-lambda-go's WithEnableSIGTERM) starts
// cleanly.
//
// It is test support: product code never imports it.
package lambdatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Error types of the results the harness makes up itself, as Lambda
// would report them.
const (
	// ErrorTypeExit: the process exited (or was killed) before it
	// answered; an init error it posted takes precedence.
	ErrorTypeExit = "Runtime.ExitError"
	// ErrorTypeTimeout: no answer within Options.Timeout; the process is
	// killed, as Lambda does.
	ErrorTypeTimeout = "Sandbox.Timedout"
	// ErrorTypeResponseTooLarge: the response exceeded MaxResponse.
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
	// ErrorTypeCanceled: the context given to Invoke ended first.
	ErrorTypeCanceled = "Harness.Canceled"
	// ErrorTypeClosed: the harness was closed.
	ErrorTypeClosed = "Harness.Closed"
)

// MaxResponse is the largest response payload accepted, Lambda's limit
// for a synchronous invocation.
const MaxResponse = 6 << 20

// Options configures a harness.
type Options struct {
	// Binary is the bootstrap executable to run. Required.
	Binary string
	// Args are passed to the binary.
	Args []string
	// Env is added to the Lambda environment the harness sets (entries
	// here win).
	Env []string
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME; default "test-function".
	FunctionName string
	// MemoryMiB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE; default 128.
	MemoryMiB int
	// Region is AWS_REGION; default "us-east-1".
	Region string
	// Timeout is the function's timeout: each invocation's deadline is
	// this long after it is handed to the runtime; default 30 s.
	Timeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before it kills
	// the process; default 2 s.
	StopGrace time.Duration
}

// InvokeError is a failed invocation, as the Runtime API carries it.
type InvokeError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

// Error implements error.
func (e *InvokeError) Error() string { return e.Type + ": " + e.Message }

// Result is the outcome of one invocation.
type Result struct {
	// Payload is the function's response; nil when Err is set.
	Payload []byte
	// Err is the function's error, or one of the harness's (ErrorType*).
	Err *InvokeError
	// Duration runs from handing the event to the runtime to receiving
	// its answer; zero when there was no answer.
	Duration  time.Duration
	RequestID string
}

// ColdStart is how long the process took to start serving, from the
// moment it was started.
type ColdStart struct {
	// ToFirstNext is the time to its first "next" request (the end of
	// its init phase); zero until then.
	ToFirstNext time.Duration
	// ToFirstResponse is the time to its first answer (response or
	// error) to an invocation; zero until then.
	ToFirstResponse time.Duration
}

// Exit is how the process ended.
type Exit struct {
	// Code is the exit status; -1 when a signal ended the process.
	Code int
	// Signal names the signal that ended it, if one did.
	Signal string
	// Killed is true when the harness had to kill the process: it did
	// not end within StopGrace of SIGTERM, or an invocation timed out.
	Killed bool
}

// Harness serves the Runtime API to one process of a bootstrap binary.
// Its methods are safe for concurrent use.
type Harness struct {
	opts    Options
	api     string
	arn     string
	srv     *http.Server
	cmd     *exec.Cmd
	started time.Time
	stdout  lockedBuffer
	stderr  lockedBuffer

	queue   chan *invocation // unbuffered: a send is a handoff to "next"
	exited  chan struct{}    // closed when the process has ended
	closing chan struct{}    // closed by Close

	mu            sync.Mutex
	inflight      map[string]*invocation
	firstNext     time.Time
	firstResponse time.Time
	initErr       *InvokeError
	killed        bool

	stopOnce  sync.Once
	exit      Exit
	closeOnce sync.Once
	closeErr  error
}

type invocation struct {
	id       string
	event    []byte
	handedAt time.Time   // guarded by Harness.mu
	done     chan Result // buffered: the answer is never blocked on
}

// Start starts a harness for a test: it fails the test when the process
// cannot start, closes the harness when the test ends, and then logs the
// process's stdout and stderr if the test failed.
func Start(t testing.TB, opts Options) *Harness {
	t.Helper()
	h, err := New(opts)
	if err != nil {
		t.Fatalf("lambdatest: %v", err)
	}
	t.Cleanup(func() {
		_ = h.Close()
		if t.Failed() {
			t.Logf("%s stdout:\n%s", h.opts.FunctionName, h.Stdout())
			t.Logf("%s stderr:\n%s", h.opts.FunctionName, h.Stderr())
		}
	})
	return h
}

// New serves the Runtime API on 127.0.0.1 at a free port and starts
// opts.Binary with the Lambda environment pointing at it. Close it.
func New(opts Options) (*Harness, error) {
	if opts.Binary == "" {
		return nil, errors.New("lambdatest: Options.Binary is required")
	}
	bin, err := filepath.Abs(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("lambdatest: %w", err)
	}
	if opts.FunctionName == "" {
		opts.FunctionName = "test-function"
	}
	if opts.MemoryMiB == 0 {
		opts.MemoryMiB = 128
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 2 * time.Second
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdatest: listen: %w", err)
	}
	h := &Harness{
		opts:     opts,
		api:      ln.Addr().String(),
		arn:      fmt.Sprintf("arn:aws:lambda:%s:123456789012:function:%s", opts.Region, opts.FunctionName),
		queue:    make(chan *invocation),
		exited:   make(chan struct{}),
		closing:  make(chan struct{}),
		inflight: map[string]*invocation{},
	}
	h.srv = &http.Server{Handler: h.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()

	h.cmd = exec.Command(bin, opts.Args...)
	h.cmd.Dir = filepath.Dir(bin)
	h.cmd.Env = h.environment(filepath.Dir(bin))
	h.cmd.Stdout, h.cmd.Stderr = &h.stdout, &h.stderr
	h.cmd.WaitDelay = time.Second
	h.started = time.Now()
	if err := h.cmd.Start(); err != nil {
		_ = h.srv.Close()
		return nil, fmt.Errorf("lambdatest: start %s: %w", opts.Binary, err)
	}
	go func() {
		_ = h.cmd.Wait()
		close(h.exited)
	}()
	return h, nil
}

// environment is what Lambda sets for a provided.al2023 function, then
// opts.Env. Nothing of the test's own environment leaks in.
func (h *Harness) environment(taskRoot string) []string {
	o := h.opts
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + h.api,
		"AWS_LAMBDA_FUNCTION_NAME=" + o.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(o.MemoryMiB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + o.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16),
		"AWS_REGION=" + o.Region,
		"AWS_DEFAULT_REGION=" + o.Region,
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LANG=en_US.UTF-8",
		"TZ=:UTC",
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}
	return append(env, o.Env...)
}

func (h *Harness) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", h.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", h.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", h.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", h.initError)
	mux.HandleFunc("POST /2020-01-01/extension/register", h.registerExtension)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", h.extensionNext)
	return mux
}

// Invoke queues event and waits for the function's answer. It never
// fails the test: a function error, a crash, a timeout, the end of ctx
// or of the harness are all in Result.Err.
func (h *Harness) Invoke(ctx context.Context, event []byte) Result {
	inv := &invocation{id: newRequestID(), event: event, done: make(chan Result, 1)}
	select {
	case <-h.closing:
		return Result{RequestID: inv.id, Err: &InvokeError{Type: ErrorTypeClosed, Message: "the harness is closed"}}
	default:
	}
	if ctx.Err() != nil {
		return Result{RequestID: inv.id, Err: &InvokeError{Type: ErrorTypeCanceled, Message: "not handed to the runtime: " + context.Cause(ctx).Error()}}
	}
	select {
	case h.queue <- inv:
	case <-h.exited:
		return h.exitResult(inv.id)
	case <-h.closing:
		return Result{RequestID: inv.id, Err: &InvokeError{Type: ErrorTypeClosed, Message: "the harness is closed"}}
	case <-ctx.Done():
		return Result{RequestID: inv.id, Err: &InvokeError{Type: ErrorTypeCanceled, Message: "not handed to the runtime: " + context.Cause(ctx).Error()}}
	}
	timeout := time.NewTimer(h.opts.Timeout)
	defer timeout.Stop()
	select {
	case res := <-inv.done:
		return res
	case <-h.exited:
		select {
		case res := <-inv.done: // answered, then exited
			return res
		default:
			return h.exitResult(inv.id)
		}
	case <-timeout.C:
		h.mu.Lock()
		h.killed = true
		h.mu.Unlock()
		_ = h.cmd.Process.Kill()
		return Result{RequestID: inv.id, Err: &InvokeError{Type: ErrorTypeTimeout,
			Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, h.opts.Timeout.Seconds())}}
	case <-h.closing:
		return Result{RequestID: inv.id, Err: &InvokeError{Type: ErrorTypeClosed, Message: "the harness was closed during the invocation"}}
	case <-ctx.Done():
		return Result{RequestID: inv.id, Err: &InvokeError{Type: ErrorTypeCanceled, Message: "no answer yet: " + context.Cause(ctx).Error()}}
	}
}

// exitResult is the result of an invocation the process ended before
// answering.
func (h *Harness) exitResult(id string) Result {
	h.mu.Lock()
	initErr := h.initErr
	h.mu.Unlock()
	if initErr != nil {
		e := *initErr
		return Result{RequestID: id, Err: &e}
	}
	return Result{RequestID: id, Err: &InvokeError{Type: ErrorTypeExit,
		Message: fmt.Sprintf("RequestId: %s Error: Runtime exited: %s", id, h.cmd.ProcessState)}}
}

// RuntimeAPI returns the host:port of the Runtime API, the value of the
// process's AWS_LAMBDA_RUNTIME_API.
func (h *Harness) RuntimeAPI() string { return h.api }

// ColdStart returns the process's start-up times measured so far.
func (h *Harness) ColdStart() ColdStart {
	h.mu.Lock()
	defer h.mu.Unlock()
	var c ColdStart
	if !h.firstNext.IsZero() {
		c.ToFirstNext = h.firstNext.Sub(h.started)
	}
	if !h.firstResponse.IsZero() {
		c.ToFirstResponse = h.firstResponse.Sub(h.started)
	}
	return c
}

// InitError returns the error the runtime posted to init/error, or nil.
func (h *Harness) InitError() *InvokeError {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.initErr
}

// Stdout returns what the process has written to its stdout so far.
// Output arrives through a pipe: it is complete once the process has
// ended (after Stop), not necessarily when an invocation returns.
func (h *Harness) Stdout() string { return h.stdout.String() }

// Stderr returns what the process has written to its stderr so far;
// like Stdout, it is complete once the process has ended.
func (h *Harness) Stderr() string { return h.stderr.String() }

// Exited is closed when the process has ended.
func (h *Harness) Exited() <-chan struct{} { return h.exited }

// Stop sends SIGTERM to the process, waits StopGrace for it to end, then
// kills it, and reports how it ended. Stopping a process that already
// ended only reports; later calls return the same Exit.
func (h *Harness) Stop() Exit {
	h.stopOnce.Do(func() {
		select {
		case <-h.exited:
		default:
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
			t := time.NewTimer(h.opts.StopGrace)
			select {
			case <-h.exited:
			case <-t.C:
				h.mu.Lock()
				h.killed = true
				h.mu.Unlock()
				_ = h.cmd.Process.Kill()
				<-h.exited
			}
			t.Stop()
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		st := h.cmd.ProcessState
		h.exit = Exit{Code: st.ExitCode(), Killed: h.killed}
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			h.exit.Signal = ws.Signal().String()
		}
	})
	return h.exit
}

// Close stops the process (see Stop) and the Runtime API server.
func (h *Harness) Close() error {
	h.closeOnce.Do(func() {
		h.Stop()
		close(h.closing)
		h.closeErr = h.srv.Close()
	})
	return h.closeErr
}

// next hands the runtime the next queued event, waiting for one.
func (h *Harness) next(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.firstNext.IsZero() {
		h.firstNext = time.Now()
	}
	h.mu.Unlock()
	select {
	case inv := <-h.queue:
		now := time.Now()
		h.mu.Lock()
		inv.handedAt = now
		h.inflight[inv.id] = inv
		h.mu.Unlock()
		hd := w.Header()
		hd.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		hd.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(now.Add(h.opts.Timeout).UnixMilli(), 10))
		hd.Set("Lambda-Runtime-Invoked-Function-Arn", h.arn)
		hd.Set("Lambda-Runtime-Trace-Id", traceID(now))
		hd.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.event)
	case <-r.Context().Done():
	case <-h.closing:
		writeAPIError(w, http.StatusInternalServerError, "Harness.Closed", "the harness is closed")
	}
}

// answered takes the invocation id out of flight and records the first
// answer's time; nil when id is not in flight.
func (h *Harness) answered(id string) (*invocation, time.Duration) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	inv, ok := h.inflight[id]
	if !ok {
		return nil, 0
	}
	delete(h.inflight, id)
	if h.firstResponse.IsZero() {
		h.firstResponse = now
	}
	return inv, now.Sub(inv.handedAt)
}

func (h *Harness) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxResponse+1))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "read response: "+err.Error())
		return
	}
	id := r.PathValue("id")
	inv, d := h.answered(id)
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "request ID "+id+" is not in flight")
		return
	}
	res := Result{RequestID: id, Duration: d}
	switch {
	case len(body) > MaxResponse:
		res.Err = &InvokeError{Type: ErrorTypeResponseTooLarge, Message: fmt.Sprintf("response payload exceeds %d bytes", MaxResponse)}
		inv.done <- res
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", res.Err.Message)
		return
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// aws-lambda-go reports a response that failed while streaming
		// in trailers.
		res.Err = &InvokeError{Type: r.Trailer.Get("Lambda-Runtime-Function-Error-Type")}
		if b, err := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body")); err == nil {
			_ = json.Unmarshal(b, res.Err)
		}
	default:
		res.Payload = body
	}
	inv.done <- res
	writeAccepted(w)
}

func (h *Harness) invocationError(w http.ResponseWriter, r *http.Request) {
	e, err := readError(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	id := r.PathValue("id")
	inv, d := h.answered(id)
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "request ID "+id+" is not in flight")
		return
	}
	inv.done <- Result{RequestID: id, Duration: d, Err: e}
	writeAccepted(w)
}

func (h *Harness) initError(w http.ResponseWriter, r *http.Request) {
	e, err := readError(r)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	h.mu.Lock()
	h.initErr = e
	h.mu.Unlock()
	writeAccepted(w)
}

// readError reads an error body: JSON {"errorMessage", "errorType"},
// the type defaulting to the Lambda-Runtime-Function-Error-Type header.
func readError(r *http.Request) (*InvokeError, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read error body: %w", err)
	}
	e := &InvokeError{}
	if json.Unmarshal(body, e) != nil {
		e = &InvokeError{Message: string(body)}
	}
	if e.Type == "" {
		e.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if e.Type == "" {
		e.Type = "Unhandled"
	}
	return e, nil
}

// registerExtension answers the Extensions API's register call, which
// aws-lambda-go makes to have Lambda send SIGTERM at shutdown.
func (h *Harness) registerExtension(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Lambda-Extension-Identifier", newRequestID())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName": h.opts.FunctionName, "functionVersion": "$LATEST", "handler": "bootstrap",
	})
}

// extensionNext blocks: the harness sends extensions no events.
func (h *Harness) extensionNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-h.closing:
	}
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(InvokeError{Type: typ, Message: msg})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b[:])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

func traceID(now time.Time) string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), randomHex(12), randomHex(8))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lockedBuffer is a bytes.Buffer safe for one writer and many readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Build compiles the main package pkg (a path as go build takes it,
// resolved from the current directory) into dir/bootstrap as Lambda's
// provided.al2023 runtime runs it: for the host's platform, with
// -tags lambda.norpc,awslambda and the flags of `make package`. It returns the
// binary's path, and the compiler's output with the error.
func Build(ctx context.Context, pkg, dir string) (string, error) {
	// The toolchain that built the test, when it is still there; else
	// the go on PATH.
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go") //lint:ignore SA1019 the test binary runs where it was built
	if _, err := os.Stat(goTool); err != nil {
		if p, err := exec.LookPath("go"); err == nil {
			goTool = p
		}
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, goTool, "build", "-tags", "lambda.norpc,awslambda", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lambdatest: go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}
