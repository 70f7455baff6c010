package report

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/forecast"
)

// forecastView is one row of the spend forecast table.
type forecastView struct {
	Scope, Horizon, Total, Range, MAPE, Method, History string
}

// anomalyView is one cost anomaly.
type anomalyView struct {
	Kind, Scope, Day, Actual, Expected, Impact, Score string
	Top                                               []string
}

// billCheckView is one cloud's comparison of inventory and bill.
type billCheckView struct {
	Cloud, Source, NotInInventory, NotInInventoryCost, NotBilled string
	ResourceRows                                                 bool
	Top, Unbilled                                                []string
}

// maxForecastRows bounds the forecast table; the spend artifact has all.
const maxForecastRows = 24

func spendViews(sp *forecast.Result) (fs []forecastView, as []anomalyView, skipped int) {
	if sp == nil {
		return nil, nil, 0
	}
	for _, f := range sp.Forecasts {
		if len(fs) == maxForecastRows {
			break
		}
		mape := "–"
		if f.MAPE != nil {
			mape = fmt.Sprintf("%.1f %% (%d origins)", *f.MAPE*100, f.BacktestOrigins)
		}
		fs = append(fs, forecastView{
			Scope: scope(f.Key), Horizon: fmt.Sprintf("%d days from %s", f.HorizonDays, f.Start.Format("2006-01-02")),
			Total: money(f.Total, f.Key.Currency),
			Range: money(f.TotalLower95, f.Key.Currency) + " – " + money(f.TotalUpper95, f.Key.Currency),
			MAPE:  mape, Method: f.Method, History: fmt.Sprintf("%d days", f.HistoryDays),
		})
	}
	for _, a := range sp.Anomalies {
		v := anomalyView{
			Kind: strings.ReplaceAll(string(a.Kind), "_", " "), Scope: scope(a.Key), Day: a.Day.Format("2006-01-02"),
			Actual: money(a.Actual, a.Key.Currency), Expected: money(a.Expected, a.Key.Currency),
			Impact: money(a.Impact, a.Key.Currency), Score: "–",
		}
		if a.Kind == forecast.KindSpike {
			v.Score = fmt.Sprintf("%.1f", a.Score)
		}
		for _, c := range a.Top {
			v.Top = append(v.Top, fmt.Sprintf("%s: %s (%s%s)", c.Name, money(c.Amount, a.Key.Currency), sign(c.Delta), money(c.Delta, a.Key.Currency)))
		}
		as = append(as, v)
	}
	return fs, as, len(sp.Skipped)
}

func sign(m domain.Money) string {
	if m.Micros >= 0 {
		return "+"
	}
	return ""
}

func scope(k forecast.Key) string {
	switch k.Level {
	case forecast.LevelCloud:
		return string(k.Cloud)
	case forecast.LevelAccount:
		return string(k.Cloud) + " / " + k.Account
	}
	return string(k.Cloud) + " / " + k.Account + " / " + k.Service
}

func billCheckViews(p *domain.Plan) []billCheckView {
	var out []billCheckView
	for _, bc := range p.BillChecks {
		v := billCheckView{Cloud: string(bc.Cloud), Source: bc.Source, ResourceRows: bc.ResourceRows,
			NotInInventory: fmt.Sprint(bc.BilledNotInInventory), NotInInventoryCost: money(bc.BilledNotInInventoryCost, p.Currency),
			NotBilled: fmt.Sprint(bc.InventoryNotBilled)}
		for _, b := range bc.TopBilledNotInInventory {
			s := b.ResourceID + ": " + money(b.Cost, p.Currency)
			if b.Service != "" {
				s += " (" + b.Service + ")"
			}
			v.Top = append(v.Top, s)
		}
		for _, r := range bc.ExamplesInventoryNotBilled {
			v.Unbilled = append(v.Unbilled, string(r.Kind)+" "+r.ID+" ("+r.Account+", "+r.Region+")")
		}
		out = append(out, v)
	}
	return out
}

// AnomalyLines returns one line per anomaly, the largest first, at most
// max: for notifications.
func AnomalyLines(sp *forecast.Result, max int) []string {
	if sp == nil {
		return nil
	}
	var out []string
	for _, a := range sp.Anomalies {
		if len(out) == max {
			break
		}
		line := fmt.Sprintf("%s %s on %s: %s (expected %s)", strings.ReplaceAll(string(a.Kind), "_", " "), scope(a.Key),
			a.Day.Format("2006-01-02"), money(a.Actual, a.Key.Currency), money(a.Expected, a.Key.Currency))
		if len(a.Top) > 0 {
			line += ", mostly " + a.Top[0].Name
		}
		out = append(out, line)
	}
	return out
}

func spendMarkdown(b *bytes.Buffer, v view) {
	w := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if v.HasSpend {
		w("## Spend forecast\n\n")
		if len(v.Forecasts) == 0 {
			w("Not enough daily cost history to forecast (%d series skipped).\n\n", v.SpendSkipped)
		} else {
			w("| Scope | Horizon | Forecast | 95 %% range | Backtest MAPE | History | Method |\n|---|---|--:|---|--:|---|---|\n")
			for _, f := range v.Forecasts {
				w("| %s | %s | %s | %s | %s | %s | %s |\n", md(f.Scope), md(f.Horizon), md(f.Total), md(f.Range), md(f.MAPE), md(f.History), md(f.Method))
			}
			w("\n")
		}
		w("## Cost anomalies\n\n")
		if len(v.Anomalies) == 0 {
			w("No cost anomalies in the last days of the bill.\n\n")
		} else {
			w("| Kind | Scope | Day | Spend | Expected | Impact | Score |\n|---|---|---|--:|--:|--:|--:|\n")
			for _, a := range v.Anomalies {
				w("| %s | %s | %s | %s | %s | %s | %s |\n", md(a.Kind), md(a.Scope), md(a.Day), md(a.Actual), md(a.Expected), md(a.Impact), md(a.Score))
			}
			w("\n")
			for _, a := range v.Anomalies {
				if len(a.Top) == 0 {
					continue
				}
				w("- **%s %s on %s**, top contributors: %s\n", md(a.Kind), md(a.Scope), md(a.Day), md(strings.Join(a.Top, "; ")))
			}
			w("\n")
		}
	}
	if len(v.BillChecks) > 0 {
		w("## Bill and inventory\n\n")
		w("| Cloud | Cost rows from | Billed, not in inventory | Their cost | In inventory, not billed |\n|---|---|--:|--:|--:|\n")
		for _, c := range v.BillChecks {
			if !c.ResourceRows {
				w("| %s | %s | – | – | – (no resource-level cost rows) |\n", md(c.Cloud), md(c.Source))
				continue
			}
			w("| %s | %s | %s | %s | %s |\n", md(c.Cloud), md(c.Source), md(c.NotInInventory), md(c.NotInInventoryCost), md(c.NotBilled))
		}
		w("\n")
		for _, c := range v.BillChecks {
			for _, t := range c.Top {
				w("- %s billed, not in inventory: %s\n", md(c.Cloud), md(t))
			}
			for _, u := range c.Unbilled {
				w("- %s in inventory, not billed: %s\n", md(c.Cloud), md(u))
			}
		}
		w("\n")
	}
}
