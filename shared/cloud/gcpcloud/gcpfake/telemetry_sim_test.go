package gcpfake

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/focus"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// simNow is the clock of the simulated estates of the tests.
var simNow = time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)

func simEstate(t *testing.T) (*simcloud.Estate, *pricing.Catalog) {
	t.Helper()
	cat, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(simcloud.Config{Seed: 7, Resources: 300, Now: simNow, Days: 14}, cat)
	if err != nil {
		t.Fatal(err)
	}
	return est, cat
}

// machineMicros prices a size from core and RAM nanos as a reader must.
func machineMicros(s sizePrice, core, ram int64) int64 {
	num := s.quarters*100*core + 4*s.memCentiGiB*ram
	return (num + 200000) / 400000
}

// TestSolveRatesReproducesTheEmbeddedCatalog proves that every machine
// series the simulated catalog prices has a core and a RAM price giving
// every one of its sizes its embedded price exactly, in every region.
func TestSolveRatesReproducesTheEmbeddedCatalog(t *testing.T) {
	cat, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	solved := 0
	for _, region := range cat.Regions(domain.GCP) {
		bySeries := map[string][]sizePrice{}
		names := map[string][]string{}
		for _, p := range cat.VMSizes(domain.GCP, region) {
			series, _, _ := strings.Cut(p.SKU, "-")
			if _, ok := simSeries[series]; !ok {
				continue
			}
			bySeries[series] = append(bySeries[series], newSizePrice(p))
			names[series] = append(names[series], p.SKU)
		}
		for series, sizes := range bySeries {
			core, ram, ok := solveRates(sizes)
			if !ok {
				t.Errorf("solveRates(%s in %s) found no core and RAM price", series, region)
				continue
			}
			for i, s := range sizes {
				if got := machineMicros(s, core, ram); got != s.micros {
					t.Errorf("%s in %s at core %d, RAM %d nanos = %d micros; want %d", names[series][i], region, core, ram, got, s.micros)
				}
			}
			solved++
		}
	}
	if solved == 0 {
		t.Fatal("no series solved")
	}
}

func TestSolveRatesRefusesPricesNoRatesGive(t *testing.T) {
	// Two sizes of one shape priced apart: no rates give both.
	sizes := []sizePrice{{8, 800, 100_000}, {8, 800, 900_000}}
	if c, r, ok := solveRates(sizes); ok {
		t.Fatalf("solveRates(contradictory sizes) = %d, %d, true; want false", c, r)
	}
}

func TestSimSKUsPriceEveryRegionOfTheEstate(t *testing.T) {
	est, cat := simEstate(t)
	skus, err := SimSKUs(est, cat)
	if err != nil {
		t.Fatal(err)
	}
	// The in-use address is one global SKU; every estate region has an
	// on-demand N2 core SKU.
	regions := map[string]bool{}
	for _, r := range est.Resources() {
		if r.Cloud == domain.GCP {
			regions[r.Region] = true
		}
	}
	core := map[string]bool{}
	globalIP := 0
	for _, s := range skus {
		if s.GetCategory().GetUsageType() == "OnDemand" && strings.HasPrefix(s.GetDescription(), "N2 Instance Core running in ") {
			for _, r := range s.GetServiceRegions() {
				core[r] = true
			}
		}
		if s.GetDescription() == "External IP Charge on a Standard VM" && cmp.Equal(s.GetServiceRegions(), []string{"global"}) {
			globalIP++
		}
	}
	for r := range regions {
		if !core[r] {
			t.Errorf("no N2 core SKU serves %s", r)
		}
	}
	if globalIP != 1 {
		t.Errorf("%d global in-use address SKUs; want 1", globalIP)
	}
}

// TestExportRowOfReadsBackThroughTheFocusReader proves the export rows
// the fake serves are the simulated rows: read by the Google Cloud
// export reader they give back every money column exactly, the charge
// period, project, SKU, location and tags.
func TestExportRowOfReadsBackThroughTheFocusReader(t *testing.T) {
	est, _ := simEstate(t)
	project := est.Accounts(domain.GCP)[0]
	var want []domain.CostRow
	err := est.Cloud(domain.GCP).CostRows(context.Background(), project, collect.Window{Start: simNow.AddDate(0, 0, -30), End: simNow},
		func(rows []domain.CostRow) error {
			want = append(want, rows...)
			return nil
		})
	if err != nil || len(want) == 0 {
		t.Fatalf("simulated cost rows of %s: %d rows, %v", project, len(want), err)
	}
	for _, detailed := range []bool{false, true} {
		var buf bytes.Buffer
		for _, r := range want {
			b, err := json.Marshal(ExportRowOf(r, detailed))
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(append(b, '\n'))
		}
		var got []domain.CostRow
		_, err := focus.Read(context.Background(), focus.Input{Name: "export", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
		}}, focus.Options{}, func(rows []domain.CostRow) error {
			got = append(got, rows...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		type kept struct {
			Billed, Effective, List, Contracted domain.Money
			Start, End                          time.Time
			Project, Name, SKU, Region, Zone    string
			Tags                                map[string]string
			Resource                            string
		}
		keep := func(r domain.CostRow, resource string) kept {
			return kept{r.BilledCost, r.EffectiveCost, r.ListCost, r.ContractedCost, r.ChargePeriodStart, r.ChargePeriodEnd,
				r.SubAccountID, r.SubAccountName, r.SkuID, r.RegionID, r.AvailabilityZone, r.Tags, resource}
		}
		wantKept, gotKept := make([]kept, len(want)), make([]kept, len(got))
		for i, r := range want {
			resource := ""
			if detailed {
				resource = "//compute.googleapis.com/" + r.ResourceID
			}
			wantKept[i] = keep(r, resource)
		}
		for i, r := range got {
			gotKept[i] = keep(r, r.ResourceID)
		}
		if diff := cmp.Diff(wantKept, gotKept); diff != "" {
			t.Errorf("export rows (detailed %v) read back (-want +got):\n%s", detailed, diff)
		}
	}
}

func TestSimBillingSourceServesAProjectsRows(t *testing.T) {
	est, _ := simEstate(t)
	projects := est.Accounts(domain.GCP)
	src := SimBillingSource(est, false)
	n := 0
	err := src(context.Background(), projects[0], func(r ExportRow) error {
		if id := r["project"].(map[string]any)["id"]; id != projects[0] {
			t.Errorf("a row of project %v; want %s", id, projects[0])
		}
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("SimBillingSource(%s) = %d rows, %v; want rows", projects[0], n, err)
	}
	n = 0
	if err := src(context.Background(), "no-such-project", func(ExportRow) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("SimBillingSource(no-such-project) = %d rows, %v; want none", n, err)
	}
}
