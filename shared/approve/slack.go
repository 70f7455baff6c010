package approve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Header names of a Slack interaction request.
const (
	HeaderSlackTimestamp = "X-Slack-Request-Timestamp"
	HeaderSlackSignature = "X-Slack-Signature"
)

// Action IDs of the buttons SlackMessage emits. Approve and reject carry
// a SlackValue binding plan, action and action hash; approve-all one
// binding plan and plan digest; open-report is a link and decides
// nothing.
const (
	SlackActionApprove    = "cloudtrim_approve"
	SlackActionReject     = "cloudtrim_reject"
	SlackActionApproveAll = "cloudtrim_approve_all"
	SlackActionOpenReport = "cloudtrim_open_report"
)

// SlackTopActions is how many actions a Slack message lists with their
// own buttons; the rest are approved with the plan or in the report.
const SlackTopActions = 10

// slackPrefix starts every identity Slack asserts: "slack:<team>/<user>".
const slackPrefix = "slack:"

func hasSlackPrefix(approver string) bool {
	return len(approver) >= len(slackPrefix) && sameIdentity(approver[:len(slackPrefix)], slackPrefix)
}

// SignSlack returns the headers Slack would send with body at ts:
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + unix seconds + ":" + body)).
// It is for tests and tools; Slack signs real requests.
func SignSlack(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, slackSignature(secret, timestamp, body)
}

func slackSignature(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v0:"))
	m.Write([]byte(timestamp))
	m.Write([]byte(":"))
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySlack checks Slack's v0 signature of body against every signing
// secret (two may be active while one is rotated), comparing in
// constant time, and checks that the timestamp lies within window of
// now. Only the canonical lower-case hex form Slack sends is accepted.
// Errors wrap domain.ErrPermission and never quote a secret or the
// expected signature.
func VerifySlack(secrets [][]byte, timestamp, signature string, body []byte, now time.Time, window time.Duration) error {
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no Slack signing secret is configured", domain.ErrPermission)
	}
	if timestamp == "" || signature == "" {
		return fmt.Errorf("%w: unsigned request: %s and %s headers are required", domain.ErrPermission, HeaderSlackTimestamp, HeaderSlackSignature)
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not unix seconds", domain.ErrPermission, HeaderSlackTimestamp)
	}
	skew := now.Sub(time.Unix(secs, 0))
	if skew > window || skew < -window {
		return fmt.Errorf("%w: request timestamp is %v away from now, outside the %v window (expired or clock skew)", domain.ErrPermission, skew.Round(time.Second), window)
	}
	if !strings.HasPrefix(signature, "v0=") {
		return fmt.Errorf("%w: signature scheme is not v0", domain.ErrPermission)
	}
	valid := false
	for _, s := range secrets {
		if hmac.Equal([]byte(signature), []byte(slackSignature(s, timestamp, body))) {
			valid = true
		}
	}
	if !valid {
		return fmt.Errorf("%w: Slack signature does not match the body (tampered or wrong signing secret)", domain.ErrPermission)
	}
	return nil
}

// SlackValue is the value of a button SlackMessage emits: approve and
// reject bind plan ID, action ID and action hash; approve-all binds plan
// ID and plan digest. The verdict is the button's action ID.
type SlackValue struct {
	Version    int    `json:"v"`
	PlanID     string `json:"plan_id"`
	ActionID   string `json:"action_id,omitempty"`
	ActionHash string `json:"action_hash,omitempty"`
	PlanDigest string `json:"plan_digest,omitempty"`
}

// SlackPayload is the part of a Slack block_actions interaction payload
// the core reads. Slack sends many more fields; they are ignored.
type SlackPayload struct {
	Type string `json:"type"`
	Team *struct {
		ID string `json:"id"`
	} `json:"team"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
		TeamID   string `json:"team_id"`
	} `json:"user"`
	Actions     []SlackAction `json:"actions"`
	ResponseURL string        `json:"response_url"`
}

// SlackAction is one clicked element of a block_actions payload.
type SlackAction struct {
	ActionID string `json:"action_id"`
	BlockID  string `json:"block_id"`
	Type     string `json:"type"`
	Value    string `json:"value"`
}

// Approver returns the identity Slack asserts for the payload's user:
// "slack:<team ID>/<user ID>". Errors wrap domain.ErrInvalid.
func (p SlackPayload) Approver() (string, error) {
	team := p.User.TeamID
	if p.Team != nil && p.Team.ID != "" {
		team = p.Team.ID
	}
	if !slackID(team) || !slackID(p.User.ID) {
		return "", fmt.Errorf("%w: slack payload: team and user IDs are required (letters and digits)", domain.ErrInvalid)
	}
	return slackPrefix + team + "/" + p.User.ID, nil
}

func slackID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// maxSlackActions bounds the actions of one payload; Slack sends the one
// element that was clicked.
const maxSlackActions = 10

// ParseSlackPayload reads an interaction request body (form-encoded,
// its JSON in the payload field) without verifying it. Only
// block_actions payloads whose actions are cloudtrim's buttons are
// accepted; errors wrap domain.ErrInvalid.
func ParseSlackPayload(body []byte) (SlackPayload, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return SlackPayload{}, fmt.Errorf("%w: slack request: body is not form-encoded", domain.ErrInvalid)
	}
	raw := form["payload"]
	if len(raw) != 1 {
		return SlackPayload{}, fmt.Errorf("%w: slack request: want one payload field, got %d", domain.ErrInvalid, len(raw))
	}
	var p SlackPayload
	if err := json.Unmarshal([]byte(raw[0]), &p); err != nil {
		return SlackPayload{}, fmt.Errorf("%w: slack payload: %v", domain.ErrInvalid, err)
	}
	if p.Type != "block_actions" {
		return SlackPayload{}, fmt.Errorf("%w: slack payload type %q is not block_actions", domain.ErrInvalid, clean(p.Type, 40))
	}
	if len(p.Actions) == 0 || len(p.Actions) > maxSlackActions {
		return SlackPayload{}, fmt.Errorf("%w: slack payload has %d actions (want 1 to %d)", domain.ErrInvalid, len(p.Actions), maxSlackActions)
	}
	for i, a := range p.Actions {
		if _, err := a.decode(); err != nil {
			return SlackPayload{}, fmt.Errorf("slack payload: actions[%d]: %w", i, err)
		}
	}
	return p, nil
}

// decode checks one action and returns its button value (zero for the
// report link).
func (a SlackAction) decode() (SlackValue, error) {
	switch a.ActionID {
	case SlackActionOpenReport:
		return SlackValue{}, nil
	case SlackActionApprove, SlackActionReject, SlackActionApproveAll:
	default:
		return SlackValue{}, fmt.Errorf("%w: action_id %q is not one of cloudtrim's buttons", domain.ErrInvalid, clean(a.ActionID, 80))
	}
	if len(a.Value) > 2000 {
		return SlackValue{}, fmt.Errorf("%w: value longer than Slack's 2000 characters", domain.ErrInvalid)
	}
	var v SlackValue
	dec := json.NewDecoder(strings.NewReader(a.Value))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return SlackValue{}, fmt.Errorf("%w: value: %v", domain.ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return SlackValue{}, fmt.Errorf("%w: value: trailing data", domain.ErrInvalid)
	}
	switch {
	case v.Version != 1:
		return SlackValue{}, fmt.Errorf("%w: value version %d (want 1)", domain.ErrUnsupported, v.Version)
	case v.PlanID == "":
		return SlackValue{}, fmt.Errorf("%w: value: plan_id is required", domain.ErrInvalid)
	case a.ActionID == SlackActionApproveAll && (v.PlanDigest == "" || v.ActionID != "" || v.ActionHash != ""):
		return SlackValue{}, fmt.Errorf("%w: approve-all value binds plan_id and plan_digest only", domain.ErrInvalid)
	case a.ActionID != SlackActionApproveAll && (v.ActionID == "" || v.ActionHash == "" || v.PlanDigest != ""):
		return SlackValue{}, fmt.Errorf("%w: approve and reject values bind plan_id, action_id and action_hash only", domain.ErrInvalid)
	}
	return v, nil
}

// HandleSlack authenticates a Slack interaction request (the signing
// secret's v0 signature over the raw form body), turns the clicked
// button into decisions by the Slack user ("slack:<team>/<user>"),
// checks them against the plan and the approval policy exactly as
// Handle does, records them and enqueues the approved actions. A click
// on the report link decides nothing and returns an empty Result.
//
// Errors are Handle's; on any of them nothing is recorded or enqueued
// but an approval_refused audit event.
func (s *Service) HandleSlack(ctx context.Context, req Request) (Result, error) {
	now := s.now()
	res, reply, err := s.handleSlack(ctx, req, now)
	if err != nil {
		planID, claimed := claimedBySlack(req.Body)
		s.refused(ctx, Refusal{Channel: "slack", Claimed: claimed, PlanID: planID, Reason: err})
	}
	if reply.url != "" && s.SlackReplies != nil {
		// Only a verified request names the URL replied to.
		if rerr := s.SlackReplies.Reply(ctx, reply.url, ReplyText(reply.approver, res, err)); rerr != nil {
			s.logger().WarnContext(ctx, "slack reply failed", "plan_id", res.PlanID, "error", rerr)
		}
	}
	return res, err
}

// slackReply is where to tell a verified clicker what came of it.
type slackReply struct{ url, approver string }

func (s *Service) handleSlack(ctx context.Context, req Request, now time.Time) (Result, slackReply, error) {
	if err := VerifySlack(s.SlackSecrets, req.Timestamp, req.Signature, req.Body, now, s.window()); err != nil {
		return Result{}, slackReply{}, fmt.Errorf("approve via slack: %w", err)
	}
	p, err := ParseSlackPayload(req.Body)
	if err != nil {
		return Result{}, slackReply{}, fmt.Errorf("approve via slack: %w", err)
	}
	approver, err := p.Approver()
	if err != nil {
		return Result{}, slackReply{}, fmt.Errorf("approve via slack: %w", err)
	}
	reply := slackReply{url: p.ResponseURL, approver: approver}
	sum := sha256.Sum256([]byte(req.Signature))
	in := intent{channel: "slack", approver: approver, nonceScope: "slack", nonceID: hex.EncodeToString(sum[:16])}
	for _, a := range p.Actions {
		v, _ := a.decode() // checked by ParseSlackPayload
		if a.ActionID == SlackActionOpenReport {
			continue
		}
		if in.planID != "" && v.PlanID != in.planID {
			return Result{}, reply, fmt.Errorf("approve via slack: %w: buttons of two plans in one payload", domain.ErrInvalid)
		}
		in.planID = v.PlanID
		switch a.ActionID {
		case SlackActionApproveAll:
			in.approveAll = &ApproveAll{PlanDigest: v.PlanDigest}
		case SlackActionApprove:
			in.choices = append(in.choices, ActionChoice{ActionID: v.ActionID, ActionHash: v.ActionHash, Verdict: domain.Approved})
		case SlackActionReject:
			in.choices = append(in.choices, ActionChoice{ActionID: v.ActionID, ActionHash: v.ActionHash, Verdict: domain.Rejected})
		}
	}
	if in.planID == "" {
		// The report link: nothing decided, nothing to say.
		return Result{Approved: []string{}, Rejected: []string{}}, slackReply{}, nil
	}
	res, err := s.decide(ctx, in, now)
	if res.PlanID == "" {
		res.PlanID = in.planID
	}
	return res, reply, err
}

// claimedBySlack returns the plan and the Slack identity an unverified
// interaction body names, for the audit of a refused request.
func claimedBySlack(body []byte) (planID, approver string) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", ""
	}
	var p SlackPayload
	_ = json.Unmarshal([]byte(form.Get("payload")), &p) // best effort
	team := p.User.TeamID
	if p.Team != nil && p.Team.ID != "" {
		team = p.Team.ID
	}
	if team != "" || p.User.ID != "" {
		approver = slackPrefix + team + "/" + p.User.ID
	}
	for _, a := range p.Actions {
		var v SlackValue
		if json.Unmarshal([]byte(a.Value), &v) == nil && v.PlanID != "" {
			return v.PlanID, approver
		}
	}
	return "", approver
}

// BlockKitMessage is a Slack message: Text is the notification and
// fallback text, Blocks the Block Kit layout.
type BlockKitMessage struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Block is a Block Kit layout block (header, section, actions, context,
// divider). Elements hold Buttons (actions blocks) or Texts (context
// blocks).
type Block struct {
	Type     string `json:"type"`
	BlockID  string `json:"block_id,omitempty"`
	Text     *Text  `json:"text,omitempty"`
	Fields   []Text `json:"fields,omitempty"`
	Elements []any  `json:"elements,omitempty"`
}

// Text is a Block Kit text object: type "plain_text" or "mrkdwn".
type Text struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Button is a Block Kit button.
type Button struct {
	Type     string   `json:"type"`
	Text     Text     `json:"text"`
	ActionID string   `json:"action_id"`
	Value    string   `json:"value,omitempty"`
	URL      string   `json:"url,omitempty"`
	Style    string   `json:"style,omitempty"`
	Confirm  *Confirm `json:"confirm,omitempty"`
}

// Confirm is a Block Kit confirmation dialog.
type Confirm struct {
	Title   Text `json:"title"`
	Text    Text `json:"text"`
	Confirm Text `json:"confirm"`
	Deny    Text `json:"deny"`
}

// SlackMessage builds the Block Kit message announcing plan: its totals
// by action kind, the SlackTopActions largest actions each with approve
// and reject buttons, and an approve-all button bound to the plan's
// digest. baseURL, when given, is where the lake's plan artifacts can be
// read (an https URL): the message links baseURL/plans/<id>/report.html.
// Text from resources (names, IDs) is escaped so it cannot mention
// people or forge links. A baseURL that is not an absolute http(s) URL
// is domain.ErrInvalid.
func SlackMessage(plan *domain.Plan, baseURL string) (BlockKitMessage, error) {
	var report string
	if baseURL != "" {
		u, err := url.Parse(baseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return BlockKitMessage{}, fmt.Errorf("%w: report base URL is not an absolute http(s) URL", domain.ErrInvalid)
		}
		report = strings.TrimSuffix(baseURL, "/") + "/plans/" + url.PathEscape(plan.ID) + "/report.html"
	}
	total := plan.TotalSavings()
	msg := BlockKitMessage{
		Text: fmt.Sprintf("cloudtrim plan %s: %d actions, %s a month", plan.ID, len(plan.Actions), total),
	}
	msg.Blocks = append(msg.Blocks,
		Block{Type: "header", Text: &Text{Type: "plain_text", Text: cut("cloudtrim plan "+plan.ID, 150)}},
		Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: fmt.Sprintf("*%d actions* would save *%s a month*.", len(plan.Actions), slackEscape(total.String()))}},
	)
	var fields []Text
	totals := plan.Totals(func(a domain.Action) string { return string(a.Kind) })
	for _, k := range domain.ActionKinds {
		if t, ok := totals[string(k)]; ok && len(fields) < 10 {
			fields = append(fields, Text{Type: "mrkdwn", Text: fmt.Sprintf("*%s*\n%d · %s/mo", k, t.Actions, slackEscape(t.Savings.String()))})
		}
	}
	if len(fields) > 0 {
		msg.Blocks[1].Fields = fields
	}
	top := append([]domain.Action(nil), plan.Actions...)
	domain.SortActions(top)
	rest := top[min(len(top), SlackTopActions):]
	top = top[:min(len(top), SlackTopActions)]
	for _, a := range top {
		msg.Blocks = append(msg.Blocks,
			Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: cut(actionLine(a), 3000)}},
			Block{Type: "actions", BlockID: cut("act:"+a.ID, 255), Elements: []any{
				button("Approve", SlackActionApprove, "primary", SlackValue{Version: 1, PlanID: plan.ID, ActionID: a.ID, ActionHash: a.Hash()}),
				button("Reject", SlackActionReject, "danger", SlackValue{Version: 1, PlanID: plan.ID, ActionID: a.ID, ActionHash: a.Hash()}),
			}},
		)
	}
	if len(rest) > 0 {
		m := domain.Money{Currency: plan.Currency}
		for _, a := range rest {
			m = m.Plus(a.MonthlySavings)
		}
		msg.Blocks = append(msg.Blocks, Block{Type: "context", Elements: []any{
			Text{Type: "mrkdwn", Text: fmt.Sprintf("…and %d more actions saving %s a month: see the report, or approve the whole plan.", len(rest), slackEscape(m.String()))},
		}})
	}
	var plans []any
	if len(plan.Actions) > 0 {
		all := button(fmt.Sprintf("Approve all %d", len(plan.Actions)), SlackActionApproveAll, "primary", SlackValue{Version: 1, PlanID: plan.ID, PlanDigest: plan.Digest()})
		all.Confirm = &Confirm{
			Title:   Text{Type: "plain_text", Text: "Approve the whole plan?"},
			Text:    Text{Type: "mrkdwn", Text: fmt.Sprintf("All %d actions of plan %s, saving %s a month, will be queued for the actuator.", len(plan.Actions), slackEscape(plan.ID), slackEscape(total.String()))},
			Confirm: Text{Type: "plain_text", Text: "Approve all"},
			Deny:    Text{Type: "plain_text", Text: "Cancel"},
		}
		plans = append(plans, all)
	}
	if report != "" {
		plans = append(plans, Button{Type: "button", Text: Text{Type: "plain_text", Text: "Open report"}, ActionID: SlackActionOpenReport, URL: report})
	}
	if len(plans) > 0 {
		msg.Blocks = append(msg.Blocks, Block{Type: "actions", BlockID: "plan", Elements: plans})
	}
	note := "Each button is bound to the action as shown: if the plan changes, it stops working."
	if report == "" {
		note += fmt.Sprintf(" The full report is in the lake at plans/%s/report.html.", slackEscape(plan.ID))
	}
	msg.Blocks = append(msg.Blocks, Block{Type: "context", Elements: []any{Text{Type: "mrkdwn", Text: note}}})
	return msg, nil
}

func button(label, actionID, style string, v SlackValue) Button {
	b, _ := json.Marshal(v)
	return Button{Type: "button", Text: Text{Type: "plain_text", Text: label}, ActionID: actionID, Value: string(b), Style: style}
}

func actionLine(a domain.Action) string {
	var b strings.Builder
	t := a.Target
	fmt.Fprintf(&b, "*%s* `%s`", a.Kind, slackEscape(string(t.Cloud)+"/"+t.Account+"/"+t.Region+"/"+t.ID))
	if a.Name != "" {
		fmt.Fprintf(&b, " (%s)", slackEscape(a.Name))
	}
	if a.Summary != "" {
		fmt.Fprintf(&b, "\n%s", slackEscape(a.Summary))
	}
	fmt.Fprintf(&b, "\nSaves *%s* a month", slackEscape(a.MonthlySavings.String()))
	if a.Risk != "" {
		fmt.Fprintf(&b, " · risk %s", slackEscape(string(a.Risk)))
	}
	return b.String()
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// to, so "<!channel>" or "<https://x|y>" in a resource name stays text.
func slackEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cut shortens s to at most n bytes on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
