package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestAuditTrail drives collect → plan → approve → actuate --apply
// through Main, as a user would, then reads the trail with 'cloudtrim
// audit': it names the approver of every decision, has a record before
// and after every applied change, and holds neither the webhook secret
// nor a request signature.
func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	secret := "audit-test-secret-6d1f0c9b8a7e65f4d3c2b1a09f8e7d6c"
	t.Setenv("CLOUDTRIM_WEBHOOK_SECRET", secret)
	const approver = "alice@example.com"
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main(ctx, append(args, "--dir", dir), &out, &errb)
		return out.String(), errb.String(), code
	}
	must := func(args ...string) string {
		t.Helper()
		out, errs, code := run(args...)
		if code != 0 {
			t.Fatalf("cloudtrim %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
		return out
	}
	must("collect")
	must("plan")
	start := time.Now()
	must("approve", "--approver", approver)
	end := time.Now()
	must("actuate", "--apply")

	rt, err := Open(ctx, Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	plan, err := rt.Pipeline.LatestPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states, err := rt.Pipeline.Lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}

	out := must("audit", "--json")
	evs := decodeAuditLines(t, out)
	if len(evs) == 0 {
		t.Fatal("audit --json printed no records")
	}

	// No secret and no signature, in the records or anywhere in the lake.
	// The approval's signatures are recomputed for every second the
	// request may have been signed in.
	body, err := approve.NewBody(&plan, approver)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []string
	for s := start.Unix() - 1; s <= end.Unix()+1; s++ {
		_, sig := approve.Sign([]byte(secret), time.Unix(s, 0), body)
		sigs = append(sigs, sig, strings.TrimPrefix(sig, "v1="))
	}
	checkNoSecrets(t, "audit --json", out, secret, sigs)
	err = filepath.WalkDir(filepath.Join(dir, "lake"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range append(sigs, secret) {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the webhook secret or a request signature", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	type trail struct{ decision, start, done []domain.AuditEvent }
	byAction := map[string]*trail{}
	for _, ev := range evs {
		tr := byAction[ev.ActionID]
		if tr == nil {
			tr = &trail{}
			byAction[ev.ActionID] = tr
		}
		switch ev.Type {
		case domain.AuditDecision:
			tr.decision = append(tr.decision, ev)
		case domain.AuditApplyStart:
			tr.start = append(tr.start, ev)
		case domain.AuditApplyDone:
			tr.done = append(tr.done, ev)
		}
	}
	applied := 0
	for _, a := range plan.Actions {
		tr := byAction[a.ID]
		if tr == nil || len(tr.decision) != 1 {
			t.Errorf("action %s has no single decision record: %+v", a.ID, tr)
			continue
		}
		if d := tr.decision[0]; d.Actor != approver || d.Outcome != string(domain.Approved) || d.ActionHash != a.Hash() {
			t.Errorf("decision record of %s = actor %q, outcome %q, hash %q; want %q, approved, %q", a.ID, d.Actor, d.Outcome, d.ActionHash, approver, a.Hash())
		}
		if states[a.ID].Status != domain.StatusApplied {
			continue
		}
		applied++
		if len(tr.start) != 1 || len(tr.done) != 1 {
			t.Errorf("applied action %s has %d apply_start and %d apply_done records; want one of each", a.ID, len(tr.start), len(tr.done))
			continue
		}
		s, d := tr.start[0], tr.done[0]
		if s.Before == (domain.ResourceState{}) || s.DryRun || s.At.After(d.At) {
			t.Errorf("apply_start of %s = %+v; want the live state before the change, not a dry run, before apply_done", a.ID, s)
		}
		if d.Before != a.Before || d.After == (domain.ResourceState{}) || d.Savings != a.MonthlySavings || !strings.HasPrefix(d.Actor, "actuator:") {
			t.Errorf("apply_done of %s = %+v; want before %+v, an after state and savings %v by the actuator", a.ID, d, a.Before, a.MonthlySavings)
		}
	}
	if applied == 0 {
		t.Fatal("actuate --apply applied nothing")
	}

	// The table.
	table := must("audit")
	for _, want := range []string{"before → after", "realized / month", approver, "apply_done", "actuator:local", "realized by verified changes"} {
		if !strings.Contains(table, want) {
			t.Errorf("audit table lacks %q:\n%s", want, table)
		}
	}
	checkNoSecrets(t, "audit table", table, secret, sigs)

	// The filters.
	var target domain.Action
	for _, a := range plan.Actions {
		if states[a.ID].Status == domain.StatusApplied {
			target = a
			break
		}
	}
	tests := []struct {
		args []string
		want func(domain.AuditEvent) bool
		n    int // exact count; -1: at least one
	}{
		{[]string{"--type", "apply_done"}, func(ev domain.AuditEvent) bool { return ev.Type == domain.AuditApplyDone }, applied},
		{[]string{"--type", "apply_start", "--type", "apply_done"}, func(ev domain.AuditEvent) bool {
			return ev.Type == domain.AuditApplyStart || ev.Type == domain.AuditApplyDone
		}, -1},
		{[]string{"--type", "decision,skip"}, func(ev domain.AuditEvent) bool { return ev.Type == domain.AuditDecision || ev.Type == domain.AuditSkip }, -1},
		{[]string{"--action", target.ID}, func(ev domain.AuditEvent) bool { return ev.ActionID == target.ID }, 3},
		{[]string{"--actor", approver}, func(ev domain.AuditEvent) bool { return ev.Type == domain.AuditDecision }, len(plan.Actions)},
		{[]string{"--plan", plan.ID, "--cloud", "gcp"}, func(ev domain.AuditEvent) bool { return ev.Target.Cloud == domain.GCP }, -1},
		{[]string{"--account", target.Target.Account}, func(ev domain.AuditEvent) bool { return ev.Target.Account == target.Target.Account }, -1},
		{[]string{"--since", "24h"}, func(domain.AuditEvent) bool { return true }, len(evs)},
		{[]string{"--since", start.Add(-time.Minute).UTC().Format(time.RFC3339Nano), "--until", end.Add(time.Hour).Format(time.RFC3339)},
			func(domain.AuditEvent) bool { return true }, len(evs)},
		{[]string{"--since", end.Add(time.Hour).Format(time.RFC3339)}, func(domain.AuditEvent) bool { return false }, 0},
		{[]string{"--until", "2d"}, func(domain.AuditEvent) bool { return false }, 0},
		{[]string{"--until", "2000-01-02"}, func(domain.AuditEvent) bool { return false }, 0},
		{[]string{"--plan", "plan-nope"}, func(domain.AuditEvent) bool { return false }, 0},
	}
	// A type no component writes is refused after reading the trail.
	if _, errs, code := run("audit", "--type", "aply_done"); code != 2 || !strings.Contains(errs, `--type "aply_done": unknown audit type (want decision, apply_start, apply_done`) {
		t.Errorf("audit --type aply_done: exit %d, %q; want 2 and the known types", code, errs)
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := decodeAuditLines(t, must(append([]string{"audit", "--json"}, tt.args...)...))
			if tt.n >= 0 && len(got) != tt.n || tt.n < 0 && len(got) == 0 {
				t.Errorf("audit %v: %d records; want %d (-1: some)", tt.args, len(got), tt.n)
			}
			for _, ev := range got {
				if !tt.want(ev) {
					t.Errorf("audit %v printed %+v", tt.args, ev)
				}
			}
			for i := 1; i < len(got); i++ {
				if got[i].At.Before(got[i-1].At) {
					t.Errorf("audit %v: record %d is older than the one before it; want oldest first", tt.args, i)
				}
			}
		})
	}
}

// decodeAuditLines decodes the output of audit --json: one object a line.
func decodeAuditLines(t *testing.T, out string) []domain.AuditEvent {
	t.Helper()
	var evs []domain.AuditEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev domain.AuditEvent
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("audit --json line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// hex64 finds runs of 64 hex digits: a SHA-256 or an HMAC-SHA256. The
// only ones allowed are digests, written "sha256:<hex>".
var hex64 = regexp.MustCompile(`(?i)(sha256:)?[0-9a-f]{64}`)

func checkNoSecrets(t *testing.T, where, text, secret string, sigs []string) {
	t.Helper()
	if strings.Contains(text, secret) {
		t.Errorf("%s holds the webhook secret", where)
	}
	for _, s := range sigs {
		if strings.Contains(text, s) {
			t.Errorf("%s holds the request signature %s", where, s)
		}
	}
	if strings.Contains(text, approve.HeaderSignature) || strings.Contains(text, "v1=") {
		t.Errorf("%s holds something like a signature header", where)
	}
	for _, m := range hex64.FindAllStringSubmatch(text, -1) {
		if m[1] == "" {
			t.Errorf("%s holds a 256-bit hex value that is not a sha256: digest: %s", where, m[0])
			break
		}
	}
}

func TestAuditErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		args     []string
		wantCode int
		wantMsg  string
	}{
		{[]string{"--since", "yesterday"}, 2, `--since "yesterday": want an RFC 3339 time`},
		{[]string{"--until", "-3h"}, 2, "must be positive"},
		{[]string{"--since", "2026-11-23", "--until", "2026-11-22T00:00:00Z"}, 2, "is not before --until"},
		{[]string{"--type", "apply_done,tele-port"}, 2, `--type "tele-port": unknown audit type (want decision, apply_start`},
		{[]string{"--cloud", "oracle"}, 2, "unknown cloud"},
		{[]string{"stray"}, 2, "unexpected arguments"},
		{[]string{"--json=maybe"}, 2, "invalid boolean"},
		{nil, 1, "no lake in"},
		{[]string{"--help"}, 0, "Usage: cloudtrim audit"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"audit", "--dir", filepath.Join(dir, "empty")}, tt.args...)
			code := Main(ctx, args, &out, &out)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantMsg) {
				t.Errorf("Main(%v) = %d, %q; want %d and a message containing %q", args, code, out.String(), tt.wantCode, tt.wantMsg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "empty")); err == nil {
		t.Error("audit created a data directory; it must only read")
	}
}

func TestParseAuditTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2026-11-20T08:30:00Z", time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)},
		{"2026-11-20T09:30:00+01:00", time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)},
		{"2026-11-20", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.AddDate(0, 0, -7)},
		{"1d12h", now.Add(-36 * time.Hour)},
	}
	for _, tt := range tests {
		got, err := parseAuditTime("since", tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseAuditTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"yesterday", "d", "7dd", "-1d", "0s", "1d-2h", "2026-13-01", "99999999d"} {
		if got, err := parseAuditTime("since", bad, now); err == nil {
			t.Errorf("parseAuditTime(%q) = %v; want an error", bad, got)
		}
	}
}
