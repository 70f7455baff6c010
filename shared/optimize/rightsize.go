package optimize

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// rightsize proposes the cheapest VM size that still serves the
// observed load at the policy's target utilization.
func (p *planner) rightsize(e *entry) {
	r, u := &e.res, e.vm
	pol := p.pol.Rightsize
	if h := u.cpuHours(); h < pol.MinDataHours {
		p.skip(r.Ref(), domain.ActionRightsize,
			fmt.Sprintf("insufficient data: %s h observed, need %s h", formatNum(h), formatNum(pol.MinDataHours)))
		return
	}
	cur, ok := p.req.Prices.Lookup(r.Cloud, r.Region, domain.KindVM, r.SKU)
	if !ok || cur.VCPU <= 0 || cur.MemoryMiB <= 0 || cur.Unit != domain.UnitHour || cur.Amount.Micros <= 0 {
		p.skip(r.Ref(), domain.ActionRightsize,
			fmt.Sprintf("no price: size %q has no hourly price and shape in the %s %s catalog", r.SKU, r.Cloud, r.Region))
		return
	}

	var notes []string
	needCPU := float64(cur.VCPU) * u.cpuAtRightsize / pol.TargetCPUPercent
	notes = append(notes, fmt.Sprintf("CPU p%s is %s%% of %d vCPU: needs %s vCPU at the %s%% target",
		formatNum(pol.CPUPercentile), formatNum(u.cpuAtRightsize), cur.VCPU, formatNum(needCPU), formatNum(pol.TargetCPUPercent)))
	memKnown := u.memoryMeasured(pol.MinDataHours)
	var needMem float64
	if memKnown {
		needMem = float64(cur.MemoryMiB) * u.memAtRightsize / pol.TargetMemoryPercent
		notes = append(notes, fmt.Sprintf("memory p%s is %s%% of %s: needs %s at the %s%% target",
			formatNum(pol.MemoryPercentile), formatNum(u.memAtRightsize), formatMiB(float64(cur.MemoryMiB)), formatMiB(needMem), formatNum(pol.TargetMemoryPercent)))
	} else {
		needMem = float64(cur.MemoryMiB) * memoryFloor
		why := "no memory metric"
		switch {
		case u.hasMem && u.mem.Hours < pol.MinDataHours:
			why = fmt.Sprintf("memory metric covers only %s h", formatNum(u.mem.Hours))
		case u.hasMem:
			why = "memory metric reads 0% throughout"
		}
		notes = append(notes, fmt.Sprintf("%s: memory kept at %s%% or more of the current %s",
			why, formatNum(memoryFloor*100), formatMiB(float64(cur.MemoryMiB))))
	}

	m, why, ok := p.monthlyCost(e, cur, true)
	if !ok {
		p.skip(r.Ref(), domain.ActionRightsize, why)
		return
	}
	next, savings, pickNote, found := p.pickSize(r, cur, m, needCPU, needMem)
	if !found {
		p.noCheaper++
		return
	}
	if pickNote != "" {
		notes = append(notes, pickNote)
	}
	if m.basis == domain.BasisEffectiveCost {
		notes = append(notes, fmt.Sprintf("the bill's rate is assumed to carry over: savings = monthly cost × (1 − %s / %s list price)",
			formatUnitPrice(next.Amount), formatUnitPrice(cur.Amount)))
	}
	notes = append(notes, m.note, "resizing stops and starts the VM")

	a := p.newAction(domain.ActionRightsize, r, m)
	a.Before = domain.ResourceState{SKU: r.SKU, State: r.State}
	a.After = domain.ResourceState{SKU: next.SKU, State: domain.StateRunning}
	a.MonthlySavings = domain.Money{Micros: savings, Currency: m.cost.Currency}
	switch {
	case !memKnown && next.MemoryMiB < cur.MemoryMiB:
		a.Risk = domain.RiskHigh
	case 2*next.VCPU >= cur.VCPU:
		a.Risk = domain.RiskLow
	default:
		a.Risk = domain.RiskMedium
	}
	conf := u.coverage()
	if !memKnown {
		conf *= noMemoryFactor
	}
	if conf < pol.MinConfidence {
		p.skip(r.Ref(), domain.ActionRightsize, fmt.Sprintf("low confidence: %s, below the policy's %s (data covers %s%% of the window)",
			formatNum(round2(conf)), formatNum(pol.MinConfidence), formatNum(math.Round(u.coverage()*100))))
		return
	}
	if stable, why := p.stable(r, u, cur, m, memKnown, next.SKU); !stable {
		p.skip(r.Ref(), domain.ActionRightsize, why)
		return
	} else if pol.StableRuns > 1 {
		notes = append(notes, why)
	}
	a.Confidence = round2(conf)
	a.Undo = "resize back to " + r.SKU
	a.Evidence = usageEvidence(u)
	a.Evidence.VCPU, a.Evidence.MemoryMiB = cur.VCPU, cur.MemoryMiB
	a.Evidence.NewVCPU, a.Evidence.NewMemoryMiB = next.VCPU, next.MemoryMiB
	a.Evidence.Notes = append(a.Evidence.Notes, notes...)
	p.add(a, fmt.Sprintf("Resize %s from %s (%d vCPU, %s) to %s (%d vCPU, %s): CPU p%s %s%%",
		displayName(r), r.SKU, cur.VCPU, formatMiB(float64(cur.MemoryMiB)), next.SKU, next.VCPU, formatMiB(float64(next.MemoryMiB)),
		formatNum(pol.CPUPercentile), formatNum(u.cpuAtRightsize)))
}

// pickSize returns the size a VM of current size cur should move to for
// the given need, the monthly savings, and a note on the choice.
func (p *planner) pickSize(r *domain.Resource, cur domain.Price, m monthly, needCPU, needMem float64) (domain.Price, int64, string, bool) {
	inFamily, anyFamily := pickSizes(p.vmSizes(r.Cloud, r.Region), cur, needCPU, needMem)
	if p.pol.Rightsize.SameFamily {
		anyFamily = nil
	}
	for i, c := range []*domain.Price{inFamily, anyFamily} {
		if c == nil {
			continue
		}
		s, ok := mulDiv(m.cost.Micros, cur.Amount.Micros-c.Amount.Micros, cur.Amount.Micros)
		if !ok || s <= 0 || s < p.minSavings {
			continue
		}
		switch {
		case i == 0:
			return *c, s, fmt.Sprintf("%s is the cheapest size of family %s that fits", c.SKU, cur.Family), true
		case cur.Family != "":
			return *c, s, fmt.Sprintf("no cheaper size of family %s fits or saves enough; %s (family %s) is the cheapest that does", cur.Family, c.SKU, c.Family), true
		}
		return *c, s, "", true
	}
	return domain.Price{}, 0, "", false
}

// stable is the stability gate: the size chosen now must also be the
// one chosen on the windows of the policy's earlier runs (the series cut
// off one, two, ... run intervals before its end), each with enough data.
// It returns the evidence note, or the reason for holding the resize.
func (p *planner) stable(r *domain.Resource, u *vmUsage, cur domain.Price, m monthly, memKnown bool, sku string) (bool, string) {
	pol := p.pol.Rightsize
	if pol.StableRuns <= 1 {
		return true, ""
	}
	held := func(format string, a ...any) (bool, string) {
		return false, fmt.Sprintf("not yet stable: %s must be chosen on the windows of %d consecutive runs %s h apart; ", sku, pol.StableRuns, formatNum(pol.RunIntervalHours)) +
			fmt.Sprintf(format, a...)
	}
	if len(u.cpuPrior) < pol.StableRuns-1 {
		return held("the CPU series was not read for every window")
	}
	for k, c := range u.cpuPrior {
		back := formatNum(float64(k+1) * pol.RunIntervalHours)
		if c.hours < pol.MinDataHours || math.IsNaN(c.at) {
			return held("the window ending %s h earlier has %s h of CPU data, need %s h", back, formatNum(c.hours), formatNum(pol.MinDataHours))
		}
		needCPU := float64(cur.VCPU) * c.at / pol.TargetCPUPercent
		needMem := float64(cur.MemoryMiB) * memoryFloor
		if memKnown && k < len(u.memPrior) && u.memPrior[k].hours >= pol.MinDataHours && !math.IsNaN(u.memPrior[k].at) {
			needMem = float64(cur.MemoryMiB) * u.memPrior[k].at / pol.TargetMemoryPercent
		}
		next, _, _, found := p.pickSize(r, cur, m, needCPU, needMem)
		switch {
		case !found:
			return held("on the window ending %s h earlier (CPU p%s %s%%) no cheaper size fits", back, formatNum(pol.CPUPercentile), formatNum(c.at))
		case next.SKU != sku:
			return held("on the window ending %s h earlier (CPU p%s %s%%) %s was chosen", back, formatNum(pol.CPUPercentile), formatNum(c.at), next.SKU)
		}
	}
	return true, fmt.Sprintf("stable: %s is chosen on the windows of the last %d runs, %s h apart", sku, pol.StableRuns, formatNum(pol.RunIntervalHours))
}

// pickSizes returns the cheapest size of cur's family and the cheapest
// size of any family that fit the need and are cheaper than cur; either
// may be nil. sizes is sorted by price.
func pickSizes(sizes []domain.Price, cur domain.Price, needCPU, needMem float64) (inFamily, anyFamily *domain.Price) {
	for i := range sizes {
		c := &sizes[i]
		if !fits(cur, c, needCPU, needMem) {
			continue
		}
		if anyFamily == nil {
			anyFamily = c
		}
		if cur.Family != "" && c.Family == cur.Family {
			return c, anyFamily
		}
	}
	return nil, anyFamily
}

// fits reports whether c can replace cur: same architecture and GPUs,
// burstable only in place of a burstable size, cheaper, and at least the
// needed vCPU and memory.
func fits(cur domain.Price, c *domain.Price, needCPU, needMem float64) bool {
	return c.SKU != cur.SKU &&
		(c.Kind == "" || c.Kind == domain.KindVM) &&
		arch(c.Arch) == arch(cur.Arch) &&
		c.GPUs == cur.GPUs &&
		(!localDisk(cur) || localDisk(*c)) &&
		(!c.Burstable || cur.Burstable) &&
		c.Unit == domain.UnitHour &&
		c.Amount.Currency == cur.Amount.Currency &&
		c.Amount.Micros > 0 && c.Amount.Micros < cur.Amount.Micros &&
		c.VCPU > 0 && float64(c.VCPU) >= needCPU &&
		float64(c.MemoryMiB) >= needMem
}

// localDisk reports whether a VM size comes with local (instance store
// or temporary) disks, which a workload may use: such a size is only
// replaced by another that has them.
//
//   - AWS: the families whose name after the generation digit has a "d"
//     (m5d, c6gd, r5ad, m6idn) and the storage-optimised i, d and h
//     families (i3, i4i, im4gn, d3, h1).
//   - Azure: the sizes whose feature letters hold a "d" (Standard_D4ds_v5,
//     Standard_E8ads_v5), and the sizes before version 4 (Standard_D4s_v3,
//     Standard_DS2_v2, the A- and B-series), which all have a temporary
//     disk.
//   - Google Cloud: the "-lssd" machine types, which come with local SSDs.
func localDisk(p domain.Price) bool {
	sku := p.SKU
	switch p.Cloud {
	case domain.AWS:
		fam, _, _ := strings.Cut(strings.ToLower(sku), ".")
		i := strings.IndexAny(fam, "0123456789")
		if i < 0 {
			return false
		}
		if i > 0 && strings.ContainsRune("idh", rune(fam[0])) && !strings.HasPrefix(fam, "inf") && !strings.HasPrefix(fam, "dl") && !strings.HasPrefix(fam, "hpc") {
			return true
		}
		rest := strings.TrimLeft(fam[i:], "0123456789")
		rest, _, _ = strings.Cut(rest, "-") // m7i-flex
		return strings.Contains(rest, "d")
	case domain.Azure:
		name := strings.TrimPrefix(strings.TrimPrefix(sku, "Standard_"), "Basic_")
		base, ver, hasVer := strings.Cut(name, "_v")
		if !hasVer || len(ver) == 0 || ver[0] < '4' {
			return true
		}
		i := strings.IndexAny(base, "0123456789")
		if i < 0 {
			return false
		}
		feat := strings.TrimLeft(base[i:], "0123456789-")
		feat, _, _ = strings.Cut(feat, "_")
		return strings.Contains(feat, "d")
	case domain.GCP:
		return strings.HasSuffix(strings.ToLower(sku), "-lssd")
	}
	return false
}

// arch normalises an architecture name; catalogs that omit it mean x86.
func arch(a string) string {
	switch a {
	case "", "x86_64", "amd64", "x86":
		return "x86_64"
	case "arm64", "aarch64":
		return "arm64"
	}
	return a
}

// formatMiB formats a memory size in GiB for people.
func formatMiB(mib float64) string {
	return strconv.FormatFloat(round2(mib/1024), 'f', -1, 64) + " GiB"
}
