package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// sample reads a sample event of events/aws.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "aws", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invocation returns a context as aws-lambda-go gives a handler.
func invocation(ctx context.Context, requestID string) context.Context {
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: requestID})
}

// newFunction returns the handler of name, failing the test otherwise.
func newFunction(t *testing.T, name string, h Handlers, logger *slog.Logger) *Function {
	t.Helper()
	f, err := NewHandler(name, h, logger)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// allHandlers returns handlers that record that they were called.
func allHandlers(called *[]string) Handlers {
	return Handlers{
		Collect: func(context.Context, CollectRequest) (any, error) {
			*called = append(*called, "collect")
			return nil, nil
		},
		Optimize: func(context.Context, SnapshotManifest) (any, error) {
			*called = append(*called, "optimize")
			return nil, nil
		},
		Approve: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { *called = append(*called, "approve") }),
		Actuate: func(context.Context, Message) error {
			*called = append(*called, "actuate")
			return nil
		},
	}
}

func TestNewHandlerRefuses(t *testing.T) {
	var called []string
	tests := []struct {
		name string
		h    Handlers
		want string
	}{
		{"collect", allHandlers(&called), `unknown function "collect"`},
		{"collect-oci", allHandlers(&called), `unknown function "collect-oci"`},
		{"collect-azure", Handlers{Optimize: allHandlers(&called).Optimize}, "Handlers.Collect is nil"},
		{"optimize", Handlers{Collect: allHandlers(&called).Collect}, "Handlers.Optimize is nil"},
		{"approve", Handlers{}, "Handlers.Approve is nil"},
		{"actuate", Handlers{}, "Handlers.Actuate is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHandler(tt.name, tt.h, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, domain.ErrInvalid) {
				t.Errorf("NewHandler(%q) = %v; want an invalid error saying %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestMalformedEvents sends every function events no trigger of it
// sends: each is refused with an *EventError naming the function, and
// no handler is called.
func TestMalformedEvents(t *testing.T) {
	events := map[string][]byte{
		"malformed.json": sample(t, "malformed.json"),
		"empty":          nil,
		"not JSON":       []byte(`{"Records": [`),
		"array":          []byte(`[{"Records": []}]`),
		"string":         []byte(`"collect"`),
		"null":           []byte(`null`),
		"number":         []byte(`42`),
	}
	for _, name := range Functions {
		for ev, payload := range events {
			t.Run(name+"/"+ev, func(t *testing.T) {
				var called []string
				f := newFunction(t, name, allHandlers(&called), nil)
				out, err := f.Invoke(invocation(t.Context(), "req-1"), payload)
				var evErr *EventError
				if !errors.As(err, &evErr) || !errors.Is(err, domain.ErrInvalid) {
					t.Fatalf("Invoke(%s) = %s, %v; want an *EventError", ev, out, err)
				}
				if !strings.HasPrefix(err.Error(), name+": invalid event: ") || !strings.Contains(err.Error(), "want ") {
					t.Errorf("Invoke(%s) error = %q; want it to name %s and what it takes", ev, err, name)
				}
				if len(called) > 0 {
					t.Errorf("Invoke(%s) called %v", ev, called)
				}
			})
		}
	}
}

func TestEventErrorsSayWhatIsWrong(t *testing.T) {
	tests := []struct {
		function, event, want string
	}{
		{"collect-aws", `[]`, "got a JSON array"},
		{"collect-aws", ``, "got an empty payload"},
		{"collect-aws", `{"days":`, "got a payload that is not JSON"},
		{"optimize", `"s3"`, "got a JSON string"},
		{"approve", `null`, "got JSON null"},
		{"actuate", `true`, "got a JSON boolean"},
		{"actuate", `1e3`, "got a JSON number"},
	}
	for _, tt := range tests {
		var called []string
		f := newFunction(t, tt.function, allHandlers(&called), nil)
		_, err := f.Invoke(t.Context(), []byte(tt.event))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s.Invoke(%s) = %v; want an error saying %q", tt.function, tt.event, err, tt.want)
		}
	}
}

func TestPanicBecomesAnError(t *testing.T) {
	var logs bytes.Buffer
	h := Handlers{Collect: func(context.Context, CollectRequest) (any, error) {
		var m map[string]int
		//lint:ignore SA5000 the panic is what this test is about
		m["boom"]++ // assignment to entry in nil map
		return nil, nil
	}}
	f := newFunction(t, "collect-gcp", h, NewLogger(&logs, "collect-gcp", slog.LevelInfo))
	out, err := f.Invoke(invocation(t.Context(), "req-panic"), []byte(`{}`))
	var fnErr *FunctionError
	if !errors.As(err, &fnErr) || !strings.Contains(err.Error(), "collect-gcp: panic: assignment to entry in nil map") {
		t.Fatalf("Invoke() = %s, %v; want a *FunctionError for the panic", out, err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		var rec struct {
			Msg       string `json:"msg"`
			Stack     string `json:"stack"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == "panic" {
			if !strings.Contains(rec.Stack, "TestPanicBecomesAnError") || rec.RequestID != "req-panic" {
				t.Errorf("panic log = %+v; want the stack and the request ID", rec)
			}
			return
		}
	}
	t.Errorf("no panic log in:\n%s", logs.String())
}

func TestHandlerErrorIsAFunctionError(t *testing.T) {
	cause := errors.New("lake unreachable")
	f := newFunction(t, "collect-aws", Handlers{Collect: func(context.Context, CollectRequest) (any, error) {
		return nil, cause
	}}, nil)
	_, err := f.Invoke(t.Context(), []byte(`{}`))
	var fnErr *FunctionError
	if !errors.As(err, &fnErr) || !errors.Is(err, cause) || err.Error() != "collect-aws: lake unreachable" {
		t.Errorf("Invoke() = %v; want *FunctionError wrapping %v", err, cause)
	}
}

func TestUnencodableResponse(t *testing.T) {
	f := newFunction(t, "collect-aws", Handlers{Collect: func(context.Context, CollectRequest) (any, error) {
		return func() {}, nil
	}}, nil)
	_, err := f.Invoke(t.Context(), []byte(`{}`))
	if err == nil || !strings.HasPrefix(err.Error(), "collect-aws: encode response: ") {
		t.Errorf("Invoke() = %v; want an encoding error", err)
	}
}
