// Package pricing holds the on-demand list prices of VM sizes, disks,
// snapshots and public addresses in the three clouds.
//
// Embedded returns the committed snapshot of real prices in catalog/
// (written by tools/mkcatalog from the handbook's public data; see
// catalog/README.md for where every row came from). It is the fallback
// and the default until live prices are fetched from the clouds' price
// APIs; Merge lays such live prices over it.
//
// Amounts are exact: each price is parsed from its decimal string into
// micro-units with domain.ParseMoney, never through a float. A Catalog
// is immutable and safe for concurrent use.
package pricing

import (
	"cmp"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

//go:embed catalog/*.csv
var catalogFS embed.FS

var embedded struct {
	once sync.Once
	c    *Catalog
	err  error
}

// Embedded returns the catalog committed under catalog/, parsed once.
// An error names the file and line at fault; it can only happen when the
// committed files are broken, and every later call returns it again.
func Embedded() (*Catalog, error) {
	embedded.once.Do(func() {
		embedded.c, embedded.err = load(catalogFS, "catalog/*.csv")
	})
	return embedded.c, embedded.err
}

// load parses every file of fsys that matches pattern, in name order.
func load(fsys fs.FS, pattern string) (*Catalog, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, fmt.Errorf("load price catalog: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: load price catalog: no file matches %s", domain.ErrInvalid, pattern)
	}
	var all []domain.Price
	for _, name := range slices.DeleteFunc(names, isCommitmentsFile) {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, fmt.Errorf("load price catalog: %w", err)
		}
		ps, err := Parse(name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		all = append(all, ps...)
	}
	return New(all), nil
}

// key identifies a price; region and SKU are lower-cased so that lookups
// ignore case.
type key struct {
	cloud  domain.Cloud
	region string
	kind   domain.Kind
	sku    string
}

func keyOf(cloud domain.Cloud, region string, kind domain.Kind, sku string) key {
	return key{cloud, strings.ToLower(region), kind, strings.ToLower(sku)}
}

type regionKey struct {
	cloud  domain.Cloud
	region string
}

// Catalog is an immutable set of prices, at most one for each cloud,
// region, kind and SKU; safe for concurrent use.
type Catalog struct {
	prices  []domain.Price // by cloud, region, kind, SKU
	index   map[key]int
	vms     map[regionKey][]domain.Price // by hourly price, then SKU
	regions map[domain.Cloud][]string
}

// New returns a catalog of prices. Where two prices share a cloud,
// region, kind and SKU (compared without regard to case), the later one
// wins. New keeps no reference to prices.
func New(prices []domain.Price) *Catalog {
	last := make(map[key]int, len(prices))
	for i, p := range prices {
		last[keyOf(p.Cloud, p.Region, p.Kind, p.SKU)] = i
	}
	c := &Catalog{
		prices:  make([]domain.Price, 0, len(last)),
		index:   make(map[key]int, len(last)),
		vms:     make(map[regionKey][]domain.Price),
		regions: make(map[domain.Cloud][]string),
	}
	for i, p := range prices {
		if last[keyOf(p.Cloud, p.Region, p.Kind, p.SKU)] == i {
			c.prices = append(c.prices, p)
		}
	}
	slices.SortFunc(c.prices, func(a, b domain.Price) int {
		return cmp.Or(
			cmp.Compare(a.Cloud, b.Cloud),
			cmp.Compare(a.Region, b.Region),
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.SKU, b.SKU),
		)
	})
	seen := make(map[regionKey]bool)
	for i, p := range c.prices {
		c.index[keyOf(p.Cloud, p.Region, p.Kind, p.SKU)] = i
		rk := regionKey{p.Cloud, strings.ToLower(p.Region)}
		if !seen[rk] {
			seen[rk] = true
			c.regions[p.Cloud] = append(c.regions[p.Cloud], p.Region)
		}
		if p.Kind == domain.KindVM {
			c.vms[rk] = append(c.vms[rk], p)
		}
	}
	for _, vs := range c.vms {
		slices.SortFunc(vs, func(a, b domain.Price) int {
			return cmp.Or(cmp.Compare(a.Amount.Micros, b.Amount.Micros), cmp.Compare(a.SKU, b.SKU))
		})
	}
	for _, rs := range c.regions {
		slices.Sort(rs)
	}
	return c
}

// Lookup returns the price of sku of the given kind in region. SKU and
// region match without regard to case ("Standard_D2s_v3" finds
// "standard_d2s_v3"). The second result is false when the catalog has
// no such price.
func (c *Catalog) Lookup(cloud domain.Cloud, region string, kind domain.Kind, sku string) (domain.Price, bool) {
	i, ok := c.index[keyOf(cloud, region, kind, sku)]
	if !ok {
		return domain.Price{}, false
	}
	return c.prices[i], true
}

// VMSizes returns every VM size priced in region, sorted by hourly price
// and then by SKU. The slice is the caller's to keep or change.
func (c *Catalog) VMSizes(cloud domain.Cloud, region string) []domain.Price {
	return slices.Clone(c.vms[regionKey{cloud, strings.ToLower(region)}])
}

// Regions returns the regions in which the catalog has any price for
// cloud, sorted.
func (c *Catalog) Regions(cloud domain.Cloud) []string {
	return slices.Clone(c.regions[cloud])
}

// All returns every price in the catalog, sorted by cloud, region, kind
// and SKU. The slice is the caller's.
func (c *Catalog) All() []domain.Price {
	return slices.Clone(c.prices)
}

// Merge returns a new catalog holding c's prices overridden by newer:
// a price in newer replaces the one in c with the same cloud, region,
// kind and SKU, and prices c lacks are added. c is unchanged. It is how
// live prices from the clouds' price APIs are laid over the embedded
// snapshot. Those APIs give a VM size's price but often not its shape,
// so a VM price in newer without vCPUs and memory keeps the family,
// architecture, vCPUs, memory, GPUs and burstability c has for the SKU.
func (c *Catalog) Merge(newer []domain.Price) *Catalog {
	all := make([]domain.Price, 0, len(c.prices)+len(newer))
	all = append(all, c.prices...)
	for _, p := range newer {
		if old, ok := c.Lookup(p.Cloud, p.Region, p.Kind, p.SKU); ok && p.Kind == domain.KindVM && p.VCPU == 0 && p.MemoryMiB == 0 {
			p.Family, p.Arch, p.VCPU, p.MemoryMiB, p.GPUs, p.Burstable = old.Family, old.Arch, old.VCPU, old.MemoryMiB, old.GPUs, old.Burstable
		}
		all = append(all, p)
	}
	return New(all)
}
