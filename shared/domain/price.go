package domain

// Price units.
const (
	UnitHour     = "Hours"
	UnitGiBMonth = "GiB-Mo"
	UnitMonth    = "Months"
)

// Price is the on-demand list price of one SKU in one region, with the
// shape of the SKU where it is a VM size. Amount is per Unit.
type Price struct {
	Cloud     Cloud  `json:"cloud"`
	Region    string `json:"region"`
	Kind      Kind   `json:"kind"`
	SKU       string `json:"sku"`
	Family    string `json:"family,omitempty"`
	Arch      string `json:"arch,omitempty"` // x86_64 or arm64
	VCPU      int    `json:"vcpu,omitempty"`
	MemoryMiB int64  `json:"memory_mib,omitempty"`
	GPUs      int    `json:"gpus,omitempty"`
	Burstable bool   `json:"burstable,omitempty"`
	Unit      string `json:"unit"`
	Amount    Money  `json:"amount"`
}

// Monthly returns the price of running the SKU for a month (for an
// hourly price) or of one GiB or one unit for a month.
func (p Price) Monthly() Money {
	if p.Unit == UnitHour {
		return Money{Micros: p.Amount.Micros * HoursPerMonth, Currency: p.Amount.Currency}
	}
	return p.Amount
}

// MonthlyFor returns what one resource costs a month at p: the hourly
// price times HoursPerMonth, the GiB-month price times sizeGiB, or the
// monthly price. It reports false for an unknown unit, or a per-GiB price
// without a size.
func (p Price) MonthlyFor(sizeGiB int64) (Money, bool) {
	switch p.Unit {
	case UnitHour:
		return p.Monthly(), true
	case UnitGiBMonth:
		if sizeGiB <= 0 {
			return Money{}, false
		}
		return Money{Micros: p.Amount.Micros * sizeGiB, Currency: p.Amount.Currency}, true
	case UnitMonth:
		return p.Amount, true
	}
	return Money{}, false
}

// ObjectClass is the list price of one object storage class in one
// region: storage per GiB-month, retrieval per GiB read, read requests
// and lifecycle transitions into the class per 10,000, its minimum
// storage duration and billable object size.
type ObjectClass struct {
	Cloud  Cloud  `json:"cloud"`
	Region string `json:"region"`
	// Class is the cloud's name of the class (STANDARD_IA, NEARLINE,
	// Cool); Azure classes carry the account's redundancy (Hot_LRS).
	Class string `json:"class"`
	// Hot marks the class new objects land in, the one a transition
	// moves objects out of.
	Hot              bool  `json:"hot,omitempty"`
	GiBMonth         Money `json:"gib_month"`
	RetrievalPerGiB  Money `json:"retrieval_per_gib"`
	ReadsPer10k      Money `json:"reads_per_10k"`
	TransitionPer10k Money `json:"transition_per_10k"`
	MinDays          int   `json:"min_days,omitempty"`
	MinObjectKiB     int   `json:"min_object_kib,omitempty"`
	// RuleClass is the class name a lifecycle rule uses (Cool for
	// Cool_LRS); empty means Class.
	RuleClass string `json:"rule_class,omitempty"`
	Source    string `json:"source"`
}
