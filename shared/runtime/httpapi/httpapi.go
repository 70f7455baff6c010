// Package httpapi serves the approval core over HTTP: it turns a
// request into an approve.Request, maps the core's error kinds to status
// codes in one table, and answers JSON. Every runtime that receives the
// webhook as plain HTTP (local, Cloud Functions, Azure custom handler)
// uses it.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
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

// statusOf maps error kinds to HTTP status codes.
var statusOf = []struct {
	kind   error
	status int
}{
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
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large or unreadable"})
			return
		}
		res, err := core.Handle(r.Context(), approve.Request{
			Timestamp: r.Header.Get(approve.HeaderTimestamp),
			Signature: r.Header.Get(approve.HeaderSignature),
			Body:      body,
		})
		if err != nil {
			status := Status(err)
			if status == http.StatusInternalServerError {
				logger.ErrorContext(r.Context(), "approval failed", "error", err)
				writeJSON(w, status, map[string]string{"error": "internal error"})
				return
			}
			logger.WarnContext(r.Context(), "approval refused", "status", status, "error", err)
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
