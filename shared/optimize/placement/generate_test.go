package placement

import (
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
)

func TestGenerateDeterministic(t *testing.T) {
	a := generate(t, 9, 300, 12)
	b := generate(t, 9, 300, 12)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("Generate(9) twice differs (-first +second):\n%s", diff)
	}
	c := generate(t, 10, 300, 12)
	if cmp.Equal(a.Workloads, c.Workloads) {
		t.Errorf("Generate(9) and Generate(10) made the same workloads")
	}
}

func TestGenerateIsRealisticAndHard(t *testing.T) {
	cat := catalog(t)
	const n, m = 1500, 30
	in := generate(t, 11, n, m)
	if len(in.Workloads) != n || len(in.Locations) != m {
		t.Fatalf("%d workloads, %d locations; want %d and %d", len(in.Workloads), len(in.Locations), n, m)
	}
	// Prices come from the catalog.
	clouds := map[domain.Cloud]bool{}
	for _, l := range in.Locations {
		clouds[l.Cloud] = true
		vm, ok := cat.Lookup(l.Cloud, l.Region, domain.KindVM, l.InstanceType)
		if !ok || vm.Amount != l.HourlyPrice || float64(vm.VCPU) != l.VCPU {
			t.Errorf("location %s: hourly price %v, %v vCPU; the catalog has %v, %d (found: %v)", l.ID, l.HourlyPrice, l.VCPU, vm.Amount, vm.VCPU, ok)
		}
		disk, ok := cat.Lookup(l.Cloud, l.Region, domain.KindDisk, StorageSKU(l.Cloud))
		if !ok || disk.Amount != l.StoragePrice {
			t.Errorf("location %s: storage price %v; the catalog has %v", l.ID, l.StoragePrice, disk.Amount)
		}
	}
	if len(clouds) != 3 {
		t.Errorf("locations span %d clouds; want 3", len(clouds))
	}
	ev, err := NewEvaluator(in)
	if err != nil {
		t.Fatal(err)
	}
	// Capacities bind: 1.05–1.3 times the demand in all, and the
	// current placement fits.
	var demand, capacity float64
	current := make([]int, n)
	existing, newOnes, forced, restricted := 0, 0, 0, 0
	var storage []float64
	for i, w := range in.Workloads {
		demand += w.VCPU
		current[i] = ev.Current(i)
		if current[i] < 0 {
			newOnes++
		} else {
			existing++
			if !ev.Allowed(i, current[i]) {
				forced++
				current[i] = -1
			}
		}
		allowed := 0
		for j := range m {
			if ev.Allowed(i, j) {
				allowed++
			}
		}
		if allowed == 0 {
			t.Errorf("workload %s has no allowed location", w.ID)
		}
		if allowed < m {
			restricted++
		}
		storage = append(storage, w.StorageGiB)
	}
	for _, l := range in.Locations {
		capacity += l.Capacity.VCPU
	}
	if r := capacity / demand; r < 1.05 || r > 1.3+float64(m)/demand {
		t.Errorf("capacity/demand = %.3f; want 1.05–1.3", r)
	}
	a, err := Check(in, current)
	if err != nil {
		t.Errorf("the current placement does not fit: %v", err)
	}
	if got, want := in.MaxMoves, int(math.Round(0.2*float64(existing))); got != want {
		t.Errorf("MaxMoves = %d; want 20%% of %d existing workloads, %d", got, existing, want)
	}
	if newOnes == 0 || forced == 0 {
		t.Errorf("%d new workloads and %d that must move; want some of each", newOnes, forced)
	}
	if restricted < n/3 {
		t.Errorf("%d of %d workloads have a restricted allowed set; want at least a third", restricted, n)
	}
	// The cheap locations are wanted by more than they hold.
	cheapFull := 0
	for j, l := range in.Locations {
		if a.Load[j].VCPU > 0.7*l.Capacity.VCPU {
			cheapFull++
		}
	}
	if cheapFull == 0 {
		t.Errorf("no location is more than 70%% used by the current placement")
	}
	// Skewed volumes: a heavy tail.
	sort.Float64s(storage)
	if med, top := storage[n/2], storage[n-1]; top < 20*med {
		t.Errorf("storage median %v, max %v; want a heavy tail", med, top)
	}
	// The unconstrained optimum does not fit: the capacities or the move
	// cap bind.
	res, err := Solve(t.Context(), in, Options{GapTarget: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, in, res)
	if u := unconstrained(in); res.Bound <= u*(1+1e-4) {
		t.Errorf("bound %.2f ≈ the unconstrained optimum %.2f: nothing binds", res.Bound, u)
	}
}

func TestGenerateRejects(t *testing.T) {
	cat := catalog(t)
	tests := []struct {
		name string
		n, m int
		opts GenerateOptions
		want string
	}{
		{"no catalog", 10, 5, GenerateOptions{}, "no catalog"},
		{"no workloads", 0, 5, GenerateOptions{Catalog: cat}, "must both be at least 1"},
		{"too many locations", 10, 500, GenerateOptions{Catalog: cat}, "the catalog offers"},
		{"slack", 10, 5, GenerateOptions{Catalog: cat, SlackMin: 1.5, SlackMax: 1.2}, "slack max"},
		{"move fraction", 10, 5, GenerateOptions{Catalog: cat, MoveFraction: 2}, "move fraction 2"},
		{"empty catalog", 10, 5, GenerateOptions{Catalog: emptyCatalog{}}, "no gp3 disk price"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Generate(1, tc.n, tc.m, tc.opts)
			if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Generate = %v; want an invalid error containing %q", err, tc.want)
			}
		})
	}
}

type emptyCatalog struct{}

func (emptyCatalog) Lookup(domain.Cloud, string, domain.Kind, string) (domain.Price, bool) {
	return domain.Price{}, false
}
func (emptyCatalog) VMSizes(domain.Cloud, string) []domain.Price { return nil }

func TestGenerateSmallCoversClouds(t *testing.T) {
	in := generate(t, 3, 20, 3)
	var got []domain.Cloud
	for _, l := range in.Locations {
		got = append(got, l.Cloud)
	}
	slices.Sort(got)
	if want := []domain.Cloud{domain.AWS, domain.Azure, domain.GCP}; !slices.Equal(got, want) {
		t.Errorf("3 locations in clouds %v; want one per cloud", got)
	}
}
