package placement

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// WriteLP writes the instance as a mixed-integer program in the CPLEX LP
// format that CBC, HiGHS, GLPK and SCIP read: one binary variable
// x<i>_<j> per usable pair, the costs c_ij as the objective (printed so
// that they read back as the same float64), one assignment row per
// workload (a<i>), one capacity row per location and finite dimension
// (cv<j> for vCPU, cm<j> for memory) and the move cap as the number of
// existing workloads that stay (k: Σ x_i,cur(i) ≥ E − K). As in the
// solver, a pair is usable when the policy allows it and the workload
// fits into the empty location (other pairs can never be used), and
// capacity rows that cannot bind are left out: the program has the same
// integer solutions and the same LP relaxation as the solver's problem.
//
// An invalid instance gives Validate's error; a workload whose policy
// allows no location gives an error wrapping domain.ErrInvalid, since
// the program would have an empty assignment row.
func WriteLP(w io.Writer, in *Instance) error {
	ev, err := NewEvaluator(in)
	if err != nil {
		return err
	}
	p := compile(ev)
	for i := range p.n {
		if p.start[i] == p.start[i+1] {
			return fmt.Errorf("%w: write LP: workload %q: its policy allows no location", domain.ErrInvalid, in.Workloads[i].ID)
		}
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	name := func(i int, e int32) string { return "x" + strconv.Itoa(i) + "_" + strconv.Itoa(int(p.loc[e])) }
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	term := func(k int, coef float64, v string) {
		if k > 0 && k%8 == 0 {
			bw.WriteString("\n ")
		}
		if coef < 0 {
			bw.WriteString(" - ")
			coef = -coef
		} else {
			bw.WriteString(" + ")
		}
		bw.WriteString(num(coef))
		bw.WriteByte(' ')
		bw.WriteString(v)
	}
	fmt.Fprintf(bw, "\\ cloudtrim placement: %d workloads, %d locations, move cap %d\n", p.n, p.m, p.k)
	bw.WriteString("Minimize\n obj:")
	k := 0
	for i := range p.n {
		for e := p.start[i]; e < p.start[i+1]; e++ {
			term(k, p.cost[e], name(i, e))
			k++
		}
	}
	bw.WriteString("\nSubject To\n")
	for i := range p.n {
		fmt.Fprintf(bw, " a%d:", i)
		for e := p.start[i]; e < p.start[i+1]; e++ {
			term(int(e-p.start[i]), 1, name(i, e))
		}
		bw.WriteString(" = 1\n")
	}
	// Capacity rows, built per location from the column-wise rows.
	byLoc := make([][]int32, p.m) // entries at each location
	for i := range p.n {
		for e := p.start[i]; e < p.start[i+1]; e++ {
			byLoc[p.loc[e]] = append(byLoc[p.loc[e]], e)
		}
	}
	owner := make([]int32, len(p.loc))
	for i := range p.n {
		for e := p.start[i]; e < p.start[i+1]; e++ {
			owner[e] = int32(i)
		}
	}
	for j := range p.m {
		for d, tag := range [dims]string{"cv", "cm"} {
			c := p.cap[j*dims+d]
			if math.IsInf(c, 1) {
				continue
			}
			most := 0.0
			for _, e := range byLoc[j] {
				most += p.dem[int(owner[e])*dims+d]
			}
			if most <= c {
				continue
			}
			fmt.Fprintf(bw, " %s%d:", tag, j)
			k := 0
			for _, e := range byLoc[j] {
				if r := p.dem[int(owner[e])*dims+d]; r != 0 {
					term(k, r, name(int(owner[e]), e))
					k++
				}
			}
			fmt.Fprintf(bw, " <= %s\n", num(c))
		}
	}
	existing := 0
	for i := range p.n {
		if p.cur[i] >= 0 {
			existing++
		}
	}
	if stay := existing - p.k; stay > 0 {
		bw.WriteString(" k:")
		k := 0
		for i := range p.n {
			if e := p.curE[i]; e >= 0 {
				term(k, 1, name(i, e))
				k++
			}
		}
		if k == 0 {
			// Every existing workload must move: the row is infeasible
			// but must still name a variable.
			term(0, 0, name(0, p.start[0]))
		}
		fmt.Fprintf(bw, " >= %d\n", stay)
	}
	bw.WriteString("Binary\n")
	k = 0
	for i := range p.n {
		for e := p.start[i]; e < p.start[i+1]; e++ {
			if k > 0 && k%10 == 0 {
				bw.WriteByte('\n')
			}
			bw.WriteByte(' ')
			bw.WriteString(name(i, e))
			k++
		}
	}
	bw.WriteString("\nEnd\n")
	return bw.Flush()
}
