package local

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// TestKillSwitchCommand engages the kill switch from the command line
// between an approval and an actuation: the actuation changes nothing
// and says why, the audit trail names who engaged it and why, and after
// the release the same actions are applied.
func TestKillSwitchCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	secret := "kill-switch-test-secret-0b1c2d3e4f5a6b7c8d9e"
	t.Setenv("CLOUDTRIM_WEBHOOK_SECRET", secret)
	t.Setenv("CLOUDTRIM_KILL_SWITCH", "")
	run := func(args ...string) (string, int) {
		var out bytes.Buffer
		code := Main(ctx, append(args, "--dir", dir), &out, &out)
		return out.String(), code
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := run(args...)
		if code != 0 {
			t.Fatalf("cloudtrim %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	must("collect")
	must("plan")
	must("approve", "--approver", "ops@example.com")

	if out := must("kill-switch", "status"); !strings.Contains(out, "kill switch: released") {
		t.Fatalf("status before engaging = %q", out)
	}
	if out, code := run("kill-switch", "on"); code != 2 || !strings.Contains(out, "--reason is required") {
		t.Fatalf("on without a reason: exit %d, %q; want 2 and the missing reason", code, out)
	}
	if out, code := run("kill-switch", "on", "--reason", "two\nlines"); code != 2 || !strings.Contains(out, "control character") {
		t.Fatalf("on with a two-line reason: exit %d, %q", code, out)
	}
	must("kill-switch", "on", "--reason", "incident 4711", "--by", "oncall@example.com")
	if out := must("kill-switch"); !strings.Contains(out, "ENGAGED by oncall@example.com") || !strings.Contains(out, "incident 4711") {
		t.Fatalf("status while engaged = %q", out)
	}

	rt, err := Open(ctx, Options{Dir: dir, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := rt.Pipeline.LatestPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rt.Close()
	applied := func() int {
		t.Helper()
		rt, err := Open(ctx, Options{Dir: dir, Secret: []byte(secret)})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		states, err := rt.Pipeline.Lake.ActionStates(ctx, plan.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range states {
			if s.Status == domain.StatusApplied {
				n++
			}
		}
		return n
	}

	out, code := run("actuate", "--apply")
	if code == 0 || !strings.Contains(out, "kill switch engaged by oncall@example.com") {
		t.Fatalf("actuate while engaged: exit %d\n%s\nwant a failure naming the kill switch", code, out)
	}
	if n := applied(); n != 0 {
		t.Fatalf("%d actions applied while the kill switch was engaged", n)
	}

	if out := must("schedules", "--apply"); !strings.Contains(out, "nothing changed: kill switch engaged by oncall@example.com") {
		t.Fatalf("schedules while engaged = %q; want nothing changed, naming the switch", out)
	}

	must("kill-switch", "off", "--reason", "incident closed", "--by", "oncall@example.com")
	must("actuate", "--apply")
	if n := applied(); n == 0 {
		t.Fatal("no action applied after the kill switch was released")
	}
	if out := must("schedules"); !strings.Contains(out, "schedules (dry run): ") || strings.Contains(out, " 0 applied") {
		t.Errorf("schedules after applying = %q; want a dry run over the applied schedules", out)
	}

	evs := decodeAuditLines(t, must("audit", "--json", "--type", "kill_switch_on,kill_switch_off"))
	if len(evs) != 2 {
		t.Fatalf("audit has %d kill switch records, want 2: %+v", len(evs), evs)
	}
	if evs[0].Type != domain.AuditKillSwitchOn || evs[0].Actor != "oncall@example.com" || !strings.Contains(evs[0].Detail, "incident 4711") {
		t.Errorf("first record = %+v; want kill_switch_on by oncall@example.com with the reason", evs[0])
	}
	if evs[1].Type != domain.AuditKillSwitchOff || !strings.Contains(evs[1].Detail, "incident closed") {
		t.Errorf("second record = %+v; want kill_switch_off with the reason", evs[1])
	}
	var missing bytes.Buffer
	if code := Main(ctx, []string{"kill-switch", "on", "--reason", "x", "--dir", filepath.Join(dir, "nothing-here")}, &missing, &missing); code != 1 || !strings.Contains(missing.String(), "no lake in") {
		t.Errorf("kill-switch on a missing lake: exit %d, %q; want 1 and no lake", code, missing.String())
	}
}
