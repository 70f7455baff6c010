package pricing

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The columns of a catalog file, in the order tools/mkcatalog writes
// them. Parse finds them by the header's names, so the order is free.
const (
	colCloud       = "cloud"
	colRegion      = "region"
	colKind        = "kind"
	colSKU         = "sku"
	colFamily      = "family"
	colArch        = "arch"
	colVCPU        = "vcpu"
	colMemoryMiB   = "memory_mib"
	colGPUs        = "gpus"
	colBurstable   = "burstable"
	colUnit        = "unit"
	colUSDPerUnit  = "usd_per_unit"
	colShapeSource = "shape_source"
	colPriceSource = "price_source"
)

var columns = []string{
	colCloud, colRegion, colKind, colSKU, colFamily, colArch, colVCPU, colMemoryMiB, colGPUs,
	colBurstable, colUnit, colUSDPerUnit, colShapeSource, colPriceSource,
}

// Parse reads a catalog file: CSV with a header naming the columns
// cloud, region, kind, sku, family, arch, vcpu, memory_mib, gpus,
// burstable, unit, usd_per_unit, shape_source and price_source.
//
// kind is vm, disk, ip or snapshot; unit is Hours, GiB-Mo or Months;
// usd_per_unit is a decimal amount of US dollars, read exactly (more
// than six decimals are rounded to the micro-dollar); arch is x86_64,
// arm64 or empty; vcpu, memory_mib and gpus are whole numbers, empty
// meaning 0; burstable is true, false or empty. A vm row must be priced
// by the hour and have vCPUs and memory. The two source columns record
// provenance and are not kept. No two rows may price the same cloud,
// region, kind and SKU.
//
// Errors wrap domain.ErrInvalid and name the file, line and column of
// the fault as name:line:column, then the column's name.
func Parse(name string, r io.Reader) ([]domain.Price, error) {
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
		if _, dup := at[h]; dup {
			return nil, fmt.Errorf("%w: %s:1:%d: column %q appears twice", domain.ErrInvalid, name, i+1, h)
		}
		at[h] = i
	}
	for _, c := range columns {
		if _, ok := at[c]; !ok {
			return nil, fmt.Errorf("%w: %s:1: missing column %q", domain.ErrInvalid, name, c)
		}
	}
	if len(header) != len(columns) {
		for i, h := range header {
			if !isColumn(h) {
				return nil, fmt.Errorf("%w: %s:1:%d: unknown column %q", domain.ErrInvalid, name, i+1, h)
			}
		}
	}
	cr.ReuseRecord = true
	var out []domain.Price
	firstLine := make(map[key]int)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		row := csvRow{name: name, cr: cr, rec: rec, at: at}
		p := row.price()
		if row.err != nil {
			return nil, row.err
		}
		line, _ := cr.FieldPos(0)
		k := keyOf(p.Cloud, p.Region, p.Kind, p.SKU)
		if first, dup := firstLine[k]; dup {
			_, col := cr.FieldPos(at[colSKU])
			return nil, fmt.Errorf("%w: %s:%d:%d: %s: %s %s %s %q is priced twice (first on line %d)",
				domain.ErrInvalid, name, line, col, colSKU, p.Cloud, p.Region, p.Kind, p.SKU, first)
		}
		firstLine[k] = line
		out = append(out, p)
	}
}

func isColumn(h string) bool {
	for _, c := range columns {
		if c == h {
			return true
		}
	}
	return false
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s:%d:%d: %w", domain.ErrInvalid, name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("read %s: %w", name, err)
}

// csvRow reads the fields of one record; the first fault is kept in err
// and later reads do nothing.
type csvRow struct {
	name string
	cr   *csv.Reader
	rec  []string
	at   map[string]int
	err  error
}

func (r *csvRow) field(col string) string { return r.rec[r.at[col]] }

func (r *csvRow) fail(col, format string, args ...any) {
	if r.err != nil {
		return
	}
	line, c := r.cr.FieldPos(r.at[col])
	r.err = fmt.Errorf("%w: %s:%d:%d: %s: %s", domain.ErrInvalid, r.name, line, c, col, fmt.Sprintf(format, args...))
}

func (r *csvRow) nonEmpty(col string) string {
	v := r.field(col)
	if v == "" {
		r.fail(col, "empty")
	}
	return v
}

func (r *csvRow) count(col string) int64 {
	v := r.field(col)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		r.fail(col, "%q is not a whole number of at least 0", v)
	}
	return n
}

func (r *csvRow) price() domain.Price {
	var p domain.Price
	cloud, err := domain.ParseCloud(r.field(colCloud))
	if err != nil || string(cloud) != r.field(colCloud) {
		r.fail(colCloud, "unknown cloud %q (want aws, azure or gcp)", r.field(colCloud))
	}
	p.Cloud = cloud
	p.Region = r.nonEmpty(colRegion)
	switch k := domain.Kind(r.field(colKind)); k {
	case domain.KindVM, domain.KindDisk, domain.KindIP, domain.KindSnapshot:
		p.Kind = k
	default:
		r.fail(colKind, "unknown kind %q (want vm, disk, ip or snapshot)", k)
	}
	p.SKU = r.nonEmpty(colSKU)
	p.Family = r.field(colFamily)
	switch a := r.field(colArch); a {
	case "", "x86_64", "arm64":
		p.Arch = a
	default:
		r.fail(colArch, "unknown architecture %q (want x86_64, arm64 or empty)", a)
	}
	p.VCPU = int(r.count(colVCPU))
	p.MemoryMiB = r.count(colMemoryMiB)
	p.GPUs = int(r.count(colGPUs))
	switch b := r.field(colBurstable); b {
	case "", "false":
	case "true":
		p.Burstable = true
	default:
		r.fail(colBurstable, "%q is not true, false or empty", b)
	}
	switch u := r.field(colUnit); u {
	case domain.UnitHour, domain.UnitGiBMonth, domain.UnitMonth:
		p.Unit = u
	default:
		r.fail(colUnit, "unknown unit %q (want %s, %s or %s)", u, domain.UnitHour, domain.UnitGiBMonth, domain.UnitMonth)
	}
	amount, err := domain.ParseMoney(r.field(colUSDPerUnit), "USD")
	switch {
	case err != nil:
		r.fail(colUSDPerUnit, "%v", err)
	case amount.Micros < 0:
		r.fail(colUSDPerUnit, "negative price %q", r.field(colUSDPerUnit))
	case strings.TrimSpace(r.field(colUSDPerUnit)) != r.field(colUSDPerUnit):
		r.fail(colUSDPerUnit, "%q has spaces around it", r.field(colUSDPerUnit))
	}
	p.Amount = amount
	if p.Kind == domain.KindVM {
		switch {
		case p.Unit != domain.UnitHour:
			r.fail(colUnit, "a vm is priced in %s, not %s", domain.UnitHour, p.Unit)
		case p.VCPU == 0:
			r.fail(colVCPU, "a vm needs vCPUs")
		case p.MemoryMiB == 0:
			r.fail(colMemoryMiB, "a vm needs memory")
		}
	}
	return p
}
