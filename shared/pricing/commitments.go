package pricing

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// How a commitment is paid for: in monthly instalments (GCP committed
// use discounts), or as an AWS Reserved Instance with all, part or none
// of its price paid up front.
const (
	PaymentMonthly        = "monthly"
	PaymentNoUpfront      = "no_upfront"
	PaymentPartialUpfront = "partial_upfront"
	PaymentAllUpfront     = "all_upfront"
)

// commitmentsFile is the embedded file of commitment rates. It lives
// beside the price files and has columns of its own, so the price
// loader skips it (see isCommitmentsFile).
const commitmentsFile = "catalog/commitments.csv"

// The columns of a commitments file, in the order tools/mkcatalog writes
// them. ParseCommitments finds them by the header's names.
const (
	colTermMonths = "term_months"
	colPayment    = "payment"
	colDiscount   = "discount"
	colUSDPerHour = "usd_per_hour"
	colSource     = "source"
)

var commitmentColumns = []string{colCloud, colRegion, colSKU, colTermMonths, colPayment, colDiscount, colUSDPerHour, colSource}

// Commitment is the price of committing to a VM size for a term.
type Commitment struct {
	Cloud      domain.Cloud
	Region     string
	SKU        string
	TermMonths int
	Payment    string       // PaymentMonthly, PaymentNoUpfront, PaymentPartialUpfront or PaymentAllUpfront
	Discount   float64      // 0..1 off the on-demand rate
	Hourly     domain.Money // the effective rate per hour over the term; zero when only the discount is known
	Source     string       // where the rate came from
}

var embeddedCommitments struct {
	once sync.Once
	cs   []Commitment
	err  error
}

// Commitments returns the embedded commitment rates (catalog/commitments.csv,
// written by tools/mkcatalog; see catalog/README.md for their sources),
// parsed once. The slice is the caller's. An error names the file, line
// and column at fault; it can only happen when the committed file is
// broken, and every later call returns it again.
func Commitments() ([]Commitment, error) {
	embeddedCommitments.once.Do(func() {
		f, err := catalogFS.Open(commitmentsFile)
		if err != nil {
			embeddedCommitments.err = fmt.Errorf("load commitment rates: %w", err)
			return
		}
		defer f.Close()
		embeddedCommitments.cs, embeddedCommitments.err = ParseCommitments(commitmentsFile, f)
	})
	return slices.Clone(embeddedCommitments.cs), embeddedCommitments.err
}

// isCommitmentsFile reports whether name is a commitments file rather
// than a price file of the catalog.
func isCommitmentsFile(name string) bool {
	return path.Base(name) == path.Base(commitmentsFile)
}

var (
	discountSyntax = regexp.MustCompile(`^0\.[0-9]{1,6}$`)
	decimalSyntax  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	termSyntax     = regexp.MustCompile(`^[1-9][0-9]{0,3}$`)
)

// ParseCommitments reads a commitments file: CSV with a header naming
// the columns cloud, region, sku, term_months, payment, discount,
// usd_per_hour and source, in any order.
//
// cloud is aws, azure or gcp; term_months a whole number of months;
// payment one of monthly, no_upfront, partial_upfront and all_upfront;
// discount a decimal above 0 and below 1 with at most six places, written
// 0.xxxxxx; usd_per_hour empty (only the discount is known) or a positive
// decimal amount of US dollars, read exactly (more than six decimals are
// rounded to the micro-dollar); source says where the row came from. No
// two rows may share a cloud, region, SKU, term and payment (region and
// SKU compared without regard to case).
//
// Errors wrap domain.ErrInvalid and name the file, line and column of
// the fault as name:line:column, then the column's name.
func ParseCommitments(name string, r io.Reader) ([]Commitment, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s:1:1: empty file, want a header", domain.ErrInvalid, name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	at := make(map[string]int, len(header))
	for i, h := range header {
		if !slices.Contains(commitmentColumns, h) {
			return nil, fmt.Errorf("%w: %s:1:%d: unknown column %q", domain.ErrInvalid, name, i+1, h)
		}
		if _, dup := at[h]; dup {
			return nil, fmt.Errorf("%w: %s:1:%d: column %q appears twice", domain.ErrInvalid, name, i+1, h)
		}
		at[h] = i
	}
	for _, c := range commitmentColumns {
		if _, ok := at[c]; !ok {
			return nil, fmt.Errorf("%w: %s:1: missing column %q", domain.ErrInvalid, name, c)
		}
	}
	cr.ReuseRecord = true
	type rowKey struct {
		cloud       domain.Cloud
		region, sku string
		term        int
		payment     string
	}
	firstLine := make(map[rowKey]int)
	var out []Commitment
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		row := csvRow{name: name, cr: cr, rec: rec, at: at}
		c := row.commitment()
		if row.err != nil {
			return nil, row.err
		}
		line, _ := cr.FieldPos(0)
		k := rowKey{c.Cloud, strings.ToLower(c.Region), strings.ToLower(c.SKU), c.TermMonths, c.Payment}
		if first, dup := firstLine[k]; dup {
			_, col := cr.FieldPos(at[colSKU])
			return nil, fmt.Errorf("%w: %s:%d:%d: %s: %s %s %q %d months %s is listed twice (first on line %d)",
				domain.ErrInvalid, name, line, col, colSKU, c.Cloud, c.Region, c.SKU, c.TermMonths, c.Payment, first)
		}
		firstLine[k] = line
		out = append(out, c)
	}
}

// trimmed returns the field of col, which must be non-empty and without
// spaces around it.
func (r *csvRow) trimmed(col string) string {
	v := r.nonEmpty(col)
	if v != "" && strings.TrimSpace(v) != v {
		r.fail(col, "%q has spaces around it", v)
	}
	return v
}

func (r *csvRow) commitment() Commitment {
	var c Commitment
	cloud, err := domain.ParseCloud(r.field(colCloud))
	if err != nil || string(cloud) != r.field(colCloud) {
		r.fail(colCloud, "unknown cloud %q (want aws, azure or gcp)", r.field(colCloud))
	}
	c.Cloud = cloud
	c.Region = r.trimmed(colRegion)
	c.SKU = r.trimmed(colSKU)
	if v := r.field(colTermMonths); !termSyntax.MatchString(v) {
		r.fail(colTermMonths, "%q is not a whole number of months from 1 to 9999", v)
	} else {
		c.TermMonths, _ = strconv.Atoi(v)
	}
	switch p := r.field(colPayment); p {
	case PaymentMonthly, PaymentNoUpfront, PaymentPartialUpfront, PaymentAllUpfront:
		c.Payment = p
	default:
		r.fail(colPayment, "unknown payment %q (want %s, %s, %s or %s)", p,
			PaymentMonthly, PaymentNoUpfront, PaymentPartialUpfront, PaymentAllUpfront)
	}
	d := r.field(colDiscount)
	if !discountSyntax.MatchString(d) {
		r.fail(colDiscount, "%q is not a decimal above 0 and below 1 with at most six places", d)
	} else if c.Discount, _ = strconv.ParseFloat(d, 64); c.Discount <= 0 {
		r.fail(colDiscount, "%q is not above 0", d)
	}
	if h := r.field(colUSDPerHour); h != "" {
		m, err := domain.ParseMoney(h, "USD")
		switch {
		case !decimalSyntax.MatchString(h):
			r.fail(colUSDPerHour, "%q is not a decimal amount", h)
		case err != nil:
			r.fail(colUSDPerHour, "%v", err)
		case m.Micros <= 0:
			r.fail(colUSDPerHour, "%q is not a positive amount of micro-dollars", h)
		}
		c.Hourly = m
	}
	c.Source = r.trimmed(colSource)
	return c
}

// CommitmentIndex answers lookups of commitment rates. It is immutable
// and safe for concurrent use.
type CommitmentIndex struct {
	best     map[commitKey]Commitment
	families map[familyKey]float64 // median of the SKUs' best discounts
}

// commitKey identifies a VM size's commitments of one term; region and
// SKU are lower-cased so that lookups ignore case.
type commitKey struct {
	cloud  domain.Cloud
	region string
	sku    string
	term   int
}

// familyKey identifies a family's commitments of one term in a region;
// region and family are lower-cased.
type familyKey struct {
	cloud  domain.Cloud
	region string
	family string
	term   int
}

// paymentRank orders payments for ties: paying as you go before paying
// up front.
func paymentRank(p string) int {
	switch p {
	case PaymentMonthly, PaymentNoUpfront:
		return 0
	case PaymentPartialUpfront:
		return 1
	case PaymentAllUpfront:
		return 2
	}
	return 3
}

// better reports whether a is to be preferred to b: a larger discount,
// then the payment with less up front, then the payment's name.
func better(a, b Commitment) bool {
	return cmp.Or(
		-cmp.Compare(a.Discount, b.Discount),
		cmp.Compare(paymentRank(a.Payment), paymentRank(b.Payment)),
		cmp.Compare(a.Payment, b.Payment),
	) < 0
}

// NewCommitmentIndex returns an index of cs. It keeps no reference to cs.
func NewCommitmentIndex(cs []Commitment) *CommitmentIndex {
	x := &CommitmentIndex{
		best:     make(map[commitKey]Commitment),
		families: make(map[familyKey]float64),
	}
	for _, c := range cs {
		k := commitKey{c.Cloud, strings.ToLower(c.Region), strings.ToLower(c.SKU), c.TermMonths}
		if old, ok := x.best[k]; !ok || better(c, old) {
			x.best[k] = c
		}
	}
	discounts := make(map[familyKey][]float64)
	for k, c := range x.best {
		f := Family(c.Cloud, c.SKU)
		if f == "" {
			continue
		}
		fk := familyKey{k.cloud, k.region, strings.ToLower(f), k.term}
		discounts[fk] = append(discounts[fk], c.Discount)
	}
	for fk, ds := range discounts {
		slices.Sort(ds)
		n := len(ds)
		if n%2 == 1 {
			x.families[fk] = ds[n/2]
		} else {
			x.families[fk] = (ds[n/2-1] + ds[n/2]) / 2
		}
	}
	return x
}

// Best returns the commitment for (cloud, region, sku) of termMonths with
// the largest discount (ties: "monthly"/"no_upfront" payments first, then
// "partial_upfront", then "all_upfront"), and false when none is known.
// Region and SKU match without regard to case.
func (x *CommitmentIndex) Best(cloud domain.Cloud, region, sku string, termMonths int) (Commitment, bool) {
	c, ok := x.best[commitKey{cloud, strings.ToLower(region), strings.ToLower(sku), termMonths}]
	return c, ok
}

// FamilyDiscount returns the median discount over the SKUs of one family
// (as Family names it) in a region for termMonths, each SKU counted once
// with its Best discount: an estimate for sizes without a row of their
// own. The median of an even number of SKUs is the mean of the middle
// two. It reports false when no SKU of the family has a commitment of
// that term in the region. Region and family match without regard to
// case.
func (x *CommitmentIndex) FamilyDiscount(cloud domain.Cloud, region, family string, termMonths int) (float64, bool) {
	d, ok := x.families[familyKey{cloud, strings.ToLower(region), strings.ToLower(family), termMonths}]
	return d, ok
}
