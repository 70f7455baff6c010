package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// SlackReplyHost is the only host a reply is posted to: Slack's
// response URLs are https://hooks.slack.com/actions/….
const SlackReplyHost = "hooks.slack.com"

// SlackReplier tells the person who clicked a button what came of it,
// by posting to the interaction's response_url: a new message in the
// channel under the original, which keeps its buttons for the other
// actions. The response URL comes from a verified request, and only
// https URLs on SlackReplyHost (or AllowHosts, for tests) are called,
// so a request cannot make the webhook call anywhere else.
type SlackReplier struct {
	// Client posts the reply; nil means a client with a 5-second
	// timeout.
	Client *http.Client
	// AllowHosts replaces SlackReplyHost as the allowed hosts, with
	// http allowed too: for tests against a local server.
	AllowHosts []string
}

// Reply posts text to responseURL. An URL that is not Slack's is
// refused with domain.ErrInvalid before any call.
func (r *SlackReplier) Reply(ctx context.Context, responseURL, text string) error {
	u, err := url.Parse(responseURL)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: slack response_url is not an absolute URL", domain.ErrInvalid)
	}
	if !r.allowed(u) {
		return fmt.Errorf("%w: slack response_url host %q is not %s", domain.ErrInvalid, cleanHost(u.Host), SlackReplyHost)
	}
	b, err := json.Marshal(approve.SlackReply{ResponseType: "in_channel", Text: cutText(text, 3000)})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	// Never follow a redirect off Slack's host.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL holds a credential: leave it out
		}
		return fmt.Errorf("slack reply to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("slack reply to %s: HTTP %d", u.Host, resp.StatusCode)
	}
	return nil
}

func (r *SlackReplier) allowed(u *url.URL) bool {
	if len(r.AllowHosts) == 0 {
		return u.Scheme == "https" && strings.EqualFold(u.Host, SlackReplyHost)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return false
	}
	for _, h := range r.AllowHosts {
		if strings.EqualFold(u.Host, h) {
			return true
		}
	}
	return false
}

// cleanHost bounds a host named in an error.
func cleanHost(h string) string {
	if len(h) > 80 {
		h = h[:80] + "…"
	}
	return h
}

// cutText cuts s to at most n bytes on a rune boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
