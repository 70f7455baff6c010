package main

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// commitmentsName is the catalog file of commitment rates.
const commitmentsName = "commitments.csv"

// commitment is one row of commitments.csv: what committing to a VM
// size for a term costs, against its on-demand rate.
type commitment struct {
	cloud      domain.Cloud
	region     string
	sku        string
	termMonths int
	payment    string
	discount   *big.Rat // 1 − commitment rate / on-demand rate, exact
	hourly     *big.Rat // USD per hour; nil when only the discount is known
	source     string
}

var commitmentHeader = []string{"cloud", "region", "sku", "term_months", "payment", "discount", "usd_per_hour", "source"}

// writeCommitments sorts commitments by cloud, region, SKU, term and
// payment and writes them. Discounts are rounded half up to six places;
// hourly rates are written exactly.
func writeCommitments(cs []commitment) ([]byte, error) {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b commitment) int {
		return cmp.Or(cmp.Compare(a.cloud, b.cloud), cmp.Compare(a.region, b.region), cmp.Compare(a.sku, b.sku),
			cmp.Compare(a.termMonths, b.termMonths), cmp.Compare(a.payment, b.payment))
	})
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(commitmentHeader); err != nil {
		return nil, err
	}
	for i, c := range cs {
		if i > 0 {
			p := cs[i-1]
			if p.cloud == c.cloud && p.region == c.region && p.sku == c.sku && p.termMonths == c.termMonths && p.payment == c.payment {
				return nil, fmt.Errorf("%s %s %s %d months %s: two commitments (%s and %s)", c.cloud, c.region, c.sku, c.termMonths, c.payment, p.source, c.source)
			}
		}
		d := roundDecimal(c.discount, 6)
		if d == "0" || d == "1" || c.discount.Sign() <= 0 {
			return nil, fmt.Errorf("%s %s %s %d months: discount %s is not between 0 and 1", c.cloud, c.region, c.sku, c.termMonths, c.discount.FloatString(9))
		}
		hourly := ""
		if c.hourly != nil {
			h, err := exactDecimal(c.hourly)
			if err != nil {
				return nil, fmt.Errorf("%s %s %s %d months: %w", c.cloud, c.region, c.sku, c.termMonths, err)
			}
			hourly = h
		}
		row := []string{string(c.cloud), c.region, c.sku, strconv.Itoa(c.termMonths), c.payment, d, hourly, c.source}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// decimalNumber is a plain decimal as the sources write amounts.
var decimalNumber = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// parseDecimal reads a plain decimal exactly.
func parseDecimal(s string) (*big.Rat, error) {
	if !decimalNumber.MatchString(s) {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal number", s)
	}
	return r, nil
}

// roundDecimal rounds a non-negative r half up to at most places
// decimals and writes it without trailing zeros: 0.37, 0.421233.
func roundDecimal(r *big.Rat, places int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(scale))
	x.Add(x, big.NewRat(1, 2))
	q := new(big.Int).Quo(x.Num(), x.Denom()) // floor, x being positive
	return trimZeros(new(big.Rat).SetFrac(q, scale).FloatString(places))
}

// exactDecimal writes r as a terminating decimal without trailing zeros,
// or fails when it has none of at most 20 places.
func exactDecimal(r *big.Rat) (string, error) {
	const most = 20
	s := r.FloatString(most)
	back, _ := new(big.Rat).SetString(s)
	if back.Cmp(r) != 0 {
		return "", fmt.Errorf("%s is not a decimal of at most %d places", r.RatString(), most)
	}
	return trimZeros(s), nil
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// places returns the number of decimal places of a decimal string.
func places(s string) int {
	_, frac, _ := strings.Cut(s, ".")
	return len(frac)
}

// --- GCP: resource-based committed use discounts from pricing.yml ---

// gcpHoursPerMonth is the month pricing.yml's monthly figures are for:
// month_spot is hour_spot × 730 in every row, month is hour × 730 for the
// series without sustained-use discounts, and every month_1y and month_3y
// divides by 730 into a terminating decimal (checked row by row).
const gcpHoursPerMonth = 730

// gcpCUDTerms are pricing.yml's commitment fields and their terms.
var gcpCUDTerms = []struct {
	field  string
	months int
}{{"month_1y", 12}, {"month_3y", 36}}

// gcpCUDEvidence records what pricing.yml shows about its monthly
// figures, for the README.
type gcpCUDEvidence struct {
	vmRows     int
	spotRows   int      // rows with hour_spot and month_spot
	spotAt730  int      // of which month_spot = hour_spot × 730 exactly
	monthAt730 int      // rows in which month = hour × 730 exactly
	sudSeries  []string // series in which month is below hour × 730 (sustained-use discounts)
	noCUD      []string // machine types with neither month_1y nor month_3y
	maxPlaces  int      // most decimal places of a commitment's hourly rate
}

// gcpCommitments returns the 1-year and 3-year commitments of machine
// type name in region from its cost node (hour, month, month_spot,
// month_1y, month_3y ...), and notes the evidence for the factor of 730.
func gcpCommitments(name, region string, cost *ynode, ev *gcpCUDEvidence) ([]commitment, error) {
	num := func(field string) (*big.Rat, error) {
		n := cost.child(field)
		if n == nil {
			return nil, nil
		}
		v, err := parseDecimal(n.value)
		if err != nil {
			return nil, fmt.Errorf("%s %s %s: %w", name, region, field, err)
		}
		return v, nil
	}
	hour, err := num("hour")
	if err != nil {
		return nil, err
	}
	if hour == nil || hour.Sign() <= 0 {
		return nil, fmt.Errorf("%s %s: no positive hour price", name, region)
	}
	at730 := func(hourly, monthly *big.Rat) bool {
		return new(big.Rat).Mul(hourly, big.NewRat(gcpHoursPerMonth, 1)).Cmp(monthly) == 0
	}
	ev.vmRows++
	if month, err := num("month"); err != nil {
		return nil, err
	} else if month != nil && at730(hour, month) {
		ev.monthAt730++
	} else if series, _, _ := strings.Cut(name, "-"); !slices.Contains(ev.sudSeries, series) {
		ev.sudSeries = append(ev.sudSeries, series)
	}
	hs, err1 := num("hour_spot")
	ms, err2 := num("month_spot")
	if err := cmp.Or(err1, err2); err != nil {
		return nil, err
	}
	if hs != nil && ms != nil {
		ev.spotRows++
		if at730(hs, ms) {
			ev.spotAt730++
		}
	}
	var out []commitment
	for _, t := range gcpCUDTerms {
		monthly, err := num(t.field)
		if err != nil {
			return nil, err
		}
		if monthly == nil {
			continue
		}
		rate := new(big.Rat).Quo(monthly, big.NewRat(gcpHoursPerMonth, 1))
		s, err := exactDecimal(rate)
		if err != nil {
			return nil, fmt.Errorf("%s %s %s / %d: %w", name, region, t.field, gcpHoursPerMonth, err)
		}
		ev.maxPlaces = max(ev.maxPlaces, places(s))
		if rate.Sign() <= 0 || rate.Cmp(hour) >= 0 {
			return nil, fmt.Errorf("%s %s: %s per hour %s is not between 0 and the on-demand %s", name, region, t.field, s, hour.FloatString(9))
		}
		out = append(out, commitment{
			cloud: domain.GCP, region: region, sku: name, termMonths: t.months, payment: pricing.PaymentMonthly,
			discount: new(big.Rat).Sub(big.NewRat(1, 1), new(big.Rat).Quo(rate, hour)),
			hourly:   rate, source: gcpPrices,
		})
	}
	switch len(out) {
	case 0:
		if !slices.Contains(ev.noCUD, name) {
			ev.noCUD = append(ev.noCUD, name)
		}
	case 1:
		return nil, fmt.Errorf("%s %s: only one of month_1y and month_3y", name, region)
	}
	return out, nil
}

// --- AWS: discounts from a Cost Explorer Reserved Instance recommendation export ---

const (
	awsRIExport   = "billing/aws-wa-labs/7_day_EC2_RI_Rec.csv"
	awsRILocation = "US East (N. Virginia)" // the export's name of us-east-1
	// awsRIAgreement is how closely the two on-demand rates a row implies
	// (from its savings and from its break-even months) must agree for
	// the row to be used.
	awsRIAgreement = 1e-6
)

// awsRIRow is one row of the export used for commitments.csv, with what
// the generator derived from it.
type awsRIRow struct {
	line                        int
	sku                         string
	quantity                    string
	upfront, savings, breakEven string
	utilisation                 string // Projected RI Utilization, percent
	onDemand, onDemandBreakEven *big.Rat
	rate                        *big.Rat // the reservation's effective hourly rate per instance
	discount                    *big.Rat
	withRecurring               *big.Rat // the discount if Recurring Monthly Cost were charged too
	current                     string   // today's on-demand rate in the Karpenter table, "" if absent
}

// awsRIReport is what the export yielded: the rows used, and why the
// others were not.
type awsRIReport struct {
	rows       int
	used       []awsRIRow
	consistent []int   // lines whose two implied on-demand rates agree
	agreeGap   float64 // the largest gap over those lines
	minGap     float64
	maxGap     float64 // over the rows whose rates disagree
	// The distinct values of some of the export's columns, in order of
	// appearance, for the README.
	dates, classes, terms, payments []string
	excluded                        []reasonCount
	commitments                     []commitment
}

type reasonCount struct {
	reason string
	lines  []int
}

// readAWSRIs derives discount ratios from the export's Linux/UNIX,
// shared-tenancy, us-east-1, standard-class rows. current maps instance
// types to today's on-demand rate, for the README only.
//
// The export's fields, as its own arithmetic shows (see the README):
// Upfront Cost is the total for Recommended Instance Quantity Purchase
// instances; the on-demand cost the reservation replaces is that of the
// hours the instances are projected to be used (quantity × 730 ×
// Projected RI Utilization); Estimated Monthly Savings is that on-demand
// cost less Upfront Cost / (12 × Term); Break Even Months is Upfront
// Cost / that on-demand cost. Savings and break-even thus each give the
// on-demand rate the export priced at; a row is used only when the two
// agree. Recurring Monthly Cost takes no part in that arithmetic and an
// All Upfront reservation has no recurring charge, so it is not used.
func readAWSRIs(dataDir string, current map[string]string) (awsRIReport, error) {
	var rep awsRIReport
	path := filepath.Join(dataDir, awsRIExport)
	f, err := os.Open(path)
	if err != nil {
		return rep, err
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) < 2 {
		return rep, fmt.Errorf("%s: no rows", path)
	}
	at := map[string]int{}
	for i, h := range recs[0] {
		at[h] = i
	}
	cols := []string{"Recommendation Date", "Instance Type", "Location", "OS", "Tenancy", "Offering Class", "Term", "Payment Option",
		"Upfront Cost", "Recurring Monthly Cost", "Recommended Instance Quantity Purchase",
		"Estimated Monthly Savings", "Break Even Months", "Projected RI Utilization"}
	for _, c := range cols {
		if _, ok := at[c]; !ok {
			return rep, fmt.Errorf("%s: no column %q", path, c)
		}
	}
	excluded := map[string][]int{}
	var reasons []string
	exclude := func(reason string, line int) {
		if _, ok := excluded[reason]; !ok {
			reasons = append(reasons, reason)
		}
		excluded[reason] = append(excluded[reason], line)
	}
	rep.minGap = -1
	for i, rec := range recs[1:] {
		line := i + 2
		rep.rows++
		get := func(c string) string { return rec[at[c]] }
		for _, v := range []struct {
			into *[]string
			col  string
		}{{&rep.dates, "Recommendation Date"}, {&rep.classes, "Offering Class"}, {&rep.terms, "Term"}, {&rep.payments, "Payment Option"}} {
			if !slices.Contains(*v.into, get(v.col)) {
				*v.into = append(*v.into, get(v.col))
			}
		}
		num := func(c string) (*big.Rat, error) {
			v, err := parseDecimal(get(c))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %s: %w", path, line, c, err)
			}
			return v, nil
		}
		var vals [6]*big.Rat
		for j, c := range []string{"Upfront Cost", "Recurring Monthly Cost", "Recommended Instance Quantity Purchase",
			"Estimated Monthly Savings", "Break Even Months", "Projected RI Utilization"} {
			if vals[j], err = num(c); err != nil {
				return rep, err
			}
		}
		upfront, recurring, qty, savings, breakEven, util := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
		years, err := strconv.Atoi(get("Term"))
		if err != nil || years <= 0 || qty.Sign() <= 0 || breakEven.Sign() <= 0 || util.Sign() <= 0 || upfront.Sign() <= 0 {
			return rep, fmt.Errorf("%s:%d: term %q, quantity, break-even, utilisation and upfront cost must be positive", path, line, get("Term"))
		}
		r := func(n, d int64) *big.Rat { return big.NewRat(n, d) }
		mul := func(xs ...*big.Rat) *big.Rat {
			p := r(1, 1)
			for _, x := range xs {
				p.Mul(p, x)
			}
			return p
		}
		quo := func(a, b *big.Rat) *big.Rat { return new(big.Rat).Quo(a, b) }
		// Hours of on-demand use the reservations replace each month.
		hours := mul(qty, r(domain.HoursPerMonth, 1), util, r(1, 100))
		amortised := quo(upfront, r(int64(12*years), 1))
		odSavings := quo(new(big.Rat).Add(savings, amortised), hours)
		odBreakEven := quo(quo(upfront, breakEven), hours)
		gapRat := quo(new(big.Rat).Sub(odSavings, odBreakEven), odBreakEven)
		gap, _ := gapRat.Float64()
		if gap < 0 {
			gap = -gap
		}
		if gap > awsRIAgreement {
			if rep.minGap < 0 || gap < rep.minGap {
				rep.minGap = gap
			}
			rep.maxGap = max(rep.maxGap, gap)
		} else {
			rep.consistent = append(rep.consistent, line)
			rep.agreeGap = max(rep.agreeGap, gap)
		}
		switch {
		case get("OS") != "Linux/UNIX":
			exclude("operating system other than Linux/UNIX", line)
			continue
		case get("Location") != awsRILocation:
			exclude("location other than "+awsRILocation, line)
			continue
		case get("Tenancy") != "Shared":
			exclude("tenancy other than Shared", line)
			continue
		case get("Offering Class") != "Standard":
			exclude("offering class other than Standard", line)
			continue
		case get("Payment Option") != "All_Upfront":
			exclude("payment option other than All_Upfront", line)
			continue
		case gap > awsRIAgreement:
			exclude("savings and break-even imply different on-demand rates", line)
			continue
		}
		rate := quo(upfront, mul(qty, r(int64(years)*8760, 1)))
		one := r(1, 1)
		discount := new(big.Rat).Sub(one, quo(rate, odSavings))
		if discount.Sign() <= 0 || discount.Cmp(one) >= 0 {
			return rep, fmt.Errorf("%s:%d: discount %s is not between 0 and 1", path, line, discount.FloatString(6))
		}
		withRec := quo(new(big.Rat).Add(quo(upfront, r(int64(years)*8760, 1)), quo(recurring, r(domain.HoursPerMonth, 1))), qty)
		row := awsRIRow{
			line: line, sku: get("Instance Type"), quantity: get("Recommended Instance Quantity Purchase"),
			upfront: get("Upfront Cost"), savings: get("Estimated Monthly Savings"), breakEven: get("Break Even Months"),
			utilisation: get("Projected RI Utilization"),
			onDemand:    odSavings, onDemandBreakEven: odBreakEven, rate: rate, discount: discount,
			withRecurring: new(big.Rat).Sub(one, quo(withRec, odSavings)),
			current:       current[get("Instance Type")],
		}
		rep.used = append(rep.used, row)
		rep.commitments = append(rep.commitments, commitment{
			cloud: domain.AWS, region: awsRegion, sku: row.sku, termMonths: 12 * years,
			payment: strings.ToLower(get("Payment Option")), discount: discount,
			source: fmt.Sprintf("%s:%d", awsRIExport, line),
		})
	}
	for _, reason := range reasons {
		rep.excluded = append(rep.excluded, reasonCount{reason, excluded[reason]})
	}
	return rep, nil
}

// lineList writes line numbers compactly: 2-6, 9, 12-14.
func lineList(lines []int) string {
	var parts []string
	for i := 0; i < len(lines); {
		j := i
		for j+1 < len(lines) && lines[j+1] == lines[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(lines[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", lines[i], lines[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// writeCommitmentsREADME writes the README's section on commitments.csv.
func writeCommitmentsREADME(p func(string, ...any), cats []cloudCatalog, commitments []commitment, ris awsRIReport) {
	para := func(format string, args ...any) { p("%s\n\n", wrap(fmt.Sprintf(format, args...), "", 72)) }
	item := func(format string, args ...any) { p("%s\n", wrap(fmt.Sprintf(format, args...), "- ", 72)) }

	p("## Commitment rates (commitments.csv)\n\n")
	para(`What committing to a VM size for a term costs against its on-demand
		rate in the files above; read by pricing.Commitments.`)
	para(`Columns: cloud, region, sku, term_months, payment (monthly for GCP
		committed use discounts, which are billed monthly; for AWS the
		Reserved Instance payment option: all_upfront, partial_upfront or
		no_upfront), discount (1 − commitment rate / on-demand rate, rounded
		half up to at most six decimals), usd_per_hour (the commitment's
		effective rate per hour over the term, the exact decimal derived from
		the source, read into micro-dollars; empty where only the discount is
		known), source (the data file, and for AWS the line of the export).`)
	p("| cloud | region | 12 months | 36 months |\n|---|---|---:|---:|\n")
	type rk struct {
		cloud  domain.Cloud
		region string
	}
	counts := map[rk]map[int]int{}
	var keys []rk
	for _, c := range commitments {
		k := rk{c.cloud, c.region}
		if counts[k] == nil {
			counts[k] = map[int]int{}
			keys = append(keys, k)
		}
		counts[k][c.termMonths]++
	}
	slices.SortFunc(keys, func(a, b rk) int { return cmp.Or(cmp.Compare(a.cloud, b.cloud), cmp.Compare(a.region, b.region)) })
	for _, k := range keys {
		p("| %s | %s | %d | %d |\n", k.cloud, k.region, counts[k][12], counts[k][36])
	}

	for _, c := range cats {
		ev := c.cud
		if ev == nil {
			continue
		}
		sud := slices.Clone(ev.sudSeries)
		slices.Sort(sud)
		var noCUD []string
		for _, name := range ev.noCUD {
			if f := pricing.Family(domain.GCP, name); !slices.Contains(noCUD, f) {
				noCUD = append(noCUD, f)
			}
		}
		p("\n### GCP\n\n")
		para(`Resource-based committed use discounts, from %s: for every VM row of
			gcp.csv, month_1y and month_3y (USD a month under a 1-year or 3-year
			commitment) divided by %d give usd_per_hour, and discount is
			1 − usd_per_hour / hour, hour being the on-demand rate of gcp.csv.
			The discount is off the on-demand rate, not off the sustained-use
			price.`, gcpPrices, gcpHoursPerMonth)
		para(`%d is the number of hours in a month pricing.yml uses: month_spot
			is exactly hour_spot × %d in %d of the %d VM rows kept that have
			both; month is exactly hour × %d in %d of the %d VM rows, the others
			being of the series whose month includes a sustained-use discount
			(%s); and every month_1y and month_3y divided by %d is a terminating
			decimal (of at most %d places), which a figure divided by
			730 = 2 × 5 × 73 is only when it is a multiple of 73 in its last
			place, as an hourly rate × 730 is. The generator checks that every
			quotient terminates and fails otherwise.`,
			gcpHoursPerMonth, gcpHoursPerMonth, ev.spotAt730, ev.spotRows, gcpHoursPerMonth, ev.monthAt730, ev.vmRows,
			strings.Join(sud, ", "), gcpHoursPerMonth, ev.maxPlaces)
		para(`Left out, having neither month_1y nor month_3y in pricing.yml: the
			%d machine types of the %s %s.`, len(ev.noCUD), strings.Join(noCUD, ", "), plural("family", "families", len(noCUD)))
	}

	p("### AWS\n\n")
	para(`From %s, an AWS Cost Explorer EC2 Reserved Instance purchase
		recommendation export (%d rows; recommendation date %s; offering
		class %s; term in years %s; payment option %s). Its prices are those
		of that date, so it gives no absolute rates (usd_per_hour is empty),
		only the discount of a reservation against the on-demand rate the
		same export priced at.`, awsRIExport, ris.rows, strings.Join(ris.dates, ", "), strings.Join(ris.classes, ", "),
		strings.Join(ris.terms, ", "), strings.Join(ris.payments, ", "))
	para(`How the export's fields read, from its own arithmetic
		(Q = Recommended Instance Quantity Purchase, T = Term in years):`)
	item("Upfront Cost is the total for Q instances, not for one.")
	item(`The on-demand cost a reservation replaces is that of the hours it
		is projected to be used: Q × 730 × Projected RI Utilization / 100
		hours a month at the on-demand rate.`)
	item("Estimated Monthly Savings is that on-demand cost less Upfront Cost / (12 × T).")
	item("Break Even Months is Upfront Cost / that on-demand cost.")
	p("\n")
	current := "equal to today's us-east-1 rates in the Karpenter price table"
	for _, u := range ris.used {
		if u.current == "" || roundDecimal(u.onDemand, 6) != trimZeros(u.current) {
			current = "compared below with today's us-east-1 rates in the Karpenter price table"
		}
	}
	var consistentOthers int
	for _, l := range ris.consistent {
		if !slices.ContainsFunc(ris.used, func(u awsRIRow) bool { return u.line == l }) {
			consistentOthers++
		}
	}
	disagree := ""
	if n := ris.rows - len(ris.consistent); n > 0 {
		disagree = fmt.Sprintf(`; in the other %d %s they differ by %.1f%% to %.1f%%, so
			those rows' figures cannot be reconciled and none of them is used`,
			n, plural("row", "rows", n), 100*ris.minGap, 100*ris.maxGap)
	}
	para(`Savings and break-even thus each give the on-demand rate the export
		priced at. In %s %s they agree to within a relative %.0e and give
		on-demand rates %s%s. Of the rows that agree, %d %s outside
		Linux/UNIX, Shared tenancy, us-east-1.`, plural("line", "lines", len(ris.consistent)), lineList(ris.consistent),
		ris.agreeGap, current, disagree, consistentOthers, plural("falls", "fall", consistentOthers))
	if len(ris.used) > 0 {
		lo, hi := ris.used[0].withRecurring, ris.used[0].withRecurring
		for _, u := range ris.used {
			if u.withRecurring.Cmp(lo) < 0 {
				lo = u.withRecurring
			}
			if u.withRecurring.Cmp(hi) > 0 {
				hi = u.withRecurring
			}
		}
		para(`The effective hourly rate of one reservation is Upfront Cost /
			(Q × T × 8760), and discount = 1 − that rate / the on-demand rate
			from the savings. Recurring Monthly Cost is not added: an All
			Upfront reservation has no recurring charge, the savings reconcile
			exactly without it, and what the field stands for in these rows the
			export does not say. Added, as (Upfront Cost / (T × 8760) +
			Recurring Monthly Cost / 730) / Q, it would give discounts of %s to
			%s, which the export's own savings contradict.`, lo.FloatString(3), hi.FloatString(3))
	}
	p("| line | instance type | Q | upfront cost | projected utilisation %% | monthly savings | break even months | on-demand rate from savings | from break-even | rate today (Karpenter table) | reservation rate | discount |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, u := range ris.used {
		cur := u.current
		if cur == "" {
			cur = "-"
		}
		p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", u.line, u.sku, u.quantity, u.upfront, u.utilisation,
			u.savings, u.breakEven, u.onDemand.FloatString(7), u.onDemandBreakEven.FloatString(7), cur, u.rate.FloatString(7), roundDecimal(u.discount, 6))
	}
	p("\nRows not used:\n\n")
	for _, e := range ris.excluded {
		item("%s: %d (%s %s)", e.reason, len(e.lines), plural("line", "lines", len(e.lines)), lineList(e.lines))
	}
	p("\n### Azure\n\n")
	para(`The data set holds no Azure reservation prices, so commitments.csv
		has no Azure rows. Live rates from the Azure Retail Prices API (its
		Reservation price type) are future work.`)
}

// plural returns one or many by n.
func plural(one, many string, n int) string {
	if n == 1 {
		return one
	}
	return many
}

// wrap fills text, whose words may be split across indented lines, into
// lines of at most width characters where words allow; the first line
// starts with lead and the others with as many spaces.
func wrap(text, lead string, width int) string {
	var b strings.Builder
	indent := strings.Repeat(" ", len(lead))
	b.WriteString(lead)
	col := len(lead)
	first := true
	for _, w := range strings.Fields(text) {
		n := len([]rune(w))
		switch {
		case first:
		case col+1+n > width:
			b.WriteString("\n" + indent)
			col = len(indent)
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
		first = false
	}
	return b.String()
}
