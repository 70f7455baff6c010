package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Notification is the JSON a notifier posts. Text makes it a valid
// Slack (and Teams, Mattermost, Google Chat) incoming-webhook message;
// Blocks, when set, is Slack's Block Kit layout of it (Text stays the
// fallback); the other fields are for programs.
type Notification struct {
	Text   string          `json:"text"`
	Blocks []approve.Block `json:"blocks,omitempty"`
	Event  string          `json:"event"`
	PlanID string          `json:"plan_id,omitempty"`
	Data   any             `json:"data,omitempty"`
}

// PlanNotification announces plan with the Block Kit message of
// approve.SlackMessage: per-action approve and reject buttons and an
// approve-all button, which reach the Slack app's Request URL when the
// incoming webhook belongs to an app with interactivity. reportBaseURL
// is where plan reports can be read, or "". data is attached for
// programs.
func PlanNotification(plan *domain.Plan, reportBaseURL string, data any) (Notification, error) {
	msg, err := approve.SlackMessage(plan, reportBaseURL)
	if err != nil {
		return Notification{}, fmt.Errorf("plan notification %s: %w", plan.ID, err)
	}
	return Notification{Text: msg.Text, Blocks: msg.Blocks, Event: "plan", PlanID: plan.ID, Data: data}, nil
}

// Notifier posts notifications to a webhook URL. Incoming-webhook URLs
// carry their credential in the path, so a Notifier's errors and
// String name only the URL's host.
type Notifier struct {
	url    string
	client *http.Client
}

// NewNotifier returns a notifier for rawURL (https, or http to a
// loopback host for tests); an empty URL gives a nil notifier, whose
// Notify does nothing.
func NewNotifier(rawURL string, client *http.Client) (*Notifier, error) {
	if rawURL == "" {
		return nil, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: notification URL is not an absolute URL", domain.ErrInvalid)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("%w: notification URL must use https (host %s)", domain.ErrInvalid, u.Host)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Notifier{url: rawURL, client: client}, nil
}

// String names the notifier's host, never the full URL.
func (n *Notifier) String() string {
	if n == nil {
		return "none"
	}
	u, _ := url.Parse(n.url)
	return u.Scheme + "://" + u.Host
}

// Notify posts msg. A nil notifier does nothing.
func (n *Notifier) Notify(ctx context.Context, msg Notification) error {
	if n == nil {
		return nil
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify %s: %w", n, domain.ErrInvalid)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		// The transport's error quotes the URL: say only which host failed.
		return fmt.Errorf("notify %s: request failed", n)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify %s: status %d", n, resp.StatusCode)
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
