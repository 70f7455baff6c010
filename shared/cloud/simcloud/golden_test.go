package simcloud

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestDemoGolden pins the demo estate's inventory (priced with the test
// price table) so that a change to the generator shows up in review.
// Regenerate with go test -run TestDemoGolden -update.
func TestDemoGolden(t *testing.T) {
	e := newEstate(t, Demo(testNow))
	var b strings.Builder
	fmt.Fprintf(&b, "# simcloud.Demo(%s), priced with the test price table\n", testNow.Format(time.RFC3339))
	fmt.Fprintf(&b, "# cloud account region kind id sku state size_gib attached_to created archetype incomplete tags (tiering)\n")
	for _, r := range e.Resources() {
		a, _ := e.Archetype(r.ID)
		if k, ok := e.BucketKind(r.ID); ok {
			a = k
		}
		var tags []string
		for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
			tags = append(tags, k+"="+r.Tags[k])
		}
		fmt.Fprintf(&b, "%s %s %s %s %s %s %s %d %q %s %q %q %s", r.Cloud, r.Account, r.Region, r.Kind, r.ID, r.SKU, r.State,
			r.SizeGiB, r.AttachedTo, r.CreatedAt.Format(time.RFC3339), a, r.Incomplete, strings.Join(tags, ","))
		if r.Tiering != "" {
			b.WriteString(" tiering=" + r.Tiering)
		}
		b.WriteString("\n")
	}
	for _, c := range []string{"aws", "azure", "gcp"} {
		fmt.Fprintf(&b, "# monthly run rate %s: %s\n", c, e.MonthlyRunRate(domain.Cloud(c)).Decimal())
	}
	path := filepath.Join("testdata", "demo-inventory.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDemoGolden -update)", err)
	}
	if d := cmp.Diff(string(want), b.String()); d != "" {
		t.Errorf("demo inventory changed (-golden +now); if intended, run go test -run TestDemoGolden -update:\n%s", d)
	}
}
