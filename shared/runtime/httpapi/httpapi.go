// Package httpapi serves the approval core over HTTP: the signed
// webhook, Slack interactivity and signed approval links. It turns a
// request into a call of the core, maps the core's error kinds to status
// codes in one table, and answers JSON (HTML for links). Every runtime
// that receives approvals as plain HTTP (local, Cloud Functions, Azure
// custom handler) uses it.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// Approver is the approval core.
type Approver interface {
	Handle(ctx context.Context, req approve.Request) (approve.Result, error)
}

// statusOf maps error kinds to HTTP status codes, first match wins: the
// approve package's kinds wrap domain kinds and come first.
var statusOf = []struct {
	kind   error
	status int
}{
	{approve.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{approve.ErrGone, http.StatusGone},
	{approve.ErrNotAuthorized, http.StatusForbidden},
	{domain.ErrInvalid, http.StatusBadRequest},
	{domain.ErrPermission, http.StatusUnauthorized},
	{domain.ErrNotFound, http.StatusNotFound},
	{domain.ErrConflict, http.StatusConflict},
	{domain.ErrUnsupported, http.StatusUnprocessableEntity},
	{domain.ErrThrottled, http.StatusTooManyRequests},
}

// Status returns the HTTP status for err.
func Status(err error) int {
	for _, m := range statusOf {
		if errors.Is(err, m.kind) {
			return m.status
		}
	}
	return http.StatusInternalServerError
}

// ApproveHandler serves POST requests to the approval core.
func ApproveHandler(core Approver, logger *slog.Logger) http.Handler {
	return signedPost("webhook", approve.HeaderTimestamp, approve.HeaderSignature, core, core.Handle, logger)
}

// signedPost serves a channel whose requests are POSTs signed in two
// headers: a body too large or unreadable is refused (and the refusal
// recorded when refuser records them), the rest goes to handle.
func signedPost(channel, tsHeader, sigHeader string, refuser any, handle func(context.Context, approve.Request) (approve.Result, error), logger *slog.Logger) http.Handler {
	logger = orDiscard(logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			refuse(r.Context(), refuser, approve.Refusal{Channel: channel, Reason: err}, logger)
			writeError(r.Context(), w, err, logger)
			return
		}
		res, err := handle(r.Context(), approve.Request{
			Timestamp: r.Header.Get(tsHeader),
			Signature: r.Header.Get(sigHeader),
			Body:      body,
		})
		if err != nil {
			writeError(r.Context(), w, err, logger)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// Core is the approval core with all three channels, as
// *approve.Service implements it.
type Core interface {
	Approver
	SlackApprover
	LinkApprover
}

// NewMux serves the approval routes of core:
//
//	POST     /approve        the signed webhook
//	POST     /slack/actions  Slack interactivity (the app's Request URL)
//	GET+POST /approve/link   a signed link: GET shows a confirmation page
//	                         and changes nothing, POST applies it
func NewMux(core Core, logger *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/approve", ApproveHandler(core, logger))
	mux.Handle("/slack/actions", SlackHandler(core, logger))
	mux.Handle("/approve/link", LinkHandler(core, logger))
	return mux
}

// Refusals records refused attempts the adapter turns away before the
// core sees them (an oversized or unreadable body). A core that does not
// implement it is not told.
type Refusals interface {
	RecordRefusal(ctx context.Context, r approve.Refusal) error
}

func refuse(ctx context.Context, core any, r approve.Refusal, logger *slog.Logger) {
	if rec, ok := core.(Refusals); ok {
		if err := rec.RecordRefusal(ctx, r); err != nil {
			logger.WarnContext(ctx, "refused approval not audited", "channel", r.Channel, "error", err)
		}
	}
}

// readBody reads a request body of at most MaxBody bytes: a larger one
// is approve.ErrTooLarge, an unreadable one domain.ErrInvalid.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("%w: more than %d bytes", approve.ErrTooLarge, MaxBody)
	case err != nil:
		return nil, fmt.Errorf("%w: request body unreadable", domain.ErrInvalid)
	}
	return body, nil
}

// writeError answers err with its status from the table: the error's
// text for a refusal (it never holds a secret or a signature), "internal
// error" for anything else, whose detail is logged only.
func writeError(ctx context.Context, w http.ResponseWriter, err error, logger *slog.Logger) {
	status := Status(err)
	if status == http.StatusInternalServerError {
		logger.ErrorContext(ctx, "approval failed", "error", err)
		writeJSON(w, status, map[string]string{"error": "internal error"})
		return
	}
	logger.WarnContext(ctx, "approval refused", "status", status, "error", err)
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
