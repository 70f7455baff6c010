package approve

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// SlackSigningSecretEnv is the environment variable a local host reads
// the Slack app's signing secret from: one secret, or the old and the
// new one separated by a comma while it is rotated.
const SlackSigningSecretEnv = "CLOUDTRIM_SLACK_SIGNING_SECRET"

// MinSlackSecretBytes is the shortest signing secret accepted (Slack's
// are 32 hex characters).
const MinSlackSecretBytes = 16

// ParseSlackSecrets reads a value of SlackSigningSecretEnv: empty gives
// none (every Slack request is then refused); otherwise one or two
// secrets of at least MinSlackSecretBytes (see ParseSecrets).
func ParseSlackSecrets(v string) ([][]byte, error) {
	return ParseSecrets(SlackSigningSecretEnv, v, MinSlackSecretBytes)
}

// keyVaultPrefix starts an Azure app setting whose Key Vault reference
// the platform could not resolve: it then passes the reference itself.
const keyVaultPrefix = "@Microsoft.KeyVault("

// ParseSecrets reads secrets from the setting name's value v: empty
// gives none; otherwise one secret, or the old and the new one separated
// by a comma while rotating, each at least minLen bytes. A value that is
// an unresolved Azure Key Vault reference is refused: taken as a key, it
// would be a public string. Errors name the setting and what is wrong,
// never a secret.
func ParseSecrets(name, v string, minLen int) ([][]byte, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if strings.HasPrefix(v, keyVaultPrefix) {
		return nil, fmt.Errorf("%w: %s is an unresolved Key Vault reference: grant the function app's identity Key Vault Secrets User on the vault and check the secret exists", domain.ErrInvalid, name)
	}
	parts := strings.Split(v, ",")
	if len(parts) > 2 {
		return nil, fmt.Errorf("%w: %s holds %d secrets; at most two (the old and the new one while rotating)", domain.ErrInvalid, name, len(parts))
	}
	var out [][]byte
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) < minLen {
			return nil, fmt.Errorf("%w: %s: secret %d of %d is shorter than %d characters", domain.ErrInvalid, name, i+1, len(parts), minLen)
		}
		out = append(out, []byte(p))
	}
	return out, nil
}

// SlackReplier posts the text of a reply to a verified interaction's
// response_url (httpapi.SlackReplier does, to Slack's host only).
type SlackReplier interface {
	Reply(ctx context.Context, responseURL, text string) error
}

// SlackReply is the message posted to a response_url.
type SlackReply struct {
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
	Text            string `json:"text"`
}

// ReplyText says what a click did: the approved, rejected and pending
// actions, or why nothing was done. err is the core's error for the
// click; its text never holds a secret or a signature.
func ReplyText(approver string, res Result, err error) string {
	who := approver
	if strings.HasPrefix(who, slackPrefix) {
		if i := strings.LastIndexByte(who, '/'); i >= 0 {
			who = "<@" + who[i+1:] + ">"
		}
	}
	if err != nil {
		if !isRefusal(err) {
			return fmt.Sprintf("Nothing was approved for %s: an internal error; the operators have the details in the approval function's log.", who)
		}
		return fmt.Sprintf("Nothing was approved for %s: %s", who, slackEscape(err.Error()))
	}
	var parts []string
	if n := len(res.Approved) - len(res.Pending); n > 0 {
		parts = append(parts, fmt.Sprintf("approved %s (%d queued for the actuator)", listIDs(res.Approved, res.Pending), res.Enqueued))
	}
	if len(res.Pending) > 0 {
		parts = append(parts, fmt.Sprintf("approved %s, which waits for a second approver", listIDs(res.Pending, nil)))
	}
	if len(res.Rejected) > 0 {
		parts = append(parts, "rejected "+listIDs(res.Rejected, nil))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s: nothing to decide in plan %s.", who, slackEscape(res.PlanID))
	}
	return fmt.Sprintf("%s %s in plan %s.", who, strings.Join(parts, "; "), slackEscape(res.PlanID))
}

// isRefusal reports whether err is the core refusing a request (its
// text is meant for the requester) rather than failing (its text may
// name stores and is for the log only).
func isRefusal(err error) bool {
	for _, kind := range []error{ErrTooLarge, ErrGone, ErrNotAuthorized, domain.ErrInvalid, domain.ErrPermission,
		domain.ErrNotFound, domain.ErrConflict, domain.ErrUnsupported} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// listIDs lists ids not in except, at most five by name.
func listIDs(ids, except []string) string {
	skip := map[string]bool{}
	for _, id := range except {
		skip[id] = true
	}
	var keep []string
	for _, id := range ids {
		if !skip[id] {
			keep = append(keep, slackEscape(id))
		}
	}
	switch {
	case len(keep) == 1:
		return "action " + keep[0]
	case len(keep) <= 5:
		return fmt.Sprintf("%d actions (%s)", len(keep), strings.Join(keep, ", "))
	}
	return fmt.Sprintf("%d actions (%s, …)", len(keep), strings.Join(keep[:5], ", "))
}
