package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"
	"unicode"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

const killSwitchSummary = `Shows, engages or releases the kill switch: while it is engaged every actuator,
wherever it runs, defers each message it receives and changes nothing; messages wait
on their queue (never dead-lettered) until the switch is released.

  cloudtrim kill-switch status
  cloudtrim kill-switch on --reason "incident 4711: stop all changes"
  cloudtrim kill-switch off --reason "incident closed"

The switch is the lake document ` + lake.KillSwitchKey + `, so engaging it here stops the
deployed functions that share the lake. The environment variable ` + actuate.KillSwitchEnv + `=1
on a function stops that function alone. Each change is recorded in the audit trail.`

// maxKillSwitchReason bounds the reason kept in the document and the
// audit trail.
const maxKillSwitchReason = 500

func cmdKillSwitch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb := "status"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	fs, c := newFlags("kill-switch [status|on|off]", killSwitchSummary, stderr)
	reason := fs.String("reason", "", "why the switch is engaged or released (required for on and off)")
	by := fs.String("by", defaultActor(), "who engages or releases it, kept in the document and the audit trail")
	if err := parse(fs, args); err != nil {
		return err
	}
	var engage bool
	switch verb {
	case "status":
	case "on":
		engage = true
	case "off":
	default:
		return usageError{fmt.Errorf("unknown kill-switch command %q (want status, on or off)", verb)}
	}
	if verb != "status" {
		r, err := cleanReason(*reason)
		if err != nil {
			return usageError{err}
		}
		*reason = r
		if strings.TrimSpace(*by) == "" {
			return usageError{fmt.Errorf("--by is empty: name who %s the switch", map[bool]string{true: "engages", false: "releases"}[engage])}
		}
	}
	l, err := c.openLake(ctx)
	if err != nil {
		return err
	}
	defer l.Close()
	if verb == "status" {
		return printKillSwitch(ctx, stdout, l)
	}
	return setKillSwitch(ctx, stdout, l, engage, strings.TrimSpace(*by), *reason, time.Now())
}

// setKillSwitch writes the document and its audit record. The document
// comes first: a switch that is engaged but not audited stops changes,
// which is the safe way to fail.
func setKillSwitch(ctx context.Context, stdout io.Writer, l *lake.Lake, engage bool, by, reason string, now time.Time) error {
	prev, err := l.KillSwitch(ctx)
	if err != nil {
		// An unreadable document counts as engaged; replacing it is
		// how an operator repairs it.
		fmt.Fprintf(stdout, "the kill switch document is unreadable (%v); replacing it\n", err)
	}
	k := domain.KillSwitch{Engaged: engage, By: by, Reason: reason, At: now}
	if err := l.SetKillSwitch(ctx, k); err != nil {
		return err
	}
	typ, detail := domain.AuditKillSwitchOff, "released: "+reason
	if engage {
		typ, detail = domain.AuditKillSwitchOn, "engaged: "+reason
	}
	if prev.Engaged == engage && err == nil {
		detail += " (it was already " + map[bool]string{true: "engaged", false: "released"}[engage] + ")"
	}
	if err := l.AppendAudit(ctx, domain.AuditEvent{At: now, Type: typ, Actor: by, Outcome: map[bool]string{true: "engaged", false: "released"}[engage], Detail: detail}); err != nil {
		return fmt.Errorf("the kill switch is %s but its audit record failed: %w", map[bool]string{true: "engaged", false: "released"}[engage], err)
	}
	if engage {
		fmt.Fprintf(stdout, "kill switch ENGAGED by %s: %s\nEvery actuator defers its messages until 'cloudtrim kill-switch off'.\n", by, reason)
	} else {
		fmt.Fprintf(stdout, "kill switch released by %s: %s\nActuators apply approved actions again at their next message.\n", by, reason)
	}
	return nil
}

func printKillSwitch(ctx context.Context, stdout io.Writer, l *lake.Lake) error {
	k, err := l.KillSwitch(ctx)
	if err != nil {
		fmt.Fprintf(stdout, "kill switch: UNREADABLE, so every actuator treats it as engaged: %v\n", err)
		return nil
	}
	if actuate.KillSwitchEngaged(os.Getenv(actuate.KillSwitchEnv)) {
		fmt.Fprintf(stdout, "%s is set here: actuators started from this shell change nothing\n", actuate.KillSwitchEnv)
	}
	if !k.Engaged {
		fmt.Fprint(stdout, "kill switch: released")
		if k.By != "" {
			fmt.Fprintf(stdout, " (by %s at %s: %s)", k.By, k.At.Format(time.RFC3339), k.Reason)
		}
		fmt.Fprintln(stdout)
		return nil
	}
	fmt.Fprintf(stdout, "kill switch: ENGAGED by %s at %s: %s\n", orDash(k.By), k.At.Format(time.RFC3339), orDash(k.Reason))
	return nil
}

// cleanReason checks a reason: required, one line of printable text.
func cleanReason(r string) (string, error) {
	r = strings.TrimSpace(r)
	switch {
	case r == "":
		return "", fmt.Errorf("--reason is required: say why, for the audit trail")
	case len(r) > maxKillSwitchReason:
		return "", fmt.Errorf("--reason is %d bytes; at most %d", len(r), maxKillSwitchReason)
	case strings.IndexFunc(r, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0:
		return "", fmt.Errorf("--reason holds a control character; give one line of text")
	}
	return r, nil
}

// defaultActor names the person at the shell: "cli:" and the login name.
func defaultActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return "cli:" + n
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
