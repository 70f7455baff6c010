package domain

import "fmt"

// CommitmentPlan is the plan's advice on commitments: savings plans,
// reserved instances, committed use discounts and reservations, sized to
// the steady baseline of VM usage that remains once the plan's own
// actions are applied. Like placement it is advice: nothing approves or
// buys it, and it counts neither in the totals nor in the digest.
type CommitmentPlan struct {
	// Pools are the groups a commitment covers: one VM family in one
	// region of one cloud, the scope every cloud's commitments share.
	Pools []Commitment `json:"pools,omitempty"`
	// MonthlySavings is the sum of the pools' recommended savings.
	MonthlySavings Money `json:"monthly_savings"`
	// Findings say which pools got no commitment and why.
	Findings []string `json:"findings,omitempty"`
}

// Commitment is the recommended commitment for one pool.
type Commitment struct {
	Cloud  Cloud  `json:"cloud"`
	Region string `json:"region"`
	Family string `json:"family"`
	// TermMonths, Payment and DiscountPercent describe the commitment
	// bought; DiscountSource says where the rate comes from.
	TermMonths      int     `json:"term_months"`
	Payment         string  `json:"payment,omitempty"`
	DiscountPercent float64 `json:"discount_percent"`
	DiscountSource  string  `json:"discount_source"`
	// HourlyCommitment is the on-demand value of usage covered each
	// hour; HourlyCost what the commitment costs each hour, used or not.
	HourlyCommitment Money `json:"hourly_commitment"`
	HourlyCost       Money `json:"hourly_cost"`
	// ExpectedUtilizationPercent is the share of the commitment the
	// observed hours would have used; BreakEvenUtilizationPercent the
	// share below which it costs more than it saves; CoveragePercent the
	// share of the pool's on-demand spend it covers.
	ExpectedUtilizationPercent  float64 `json:"expected_utilization_percent"`
	BreakEvenUtilizationPercent float64 `json:"break_even_utilization_percent"`
	CoveragePercent             float64 `json:"coverage_percent"`
	// MonthlyOnDemand is the pool's on-demand spend a month after the
	// plan's actions; MonthlySavings what the commitment saves on it.
	MonthlyOnDemand Money `json:"monthly_on_demand"`
	MonthlySavings  Money `json:"monthly_savings"`
	// SavingsIfUsageDrops20 is the monthly saving if usage fell by a
	// fifth: negative when the commitment would then cost money.
	SavingsIfUsageDrops20 Money `json:"savings_if_usage_drops_20"`
	// Ladder is the purchase schedule: equal steps some months apart,
	// each to be re-checked against the baseline of its day.
	Ladder []CommitmentStep `json:"ladder"`
	// Alternatives are the other terms, for comparison.
	Alternatives []CommitmentOption `json:"alternatives,omitempty"`
	// Hours is the number of hours observed, VMs the VMs in the pool.
	Hours int      `json:"hours"`
	VMs   int      `json:"vms"`
	Notes []string `json:"notes,omitempty"`
}

// CommitmentStep is one purchase of a ladder.
type CommitmentStep struct {
	// Month counts from the plan: 0 is now.
	Month            int   `json:"month"`
	HourlyCommitment Money `json:"hourly_commitment"`
	// CumulativeHourly is the commitment held after this purchase, and
	// MonthlySavings what it saves a month on the observed usage.
	CumulativeHourly Money `json:"cumulative_hourly"`
	MonthlySavings   Money `json:"monthly_savings"`
}

// CommitmentOption is the best commitment of another term.
type CommitmentOption struct {
	TermMonths                 int     `json:"term_months"`
	DiscountPercent            float64 `json:"discount_percent"`
	HourlyCommitment           Money   `json:"hourly_commitment"`
	ExpectedUtilizationPercent float64 `json:"expected_utilization_percent"`
	MonthlySavings             Money   `json:"monthly_savings"`
}

// Validate checks that the plan's figures add up: the total is the sum
// of the pools', a ladder ends at the commitment, and every percentage
// is a percentage.
func (c *CommitmentPlan) Validate(currency string) error {
	if c == nil {
		return nil
	}
	var sum int64
	for i, p := range c.Pools {
		where := fmt.Sprintf("commitments.pools[%d] (%s %s %s)", i, p.Cloud, p.Region, p.Family)
		for _, m := range []Money{p.HourlyCommitment, p.HourlyCost, p.MonthlyOnDemand, p.MonthlySavings, p.SavingsIfUsageDrops20} {
			if m.Currency != currency {
				return fmt.Errorf("%w: %s: amount in %q, plan is in %s", ErrInvalid, where, m.Currency, currency)
			}
		}
		for _, v := range []float64{p.DiscountPercent, p.ExpectedUtilizationPercent, p.BreakEvenUtilizationPercent, p.CoveragePercent} {
			if !(v >= 0 && v <= 100) {
				return fmt.Errorf("%w: %s: %v is not a percentage", ErrInvalid, where, v)
			}
		}
		if n := len(p.Ladder); n == 0 || p.Ladder[n-1].CumulativeHourly != p.HourlyCommitment {
			return fmt.Errorf("%w: %s: the ladder does not end at the hourly commitment %s", ErrInvalid, where, p.HourlyCommitment)
		}
		if n := len(p.Ladder); p.Ladder[n-1].MonthlySavings != p.MonthlySavings {
			return fmt.Errorf("%w: %s: the ladder's last step saves %s, the pool %s", ErrInvalid, where, p.Ladder[n-1].MonthlySavings, p.MonthlySavings)
		}
		sum += p.MonthlySavings.Micros
	}
	if c.MonthlySavings.Micros != sum || (len(c.Pools) > 0 && c.MonthlySavings.Currency != currency) {
		return fmt.Errorf("%w: commitments: monthly savings %s are not the sum of the pools' (%d micros)", ErrInvalid, c.MonthlySavings, sum)
	}
	return nil
}
