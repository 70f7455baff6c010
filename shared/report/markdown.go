package report

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Markdown returns the report as GitHub-flavoured Markdown. Every string
// taken from the plan is escaped, so a resource name cannot add markup,
// links or raw HTML.
func Markdown(in Input) []byte {
	v := buildView(in)
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	w("# cloudtrim plan %s\n\n", md(v.PlanID))
	w("Plan created %s · report generated %s · policy %s · currency %s\n\n",
		md(v.Created), md(v.Generated), md(v.PolicyHash), md(v.Currency))
	w("**Monthly savings %s · annual %s · %d actions · %s resources analysed**\n\n",
		md(v.Monthly), md(v.Annual), v.Actions, md(v.Resources))

	w("## Snapshots\n\n")
	if len(v.Snapshots) == 0 {
		w("No snapshots recorded.\n\n")
	} else {
		w("| Cloud | Run ID | Taken at | Manifest |\n|---|---|---|---|\n")
		for _, s := range v.Snapshots {
			w("| %s | %s | %s | %s |\n", md(s.Cloud), md(s.RunID), md(s.At), md(s.Manifest))
		}
		w("\n")
	}

	w("## Totals\n\n")
	if len(v.Rows) == 0 {
		w("No actions.\n\n")
	}
	groupTable(&b, "Cloud", "", v.ByCloud, v.HasOutcomes)
	groupTable(&b, "Account", "Cloud", v.ByAccount, v.HasOutcomes)
	groupTable(&b, "Action", "", v.ByKind, v.HasOutcomes)

	if v.HasOutcomes {
		w("## Outcomes\n\n")
		var head, sep, row []string
		for _, c := range v.Outcomes {
			head = append(head, md(capitalize(c.Label)))
			sep = append(sep, "--:")
			row = append(row, fmt.Sprint(c.Count))
		}
		w("| %s | Realized monthly savings |\n|%s|--:|\n| %s | %s |\n\n",
			strings.Join(head, " | "), strings.Join(sep, "|"), strings.Join(row, " | "), md(v.Realized))
		w("Dry-run actions would have saved %s a month.\n\n", md(v.DryRunSavings))
	}

	w("## Actions\n\n")
	if len(v.Rows) == 0 {
		w("No actions: nothing to save above the policy's minimum.\n\n")
	} else {
		w("| # | Action | Target | Cloud / account / region | Before → after | Monthly savings | Basis | Risk | Confidence | Opted in |")
		sep := "|--:|---|---|---|---|--:|---|---|--:|---|"
		if v.HasOutcomes {
			w(" Outcome |")
			sep += "---|"
		}
		w("\n%s\n", sep)
		for _, r := range v.Rows {
			w("| %d | %s | %s | %s / %s / %s | %s → %s | %s | %s | %s | %s | %s |",
				r.N, md(r.Kind), md(r.Target()), md(r.Cloud), md(r.Account), md(r.Region),
				md(r.Before), md(r.After), md(r.Monthly), md(r.Basis), md(r.Risk), md(r.Confidence), md(r.OptedIn))
			if v.HasOutcomes {
				w(" %s |", md(r.Outcome))
			}
			w("\n")
		}
		w("\n")
		if v.Omitted > 0 {
			w("%d more actions saving %s a month are not listed here; the plan JSON has every one (`cloudtrim report --format json`).\n\n", v.Omitted, md(v.OmittedMonthly))
		}

		w("## Evidence\n\n")
		for _, r := range v.Rows {
			evidence(&b, r, v.OptInTag)
		}
	}

	placementMarkdown(&b, v.Placement)
	commitmentsMarkdown(&b, v.Commitments)
	spendMarkdown(&b, v)

	w("## Skipped\n\n")
	if len(v.Skipped) == 0 {
		w("Nothing was skipped.\n")
	} else {
		w("%d resources or actions were left out.\n\n", v.SkippedCount)
		for _, g := range v.Skipped {
			w("### %s (%d)\n\n", md(capitalize(g.Reason)), g.Count)
			for _, ex := range g.Examples {
				w("- %s\n", md(ex))
			}
			if more := g.Count - len(g.Examples); more > 0 {
				w("- … and %d more\n", more)
			}
			w("\n")
		}
	}
	return b.Bytes()
}

func groupTable(b *bytes.Buffer, name, detail string, rows []groupView, outcomes bool) {
	if len(rows) == 0 {
		return
	}
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	w("| %s |", name)
	sep := "|---|"
	if detail != "" {
		w(" %s |", detail)
		sep += "---|"
	}
	w(" Actions | Monthly savings | Annual savings |")
	sep += "--:|--:|--:|"
	if outcomes {
		w(" Applied | Realized monthly |")
		sep += "--:|--:|"
	}
	w("\n%s\n", sep)
	for _, g := range rows {
		w("| %s |", md(g.Name))
		if detail != "" {
			w(" %s |", md(g.Detail))
		}
		w(" %d | %s | %s |", g.Actions, md(g.Monthly), md(g.Annual))
		if outcomes {
			w(" %d | %s |", g.Applied, md(g.Realized))
		}
		w("\n")
	}
	w("\n")
}

func evidence(b *bytes.Buffer, r actionView, optInTag string) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	item := func(label, value string) {
		if value != "" {
			w("- **%s**: %s\n", label, md(value))
		}
	}
	w("### %d. %s\n\n", r.N, md(r.Summary))
	w("- **Action**: %s · %s · risk %s · confidence %s · opted in: %s\n",
		md(r.ID), md(r.Kind), md(r.Risk), md(r.Confidence), md(r.OptedIn))
	item("Target", fmt.Sprintf("%s / %s / %s / %s", r.Cloud, r.Account, r.Region, r.Target()))
	item("Change", r.Before+" → "+r.After)
	item("Savings", fmt.Sprintf("%s a month (%s a year) of %s, from the %s", r.Monthly, r.Annual, r.Cost, r.Basis))
	item("Window", r.Window)
	item("Observed", r.DataHours)
	item("CPU", r.CPU)
	item("Memory", r.Memory)
	item("Shape", r.Shape)
	item("Age", r.Age)
	item("Daily CPU peaks", r.PeakText)
	if len(r.Notes) > 0 {
		w("- **Notes**:\n")
		for _, n := range r.Notes {
			w("  - %s\n", md(n))
		}
	}
	item("Undo", r.Undo)
	if r.OptedIn == "no" && optInTag != "" {
		item("Opt-in", "tag "+optInTag+"=true is missing: the actuator will refuse this action")
	}
	if r.Outcome != "" {
		out := r.Outcome
		if r.Realized != "" {
			out += ", realized " + r.Realized + " a month"
		}
		if r.OutcomeReason != "" {
			out += ": " + r.OutcomeReason
		}
		item("Outcome", out)
	}
	w("\n")
}

// mdEscaper backslash-escapes the characters that start Markdown markup
// inside a line (emphasis, code, links, tables, HTML, entities) and
// folds line breaks, so that text stays text.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "|", `\|`, "&", `\&`, "~", `\~`, "#", `\#`,
	"\r\n", " ", "\n", " ", "\r", " ",
)

func md(s string) string { return mdEscaper.Replace(s) }

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
