package httpapi

import (
	"context"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// LinkApprover previews and applies signed approval links.
type LinkApprover interface {
	PreviewLink(ctx context.Context, token string) (approve.LinkPreview, error)
	ApplyLink(ctx context.Context, token string) (approve.Result, error)
}

// LinkHandler serves signed approval links. GET ?token=… shows what the
// link would approve and a form to confirm, and changes nothing (mail
// and chat link scanners fetch links before people click them); POST
// with the token in a form body applies it once. Expired and used links
// answer 410, forged or tampered ones 401, with an HTML page.
func LinkHandler(core LinkApprover, logger *slog.Logger) http.Handler {
	logger = orDiscard(logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			p, err := core.PreviewLink(r.Context(), r.URL.Query().Get("token"))
			if err != nil {
				writeErrorPage(r.Context(), w, err, logger)
				return
			}
			writePage(w, http.StatusOK, confirmPage, confirmData(p, r.URL.Query().Get("token")))
		case http.MethodPost:
			body, err := readBody(w, r)
			if err != nil {
				refuse(r.Context(), core, approve.Refusal{Channel: "link", Reason: err}, logger)
				writeErrorPage(r.Context(), w, err, logger)
				return
			}
			form, err := url.ParseQuery(string(body))
			if err != nil {
				err = fmt.Errorf("%w: form body is not form-encoded", domain.ErrInvalid)
				refuse(r.Context(), core, approve.Refusal{Channel: "link", Reason: err}, logger)
				writeErrorPage(r.Context(), w, err, logger)
				return
			}
			res, err := core.ApplyLink(r.Context(), form.Get("token"))
			if err != nil {
				writeErrorPage(r.Context(), w, err, logger)
				return
			}
			writePage(w, http.StatusOK, donePage, res)
		default:
			w.Header().Set("Allow", "GET, POST")
			writePage(w, http.StatusMethodNotAllowed, errorPage, errorData{Status: http.StatusMethodNotAllowed, Message: "use GET to see the link, POST to apply it"})
		}
	})
}

// maxListed bounds the actions a confirmation page lists.
const maxListed = 50

type confirmView struct {
	Token     string
	PlanID    string
	Approver  string
	Expires   string
	All       bool
	Actions   []domain.Action
	More      int
	Savings   domain.Money
	TwoPerson int
}

func confirmData(p approve.LinkPreview, token string) confirmView {
	v := confirmView{Token: token, PlanID: p.PlanID, Approver: p.Link.Approver, Expires: p.Link.Expires.UTC().Format("2006-01-02 15:04 MST"),
		All: p.Link.ActionID == "", Actions: p.Actions, Savings: p.Savings, TwoPerson: len(p.TwoPerson)}
	if len(v.Actions) > maxListed {
		v.More, v.Actions = len(v.Actions)-maxListed, v.Actions[:maxListed]
	}
	return v
}

type errorData struct {
	Status  int
	Message string
}

func writeErrorPage(ctx context.Context, w http.ResponseWriter, err error, logger *slog.Logger) {
	status := Status(err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		logger.ErrorContext(ctx, "approval link failed", "error", err)
		msg = "internal error"
	} else {
		logger.WarnContext(ctx, "approval link refused", "status", status, "error", err)
	}
	writePage(w, status, errorPage, errorData{Status: status, Message: msg})
}

// writePage renders a page with headers that keep it out of caches,
// frames and Referer headers (its URL holds the link's token).
func writePage(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_ = t.Execute(w, data)
}

const pageHead = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>cloudtrim approval</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
td.n{text-align:right}button{font-size:1rem;padding:.5rem 1.5rem}</style></head><body>`

var confirmPage = template.Must(template.New("confirm").Parse(pageHead + `
<h1>Approve {{if .All}}plan{{else}}an action of plan{{end}} {{.PlanID}}?</h1>
<p>As <b>{{.Approver}}</b>, {{len .Actions}}{{if .More}} (and {{.More}} more){{end}} action(s) saving <b>{{.Savings}}</b> a month.
This link works once, until {{.Expires}}.</p>
{{if .TwoPerson}}<p>{{.TwoPerson}} action(s) need a second approver: your approval is recorded and they are queued once another person approves.</p>{{end}}
<table><tr><th>Action</th><th>Resource</th><th>Summary</th><th class="n">Saves a month</th></tr>
{{range .Actions}}<tr><td>{{.Kind}}</td><td>{{.Target.Cloud}}/{{.Target.Account}}/{{.Target.Region}}/{{.Target.ID}}{{if .Name}} ({{.Name}}){{end}}</td><td>{{.Summary}}</td><td class="n">{{.MonthlySavings}}</td></tr>
{{end}}</table>
<form method="post"><input type="hidden" name="token" value="{{.Token}}"><p><button type="submit">Approve</button></p></form>
<p>Nothing has been approved yet. Close this page to leave the plan as it is.</p></body></html>`))

var donePage = template.Must(template.New("done").Parse(pageHead + `
<h1>Plan {{.PlanID}}</h1>
<p>Approved {{len .Approved}} action(s); {{.Enqueued}} queued for the actuator.
{{if .Pending}}{{len .Pending}} wait for a second approver.{{end}}</p></body></html>`))

var errorPage = template.Must(template.New("error").Parse(pageHead + `
<h1>Not approved ({{.Status}})</h1><p>{{.Message}}</p><p>Nothing was changed.</p></body></html>`))
