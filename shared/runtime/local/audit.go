package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
)

// auditTypes are the audit event types, in the order an action meets
// them.
var auditTypes = []domain.AuditType{
	domain.AuditDecision, domain.AuditApplyStart, domain.AuditApplyDone,
	domain.AuditSkip, domain.AuditFail, domain.AuditRollback,
}

// auditFilter selects audit events. Zero fields select everything.
type auditFilter struct {
	since, until time.Time // since <= At < until
	plan, action string
	actor        string
	types        []domain.AuditType
	cloud        domain.Cloud
	account      string
}

// match reports whether ev passes every filter but the time range, which
// the lake applies.
func (f auditFilter) match(ev domain.AuditEvent) bool {
	switch {
	case f.plan != "" && ev.PlanID != f.plan,
		f.action != "" && ev.ActionID != f.action,
		f.actor != "" && ev.Actor != f.actor,
		len(f.types) > 0 && !slices.Contains(f.types, ev.Type),
		f.cloud != "" && ev.Target.Cloud != f.cloud,
		f.account != "" && ev.Target.Account != f.account:
		return false
	}
	return true
}

// selectAudit reads the audit events of l that f selects, oldest first.
// A type in f.types that is none of auditTypes (another component's,
// such as a refused approval) must occur in the time range, so that a
// misspelt type is an error rather than an empty answer.
func selectAudit(ctx context.Context, l *lake.Lake, f auditFilter) ([]domain.AuditEvent, error) {
	evs, err := l.Audit(ctx, f.since, f.until)
	if err != nil {
		return nil, err
	}
	seen := map[domain.AuditType]bool{}
	for _, ev := range evs {
		seen[ev.Type] = true
	}
	for _, t := range f.types {
		if !slices.Contains(auditTypes, t) && !seen[t] {
			known := slices.Clone(auditTypes)
			for s := range seen {
				if !slices.Contains(known, s) {
					known = append(known, s)
				}
			}
			slices.Sort(known[len(auditTypes):])
			return nil, usageError{fmt.Errorf("--type %q: unknown audit type (want %s)", t, joinTypes(known))}
		}
	}
	out := evs[:0]
	for _, ev := range evs {
		if f.match(ev) {
			out = append(out, ev)
		}
	}
	return out, nil
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("audit", "Lists the audit trail from the lake, oldest first: every decision, and every change the actuator began, made, skipped, failed or rolled back, with the state before and after. Audit records never hold a secret.", stderr)
	since := fs.String("since", "", "only records at or after this time: RFC 3339 (2026-11-23T10:00:00Z), a date (2026-11-23, UTC) or a duration back from now (24h, 90m, 7d)")
	until := fs.String("until", "", "only records before this time, in the same forms as --since")
	plan := fs.String("plan", "", "only records of this plan ID")
	action := fs.String("action", "", "only records of this action ID")
	actor := fs.String("actor", "", "only records by this actor (an approver, or actuator:<worker>)")
	cloud := fs.String("cloud", "", "only records whose target is in this cloud (aws, azure or gcp)")
	account := fs.String("account", "", "only records whose target is in this account, subscription or project")
	jsonOut := fs.Bool("json", false, "print one JSON object per line instead of a table")
	var types listFlag
	fs.Var(&types, "type", "only records of this type (repeatable, or comma-separated): "+joinTypes(auditTypes)+", or another type the trail holds")
	if err := parse(fs, args); err != nil {
		return err
	}
	f := auditFilter{plan: strings.TrimSpace(*plan), action: strings.TrimSpace(*action), actor: *actor, account: strings.TrimSpace(*account)}
	now := time.Now()
	var err error
	if f.since, err = parseAuditTime("since", *since, now); err != nil {
		return usageError{err}
	}
	if f.until, err = parseAuditTime("until", *until, now); err != nil {
		return usageError{err}
	}
	if !f.since.IsZero() && !f.until.IsZero() && !f.since.Before(f.until) {
		return usageError{fmt.Errorf("--since %s is not before --until %s", f.since.Format(time.RFC3339), f.until.Format(time.RFC3339))}
	}
	if f.types, err = parseAuditTypes(types); err != nil {
		return usageError{err}
	}
	if *cloud != "" {
		if f.cloud, err = domain.ParseCloud(*cloud); err != nil {
			return usageError{fmt.Errorf("--cloud: %w", err)}
		}
	}
	l, err := c.openLake(ctx)
	if err != nil {
		return err
	}
	defer l.Close()
	evs, err := selectAudit(ctx, l, f)
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		for _, ev := range evs {
			if err := enc.Encode(ev); err != nil {
				return err
			}
		}
		return nil
	}
	if len(evs) == 0 {
		fmt.Fprintln(stderr, "no audit records match")
		return nil
	}
	printAudit(stdout, evs)
	return nil
}

// openLake opens the lake of --lake or --dir for reading, without
// creating anything: a data directory that has no lake yet is an error.
func (c *common) openLake(ctx context.Context) (*lake.Lake, error) {
	url := c.lakeURL
	if url == "" {
		abs, err := filepath.Abs(filepath.Join(c.dir, "lake"))
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: no lake in %s: run 'cloudtrim demo' or 'cloudtrim collect' first, or name the lake with --dir or --lake", domain.ErrNotFound, c.dir)
			}
			return nil, err
		}
		url = "file://" + abs
	}
	l, err := lake.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// parseAuditTime reads the value of --since or --until: an RFC 3339
// time, a date (midnight UTC) or a duration back from now, in Go's
// syntax plus a "d" unit for days. Empty is the zero time (no bound).
func parseAuditTime(flagName, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseAge(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-11-23T10:00:00Z), a date (2026-11-23) or a duration back from now (24h, 90m, 7d)", flagName, s)
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("--%s %q: a duration back from now must be positive", flagName, s)
	}
	return now.Add(-d).UTC(), nil
}

// parseAge is time.ParseDuration with a "d" (24h) unit as well, alone
// ("7d") or first ("1d12h").
func parseAge(s string) (time.Duration, error) {
	days := time.Duration(0)
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, err
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
		if s[0] == '-' || s[0] == '+' {
			return 0, fmt.Errorf("sign after the days")
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return days + d, nil
}

// parseAuditTypes reads the values of --type. Types beyond auditTypes
// are accepted when they are spelt like one (lower case and
// underscores); selectAudit checks that the trail has them.
func parseAuditTypes(vals []string) ([]domain.AuditType, error) {
	var out []domain.AuditType
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			t := domain.AuditType(strings.ToLower(strings.TrimSpace(p)))
			if t == "" || strings.Trim(string(t), "abcdefghijklmnopqrstuvwxyz_") != "" {
				return nil, fmt.Errorf("--type %q: unknown audit type (want %s)", p, joinTypes(auditTypes))
			}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

func joinTypes(ts []domain.AuditType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// printAudit prints events as a table. The savings column shows what a
// verified change realized (apply_done records, changes enabled); a
// decision's planned savings are in its --json record.
func printAudit(w io.Writer, evs []domain.AuditEvent) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "time\ttype\tactor\tplan\taction\ttarget\tbefore → after\toutcome\trealized / month")
	var realized domain.Money
	for _, ev := range evs {
		typ := string(ev.Type)
		if ev.DryRun {
			typ += " (dry run)"
		}
		saved := ""
		if ev.Type == domain.AuditApplyDone && !ev.DryRun && !ev.Savings.IsZero() {
			saved = ev.Savings.String()
			realized = realized.Plus(ev.Savings)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s → %s\t%s\t%s\n",
			ev.At.UTC().Format("2006-01-02 15:04:05Z"), typ, cell(ev.Actor), cell(ev.PlanID), cell(ev.ActionID),
			cell(target(ev)), cell(state(ev.Before)), cell(state(ev.After)), cell(truncate(ev.Outcome, maxOutcome)), saved)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d records", len(evs))
	if !realized.IsZero() {
		fmt.Fprintf(w, "; realized by verified changes: %s a month", realized)
	}
	fmt.Fprintln(w)
}

// target names an event's resource compactly: the action, then cloud,
// account, region and the last segment of the resource ID (Azure and
// Google Cloud IDs are paths that repeat the account). --json has the
// whole reference.
func target(ev domain.AuditEvent) string {
	r := ev.Target
	if r == (domain.ResourceRef{}) {
		return ""
	}
	s := fmt.Sprintf("%s/%s/%s/%s", r.Cloud, r.Account, r.Region, lastSegment(r.ID))
	if ev.ActionKind != "" {
		s = string(ev.ActionKind) + " " + s
	}
	return s
}

func lastSegment(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndexByte(id, '/'); i >= 0 && i < len(id)-1 {
		return id[i+1:]
	}
	return id
}

// state renders a resource state compactly: "m5.large running",
// "gp3 available 500 GiB".
func state(s domain.ResourceState) string {
	var parts []string
	if s.SKU != "" {
		parts = append(parts, s.SKU)
	}
	if s.State != "" {
		parts = append(parts, s.State)
	}
	if s.SizeGiB != 0 {
		parts = append(parts, fmt.Sprintf("%d GiB", s.SizeGiB))
	}
	if s.AttachedTo != "" {
		parts = append(parts, "attached to "+lastSegment(s.AttachedTo))
	}
	if s.Tiering != "" {
		parts = append(parts, "lifecycle "+s.Tiering)
	}
	return strings.Join(parts, " ")
}

// maxOutcome is the width of the table's outcome column; --json has the
// whole outcome.
const maxOutcome = 72

// truncate cuts s to n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// cell makes s safe for one table cell: "-" when empty, and no control
// characters, so that text from a request (an approver's name) cannot
// break the table or send escape sequences to a terminal.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r):
			return unicode.ReplacementChar
		}
		return r
	}, s)
}
