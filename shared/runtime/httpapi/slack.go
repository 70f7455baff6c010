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
	return signedPost("slack", approve.HeaderSlackTimestamp, approve.HeaderSlackSignature, core, core.HandleSlack, logger)
}
