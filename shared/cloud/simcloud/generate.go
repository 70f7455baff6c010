package simcloud

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// archetype is the behaviour the estate gives a VM.
type archetype uint8

const (
	archBusy archetype = iota
	archOversized
	archIdle
	archNonProd
	archMemory
	archNew
	archStopped
	numArchetypes
)

// The archetypes, as Estate.Archetype names them.
const (
	ArchetypeBusy      = "busy"      // well sized, CPU p95 45-75 %
	ArchetypeOversized = "oversized" // CPU p95 10-25 % on a large size
	ArchetypeIdle      = "idle"      // CPU p95 below 3 %
	ArchetypeNonProd   = "nonprod"   // env dev/test, busy only in working hours Mon-Fri
	ArchetypeMemory    = "memory"    // low CPU, memory p95 85-95 %
	ArchetypeNew       = "new"       // less than 30 hours of history
	ArchetypeStopped   = "stopped"   // stopped some days ago
)

var archetypeNames = [numArchetypes]string{ArchetypeBusy, ArchetypeOversized, ArchetypeIdle,
	ArchetypeNonProd, ArchetypeMemory, ArchetypeNew, ArchetypeStopped}

func (a archetype) String() string { return archetypeNames[a] }

// archetypeMix is the share and the minimum count of each archetype but
// busy, which takes the rest, and the vCPU range of its sizes.
var archetypeMix = [numArchetypes]struct {
	share          float64
	min            int
	minCPU, maxCPU int
	cpuLo, cpuHi   float64 // CPU p95 target band
}{
	archBusy:      {0, 0, 2, 8, 45, 75},
	archOversized: {0.14, 6, 8, 32, 11, 23},
	archIdle:      {0.12, 5, 2, 16, 0.6, 2.2},
	archNonProd:   {0.18, 4, 2, 8, 35, 65},
	archMemory:    {0.08, 2, 2, 16, 8, 20},
	archNew:       {0.04, 1, 2, 8, 20, 60},
	archStopped:   {0.03, 1, 2, 8, 0.6, 2.2},
}

// vmParams is what a VM's utilization is computed from.
type vmParams struct {
	arch        archetype
	trace       int16 // index into traceSet.all
	memTrace    int16 // -1: no memory agent
	offset      int32 // hours added to the absolute hour before indexing the trace
	memOffset   int32
	cpuTarget   float32 // CPU p95 over the reference window
	memTarget   float32
	idleLevel   float32 // CPU % of a non-production VM out of working hours
	gapRate     float32
	tz          uint8
	outageStart int64 // absolute hour
	outageLen   int32
	seed        uint64
	refStart    int64 // first absolute hour of the reference window
	origVCPU    int32
	origMemMiB  int64
	// disks counts the VM's attached disks: the monitoring of a VM with
	// disks reports their read and write throughput.
	disks int16
}

// Region time zones, for working hours.
var zones = []struct {
	region, name string
}{{"us-east-1", "America/New_York"}, {"eastus", "America/New_York"}, {"westeurope", "Europe/Amsterdam"},
	{"us-central1", "America/Chicago"}, {"europe-west1", "Europe/Brussels"}}

func zoneOf(region string) uint8 {
	for i, z := range zones {
		if z.region == region {
			return uint8(i)
		}
	}
	return 0
}

var apps = []struct{ app, team string }{
	{"checkout", "web"}, {"payments", "finance"}, {"search", "web"}, {"catalog", "web"},
	{"ledger", "finance"}, {"reporting", "data"}, {"auth", "platform"}, {"inventory", "supply"},
	{"analytics", "data"}, {"notifications", "platform"}, {"ml-train", "ml"}, {"etl", "data"},
}

var roles = []string{"api", "worker", "web", "db", "cache", "batch"}

// Disk SKUs and their weights per cloud.
var diskSKUs = map[domain.Cloud][]weighted{
	domain.AWS:   {{"gp3", 35}, {"gp2", 45}, {"io1", 5}, {"st1", 8}, {"sc1", 7}},
	domain.Azure: {{"Premium_LRS", 45}, {"StandardSSD_LRS", 35}, {"Standard_LRS", 20}},
	domain.GCP:   {{"pd-balanced", 50}, {"pd-standard", 30}, {"pd-ssd", 20}},
}

// The SKUs of snapshots and addresses in the price catalog. An
// unassociated address has the SKU IPUnusedSKU where the catalog prices
// one (Google Cloud), IPSKU otherwise.
const (
	SnapshotSKU = "snapshot"
	IPSKU       = "public-ipv4"
	IPUnusedSKU = "public-ipv4-unused"
)

// Preferred VM families per cloud: general purpose, compute and memory
// optimised x86 sizes a real estate is mostly made of.
var vmFamilies = map[domain.Cloud][]string{
	domain.AWS:   {"m5.", "m6i.", "c5.", "c6i.", "r5.", "r6i.", "m5a."},
	domain.Azure: {"Standard_D", "Standard_E", "Standard_F"},
	domain.GCP:   {"n2-standard-", "n2-highmem-", "n2-highcpu-", "e2-standard-", "n1-standard-"},
}

// cloudCycle spreads resources over the clouds, 40 % AWS and 30 % each
// Azure and GCP, so that even a small estate has every archetype in
// every cloud it can.
var cloudCycle = []domain.Cloud{domain.AWS, domain.Azure, domain.GCP, domain.AWS, domain.Azure, domain.GCP,
	domain.AWS, domain.Azure, domain.GCP, domain.AWS}

type weighted struct {
	v string
	w int
}

type generator struct {
	e   *Estate
	rng *rand.Rand
	now time.Time
	seq map[domain.Cloud]int
	ids map[string]bool

	vmSizes  map[scopeKey][numArchetypes][]domain.Price // by region, the sizes that fit each archetype
	byCloud  map[domain.Cloud][]scopeKey
	diskSKUs map[scopeKey][]weighted
	vms      []int32 // indexes of VMs
	disks    []int32
	disksOf  map[domain.Cloud][]int32
	// reserved resources are always opted in and never protected nor
	// unreadable, so that every estate, however small, holds at least two
	// actionable resources of each finding kind.
	reserved  map[int32]bool
	perArch   [numArchetypes]int
	scopeList []scopeKey
}

func (g *generator) generate(n int) error {
	g.seq = map[domain.Cloud]int{}
	g.ids = map[string]bool{}
	g.vmSizes = map[scopeKey][numArchetypes][]domain.Price{}
	g.byCloud = map[domain.Cloud][]scopeKey{}
	g.disksOf = map[domain.Cloud][]int32{}
	g.reserved = map[int32]bool{}
	g.diskSKUs = map[scopeKey][]weighted{}
	g.accounts()
	if err := g.checkCatalog(); err != nil {
		return err
	}
	e := g.e
	e.res = make([]resource, 0, n)

	nVM := int(math.Round(0.45 * float64(n)))
	nDisk := int(math.Round(0.30 * float64(n)))
	nIP := int(math.Round(0.10 * float64(n)))
	nSnap := n - nVM - nDisk - nIP

	// VMs: archetypes by quota, shuffled.
	var archs []archetype
	rest := nVM
	for a := archOversized; a < numArchetypes; a++ {
		m := archetypeMix[a]
		k := max(m.min, int(math.Round(m.share*float64(nVM))))
		for range k {
			archs = append(archs, a)
		}
		rest -= k
	}
	for range rest {
		archs = append(archs, archBusy)
	}
	// Spread each archetype over the three clouds, then shuffle.
	type slot struct {
		a archetype
		c domain.Cloud
	}
	slots := make([]slot, len(archs))
	for i, a := range archs {
		slots[i] = slot{a, cloudCycle[i%len(cloudCycle)]}
	}
	g.rng.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	for _, s := range slots {
		g.vm(s.a, s.c)
	}

	// Disks: most attached to a VM, some orphaned (most of those older
	// than a week).
	unattached := min(nDisk, max(5, int(math.Round(0.2*float64(nDisk)))))
	oldOrphans := min(unattached, max(4, int(math.Round(0.8*float64(unattached)))))
	for i := range nDisk {
		switch {
		case i < oldOrphans:
			d := g.disk(-1, cloudCycle[i%len(cloudCycle)], 8+g.rng.IntN(400))
			g.reserved[d] = i < 2
		case i < unattached:
			g.disk(-1, cloudCycle[i%len(cloudCycle)], 1+g.rng.IntN(6))
		default:
			g.disk(g.vms[g.rng.IntN(len(g.vms))], "", 0)
		}
	}

	// Addresses: most associated, some not.
	unassoc := min(nIP, max(4, int(math.Round(0.25*float64(nIP)))))
	for i := range nIP {
		vm := int32(-1)
		if i >= unassoc {
			vm = g.vms[g.rng.IntN(len(g.vms))]
		}
		ip := g.ip(vm, cloudCycle[i%len(cloudCycle)])
		g.reserved[ip] = i < 2
	}

	// Snapshots of disks, some older than 90 days.
	old := min(nSnap, max(3, int(math.Round(0.35*float64(nSnap)))))
	for i := range nSnap {
		age := 1 + g.rng.IntN(80)
		if i < old {
			age = 91 + g.rng.IntN(600)
		}
		disks := g.disksOf[cloudCycle[i%len(cloudCycle)]]
		if len(disks) == 0 {
			disks = g.disks
		}
		snap := g.snapshot(disks[g.rng.IntN(len(disks))], age)
		g.reserved[snap] = i < 2
	}

	// Interleave kinds within each scope the way a real listing would not
	// group them, but keep the order stable: shuffle once.
	g.overlays()
	g.buckets(n)
	return nil
}

func (g *generator) accounts() {
	e := g.e
	nAWS := 2 + g.rng.IntN(2)
	awsNames := []string{"prod", "dev", "shared"}
	for i := range nAWS {
		e.accounts = append(e.accounts, account{cloud: domain.AWS,
			id: fmt.Sprintf("%012d", 100_000_000_000+g.rng.Int64N(899_999_999_999)), name: "aws-" + awsNames[i],
			regions: []string{"us-east-1"}})
	}
	for i := range e.accounts {
		e.accounts[i].billing = e.accounts[0].id // the payer account
	}
	e.accounts[0].discountBP = 1200
	azBilling := fmt.Sprintf("%08d", g.rng.IntN(100_000_000))
	for i, name := range []string{"Contoso Production", "Contoso Development"} {
		a := account{cloud: domain.Azure, id: g.guid(), name: name, billing: azBilling,
			regions: []string{"eastus", "westeurope"}}
		if i == 0 {
			a.discountBP = 500
		}
		e.accounts = append(e.accounts, a)
	}
	gcpBilling := fmt.Sprintf("%06X-%06X-%06X", g.rng.IntN(1<<24), g.rng.IntN(1<<24), g.rng.IntN(1<<24))
	words := []string{"shop", "data", "web", "core"}
	w := words[g.rng.IntN(len(words))]
	for _, env := range []string{"prod", "dev"} {
		e.accounts = append(e.accounts, account{cloud: domain.GCP,
			id: fmt.Sprintf("%s-%s-%04d", w, env, 1000+g.rng.IntN(9000)), name: w + "-" + env, billing: gcpBilling,
			regions: []string{"us-central1", "europe-west1"}})
	}
	for _, a := range e.accounts {
		for _, r := range a.regions {
			k := scopeKey{a.cloud, a.id, r}
			g.scopeList = append(g.scopeList, k)
			g.byCloud[a.cloud] = append(g.byCloud[a.cloud], k)
		}
	}
}

// checkCatalog finds, for every region, the VM sizes and disk SKUs the
// catalog prices, and fails when a region has none.
func (g *generator) checkCatalog() error {
	e := g.e
	for _, s := range g.scopeList {
		k := scopeKey{cloud: s.cloud, region: s.region}
		if _, done := g.vmSizes[k]; done {
			continue
		}
		var all, preferred []domain.Price
		for _, p := range e.prices.VMSizes(s.cloud, s.region) {
			if p.GPUs > 0 || p.VCPU < 1 || p.Arch == "arm64" || p.Amount.Micros <= 0 || p.Unit != domain.UnitHour {
				continue
			}
			all = append(all, p)
			for _, f := range vmFamilies[s.cloud] {
				if strings.HasPrefix(p.SKU, f) {
					preferred = append(preferred, p)
					break
				}
			}
		}
		if len(preferred) >= 8 {
			all = preferred
		}
		if len(all) == 0 {
			return fmt.Errorf("%w: simcloud: the price catalog has no VM sizes for %s %s", domain.ErrInvalid, s.cloud, s.region)
		}
		var fits [numArchetypes][]domain.Price
		for a := range numArchetypes {
			m := archetypeMix[a]
			for _, p := range all {
				if p.VCPU >= m.minCPU && p.VCPU <= m.maxCPU {
					fits[a] = append(fits[a], p)
				}
			}
			if len(fits[a]) == 0 {
				fits[a] = all
			}
		}
		g.vmSizes[k] = fits
		for _, d := range diskSKUs[s.cloud] {
			if _, ok := e.priceLocked(s.cloud, s.region, domain.KindDisk, d.v); ok {
				g.diskSKUs[k] = append(g.diskSKUs[k], d)
			}
		}
		if len(g.diskSKUs[k]) == 0 {
			return fmt.Errorf("%w: simcloud: the price catalog has no disk SKUs for %s %s", domain.ErrInvalid, s.cloud, s.region)
		}
		for _, x := range []struct {
			kind domain.Kind
			sku  string
		}{{domain.KindSnapshot, SnapshotSKU}, {domain.KindIP, IPSKU}} {
			if _, ok := e.priceLocked(s.cloud, s.region, x.kind, x.sku); !ok {
				return fmt.Errorf("%w: simcloud: the price catalog has no %s %q for %s %s", domain.ErrInvalid, x.kind, x.sku, s.cloud, s.region)
			}
		}
	}
	return nil
}

func (g *generator) pick(ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	x := g.rng.IntN(total)
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return ws[len(ws)-1].v
}

func (g *generator) uniform(lo, hi float64) float64 { return lo + g.rng.Float64()*(hi-lo) }

func (g *generator) ago(minDays, maxDays float64) time.Time {
	d := g.uniform(minDays, maxDays) * 24 * float64(time.Hour)
	return g.now.Add(-time.Duration(d)).Truncate(time.Second)
}

func (g *generator) hex16() string {
	return fmt.Sprintf("%016x", g.rng.Uint64())
}

func (g *generator) guid() string {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

// unique guards an ID against the (unlikely) repeat of a random value.
func (g *generator) unique(mk func() string) string {
	for {
		id := mk()
		if !g.ids[id] {
			g.ids[id] = true
			return id
		}
	}
}

// scope picks a scope of cloud c.
func (g *generator) scope(c domain.Cloud) scopeKey {
	in := g.byCloud[c]
	return in[g.rng.IntN(len(in))]
}

func (g *generator) acctIndex(id string) int16 {
	for i, a := range g.e.accounts {
		if a.id == id {
			return int16(i)
		}
	}
	return 0
}

func (g *generator) zone(s scopeKey) string {
	switch s.cloud {
	case domain.AWS:
		return s.region + string("abcdf"[g.rng.IntN(5)])
	case domain.GCP:
		if s.region == "europe-west1" {
			return s.region + "-" + string("bcd"[g.rng.IntN(3)])
		}
		return s.region + "-" + string("abcf"[g.rng.IntN(4)])
	}
	return s.region + "-" + string("123"[g.rng.IntN(3)])
}

// name makes a unique resource name.
func (g *generator) name(c domain.Cloud, app, env, what string) string {
	g.seq[c]++
	return fmt.Sprintf("%s-%s-%s-%03d", app, env, what, g.seq[c])
}

func azureRG(app, env string) string { return "rg-" + app + "-" + env }

// vmID makes a cloud-shaped ID; for Azure and GCP it embeds the name.
func (g *generator) resourceID(s scopeKey, kind domain.Kind, zone, name, app, env string) string {
	switch s.cloud {
	case domain.AWS:
		prefix := "snap-0"
		switch kind {
		case domain.KindVM:
			prefix = "i-0"
		case domain.KindDisk:
			prefix = "vol-0"
		case domain.KindIP:
			prefix = "eipalloc-0"
		}
		return g.unique(func() string { return prefix + g.hex16() })
	case domain.Azure:
		typ := "Microsoft.Compute/snapshots"
		switch kind {
		case domain.KindVM:
			typ = "Microsoft.Compute/virtualMachines"
		case domain.KindDisk:
			typ = "Microsoft.Compute/disks"
		case domain.KindIP:
			typ = "Microsoft.Network/publicIPAddresses"
		}
		return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", s.account, azureRG(app, env), typ, name)
	default:
		switch kind {
		case domain.KindVM:
			return fmt.Sprintf("projects/%s/zones/%s/instances/%s", s.account, zone, name)
		case domain.KindDisk:
			return fmt.Sprintf("projects/%s/zones/%s/disks/%s", s.account, zone, name)
		case domain.KindIP:
			return fmt.Sprintf("projects/%s/regions/%s/addresses/%s", s.account, s.region, name)
		}
		return fmt.Sprintf("projects/%s/global/snapshots/%s", s.account, name)
	}
}

func (g *generator) add(r resource) int32 {
	g.e.res = append(g.e.res, r)
	return int32(len(g.e.res) - 1)
}

func (g *generator) vm(a archetype, c domain.Cloud) {
	e := g.e
	s := g.scope(c)
	m := archetypeMix[a]
	ap := apps[g.rng.IntN(len(apps))]
	env := "prod"
	switch a {
	case archNonProd:
		env = []string{"dev", "test"}[g.rng.IntN(2)]
	case archIdle:
		env = []string{"prod", "prod", "prod", "staging", "dev"}[g.rng.IntN(5)]
	}
	zone := g.zone(s)
	name := g.name(s.cloud, ap.app, env, roles[g.rng.IntN(len(roles))])
	if a == archMemory {
		name = g.name(s.cloud, ap.app, env, "cache")
	}

	fit := g.vmSizes[scopeKey{cloud: s.cloud, region: s.region}][a]
	size := fit[g.rng.IntN(len(fit))]
	if k := (priceKey{s.cloud, s.region, size.SKU, domain.KindVM}); e.sizes[k] != size {
		e.sizes[k] = size
	}

	var created time.Time
	switch {
	case a == archNew:
		created = g.now.Add(-time.Duration(6+g.rng.IntN(22))*time.Hour - time.Duration(g.rng.IntN(3600))*time.Second)
	case g.rng.IntN(10) == 0:
		created = g.ago(3, float64(e.days)-1) // part of the window only
	default:
		created = g.ago(float64(e.days)+1, 900)
	}

	ts := e.traces
	p := &vmParams{
		arch:       a,
		trace:      int16(ts.cpu[g.rng.IntN(len(ts.cpu))]),
		memTrace:   -1,
		cpuTarget:  float32(g.uniform(m.cpuLo, m.cpuHi)),
		idleLevel:  float32(g.uniform(0.3, 1.5)),
		gapRate:    float32(g.uniform(0.01, 0.03)),
		tz:         zoneOf(s.region),
		seed:       g.rng.Uint64(),
		refStart:   max(e.refHour-int64(e.days)*24, ceilHour(created)),
		origVCPU:   int32(size.VCPU),
		origMemMiB: size.MemoryMiB,
	}
	p.offset = int32(g.rng.IntN(len(ts.all[p.trace].cpu)))
	if a == archMemory || g.rng.Float64() < 0.6 {
		p.memTrace = int16(ts.mem[g.rng.IntN(len(ts.mem))])
		p.memOffset = int32(g.rng.IntN(len(ts.all[p.memTrace].mem)))
		p.memTarget = float32(g.uniform(25, 65))
		if a == archMemory {
			p.memTarget = float32(g.uniform(87, 93))
		}
	}
	if g.rng.IntN(4) == 0 {
		p.outageLen = int32(4 + g.rng.IntN(9))
		p.outageStart = e.refHour - int64(g.rng.IntN(e.days*24))
	}
	r := resource{cloud: s.cloud, acct: g.acctIndex(s.account), kind: domain.KindVM, region: s.region, zone: zone,
		name: name, sku: size.SKU, state: domain.StateRunning, created: created, env: env, team: ap.team, app: ap.app, vm: p}
	r.id = g.resourceID(s, domain.KindVM, zone, name, ap.app, env)
	if a == archStopped {
		r.state = domain.StateStopped
		r.hist = []span{{until: g.ago(2, 10), state: domain.StateRunning, sku: size.SKU}}
	}
	i := g.add(r)
	g.vms = append(g.vms, i)
	g.reserved[i] = g.perArch[a] < 2
	g.perArch[a]++
}

var diskSizes = []int64{8, 16, 20, 30, 32, 50, 64, 100, 128, 200, 256, 500, 512, 1000, 1024, 2048}

// disk adds a disk attached to VM vm, or an unattached one in cloud c
// ageDays old when vm is -1.
func (g *generator) disk(vm int32, c domain.Cloud, ageDays int) int32 {
	var s scopeKey
	var zone, app, team, env string
	var created time.Time
	if vm >= 0 {
		v := &g.e.res[vm]
		s = scopeKey{v.cloud, g.e.accounts[v.acct].id, v.region}
		zone, app, team, env = v.zone, v.app, v.team, v.env
		created = v.created.Add(time.Duration(g.rng.IntN(600)) * time.Second)
	} else {
		s = g.scope(c)
		zone = g.zone(s)
		ap := apps[g.rng.IntN(len(apps))]
		app, team, env = ap.app, ap.team, []string{"prod", "dev", "test", "staging"}[g.rng.IntN(4)]
		created = g.ago(float64(ageDays), float64(ageDays)+0.9)
	}
	sku := g.pick(g.diskSKUs[scopeKey{cloud: s.cloud, region: s.region}])
	size := diskSizes[min(g.rng.IntN(len(diskSizes)), g.rng.IntN(len(diskSizes)))] // skewed to small
	if sku == "st1" || sku == "sc1" {
		size = max(size, 125)
	}
	name := g.name(s.cloud, app, env, "disk")
	r := resource{cloud: s.cloud, acct: g.acctIndex(s.account), kind: domain.KindDisk, region: s.region, zone: zone,
		name: name, sku: sku, state: domain.StateAvailable, created: created, sizeGiB: size, env: env, team: team, app: app}
	if vm >= 0 {
		r.state = domain.StateInUse
		r.attachedTo = g.e.res[vm].id
		g.e.res[vm].vm.disks++
	}
	r.id = g.resourceID(s, domain.KindDisk, zone, name, app, env)
	i := g.add(r)
	g.disks = append(g.disks, i)
	g.disksOf[r.cloud] = append(g.disksOf[r.cloud], i)
	return i
}

// ip adds an address associated with VM vm, or an unassociated one in
// cloud c when vm is -1.
func (g *generator) ip(vm int32, c domain.Cloud) int32 {
	var s scopeKey
	var app, team, env string
	if vm >= 0 {
		v := &g.e.res[vm]
		s = scopeKey{v.cloud, g.e.accounts[v.acct].id, v.region}
		app, team, env = v.app, v.team, v.env
	} else {
		s = g.scope(c)
		ap := apps[g.rng.IntN(len(apps))]
		app, team, env = ap.app, ap.team, []string{"prod", "dev", "test"}[g.rng.IntN(3)]
	}
	name := g.name(s.cloud, app, env, "ip")
	sku := IPSKU
	if _, ok := g.e.priceLocked(s.cloud, s.region, domain.KindIP, IPUnusedSKU); ok && vm < 0 {
		sku = IPUnusedSKU // Google charges more for a static address no VM uses
	}
	r := resource{cloud: s.cloud, acct: g.acctIndex(s.account), kind: domain.KindIP, region: s.region,
		name: name, sku: sku, state: domain.StateAvailable, created: g.ago(10, 500), env: env, team: team, app: app}
	if vm >= 0 {
		r.state = domain.StateAssociated
		r.attachedTo = g.e.res[vm].id
	}
	r.id = g.resourceID(s, domain.KindIP, "", name, app, env)
	return g.add(r)
}

func (g *generator) snapshot(disk int32, ageDays int) int32 {
	d := g.e.res[disk]
	s := scopeKey{d.cloud, g.e.accounts[d.acct].id, d.region}
	name := g.name(s.cloud, d.app, d.env, "snap")
	r := resource{cloud: s.cloud, acct: d.acct, kind: domain.KindSnapshot, region: s.region,
		name: name, sku: SnapshotSKU, state: domain.StateAvailable, created: g.ago(float64(ageDays), float64(ageDays)+0.9),
		sizeGiB: d.sizeGiB, attachedTo: d.id, env: d.env, team: d.team, app: d.app}
	r.id = g.resourceID(s, domain.KindSnapshot, "", name, d.app, d.env)
	return g.add(r)
}

// overlays sets the opt-in tag on about 85 % of resources, the
// protection tag on about 5 % (among them at least one idle and one
// oversized VM) and marks a few VMs' tags unreadable (among them an idle
// and an oversized one).
func (g *generator) overlays() {
	res := g.e.res
	for i := range res {
		res[i].optIn = g.rng.Float64() < 0.85 || g.reserved[int32(i)]
	}
	byArch := map[archetype][]int32{}
	for _, i := range g.vms {
		byArch[res[i].vm.arch] = append(byArch[res[i].vm.arch], i)
	}
	taken := maps.Clone(g.reserved)
	takeOne := func(from []int32) (int32, bool) {
		for range 4 * len(from) {
			i := from[g.rng.IntN(len(from))]
			if !taken[i] {
				taken[i] = true
				return i, true
			}
		}
		return 0, false
	}
	protect := max(2, int(math.Round(0.05*float64(len(res)))))
	for _, a := range []archetype{archIdle, archOversized} {
		if i, ok := takeOne(byArch[a]); ok {
			res[i].protect = true
			protect--
		}
	}
	all := make([]int32, len(res))
	for i := range all {
		all[i] = int32(i)
	}
	for ; protect > 0; protect-- {
		if i, ok := takeOne(all); ok {
			res[i].protect = true
		}
	}
	incomplete := max(2, int(math.Round(0.03*float64(len(g.vms)))))
	for _, a := range []archetype{archIdle, archOversized} {
		if i, ok := takeOne(byArch[a]); ok {
			res[i].incomplete = "tags could not be read: access denied"
			incomplete--
		}
	}
	for ; incomplete > 0; incomplete-- {
		if i, ok := takeOne(byArch[archBusy]); ok {
			res[i].incomplete = "tags could not be read: access denied"
		}
	}
}

func ceilHour(t time.Time) int64 {
	s := t.Unix()
	h := s / 3600
	if s%3600 != 0 {
		h++
	}
	return h
}
