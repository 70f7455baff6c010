package approve_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestParseSlackSecrets(t *testing.T) {
	long := strings.Repeat("a", 32)
	tests := []struct {
		in      string
		want    int
		wantErr string
	}{
		{"", 0, ""},
		{"  ", 0, ""},
		{long, 1, ""},
		{long + " , " + strings.Repeat("b", 16), 2, ""},
		{"short", 0, "secret 1 of 1 is shorter than 16"},
		{long + ",", 0, "secret 2 of 2 is shorter"},
		{long + "," + long + "," + long, 0, "at most two"},
		{"@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/slack/)", 0, "unresolved Key Vault reference"},
	}
	for _, tt := range tests {
		got, err := approve.ParseSlackSecrets(tt.in)
		if tt.wantErr != "" {
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), long) {
				t.Errorf("ParseSlackSecrets(%q) error = %v; want ErrInvalid with %q and no secret", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(got) != tt.want {
			t.Errorf("ParseSlackSecrets(%q) = %d secrets, %v; want %d", tt.in, len(got), err, tt.want)
		}
	}
}

// repliesTo records the replies the core asks for.
type repliesTo struct {
	mu   sync.Mutex
	sent []string // "url text"
}

func (r *repliesTo) Reply(_ context.Context, responseURL, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, responseURL+" "+text)
	return nil
}

func (r *repliesTo) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

// withResponseURL rewrites a Slack form body's response_url.
func withResponseURL(t *testing.T, body []byte, responseURL string) []byte {
	t.Helper()
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(form.Get("payload")), &p); err != nil {
		t.Fatal(err)
	}
	p["response_url"] = responseURL
	b, _ := json.Marshal(p)
	return []byte("payload=" + url.QueryEscape(string(b)))
}

func TestSlackReplyTellsTheClickerWhatHappened(t *testing.T) {
	f := slackFixture(t)
	inbox := &repliesTo{}
	f.svc.SlackReplies = inbox
	btn := buttons(t, &f.plan)
	a0 := f.plan.Actions[0]
	ctx := context.Background()
	respURL := "https://hooks.slack.com/actions/T0001/1/abc"

	// A verified click: the reply names the clicker and the action.
	body := withResponseURL(t, slackBody("T0001", "U0001", btn[approve.SlackActionApprove+" "+a0.ID]), respURL)
	if _, err := f.svc.HandleSlack(ctx, signedSlack(slackSecret, t0, body)); err != nil {
		t.Fatal(err)
	}
	got := inbox.take()
	if len(got) != 1 || !strings.HasPrefix(got[0], respURL+" <@U0001> approved action "+a0.ID) || !strings.Contains(got[0], "1 queued") {
		t.Fatalf("replies to an approval = %q; want one to the response URL naming <@U0001> and action %s", got, a0.ID)
	}

	// The same click again (a replay, verified): refused, and the clicker
	// is told why.
	f.now = t0.Add(time.Minute)
	if _, err := f.svc.HandleSlack(ctx, signedSlack(slackSecret, t0, body)); err == nil {
		t.Fatal("replay accepted") // a minute old, inside the window: the nonce refuses it
	}
	got = inbox.take()
	if len(got) != 1 || !strings.HasPrefix(got[0], respURL+" Nothing was approved for <@U0001>:") {
		t.Fatalf("replies to a replay = %q; want one saying nothing was approved", got)
	}

	// A forged click naming a response URL: no reply at all.
	forged := signedSlack([]byte("not-the-signing-secret-0123456789"), f.now, withResponseURL(t, slackBody("T0001", "U0001", btn[approve.SlackActionApproveAll]), "https://hooks.slack.com/actions/forged"))
	if _, err := f.svc.HandleSlack(ctx, forged); !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("forged click = %v; want ErrPermission", err)
	}
	if got := inbox.take(); len(got) != 0 {
		t.Fatalf("a forged request asked for replies %q", got)
	}

	// The report link decides nothing and says nothing.
	if _, err := f.svc.HandleSlack(ctx, signedSlack(slackSecret, f.now, withResponseURL(t, slackBody("T0001", "U0001",
		slackAction{ActionID: approve.SlackActionOpenReport, Type: "button", ActionTS: "1"}), respURL))); err != nil {
		t.Fatal(err)
	}
	if got := inbox.take(); len(got) != 0 {
		t.Fatalf("a click on the report link asked for replies %q", got)
	}
}

func TestReplyText(t *testing.T) {
	res := approve.Result{PlanID: "plan-1", Approved: []string{"a1", "a2", "a3"}, Pending: []string{"a3"}, Rejected: []string{"a4"}, Enqueued: 2}
	got := approve.ReplyText("slack:T1/U9", res, nil)
	for _, want := range []string{"<@U9>", "approved 2 actions (a1, a2)", "2 queued", "approved action a3, which waits for a second approver", "rejected action a4", "plan plan-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("ReplyText = %q; want %q in it", got, want)
		}
	}
	internal := approve.ReplyText("slack:T1/U9", approve.Result{}, fmt.Errorf("put s3://lake-bucket/decisions/x: connection reset"))
	if strings.Contains(internal, "lake-bucket") || !strings.Contains(internal, "internal error") {
		t.Errorf("ReplyText(internal error) = %q; want no detail, only that it was internal", internal)
	}
	refused := approve.ReplyText("slack:T1/U9", approve.Result{}, fmt.Errorf("approve: %w: action a1 changed since the message", domain.ErrConflict))
	if !strings.Contains(refused, "action a1 changed") {
		t.Errorf("ReplyText(refusal) = %q; want the reason", refused)
	}
}
