package focus

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// CostColumns are the FOCUS cost columns totals are kept for, in order.
var CostColumns = []string{"BilledCost", "EffectiveCost", "ListCost", "ContractedCost"}

// Amounts holds one total per cost column, in micro-units.
type Amounts [4]int64

func amountsOf(r *domain.CostRow) Amounts {
	return Amounts{r.BilledCost.Micros, r.EffectiveCost.Micros, r.ListCost.Micros, r.ContractedCost.Micros}
}

func (a *Amounts) add(b Amounts) {
	for i := range a {
		a[i] += b[i]
	}
}

// Totals are the sums of one currency's cost columns: over every row
// mapped (In), the rows kept and the rows rejected. Source holds, for the
// cost columns a format copies from one source column, the sum of that
// column as read, computed apart from the mapping; ok[i] says whether
// column i has one.
type Totals struct {
	In       Amounts `json:"in"`
	Kept     Amounts `json:"kept"`
	Rejected Amounts `json:"rejected"`
	Source   Amounts `json:"source"`
	HasSrc   [4]bool `json:"has_source"`
}

// Summary describes how reading one file went.
type Summary struct {
	File     string                 `json:"file"`
	Format   Format                 `json:"format"`
	Rows     int64                  `json:"rows"`
	Kept     int64                  `json:"kept"`
	Rejected int64                  `json:"rejected"`
	Bytes    int64                  `json:"bytes"`
	ByRule   map[Rule]int64         `json:"by_rule,omitempty"`
	Examples []Problem              `json:"examples,omitempty"`
	Totals   map[string]*Totals     `json:"totals"`
	Clouds   map[domain.Cloud]int64 `json:"clouds,omitempty"`
	Periods  map[string]int64       `json:"periods,omitempty"` // rows kept per charge month, "2024-09"
	maxEx    int
	perRule  map[Rule]int
}

func newSummary(file string, f Format, maxEx int) *Summary {
	return &Summary{File: file, Format: f, ByRule: map[Rule]int64{}, Totals: map[string]*Totals{},
		Clouds: map[domain.Cloud]int64{}, Periods: map[string]int64{}, maxEx: maxEx, perRule: map[Rule]int{}}
}

func (s *Summary) totals(cur string) *Totals {
	t := s.Totals[cur]
	if t == nil {
		t = &Totals{}
		s.Totals[cur] = t
	}
	return t
}

// directMapper is implemented by mappers whose cost columns (some of
// them) are copies of one source column each: Direct returns, per entry
// of CostColumns, the source position, or -1.
type directMapper interface {
	Direct() [4]int
}

func directColumns(m Mapper) [4]int {
	if d, ok := m.(directMapper); ok {
		return d.Direct()
	}
	return [4]int{-1, -1, -1, -1}
}

func (s *Summary) add(f *Fields, row *domain.CostRow, line int64, direct [4]int) {
	s.Rows++
	t := s.totals(row.BillingCurrency)
	a := amountsOf(row)
	t.In.add(a)
	for i, col := range direct {
		if col < 0 {
			continue
		}
		t.HasSrc[i] = true
		if v := f.Str(col); v != "" {
			if m, ok := parseAmount(v, row.BillingCurrency); ok {
				t.Source[i] += m.Micros
			}
		}
	}
	if len(f.problems) == 0 {
		s.Kept++
		t.Kept.add(a)
		s.Clouds[row.XCloud]++
		s.Periods[row.ChargePeriodStart.UTC().Format("2006-01")]++
		return
	}
	s.Rejected++
	t.Rejected.add(a)
	seen := map[Rule]bool{}
	for _, p := range f.problems {
		if !seen[p.Rule] {
			s.ByRule[p.Rule]++
			seen[p.Rule] = true
		}
		if s.perRule[p.Rule] < s.maxEx {
			s.perRule[p.Rule]++
			p.File, p.Line = s.File, line
			s.Examples = append(s.Examples, p)
		}
	}
}

// Reconcile checks that the totals add up, per currency and per cost
// column: what was mapped equals what was kept plus what was rejected,
// and, where a cost column is a copy of one source column, the mapped
// total equals that column's total as read.
func (s *Summary) Reconcile() error {
	var errs []string
	for _, cur := range sortedKeys(s.Totals) {
		t := s.Totals[cur]
		for i, col := range CostColumns {
			if t.In[i] != t.Kept[i]+t.Rejected[i] {
				errs = append(errs, fmt.Sprintf("%s %s: mapped %s, kept %s + rejected %s", cur, col,
					micros(t.In[i]), micros(t.Kept[i]), micros(t.Rejected[i])))
			}
			if t.HasSrc[i] && t.In[i] != t.Source[i] {
				errs = append(errs, fmt.Sprintf("%s %s: source column sums to %s, mapped %s", cur, col, micros(t.Source[i]), micros(t.In[i])))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s does not reconcile: %s", domain.ErrInvalid, s.File, strings.Join(errs, "; "))
	}
	return nil
}

// Merge adds o's counts and totals into s (for a summary over many files).
func (s *Summary) Merge(o *Summary) {
	s.Rows += o.Rows
	s.Kept += o.Kept
	s.Rejected += o.Rejected
	s.Bytes += o.Bytes
	if s.ByRule == nil {
		s.ByRule, s.Totals, s.Clouds, s.Periods = map[Rule]int64{}, map[string]*Totals{}, map[domain.Cloud]int64{}, map[string]int64{}
	}
	for r, n := range o.ByRule {
		s.ByRule[r] += n
	}
	for c, n := range o.Clouds {
		s.Clouds[c] += n
	}
	for p, n := range o.Periods {
		s.Periods[p] += n
	}
	for cur, t := range o.Totals {
		st := s.totals(cur)
		st.In.add(t.In)
		st.Kept.add(t.Kept)
		st.Rejected.add(t.Rejected)
		st.Source.add(t.Source)
		for i := range t.HasSrc {
			st.HasSrc[i] = st.HasSrc[i] || t.HasSrc[i]
		}
	}
	s.Examples = append(s.Examples, o.Examples...)
	sort.SliceStable(s.Examples, func(i, j int) bool { return s.Examples[i].Rule < s.Examples[j].Rule })
}

func micros(m int64) string { return domain.Money{Micros: m}.String() }
