package lambda

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// RequestIDKey is the log key of the Lambda request ID.
const RequestIDKey = "request_id"

// NewLogger returns a JSON logger writing to w (Lambda sends a function's
// stdout and stderr to CloudWatch Logs) whose records carry the function
// name and, when logged with the context of an invocation
// (logger.InfoContext(ctx, ...)), the Lambda request ID.
func NewLogger(w io.Writer, function string, level slog.Leveler) *slog.Logger {
	return slog.New(NewLogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))).With("function", function)
}

// LogLevel returns the level set by AWS_LAMBDA_LOG_LEVEL (DEBUG, INFO,
// WARN or ERROR, the function's logging configuration); INFO when it is
// unset or unknown.
func LogLevel(getenv func(string) string) slog.Level {
	switch strings.ToUpper(getenv("AWS_LAMBDA_LOG_LEVEL")) {
	case "DEBUG", "TRACE":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// NewLogHandler wraps h so that every record handled with the context of
// a Lambda invocation carries its request ID under RequestIDKey, at the
// top level of the record even inside groups opened with WithGroup.
// Records without a Lambda context pass through unchanged.
func NewLogHandler(h slog.Handler) slog.Handler {
	if r, ok := h.(*requestIDHandler); ok {
		return r
	}
	return &requestIDHandler{base: h, inner: h, cache: new(atomic.Pointer[cachedHandler])}
}

// requestIDHandler adds the request ID ahead of the attributes and
// groups added after it was created: it keeps the handler it wraps
// (base) and replays the WithAttrs and WithGroup calls (ops) on top of
// base.WithAttrs(request_id). The result is cached for the request being
// served, so the replay happens once per invocation, not per record.
type requestIDHandler struct {
	base  slog.Handler
	ops   []handlerOp
	inner slog.Handler // base with ops applied
	cache *atomic.Pointer[cachedHandler]
}

type handlerOp struct {
	attrs []slog.Attr
	group string
}

type cachedHandler struct {
	requestID string
	h         slog.Handler
}

// Enabled implements slog.Handler.
func (h *requestIDHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok || lc.AwsRequestID == "" {
		return h.inner.Handle(ctx, r)
	}
	if c := h.cache.Load(); c != nil && c.requestID == lc.AwsRequestID {
		return c.h.Handle(ctx, r)
	}
	with := h.base.WithAttrs([]slog.Attr{slog.String(RequestIDKey, lc.AwsRequestID)})
	for _, op := range h.ops {
		if op.group != "" {
			with = with.WithGroup(op.group)
		} else {
			with = with.WithAttrs(op.attrs)
		}
	}
	h.cache.Store(&cachedHandler{requestID: lc.AwsRequestID, h: with})
	return with.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs}, h.inner.WithAttrs(attrs))
}

// WithGroup implements slog.Handler.
func (h *requestIDHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerOp{group: name}, h.inner.WithGroup(name))
}

func (h *requestIDHandler) with(op handlerOp, inner slog.Handler) *requestIDHandler {
	ops := make([]handlerOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &requestIDHandler{base: h.base, ops: append(ops, op), inner: inner, cache: new(atomic.Pointer[cachedHandler])}
}
