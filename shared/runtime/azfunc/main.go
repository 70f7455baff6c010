package azfunc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Main runs the custom handler until ctx ends: it reads the app
// settings, builds the app and serves the Functions host on
// 127.0.0.1:FUNCTIONS_CUSTOMHANDLER_PORT. Logs are JSON lines on stderr,
// which the host forwards to Application Insights. It returns the exit
// code: 2 for a configuration error, 1 for a failure to start.
func Main(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	logger := slog.New(slog.NewJSONHandler(stderr, nil)).With("host", "azure-functions")
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
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", cfg.Port))
	if err != nil {
		logger.ErrorContext(ctx, "listen", "port", cfg.Port, "error", err)
		return 1
	}
	if err := Serve(ctx, ln, app.Handlers(), logger); err != nil {
		logger.ErrorContext(ctx, "serve", "error", err)
		return 1
	}
	return 0
}

// Serve serves h on ln until ctx ends, then lets running invocations
// finish for up to 30 seconds.
func Serve(ctx context.Context, ln net.Listener, h Handlers, logger *slog.Logger) error {
	srv := &http.Server{Handler: NewServer(h, logger), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
