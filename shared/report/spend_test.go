package report

import (
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/forecast"
)

func spendFixture() *forecast.Result {
	mape := 0.042
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	return &forecast.Result{
		AsOf: day, Currencies: []string{"USD"},
		Forecasts: []forecast.Forecast{{
			Key: forecast.Key{Level: forecast.LevelCloud, Cloud: domain.AWS, Currency: "USD"}, HorizonDays: 30, Start: day,
			HistoryDays: 90, Method: forecast.MethodHoltWinters, Total: usd("9000"), TotalLower95: usd("8000"), TotalUpper95: usd("10000"),
			MAPE: &mape, BacktestOrigins: 8,
		}},
		Anomalies: []forecast.Anomaly{{
			Kind: forecast.KindSpike, Key: forecast.Key{Level: forecast.LevelService, Cloud: domain.AWS, Account: "111", Service: "<script>VPC", Currency: "USD"},
			Day: day, Actual: usd("40"), Expected: usd("10"), Impact: usd("30"), Score: 7.25,
			Top: []forecast.Contributor{{Name: "nat-0abc", Amount: usd("35"), Delta: usd("28")}},
		}},
	}
}

// TestSpendSections checks that forecasts, anomalies and the bill check
// appear in both reports, escaped, and in the notification lines.
func TestSpendSections(t *testing.T) {
	p := fixedPlan()
	p.BillChecks = []domain.BillCheck{{Cloud: domain.AWS, Source: "billing export", ResourceRows: true, BilledNotInInventory: 1,
		BilledNotInInventoryCost: usd("12"), TopBilledNotInInventory: []domain.BilledItem{{ResourceID: "nat-0abc", Cost: usd("12")}}}}
	in := Input{Plan: p, GeneratedAt: p.CreatedAt, Spend: spendFixture()}
	md := string(Markdown(in))
	for _, want := range []string{"## Spend forecast", "USD 9,000.00", "4.2 % (8 origins)", "## Cost anomalies", "nat-0abc: USD 35.00 (+USD 28.00)", "## Bill and inventory", "billed, not in inventory: nat-0abc"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	html, err := HTML(in)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(html); strings.Contains(s, "<script>VPC") || !strings.Contains(s, "&lt;script&gt;VPC") || !strings.Contains(s, "Spend forecast") {
		t.Errorf("HTML does not show the escaped anomaly scope")
	}
	lines := AnomalyLines(in.Spend, 5)
	if len(lines) != 1 || !strings.Contains(lines[0], "spike aws / 111 / <script>VPC on 2026-11-21: USD 40.00 (expected USD 10.00), mostly nat-0abc") {
		t.Errorf("AnomalyLines = %q", lines)
	}
	if got := Markdown(Input{Plan: fixedPlan(), GeneratedAt: p.CreatedAt}); strings.Contains(string(got), "Spend forecast") {
		t.Error("a report without cost data shows a spend section")
	}
}
