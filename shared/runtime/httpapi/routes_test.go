package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/runtime/httpapi"
)

var (
	t0          = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	webhookKey  = []byte("0123456789abcdef0123456789abcdef")
	slackKey    = []byte("8f742231b10e8888abcd99aa11bb85a5")
	linkKey     = []byte("link-secret-link-secret-link-0000")
	allTheKeys  = [][]byte{webhookKey, slackKey, linkKey}
	testTimeout = 10 * time.Second
)

type queue struct {
	mu sync.Mutex
	n  int
}

func (q *queue) Enqueue(ctx context.Context, c domain.Cloud, body []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.n++
	return nil
}

type server struct {
	*httptest.Server
	lake *lake.Lake
	plan domain.Plan
	q    *queue
}

// newServer serves the approval routes of a real core over an in-memory
// lake holding one plan of two actions.
func newServer(t *testing.T) *server {
	t.Helper()
	l, err := lake.Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	plan := domain.Plan{Version: domain.PlanVersion, ID: "plan-20261123T090000Z-aaaa", CreatedAt: t0, Currency: "USD"}
	for i, name := range []string{"web <script>alert(1)</script>", "db"} {
		ref := domain.ResourceRef{Cloud: domain.AWS, Account: "123456789012", Region: "eu-west-1", Kind: domain.KindVM, ID: "i-" + strconv.Itoa(i)}
		plan.Actions = append(plan.Actions, domain.Action{ID: domain.ActionID(domain.ActionStop, ref), PlanID: plan.ID, Kind: domain.ActionStop,
			Target: ref, Name: name, MonthlySavings: domain.USD(int64(i+1) * 10_000_000)})
	}
	if err := l.PutPlan(context.Background(), plan); err != nil {
		t.Fatal(err)
	}
	q := &queue{}
	svc := &approve.Service{Plans: l, Records: l, Queue: q, Secrets: [][]byte{webhookKey}, SlackSecrets: [][]byte{slackKey},
		LinkSecrets: [][]byte{linkKey}, Now: func() time.Time { return t0 }}
	srv := httptest.NewServer(httpapi.NewMux(svc, nil))
	t.Cleanup(srv.Close)
	return &server{Server: srv, lake: l, plan: plan, q: q}
}

func (s *server) decisions(t *testing.T) int {
	t.Helper()
	ds, err := s.lake.Decisions(context.Background(), s.plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}

func (s *server) refusals(t *testing.T) []domain.AuditEvent {
	t.Helper()
	evs, err := s.lake.Audit(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.AuditEvent
	for _, ev := range evs {
		if ev.Type == approve.AuditRefused {
			out = append(out, ev)
		}
	}
	return out
}

func do(t *testing.T, method, u, contentType string, headers map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// assertNoSecrets fails when a response body holds a secret or the
// signature the server expected.
func assertNoSecrets(t *testing.T, body string, expected ...string) {
	t.Helper()
	for _, k := range allTheKeys {
		if strings.Contains(body, string(k)) {
			t.Errorf("response %q holds a secret", body)
		}
	}
	for _, e := range expected {
		if e != "" && strings.Contains(body, e) {
			t.Errorf("response %q holds the expected signature", body)
		}
	}
}

func slackForm(t *testing.T, plan *domain.Plan, actionID string) string {
	t.Helper()
	msg, err := approve.SlackMessage(plan, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range msg.Blocks {
		for _, e := range b.Elements {
			if btn, ok := e.(approve.Button); ok && btn.ActionID == actionID {
				p, _ := json.Marshal(map[string]any{"type": "block_actions", "team": map[string]string{"id": "T0001"},
					"user": map[string]string{"id": "U0001", "team_id": "T0001"}, "actions": []any{map[string]string{
						"action_id": btn.ActionID, "type": "button", "value": btn.Value, "action_ts": "1"}}})
				return "payload=" + url.QueryEscape(string(p))
			}
		}
	}
	t.Fatalf("no %s button", actionID)
	return ""
}

func TestSlackRoute(t *testing.T) {
	s := newServer(t)
	body := slackForm(t, &s.plan, approve.SlackActionApproveAll)
	ts, sig := approve.SignSlack(slackKey, t0, []byte(body))
	tests := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
	}{
		{"forged", map[string]string{approve.HeaderSlackTimestamp: ts, approve.HeaderSlackSignature: "v0=" + strings.Repeat("0", 64)}, body, http.StatusUnauthorized},
		{"unsigned", nil, body, http.StatusUnauthorized},
		{"expired", func() map[string]string {
			ts, sig := approve.SignSlack(slackKey, t0.Add(-10*time.Minute), []byte(body))
			return map[string]string{approve.HeaderSlackTimestamp: ts, approve.HeaderSlackSignature: sig}
		}(), body, http.StatusUnauthorized},
		{"tampered", map[string]string{approve.HeaderSlackTimestamp: ts, approve.HeaderSlackSignature: sig}, strings.Replace(body, "U0001", "U0002", 1), http.StatusUnauthorized},
		{"malformed", func() map[string]string {
			ts, sig := approve.SignSlack(slackKey, t0, []byte("payload=%zz"))
			return map[string]string{approve.HeaderSlackTimestamp: ts, approve.HeaderSlackSignature: sig}
		}(), "payload=%zz", http.StatusBadRequest},
		{"oversized", map[string]string{approve.HeaderSlackTimestamp: ts, approve.HeaderSlackSignature: sig}, strings.Repeat("x", httpapi.MaxBody+1), http.StatusRequestEntityTooLarge},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, resp := do(t, http.MethodPost, s.URL+"/slack/actions", "application/x-www-form-urlencoded", tt.headers, tt.body)
			if status != tt.status {
				t.Fatalf("POST /slack/actions = %d %s; want %d", status, resp, tt.status)
			}
			assertNoSecrets(t, resp, sig[3:])
			if n := s.decisions(t); n != 0 || s.q.n != 0 {
				t.Errorf("a refused request recorded %d decisions and queued %d", n, s.q.n)
			}
			if got := len(s.refusals(t)); got != i+1 {
				t.Errorf("%d approval_refused audit events after %d refused requests", got, i+1)
			}
		})
	}
	hdr := map[string]string{approve.HeaderSlackTimestamp: ts, approve.HeaderSlackSignature: sig}
	status, _, resp := do(t, http.MethodPost, s.URL+"/slack/actions", "application/x-www-form-urlencoded", hdr, body)
	if status != http.StatusOK || s.decisions(t) != 2 || s.q.n != 2 {
		t.Fatalf("POST /slack/actions = %d %s, %d decisions, %d queued; want 200 and both actions approved", status, resp, s.decisions(t), s.q.n)
	}
	status, _, resp = do(t, http.MethodPost, s.URL+"/slack/actions", "application/x-www-form-urlencoded", hdr, body)
	if status != http.StatusConflict || s.q.n != 2 {
		t.Fatalf("replayed POST /slack/actions = %d %s; want 409 and nothing queued", status, resp)
	}
	if status, _, _ := do(t, http.MethodGet, s.URL+"/slack/actions", "", nil, ""); status != http.StatusMethodNotAllowed {
		t.Errorf("GET /slack/actions = %d; want 405", status)
	}
}

func TestWebhookRouteAuditsOversizedBodies(t *testing.T) {
	s := newServer(t)
	status, _, resp := do(t, http.MethodPost, s.URL+"/approve", "application/json", nil, strings.Repeat("x", httpapi.MaxBody+1))
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized POST /approve = %d %s; want 413", status, resp)
	}
	evs := s.refusals(t)
	if len(evs) != 1 || evs[0].Outcome != "too_large" || !strings.HasPrefix(evs[0].Detail, "webhook: ") {
		t.Fatalf("audit %+v; want one too_large refusal of the webhook", evs)
	}
	body, _ := approve.NewBody(&s.plan, "ops@example.com")
	ts, sig := approve.Sign(webhookKey, t0, body)
	status, _, resp = do(t, http.MethodPost, s.URL+"/approve", "application/json",
		map[string]string{approve.HeaderTimestamp: ts, approve.HeaderSignature: "v1=" + strings.Repeat("ab", 32)}, string(body))
	if status != http.StatusUnauthorized {
		t.Fatalf("forged POST /approve = %d; want 401", status)
	}
	assertNoSecrets(t, resp, sig[3:])
	evs = s.refusals(t)
	if len(evs) != 2 || (evs[0].Actor != "unverified:ops@example.com" && evs[1].Actor != "unverified:ops@example.com") {
		t.Fatalf("audit %+v; want the forged request's refusal with the claimed approver", evs)
	}
}

func linkURL(s *server, tok string) string { return approve.LinkURL(s.URL, tok) }

func TestLinkRouteGetShowsAndChangesNothing(t *testing.T) {
	s := newServer(t)
	tok, err := approve.NewLink(linkKey, s.plan.ID, "", s.plan.Digest(), "ops@example.com", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // a link scanner, the preview, the person
		status, hdr, page := do(t, http.MethodGet, linkURL(s, tok), "", nil, "")
		if status != http.StatusOK {
			t.Fatalf("GET /approve/link = %d %s; want 200", status, page)
		}
		for _, want := range []string{`<form method="post">`, `name="token" value="` + tok + `"`, "ops@example.com", "USD 30.00", s.plan.ID} {
			if !strings.Contains(page, want) {
				t.Errorf("confirmation page lacks %q", want)
			}
		}
		if strings.Contains(page, "<script>") {
			t.Errorf("confirmation page holds a resource name unescaped")
		}
		if hdr.Get("Cache-Control") != "no-store" || hdr.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("confirmation page headers %v; want no-store, no-referrer and no framing", hdr)
		}
	}
	if n := s.decisions(t); n != 0 || s.q.n != 0 {
		t.Fatalf("GET recorded %d decisions and queued %d; want nothing", n, s.q.n)
	}
	if evs, _ := s.lake.Audit(context.Background(), time.Time{}, time.Time{}); len(evs) != 0 {
		t.Fatalf("GET wrote %d audit events; want none", len(evs))
	}

	form := "token=" + url.QueryEscape(tok)
	status, _, page := do(t, http.MethodPost, linkURL(s, tok), "application/x-www-form-urlencoded", nil, form)
	if status != http.StatusOK || s.q.n != 2 || !strings.Contains(page, "Approved 2 action(s)") {
		t.Fatalf("POST /approve/link = %d %s, %d queued; want 200 and both actions queued", status, page, s.q.n)
	}
	status, _, page = do(t, http.MethodPost, linkURL(s, tok), "application/x-www-form-urlencoded", nil, form)
	if status != http.StatusGone || s.q.n != 2 {
		t.Fatalf("second POST /approve/link = %d %s; want 410 and nothing more queued", status, page)
	}
}

func TestLinkRouteRefusals(t *testing.T) {
	s := newServer(t)
	a0 := s.plan.Actions[0]
	mk := func(key []byte, expires time.Time) string {
		tok, err := approve.NewLink(key, s.plan.ID, a0.ID, a0.Hash(), "ops@example.com", expires)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mk(linkKey, t0.Add(time.Hour))
	tests := []struct {
		name   string
		method string
		body   string
		status int
	}{
		{"expired", http.MethodPost, "token=" + mk(linkKey, t0), http.StatusGone},
		{"forged", http.MethodPost, "token=" + mk(webhookKey, t0.Add(time.Hour)), http.StatusUnauthorized},
		{"tampered", http.MethodPost, "token=" + strings.Replace(good, good[5:6], "Z", 1), http.StatusUnauthorized},
		{"no token", http.MethodPost, "", http.StatusUnauthorized},
		{"malformed form", http.MethodPost, "token=%zz", http.StatusBadRequest},
		{"oversized", http.MethodPost, "token=" + strings.Repeat("x", httpapi.MaxBody), http.StatusRequestEntityTooLarge},
		{"put", http.MethodPut, "token=" + good, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, page := do(t, tt.method, s.URL+"/approve/link", "application/x-www-form-urlencoded", nil, tt.body)
			if status != tt.status {
				t.Fatalf("%s /approve/link = %d %s; want %d", tt.method, status, page, tt.status)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(page, "Nothing was changed") {
				t.Errorf("error page %q (%s); want HTML saying nothing changed", page, hdr.Get("Content-Type"))
			}
			assertNoSecrets(t, page)
			if n := s.decisions(t); n != 0 || s.q.n != 0 {
				t.Errorf("a refused link recorded %d decisions and queued %d", n, s.q.n)
			}
		})
	}
	if got := len(s.refusals(t)); got != len(tests)-1 {
		t.Errorf("%d approval_refused audit events; want one per refused POST (%d)", got, len(tests)-1)
	}
	if status, _, _ := do(t, http.MethodGet, linkURL(s, mk(linkKey, t0)), "", nil, ""); status != http.StatusGone {
		t.Errorf("GET of an expired link = %d; want 410", status)
	}
	if status, _, _ := do(t, http.MethodPost, s.URL+"/approve/link", "application/x-www-form-urlencoded", nil, "token="+good); status != http.StatusOK {
		t.Errorf("POST of the good link after the refusals = %d; want 200: refusals do not consume it", status)
	}
}

// TestLinkRouteConcurrentPosts posts one link twice at once: exactly one
// applies it, the other answers 410.
func TestLinkRouteConcurrentPosts(t *testing.T) {
	for range 5 {
		s := newServer(t)
		tok, _ := approve.NewLink(linkKey, s.plan.ID, "", s.plan.Digest(), "ops@example.com", t0.Add(time.Hour))
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i := range statuses {
			wg.Go(func() {
				statuses[i], _, _ = do(t, http.MethodPost, s.URL+"/approve/link", "application/x-www-form-urlencoded", nil, "token="+tok)
			})
		}
		wg.Wait()
		ok, gone := 0, 0
		for _, st := range statuses {
			switch st {
			case http.StatusOK:
				ok++
			case http.StatusGone:
				gone++
			}
		}
		if ok != 1 || gone != 1 || s.q.n != 2 {
			t.Fatalf("statuses %v, %d queued; want one 200, one 410 and the 2 actions queued once", statuses, s.q.n)
		}
	}
}

func TestStatusOfTheNewKinds(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w: %w: expired", domain.ErrPermission, approve.ErrGone), http.StatusGone},
		{fmt.Errorf("x: %w: %w: used", approve.ErrGone, domain.ErrConflict), http.StatusGone},
		{fmt.Errorf("x: %w: %w", domain.ErrPermission, approve.ErrNotAuthorized), http.StatusForbidden},
		{fmt.Errorf("x: %w", approve.ErrTooLarge), http.StatusRequestEntityTooLarge},
		{errors.New("boom"), http.StatusInternalServerError},
	} {
		if got := httpapi.Status(tt.err); got != tt.want {
			t.Errorf("Status(%v) = %d; want %d", tt.err, got, tt.want)
		}
	}
}
