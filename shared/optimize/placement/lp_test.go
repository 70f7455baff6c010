package placement

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// lpInstance is handInstance with four workloads: one with traffic to
// GCP, one pinned to GCP, a new one too large for b and one pinned to
// x86; c's capacity and b's memory cannot bind.
func lpInstance() *Instance {
	in := handInstance()
	in.MaxMoves = 1
	in.Locations[0].Capacity = Capacity{VCPU: 4, MemoryGiB: 16}
	in.Locations[1].Capacity = Capacity{VCPU: 2.5, MemoryGiB: 1000}
	in.Workloads = []Workload{
		{ID: "w0", Current: "a", VCPU: 2, MemoryGiB: 8, StorageGiB: 50,
			Flows: []Flow{{Cloud: domain.GCP, Region: "europe-west1", OutGiB: 100, InGiB: 40}}},
		{ID: "w1", Current: "b", VCPU: 1.5, MemoryGiB: 4, Policy: Policy{Clouds: []domain.Cloud{domain.GCP}}},
		{ID: "w2", VCPU: 3, MemoryGiB: 12, StorageGiB: 10},
		{ID: "w3", Current: "a", VCPU: 1, MemoryGiB: 2, Policy: Policy{Arch: ArchX86}},
	}
	return in
}

func TestWriteLPGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteLP(&buf, lpInstance()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "hand.lp")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("WriteLP (-%s +got):\n%s", path, diff)
	}
}

// TestWriteLPCostsExact reads the objective back and finds every c_ij
// bit for bit, so another solver optimises the very same numbers.
func TestWriteLPCostsExact(t *testing.T) {
	in := generate(t, 13, 150, 8)
	var buf bytes.Buffer
	if err := WriteLP(&buf, in); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	objective, _, ok := strings.Cut(strings.SplitN(text, "Minimize\n", 2)[1], "Subject To")
	if !ok {
		t.Fatal("no Subject To section")
	}
	ev, _ := NewEvaluator(in)
	fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(objective), "obj:"))
	seen := 0
	for k := 0; k+2 < len(fields); k += 3 {
		sign, num, name := fields[k], fields[k+1], fields[k+2]
		c, err := strconv.ParseFloat(num, 64)
		if err != nil {
			t.Fatalf("term %q %q %q: %v", sign, num, name, err)
		}
		if sign == "-" {
			c = -c
		}
		var i, j int
		if _, err := parseVar(name, &i, &j); err != nil {
			t.Fatalf("variable %q: %v", name, err)
		}
		if !ev.Allowed(i, j) {
			t.Errorf("variable %s for a pair the policy does not allow", name)
		}
		if want := ev.Cost(i, j).Total(); c != want {
			t.Errorf("%s: cost %v in the file, %v in the model", name, c, want)
		}
		seen++
	}
	pairs := 0
	for i := range in.Workloads {
		for j := range in.Locations {
			if ev.Allowed(i, j) {
				pairs++
			}
		}
	}
	if seen != pairs {
		t.Errorf("%d objective terms; %d allowed pairs", seen, pairs)
	}
	if rows := strings.Count(text, "\n a"); rows != len(in.Workloads) {
		t.Errorf("%d assignment rows; want %d", rows, len(in.Workloads))
	}
}

func TestWriteLPRejects(t *testing.T) {
	in := lpInstance()
	in.Workloads[1].Policy.Clouds = []domain.Cloud{domain.Azure}
	err := WriteLP(&bytes.Buffer{}, in)
	if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), `workload "w1": its policy allows no location`) {
		t.Errorf("WriteLP = %v; want an invalid error naming w1", err)
	}
	in.MaxMoves = -1
	if err := WriteLP(&bytes.Buffer{}, in); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("WriteLP(MaxMoves -1) = %v; want invalid", err)
	}
}

// parseVar reads the indices of a variable named x<i>_<j>.
func parseVar(name string, i, j *int) (int, error) {
	a, b, ok := strings.Cut(strings.TrimPrefix(name, "x"), "_")
	if !ok || !strings.HasPrefix(name, "x") {
		return 0, errors.New("not x<i>_<j>")
	}
	var err error
	if *i, err = strconv.Atoi(a); err != nil {
		return 0, err
	}
	if *j, err = strconv.Atoi(b); err != nil {
		return 1, err
	}
	return 2, nil
}
