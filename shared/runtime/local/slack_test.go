package local

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestServeSlackWithConfiguredSecret: the local webhook verifies Slack
// clicks with CLOUDTRIM_SLACK_SIGNING_SECRET (both secrets while it is
// rotated), and refuses them all without one.
func TestServeSlackWithConfiguredSecret(t *testing.T) {
	ctx := context.Background()
	oldKey, newKey := "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "8f742231b10e8888abcd99aa11bb85a5"
	open := func(slackEnv string) (*Runtime, error) {
		env := map[string]string{approve.SlackSigningSecretEnv: slackEnv}
		return Open(ctx, Options{Dir: t.TempDir(), Secret: []byte("local-slack-test-webhook-secret-01"), Getenv: func(k string) string { return env[k] }})
	}
	if _, err := open("too-short"); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), approve.SlackSigningSecretEnv) {
		t.Fatalf("Open with a short Slack secret = %v; want ErrInvalid naming %s", err, approve.SlackSigningSecretEnv)
	}
	for _, tt := range []struct {
		name, env string
		signWith  string
		want      int
	}{
		{"current secret", oldKey + "," + newKey, newKey, http.StatusOK},
		{"previous secret while rotating", oldKey + "," + newKey, oldKey, http.StatusOK},
		{"no secret configured", "", newKey, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := open(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			if _, err := rt.Collect(ctx, domain.Clouds, 14, nil); err != nil {
				t.Fatal(err)
			}
			plan, err := rt.Pipeline.Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := rt.ServeApprovals("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			body := approveAllClick(t, &plan)
			ts, sig := approve.SignSlack([]byte(tt.signWith), time.Now(), body)
			req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(srv.URL, "/approve")+"/slack/actions", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(approve.HeaderSlackTimestamp, ts)
			req.Header.Set(approve.HeaderSlackSignature, sig)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("POST /slack/actions = %d; want %d", resp.StatusCode, tt.want)
			}
			ds, err := rt.Pipeline.Lake.Decisions(ctx, plan.ID)
			if err != nil {
				t.Fatal(err)
			}
			if wantDecided := tt.want == http.StatusOK; (len(ds) == len(plan.Actions)) != wantDecided || (!wantDecided && len(ds) != 0) {
				t.Fatalf("%d decisions for %d actions after status %d", len(ds), len(plan.Actions), resp.StatusCode)
			}
		})
	}
}

// approveAllClick is the form body of a click on the plan message's
// approve-all button.
func approveAllClick(t *testing.T, plan *domain.Plan) []byte {
	t.Helper()
	msg, err := approve.SlackMessage(plan, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range msg.Blocks {
		for _, e := range b.Elements {
			if btn, ok := e.(approve.Button); ok && btn.ActionID == approve.SlackActionApproveAll {
				p, _ := json.Marshal(map[string]any{"type": "block_actions", "team": map[string]string{"id": "T0001"},
					"user": map[string]string{"id": "U0001", "team_id": "T0001"}, "actions": []any{map[string]string{
						"action_id": btn.ActionID, "type": "button", "value": btn.Value, "action_ts": "1"}}})
				return []byte("payload=" + url.QueryEscape(string(p)))
			}
		}
	}
	t.Fatal("no approve-all button")
	return nil
}
