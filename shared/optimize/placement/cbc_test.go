package placement

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
)

// cbcPath finds cbc on the PATH, or skips t (fails it under
// CLOUDTRIM_REQUIRE_STANDINS=1 or CI=true).
func cbcPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("cbc")
	if err != nil {
		msg := "cbc is not on the PATH: run tools/standins/cbc.sh (as root it installs Debian's coinor-cbc)"
		if standin.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// cbcResult is what CBC reports about a solve.
type cbcResult struct {
	status     string // the line after "Result - "
	optimal    bool
	objective  float64
	assignment []int // from the solution file
}

// runCBC writes in as an LP file, solves it with CBC to proven
// optimality (no relative or absolute gap allowed) and reads back the
// objective and the solution.
func runCBC(t *testing.T, cbc string, in *Instance) cbcResult {
	t.Helper()
	dir := t.TempDir()
	lp, sol := filepath.Join(dir, "model.lp"), filepath.Join(dir, "model.sol")
	f, err := os.Create(lp)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLP(f, in); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), cbc, lp,
		"-sec", "120", "-timeMode", "elapsed", "-ratioGap", "0", "-allowableGap", "1e-7", "-threads", "1",
		"-solve", "-solution", sol, "-quit")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("cbc: %v\n%s", err, out.String())
	}
	var r cbcResult
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "Result - "); ok {
			r.status = s
			r.optimal = s == "Optimal solution found"
		}
		if s, ok := strings.CutPrefix(line, "Objective value:"); ok {
			if r.objective, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				t.Fatalf("cbc objective %q: %v", s, err)
			}
		}
	}
	data, err := os.ReadFile(sol)
	if err != nil {
		t.Fatalf("cbc wrote no solution: %v\n%s", err, out.String())
	}
	r.assignment = make([]int, len(in.Workloads))
	for k := range r.assignment {
		r.assignment[k] = -1
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			t.Fatalf("cbc solution line %q: %v", line, err)
		}
		var i, j int
		if _, err := parseVar(f[1], &i, &j); err != nil {
			t.Fatalf("cbc solution line %q: %v", line, err)
		}
		if v > 0.5 {
			r.assignment[i] = j
		}
	}
	return r
}

// TestBoundAgainstCBC proves the bound valid and the gap honest on
// instances CBC 2.10 solves to optimality: our bound ≤ CBC's optimum ≤
// our objective, obj − opt ≤ gap·|obj|, and CBC's own solution, checked
// by Check and priced by the model, costs what CBC says (which shows
// WriteLP writes the model the solver solves).
func TestBoundAgainstCBC(t *testing.T) {
	cbc := cbcPath(t)
	tests := []struct {
		seed uint64
		n, m int
	}{{1, 50, 5}, {2, 100, 6}, {21, 120, 8}, {4, 200, 8}}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d", tc.n, tc.m), func(t *testing.T) {
			in := generate(t, tc.seed, tc.n, tc.m)
			start := time.Now()
			c := runCBC(t, cbc, in)
			cbcTime := time.Since(start)
			if !c.optimal {
				t.Fatalf("cbc did not prove optimality: %q", c.status)
			}
			a, err := Check(in, c.assignment)
			if err != nil {
				t.Fatalf("Check(cbc's solution) = %v", err)
			}
			if !near(a.Cost, c.objective, 1e-7) {
				t.Errorf("cbc's solution costs %.6f by the model; cbc says %.6f", a.Cost, c.objective)
			}
			opt := c.objective
			res, err := Solve(t.Context(), in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			verify(t, in, res)
			eps := 1e-7 * math.Abs(opt)
			if res.Bound > opt+eps {
				t.Errorf("bound %.6f is above cbc's optimum %.6f", res.Bound, opt)
			}
			if opt > res.Objective+eps {
				t.Errorf("cbc's optimum %.6f is above our objective %.6f: cbc is not optimal or our costs differ", opt, res.Objective)
			}
			if res.Objective-opt > res.Gap*math.Abs(res.Objective)+eps {
				t.Errorf("objective %.6f − optimum %.6f exceeds the claimed gap %.6f%%", res.Objective, opt, 100*res.Gap)
			}
			t.Logf("cbc optimum %.4f in %v; ours %.4f (%.4f%% above), bound %.4f, gap %.4f%%, in %v",
				opt, cbcTime.Round(time.Millisecond), res.Objective, math.Max(0, 100*(res.Objective-opt)/opt), res.Bound, 100*res.Gap, res.Elapsed.Round(time.Millisecond))
		})
	}
}
