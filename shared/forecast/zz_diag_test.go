package forecast

import (
	"encoding/csv"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
)

func dumpSeries(t *testing.T, f func(cloud, acct, svc string) bool) []float64 {
	fh, err := os.Open("/tmp/dump/all.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, _ := csv.NewReader(fh).ReadAll()
	m := map[string]float64{}
	for _, r := range recs[1:] {
		if f(r[1], r[2], r[3]) {
			v, _ := strconv.ParseFloat(r[4], 64)
			m[r[0]] += v
		}
	}
	var days []string
	for d := range m {
		days = append(days, d)
	}
	sort.Strings(days)
	var y []float64
	for _, d := range days {
		y = append(y, m[d])
	}
	return y
}

func diag(t *testing.T, name string, y []float64) {
	from := regimeStart(y)
	y = y[from:]
	m := fit(y)
	_, pts := backtest(y, 90, true)
	mean := 0.0
	for _, v := range y {
		mean += v / float64(len(y))
	}
	for _, h := range []int{30, 90} {
		mape, _, m80, m95 := score(pts, h, mean)
		means, _ := m.predict(h)
		tot := 0.0
		for _, v := range means {
			tot += max(v, 0)
		}
		fmt.Printf("%s from=%d h=%d p=%+v sigma=%.4f totalSD=%.1f m80=%.1f m95=%.1f mape=%.3f total=%.0f range=[%.0f %.0f]\n", name, from, h, m.p, m.sigma, m.totalSD(h), m80, m95, mape, tot, tot-m95*m.totalSD(h), tot+m95*m.totalSD(h))
	}
}

func TestZZDiag(t *testing.T) {
	diag(t, "vm", dumpSeries(t, func(c, a, s string) bool { return s == "Virtual Machines" && a[:4] == "e67b" }))
	diag(t, "aws", dumpSeries(t, func(c, a, s string) bool { return c == "aws" }))
	diag(t, "awsacct", dumpSeries(t, func(c, a, s string) bool { return a == "113406678803" }))
	diag(t, "gcpce", dumpSeries(t, func(c, a, s string) bool { return a == "core-prod-2462" && s == "Compute Engine" }))
	diag(t, "azure", dumpSeries(t, func(c, a, s string) bool { return c == "azure" }))
	diag(t, "gcp", dumpSeries(t, func(c, a, s string) bool { return c == "gcp" }))
	diag(t, "acct458", dumpSeries(t, func(c, a, s string) bool { return a == "458594491730" }))
}
