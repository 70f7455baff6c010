package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
)

//go:embed report.html.tmpl
var pageSource string

// page is parsed once; html/template escapes every value for the context
// it lands in (text, attribute, SVG attribute).
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"groups": func(name, detail string, rows []groupView, outcomes bool) groupTableView {
		return groupTableView{Name: name, Detail: detail, Rows: rows, Outcomes: outcomes}
	},
	"peakGeometry": func() map[string]int {
		return map[string]int{"Height": peakHeight, "Half": peakHeight / 2, "Bar": peakBar}
	},
	"more": func(count int, examples []string) int { return count - len(examples) },
}).Parse(pageSource))

type groupTableView struct {
	Name, Detail string
	Rows         []groupView
	Outcomes     bool
}

// HTML returns the report as one self-contained HTML page: inline CSS,
// inline SVG bars of the daily CPU peaks, no scripts and no external
// references; a Content-Security-Policy forbids loading anything.
// The error reports a template failure, which is a bug.
func HTML(in Input) ([]byte, error) {
	var b bytes.Buffer
	if err := page.Execute(&b, buildView(in)); err != nil {
		return nil, fmt.Errorf("render html report for plan %s: %w", in.Plan.ID, err)
	}
	return b.Bytes(), nil
}
