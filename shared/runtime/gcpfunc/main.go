package gcpfunc

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

// Main runs the function FUNCTION_TARGET names (or every function at
// /<name> when it is empty) until ctx ends: it reads the environment,
// builds the app, registers the functions with the Functions Framework
// and serves PORT. Logs are JSON lines on stderr in Cloud Logging's
// structured form. It returns the exit code: 2 for a configuration
// error, 1 for a failure to start.
func Main(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	logger := NewLogger(stderr)
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		logger.ErrorContext(ctx, "configuration", "error", err)
		return 2
	}
	logger.InfoContext(ctx, "starting", "config", cfg)
	app, err := NewApp(ctx, cfg, Deps{}, logger)
	if err != nil {
		logger.ErrorContext(ctx, "init", "error", err)
		return 1
	}
	defer app.Close()
	if err := Register(app.Handlers(), logger); err != nil {
		logger.ErrorContext(ctx, "register", "error", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- funcframework.StartHostPort("", cfg.Port) }()
	select {
	case err := <-done:
		logger.ErrorContext(ctx, "serve", "port", cfg.Port, "error", err)
		return 1
	case <-ctx.Done():
		// Cloud Run sends SIGTERM and waits ten seconds; the framework's
		// server has no shutdown, so in-flight work ends with the
		// process, which every function tolerates (the lake's writes are
		// committed or invisible, action states are conditional).
		return 0
	}
}

// Register registers the functions of h with the Functions Framework by
// name, each at /<name>. It is called from main, never from an init
// function: which functions exist depends on the configuration.
func Register(h Handlers, logger *slog.Logger) error {
	if h.Collect != nil {
		functions.CloudEvent(TargetCollect, h.collect(logger))
	}
	if h.Optimize != nil {
		functions.CloudEvent(TargetOptimize, h.optimize(logger))
	}
	if h.Actuate != nil {
		if h.Queue == nil {
			return fmt.Errorf("the actuate function needs a queue for held and unreadable messages")
		}
		functions.CloudEvent(TargetActuate, h.actuate(logger))
	}
	if h.Approve != nil {
		functions.HTTP(TargetApprove, h.Approve.ServeHTTP)
	}
	return nil
}

// NewLogger returns a JSON logger in Cloud Logging's structured form:
// the level as "severity" and the text as "message".
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.LevelKey:
			a.Key = "severity"
			if l, ok := a.Value.Any().(slog.Level); ok {
				a.Value = slog.StringValue(severity(l))
			}
		case slog.MessageKey:
			a.Key = "message"
		}
		return a
	}})).With("host", "cloud-run")
}

// severity is Cloud Logging's name of a slog level.
func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}
