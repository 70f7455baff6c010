// Package placement places movable workloads across clouds, regions and
// instance types at the least monthly cost, after the cost of moving
// their data, under quotas, policies and a cap on how many workloads
// move at once. It proves how far from optimal each placement can be.
//
// It depends on the domain package only and is pure Go (no cgo), so it
// runs anywhere the optimizer does, Lambda's provided.al2023 included.
//
// # The model
//
// Workloads i = 1..n each have a current location cur(i) (none for a new
// workload), a demand r_i = (vCPU, memory GiB), block storage s_i (GiB)
// and steady traffic with anchors: data or services that stay where they
// are. Locations j = 1..m are an instance type in a region of a cloud,
// with an hourly price, a storage price, a per-vCPU performance score
// and a capacity Cap_j = (vCPU, memory GiB), the quota left for these
// workloads (+Inf for none).
//
// A workload's policy (allowed clouds, regions, continents, CPU
// architecture, an explicit list of locations, and a longest round trip
// to its users, estimated by LatencyMS from the great-circle distance)
// gives its allowed set A_i ⊆ {1..m}. Rows of allowed pairs are stored
// sparsely; the cost of the pairs that are not allowed is never stored.
//
// The monthly cost of workload i at location j is
//
//	c_ij = price_j · 730 · max(r_i,vCPU / vCPU_j, r_i,mem / mem_j)      its share of instances of type j
//	     + s_i · storage_j                                               its storage at j
//	     + Σ_anchors (out_ia · egress(j→a) + in_ia · egress(a→j))        data gravity
//	     + [j ≠ cur(i)] · s_i · egress(cur(i)→j) / amortize             moving its data, amortised
//
// except that a workload that carries its current monthly cost (from
// the bill, say) pays exactly that, plus its traffic, at cur(i),
//
// where egress(x→y) is the per-GiB price the sender's cloud charges:
// nothing within a region, an inter-region rate within a cloud and a
// continent, an inter-continent rate, and the internet rate to another
// cloud. The performance of workload i at j is perf_ij = r_i,vCPU · perf_j.
//
// With x_ij ∈ {0, 1} meaning "workload i runs at j" and m_ij = 1 when
// cur(i) exists and j ≠ cur(i), the problem is
//
//	minimise    Σ_i Σ_{j∈A_i} c_ij x_ij
//	subject to  Σ_{j∈A_i} x_ij = 1                 for every workload i
//	            Σ_i r_id x_ij ≤ Cap_jd             for every location j and dimension d
//	            Σ_i Σ_j m_ij x_ij ≤ K               the move cap
//	            x_ij ∈ {0, 1}
//
// Capacity counts demand: a workload takes r_i from a location's quota,
// while it pays for its share of instances, rounded by whichever of
// vCPU and memory it exhausts first. New workloads never count as moves.
// A workload whose current location its policy no longer allows must
// move, and counts against K.
//
// # Money in float64
//
// Prices enter as exact integer micro-units (domain.Money) and the costs
// c_ij are computed once from them in float64 currency units. The solver
// works in float64 because its quantities are real numbers by nature:
// amortised migration costs, Lagrange multipliers in currency per vCPU,
// the dual bound and the scalarised objectives of the Pareto front. A
// float64 holds any cost of this model (up to 10^9 a month) to better
// than a micro-unit, sums are compensated (Neumaier) so their order does
// not matter, and callers convert results back to domain.Money at the
// edge with domain.FromFloat.
//
// # The method
//
// Solve proves a lower bound by Lagrangian relaxation and finds
// placements with heuristics priced by the relaxation's multipliers. The
// Lagrangian dual is
//
//	L(λ, μ) = Σ_i min_{j∈A_i} (c_ij + Σ_d λ_jd r_id + μ m_ij) − Σ_jd λ_jd Cap_jd − μ K
//
// and the solve runs as follows.
//
//  1. A pair (i, j) is usable when the policy allows it and r_i fits into
//     the empty location j; other pairs can never be used and are left
//     out, which also tightens the relaxation. Workloads with no usable
//     pair (no allowed location, or a demand above every allowed
//     capacity) are set aside and reported.
//
//  2. Warm start: a regret greedy (the workload that loses most by not
//     getting its cheapest feasible location is placed first; regrets
//     are refreshed lazily) run from the status quo and from scratch with
//     a move price set to the K-th largest saving a move offers; the
//     better one is repaired by relocating others to make room and
//     improved by local search. Workloads it still cannot place are
//     reported with their reason, proven where a counting argument proves
//     it, and the rest is solved.
//
//  3. Lagrangian relaxation of the capacity and move-cap rows with
//     multipliers λ_jd ≥ 0 and μ ≥ 0 gives L(λ, μ) below. The subproblem
//     separates by workload and is solved by inspection. Every L(λ, μ) is
//     a lower bound on the optimum, and since each workload's subproblem
//     has integral vertices, max L equals the bound of the LP relaxation
//     (CBC's LP relaxation of the benchmark's instances agrees with the
//     bound found to better than 1e-7).
//
//  4. The dual is maximised by smoothing and Newton's method: each
//     minimum is replaced by the soft minimum −τ log Σ_j exp(−a_ij/τ),
//     which is smooth, concave and at most τ log|A_i| below it; the
//     smoothed dual L_τ has at most 2m+1 variables, so its gradient and
//     Hessian are cheap and a projected, damped (Levenberg–Marquardt)
//     Newton method with a backtracking line search maximises it in a
//     few dozen steps. τ starts at 2% of the mean cost per workload and
//     is divided by 4 after each convergence, until τ Σ_i log|A_i| is
//     below 1e-7 of the objective: then no dual point is better than the
//     one found by more than that. At every point visited the exact L is
//     computed too, and the best exact point is kept; the bound reported
//     is L recomputed exactly at that point, never an estimate.
//
//  5. After each τ, a primal repair of the Lagrangian solution: every
//     workload goes where the priced subproblem puts it (its cheapest
//     c_ij + Σ_d λ_jd r_id + μ m_ij), then, while a location is over
//     capacity, the workload cheapest to relocate per unit of overload
//     moves to a location with room, and while the move cap is exceeded
//     the cheapest move is undone. While the multipliers are still rough
//     the regret greedy with the same prices runs too. Each placement is
//     improved by local search on the true objective: shifts (to a cheaper
//     location with room), ejections (into a full location, moving one of
//     its workloads to its cheapest other location or into the space left,
//     a swap, or moving several out and, if the move cap is used up,
//     undoing the moves that save least), and move exchanges (undo the
//     move that saves least for one that saves more).
//
//  6. Once the dual has converged, or two stages in a row gained less
//     than 1% of the gap in bound and placement alike, ruin and recreate:
//     take apart a random part of the placement (random workloads, or
//     those of two locations whose capacity binds), place them again with
//     the regret greedy under slightly perturbed multipliers, search
//     locally, keep the result if cheaper, until a number of rounds in a
//     row (more for small instances) brings nothing.
//
//  7. It stops when (objective − bound)/|objective| ≤ Options.GapTarget
//     (StopGap), after step 6 (StopConverged: what is left is mostly the
//     gap between the best placement and the LP relaxation), at
//     Options.TimeLimit or ctx's deadline, or after Options.MaxIterations
//     evaluations of the dual, and returns the best placement with the
//     bound, the gap and the reason it stopped. Work between checks of
//     ctx is short: about a second at 100,000 workloads.
//
// The placement returned is checked by Check, from the instance alone,
// before Solve returns it. Results are deterministic for a given seed:
// the dual is evaluated in fixed chunks whose partial sums are added in
// order, whatever the number of goroutines, and the heuristics draw
// their choices from the seed. Only a time limit that cuts a solve short
// makes two runs differ.
//
// # The Pareto front
//
// SolvePareto minimises (1−α)·C(x)/C* + α·(P* − P(x))/P* for a set of
// weights α, where C* and P* are the ideal cost and performance, each
// point a full solve warm-started from the previous point's multipliers.
// A placement found for one weight that scores better under another is
// adopted there too. It names three points: the cheapest (max savings),
// the best performing (performance first), and the one nearest the ideal
// once both objectives are scaled to the front's range (balanced). Each
// point has its own bound and gap, on its scalarised objective.
//
// # Instances
//
// Generate makes realistic, hard instances from the embedded price
// catalog (see its documentation); WriteLP writes an instance for other
// MILP solvers, which the tests use to check the bound against CBC.
package placement
