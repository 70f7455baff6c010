package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"testing/slogtest"

	"github.com/google/go-cmp/cmp"
)

// records decodes JSON log lines.
func records(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestLogHandlerIsAHandler runs the standard library's handler suite:
// outside an invocation the wrapper changes nothing.
func TestLogHandlerIsAHandler(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return NewLogHandler(slog.NewJSONHandler(&buf, nil))
	}, func(t *testing.T) map[string]any {
		return records(t, buf.Bytes())[0]
	})
}

func TestLogRecordsCarryTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	logger := NewLogger(&buf, "actuate", slog.LevelInfo)
	ctx1, ctx2 := invocation(t.Context(), "req-1"), invocation(t.Context(), "req-2")
	grouped := logger.With("plan_id", "plan-1").WithGroup("action").With("id", "act-1")

	logger.InfoContext(ctx1, "first")
	grouped.InfoContext(ctx1, "grouped", "kind", "stop")
	grouped.InfoContext(ctx2, "next request")
	logger.Info("no context")
	logger.InfoContext(context.Background(), "no invocation")
	NewLogger(&buf, "actuate", slog.LevelWarn).InfoContext(ctx1, "below the level")

	got := records(t, buf.Bytes())
	for _, r := range got {
		delete(r, "time")
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "first", "function": "actuate", "request_id": "req-1"},
		{"level": "INFO", "msg": "grouped", "function": "actuate", "request_id": "req-1", "plan_id": "plan-1",
			"action": map[string]any{"id": "act-1", "kind": "stop"}},
		{"level": "INFO", "msg": "next request", "function": "actuate", "request_id": "req-2", "plan_id": "plan-1",
			"action": map[string]any{"id": "act-1"}},
		{"level": "INFO", "msg": "no context", "function": "actuate"},
		{"level": "INFO", "msg": "no invocation", "function": "actuate"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
}

// TestInvocationLogsCarryTheRequestID checks every record the adapter
// and the handler log during an invocation.
func TestInvocationLogsCarryTheRequestID(t *testing.T) {
	var buf bytes.Buffer
	logger := NewLogger(&buf, "optimize", slog.LevelDebug)
	f := newFunction(t, "optimize", Handlers{Optimize: func(ctx context.Context, m SnapshotManifest) (any, error) {
		logger.DebugContext(ctx, "reading snapshot", "run_id", m.RunID)
		return nil, nil
	}}, logger)
	for _, name := range []string{"optimize.s3-manifest.json", "optimize.s3-other.json"} {
		if _, err := f.Invoke(invocation(t.Context(), "req-"+name), sample(t, name)); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = f.Invoke(invocation(t.Context(), "req-bad"), sample(t, "malformed.json"))
	var got [][3]any
	for _, r := range records(t, buf.Bytes()) {
		got = append(got, [3]any{r["msg"], r["request_id"], r["function"]})
	}
	want := [][3]any{
		{"optimize", "req-optimize.s3-manifest.json", "optimize"},
		{"reading snapshot", "req-optimize.s3-manifest.json", "optimize"},
		{"object ignored", "req-optimize.s3-other.json", "optimize"},
		{"invocation failed", "req-bad", "optimize"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log records [msg, request_id, function] (-want +got):\n%s", diff)
	}
}

// TestForeignLoggerIsWrapped: a logger not made by NewLogger still gets
// request IDs on the adapter's records.
func TestForeignLoggerIsWrapped(t *testing.T) {
	var buf bytes.Buffer
	f := newFunction(t, "optimize", Handlers{Optimize: func(context.Context, SnapshotManifest) (any, error) { return nil, nil }},
		slog.New(slog.NewJSONHandler(&buf, nil)))
	if _, err := f.Invoke(invocation(t.Context(), "req-9"), sample(t, "optimize.s3-other.json")); err != nil {
		t.Fatal(err)
	}
	if got := records(t, buf.Bytes()); len(got) != 1 || got[0]["request_id"] != "req-9" {
		t.Errorf("log records = %v; want one with request_id req-9", got)
	}
}

func TestLogLevel(t *testing.T) {
	for v, want := range map[string]slog.Level{
		"": slog.LevelInfo, "DEBUG": slog.LevelDebug, "debug": slog.LevelDebug, "TRACE": slog.LevelDebug,
		"INFO": slog.LevelInfo, "WARN": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError, "LOUD": slog.LevelInfo,
	} {
		if got := LogLevel(func(string) string { return v }); got != want {
			t.Errorf("LogLevel(AWS_LAMBDA_LOG_LEVEL=%q) = %v; want %v", v, got, want)
		}
	}
}
