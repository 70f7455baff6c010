package approve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var (
	slackSecret  = []byte("8f742231b10e8888abcd99aa11bb85a5")
	slackRotated = []byte("0a1b2c3d4e5f60718293a4b5c6d7e8f9")
)

// slackFixture is a fixture whose service also takes Slack requests.
func slackFixture(t testing.TB) *fixture {
	f := newFixture(t)
	f.svc.SlackSecrets = [][]byte{slackSecret, slackRotated}
	return f
}

// slackAction is a clicked button as Slack reports it.
type slackAction struct {
	ActionID string `json:"action_id"`
	BlockID  string `json:"block_id,omitempty"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	ActionTS string `json:"action_ts"`
}

// slackBody is the form body of a block_actions interaction by user of
// team clicking actions.
func slackBody(team, user string, actions ...slackAction) []byte {
	p := map[string]any{
		"type":         "block_actions",
		"team":         map[string]string{"id": team, "domain": "example"},
		"user":         map[string]string{"id": user, "username": "ana", "name": "ana", "team_id": team},
		"api_app_id":   "A0001",
		"token":        "verification-token-not-used",
		"trigger_id":   "123.456.abc",
		"response_url": "https://hooks.slack.com/actions/T0001/1/abc",
		"actions":      actions,
	}
	b, _ := json.Marshal(p)
	return []byte("payload=" + url.QueryEscape(string(b)))
}

func signedSlack(key []byte, at time.Time, body []byte) approve.Request {
	ts, sig := approve.SignSlack(key, at, body)
	return approve.Request{Timestamp: ts, Signature: sig, Body: body}
}

// buttons returns the buttons of the plan's Slack message by action ID
// and, for per-action buttons, the action they belong to.
func buttons(t testing.TB, plan *domain.Plan) map[string]slackAction {
	t.Helper()
	msg, err := approve.SlackMessage(plan, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]slackAction{}
	for _, b := range msg.Blocks {
		for _, e := range b.Elements {
			btn, ok := e.(approve.Button)
			if !ok || btn.Value == "" {
				continue
			}
			key := btn.ActionID
			if strings.HasPrefix(b.BlockID, "act:") {
				key += " " + strings.TrimPrefix(b.BlockID, "act:")
			}
			out[key] = slackAction{ActionID: btn.ActionID, BlockID: b.BlockID, Type: "button", Value: btn.Value, ActionTS: "1795000000.000100"}
		}
	}
	return out
}

func TestVerifySlack(t *testing.T) {
	body := slackBody("T0001", "U0001")
	secrets := [][]byte{slackSecret, slackRotated}
	tests := []struct {
		name string
		req  func() approve.Request
		ok   bool
	}{
		{"valid", func() approve.Request { return signedSlack(slackSecret, t0, body) }, true},
		{"second secret during rotation", func() approve.Request { return signedSlack(slackRotated, t0, body) }, true},
		{"at the edge of the window", func() approve.Request { return signedSlack(slackSecret, t0.Add(-5*time.Minute), body) }, true},
		{"wrong secret", func() approve.Request { return signedSlack([]byte("not-the-signing-secret-000000000"), t0, body) }, false},
		{"webhook secret", func() approve.Request { return signedSlack(secret, t0, body) }, false},
		{"expired", func() approve.Request { return signedSlack(slackSecret, t0.Add(-5*time.Minute-time.Second), body) }, false},
		{"from the future", func() approve.Request { return signedSlack(slackSecret, t0.Add(6*time.Minute), body) }, false},
		{"tampered body", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Body = bytes.Replace(r.Body, []byte("U0001"), []byte("U0002"), 1)
			return r
		}, false},
		{"timestamp changed after signing", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Timestamp = strconv.FormatInt(t0.Unix()+1, 10)
			return r
		}, false},
		{"missing timestamp", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Timestamp = ""
			return r
		}, false},
		{"missing signature", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Signature = ""
			return r
		}, false},
		{"timestamp not a number", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Timestamp = "yesterday"
			return r
		}, false},
		{"webhook scheme", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Signature = "v1=" + r.Signature[3:]
			return r
		}, false},
		{"upper-case hex", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Signature = "v0=" + strings.ToUpper(r.Signature[3:])
			return r
		}, false},
		{"truncated signature", func() approve.Request {
			r := signedSlack(slackSecret, t0, body)
			r.Signature = r.Signature[:len(r.Signature)-2]
			return r
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			err := approve.VerifySlack(secrets, r.Timestamp, r.Signature, r.Body, t0, approve.DefaultWindow)
			if tt.ok && err != nil {
				t.Fatalf("VerifySlack = %v; want nil", err)
			}
			if !tt.ok && !errors.Is(err, domain.ErrPermission) {
				t.Fatalf("VerifySlack = %v; want ErrPermission", err)
			}
			if err != nil && (strings.Contains(err.Error(), string(slackSecret)) || strings.Contains(err.Error(), signedSlack(slackSecret, t0, body).Signature[3:])) {
				t.Errorf("error %q reveals the secret or the expected signature", err)
			}
		})
	}
	if err := approve.VerifySlack(nil, "1", "v0=00", body, t0, approve.DefaultWindow); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("VerifySlack without secrets = %v; want ErrPermission", err)
	}
}

func TestHandleSlackDecidesAsTheWebhook(t *testing.T) {
	f := slackFixture(t)
	a0, a1 := f.plan.Actions[0], f.plan.Actions[1]
	btn := buttons(t, &f.plan)

	res, err := f.svc.HandleSlack(context.Background(), signedSlack(slackSecret, t0, slackBody("T0001", "U0001", btn[approve.SlackActionApprove+" "+a0.ID])))
	if err != nil {
		t.Fatalf("HandleSlack(approve): %v", err)
	}
	if diff := cmp.Diff([]string{a0.ID}, res.Approved); diff != "" || res.Enqueued != 1 {
		t.Fatalf("approve: result %+v (-want +got approved):\n%s", res, diff)
	}
	f.now = t0.Add(time.Second)
	res, err = f.svc.HandleSlack(context.Background(), signedSlack(slackRotated, f.now, slackBody("T0001", "U0002", btn[approve.SlackActionReject+" "+a1.ID])))
	if err != nil {
		t.Fatalf("HandleSlack(reject) with the rotated secret: %v", err)
	}
	if diff := cmp.Diff([]string{a1.ID}, res.Rejected); diff != "" {
		t.Fatalf("reject: rejected (-want +got):\n%s", diff)
	}
	ds, _ := f.lake.Decisions(context.Background(), f.plan.ID)
	if len(ds) != 2 {
		t.Fatalf("%d decisions; want 2", len(ds))
	}
	want := map[string]string{a0.ID: "slack:T0001/U0001", a1.ID: "slack:T0001/U0002"}
	for _, d := range ds {
		a, _ := f.plan.Action(d.ActionID)
		if d.Approver != want[d.ActionID] || d.Channel != "slack" || d.ActionHash != a.Hash() {
			t.Errorf("decision %+v; want approver %s via slack bound to the action's hash", d, want[d.ActionID])
		}
	}

	f.now = t0.Add(2 * time.Second)
	res, err = f.svc.HandleSlack(context.Background(), signedSlack(slackSecret, f.now, slackBody("T0001", "U0001", btn[approve.SlackActionApproveAll])))
	if err != nil {
		t.Fatalf("HandleSlack(approve all): %v", err)
	}
	if len(res.Approved) != 3 {
		t.Fatalf("approve all approved %v; want all 3 actions", res.Approved)
	}
}

func TestHandleSlackReplayIsRefused(t *testing.T) {
	f := slackFixture(t)
	btn := buttons(t, &f.plan)
	req := signedSlack(slackSecret, t0, slackBody("T0001", "U0001", btn[approve.SlackActionApproveAll]))
	if _, err := f.svc.HandleSlack(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(time.Minute)
	if _, err := f.svc.HandleSlack(context.Background(), req); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("replayed HandleSlack = %v; want ErrConflict", err)
	}
	if f.q.count() != 3 {
		t.Errorf("queue holds %d messages after a replay; want the 3 of the first request", f.q.count())
	}
}

func TestHandleSlackOpenReportDecidesNothing(t *testing.T) {
	f := slackFixture(t)
	res, err := f.svc.HandleSlack(context.Background(), signedSlack(slackSecret, t0, slackBody("T0001", "U0001",
		slackAction{ActionID: approve.SlackActionOpenReport, Type: "button", ActionTS: "1"})))
	if err != nil || len(res.Approved)+len(res.Rejected) != 0 {
		t.Fatalf("HandleSlack(open report) = %+v, %v; want nothing decided and no error", res, err)
	}
	if ds, _ := f.lake.Decisions(context.Background(), f.plan.ID); len(ds) != 0 {
		t.Errorf("open report recorded %d decisions", len(ds))
	}
}

func TestHandleSlackBadRequestsChangeNothing(t *testing.T) {
	plan := testPlan()
	a0 := plan.Actions[0]
	btn := buttons(t, &plan)
	approveA0 := btn[approve.SlackActionApprove+" "+a0.ID]
	value := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	with := func(actionID, v string) slackAction {
		return slackAction{ActionID: actionID, Type: "button", Value: v, ActionTS: "1"}
	}
	payload := func(p string) []byte { return []byte("payload=" + url.QueryEscape(p)) }
	tests := []struct {
		name string
		body []byte
		kind error
	}{
		{"not form-encoded", []byte("payload=%zz"), domain.ErrInvalid},
		{"no payload", []byte("foo=bar"), domain.ErrInvalid},
		{"two payloads", append(slackBody("T0001", "U0001", approveA0), []byte("&payload=x")...), domain.ErrInvalid},
		{"payload not JSON", payload("{"), domain.ErrInvalid},
		{"view submission", payload(`{"type":"view_submission","team":{"id":"T0001"},"user":{"id":"U0001"}}`), domain.ErrInvalid},
		{"no actions", slackBody("T0001", "U0001"), domain.ErrInvalid},
		{"unknown action", slackBody("T0001", "U0001", with("delete_everything", approveA0.Value)), domain.ErrInvalid},
		{"value not JSON", slackBody("T0001", "U0001", with(approve.SlackActionApprove, "approve-all-please")), domain.ErrInvalid},
		{"value with an unknown field", slackBody("T0001", "U0001", with(approve.SlackActionApprove,
			`{"v":1,"plan_id":"`+plan.ID+`","action_id":"`+a0.ID+`","action_hash":"`+a0.Hash()+`","verdict":"approved"}`)), domain.ErrInvalid},
		{"value of another version", slackBody("T0001", "U0001", with(approve.SlackActionApprove,
			value(approve.SlackValue{Version: 2, PlanID: plan.ID, ActionID: a0.ID, ActionHash: a0.Hash()}))), domain.ErrUnsupported},
		{"approve-all without digest", slackBody("T0001", "U0001", with(approve.SlackActionApproveAll,
			value(approve.SlackValue{Version: 1, PlanID: plan.ID, ActionID: a0.ID, ActionHash: a0.Hash()}))), domain.ErrInvalid},
		{"approve without hash", slackBody("T0001", "U0001", with(approve.SlackActionApprove,
			value(approve.SlackValue{Version: 1, PlanID: plan.ID, ActionID: a0.ID}))), domain.ErrInvalid},
		{"no user", slackBody("T0001", "", approveA0), domain.ErrInvalid},
		{"user ID with a slash", slackBody("T0001", "U1/U2", approveA0), domain.ErrInvalid},
		{"no team", slackBody("", "U0001", approveA0), domain.ErrInvalid},
		{"buttons of two plans", slackBody("T0001", "U0001", approveA0, with(approve.SlackActionApproveAll,
			value(approve.SlackValue{Version: 1, PlanID: "plan-other", PlanDigest: "sha256:x"}))), domain.ErrInvalid},
		{"action changed since shown", slackBody("T0001", "U0001", with(approve.SlackActionApprove,
			value(approve.SlackValue{Version: 1, PlanID: plan.ID, ActionID: a0.ID, ActionHash: "sha256:old"}))), domain.ErrConflict},
		{"plan changed since shown", slackBody("T0001", "U0001", with(approve.SlackActionApproveAll,
			value(approve.SlackValue{Version: 1, PlanID: plan.ID, PlanDigest: "sha256:old"}))), domain.ErrConflict},
		{"action not in plan", slackBody("T0001", "U0001", with(approve.SlackActionApprove,
			value(approve.SlackValue{Version: 1, PlanID: plan.ID, ActionID: "act-0000000000000000", ActionHash: a0.Hash()}))), domain.ErrNotFound},
		{"unknown plan", slackBody("T0001", "U0001", with(approve.SlackActionApproveAll,
			value(approve.SlackValue{Version: 1, PlanID: "plan-missing", PlanDigest: "sha256:x"}))), domain.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := slackFixture(t)
			_, err := f.svc.HandleSlack(context.Background(), signedSlack(slackSecret, t0, tt.body))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("HandleSlack = %v; want an error wrapping %v", err, tt.kind)
			}
			assertNothingDecided(t, f)
			assertRefusalAudited(t, f, "slack")
		})
	}
}

func TestHandleSlackWithoutSigningSecretRefusesEverything(t *testing.T) {
	f := newFixture(t)
	btn := buttons(t, &f.plan)
	_, err := f.svc.HandleSlack(context.Background(), signedSlack(secret, t0, slackBody("T0001", "U0001", btn[approve.SlackActionApproveAll])))
	if !errors.Is(err, domain.ErrPermission) {
		t.Fatalf("HandleSlack without Slack secrets = %v; want ErrPermission", err)
	}
	assertNothingDecided(t, f)
}

// TestParseSlackSamplePayload reads a block_actions payload in the shape
// of the example of Slack's interaction payload reference
// (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload),
// with cloudtrim's button in place of the example's.
func TestParseSlackSamplePayload(t *testing.T) {
	raw, err := os.ReadFile("testdata/slack/block_actions.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := approve.ParseSlackPayload([]byte("payload=" + url.QueryEscape(string(raw))))
	if err != nil {
		t.Fatalf("ParseSlackPayload(sample): %v", err)
	}
	who, err := p.Approver()
	if err != nil || who != "slack:T9TK3CUKW/U0CA5" {
		t.Errorf("Approver() = %q, %v; want slack:T9TK3CUKW/U0CA5", who, err)
	}
	if len(p.Actions) != 1 || p.Actions[0].ActionID != approve.SlackActionApprove || p.ResponseURL == "" {
		t.Errorf("parsed %+v", p)
	}
}

func TestSlackMessageGolden(t *testing.T) {
	plan := testPlan()
	plan.Actions[1].Name = "billing <!channel> & <https://evil.example|click>"
	plan.Actions[1].Summary = "idle for 14 days"
	msg, err := approve.SlackMessage(&plan, "https://reports.example.com/cloudtrim/")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(msg); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	golden := filepath.Join("testdata", "slack_message.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("SlackMessage mismatch (-want +got):\n%s", diff)
	}
	for _, forbidden := range []string{"<!channel>", "<https://evil"} {
		if strings.Contains(string(got), forbidden) {
			t.Errorf("message holds %q unescaped", forbidden)
		}
	}
}

func TestSlackMessageOfALargePlan(t *testing.T) {
	plan := domain.Plan{Version: domain.PlanVersion, ID: "plan-big", Currency: "USD"}
	for i := range 60 {
		ref := domain.ResourceRef{Cloud: domain.AWS, Account: "acct", Region: "r1", Kind: domain.KindVM, ID: fmt.Sprintf("vm-%02d", i)}
		plan.Actions = append(plan.Actions, domain.Action{ID: domain.ActionID(domain.ActionStop, ref), PlanID: plan.ID, Kind: domain.ActionStop,
			Target: ref, MonthlySavings: domain.USD(int64(i+1) * 1_000_000)})
	}
	msg, err := approve.SlackMessage(&plan, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Blocks) > 50 {
		t.Errorf("%d blocks; Slack allows 50", len(msg.Blocks))
	}
	btn := buttons(t, &plan)
	if n := len(btn); n != 2*approve.SlackTopActions+1 {
		t.Errorf("%d buttons with values; want approve and reject for the top %d and approve-all", n, approve.SlackTopActions)
	}
	top := plan.Actions[59] // the largest saving
	if _, ok := btn[approve.SlackActionApprove+" "+top.ID]; !ok {
		t.Errorf("the largest action %s has no approve button", top.ID)
	}
	for _, b := range btn {
		if len(b.Value) > 2000 {
			t.Errorf("button value of %d characters; Slack allows 2000", len(b.Value))
		}
	}
	if _, err := approve.SlackMessage(&plan, "ftp://x"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("SlackMessage with an ftp base URL = %v; want ErrInvalid", err)
	}
}

func assertNothingDecided(t *testing.T, f *fixture) {
	t.Helper()
	if f.q.count() != 0 {
		t.Errorf("a refused request enqueued %d messages", f.q.count())
	}
	if ds, _ := f.lake.Decisions(context.Background(), f.plan.ID); len(ds) != 0 {
		t.Errorf("a refused request recorded %d decisions", len(ds))
	}
}

// assertRefusalAudited checks that the lake holds exactly one audit
// event, an approval_refused one of channel, without a secret in it.
func assertRefusalAudited(t *testing.T, f *fixture, channel string) domain.AuditEvent {
	t.Helper()
	evs, err := f.lake.Audit(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != approve.AuditRefused || !strings.HasPrefix(evs[0].Detail, channel+": ") ||
		!strings.HasPrefix(evs[0].Actor, "unverified:") || evs[0].Outcome == "" {
		t.Fatalf("audit %+v; want one approval_refused event of channel %s", evs, channel)
	}
	b, _ := json.Marshal(evs[0])
	for _, s := range [][]byte{secret, rotated, slackSecret, slackRotated} {
		if bytes.Contains(b, s) {
			t.Errorf("audit event %s holds a secret", b)
		}
	}
	return evs[0]
}
