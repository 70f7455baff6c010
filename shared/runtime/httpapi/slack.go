package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/cloudtrim/cloudtrim/shared/approve"
)

// SlackApprover handles Slack interaction requests.
type SlackApprover interface {
	HandleSlack(ctx context.Context, req approve.Request) (approve.Result, error)
}

// SlackHandler serves Slack's interaction requests (POST, form-encoded,
// signed with the app's signing secret) to the core: the Request URL of
// the Slack app's interactivity. Slack shows the clicking user an error
// for any status but 200.
func SlackHandler(core SlackApprover, logger *slog.Logger) http.Handler {
	logger = orDiscard(logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use POST"})
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			refuse(r.Context(), core, approve.Refusal{Channel: "slack", Reason: err}, logger)
			writeError(r.Context(), w, err, logger)
			return
		}
		res, err := core.HandleSlack(r.Context(), approve.Request{
			Timestamp: r.Header.Get(approve.HeaderSlackTimestamp),
			Signature: r.Header.Get(approve.HeaderSlackSignature),
			Body:      body,
		})
		if err != nil {
			writeError(r.Context(), w, err, logger)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}
