package lake

import (
	"fmt"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Table names: the directory of each table inside a run.
const (
	TableResources   = "resources"
	TableUtilization = "utilization"
	TableCosts       = "costs"
)

// Schema versions of the tables. A reader rejects a snapshot holding a
// table whose schema version it does not know.
const (
	ResourcesSchema   = "cloudtrim.resources/v2"
	UtilizationSchema = "cloudtrim.utilization/v1"
	CostsSchema       = "cloudtrim.costs/v2"
)

// costsSchemaV1 is the costs schema before the commitment, invoice and
// x_ source columns were added; its files still read (the new columns
// read as empty).
const costsSchemaV1 = "cloudtrim.costs/v1"

// resourcesSchemaV1 is the resources schema before buckets' tiering
// column; its files still read (tiering reads as empty).
const resourcesSchemaV1 = "cloudtrim.resources/v1"

// readableSchemas lists, per table, older schema versions this code still
// reads.
var readableSchemas = map[string][]string{TableCosts: {costsSchemaV1}, TableResources: {resourcesSchemaV1}}

// tableSchemas maps each table to the schema version this code writes
// and reads.
var tableSchemas = map[string]string{
	TableResources:   ResourcesSchema,
	TableUtilization: UtilizationSchema,
	TableCosts:       CostsSchema,
}

// resourceRow is one row of the resources table.
type resourceRow struct {
	Cloud      string            `parquet:"cloud,dict"`
	Account    string            `parquet:"account,dict"`
	Region     string            `parquet:"region,dict"`
	Kind       string            `parquet:"kind,dict"`
	ID         string            `parquet:"id"`
	Name       string            `parquet:"name"`
	SKU        string            `parquet:"sku,dict"`
	State      string            `parquet:"state,dict"`
	Tags       map[string]string `parquet:"tags"`
	CreatedAt  *time.Time        `parquet:"created_at,optional,timestamp(microsecond)"`
	SizeGiB    int64             `parquet:"size_gib"`
	AttachedTo string            `parquet:"attached_to"`
	Incomplete string            `parquet:"incomplete"`
	Tiering    string            `parquet:"tiering,optional,dict"`
}

func toResourceRow(r domain.Resource) resourceRow {
	row := resourceRow{
		Cloud: string(r.Cloud), Account: r.Account, Region: r.Region, Kind: string(r.Kind),
		ID: r.ID, Name: r.Name, SKU: r.SKU, State: r.State, Tags: r.Tags,
		SizeGiB: r.SizeGiB, AttachedTo: r.AttachedTo, Incomplete: r.Incomplete, Tiering: r.Tiering,
	}
	if !r.CreatedAt.IsZero() {
		t := r.CreatedAt.UTC()
		row.CreatedAt = &t
	}
	return row
}

func (row *resourceRow) domain() domain.Resource {
	r := domain.Resource{
		Cloud: domain.Cloud(row.Cloud), Account: row.Account, Region: row.Region, Kind: domain.Kind(row.Kind),
		ID: row.ID, Name: row.Name, SKU: row.SKU, State: row.State, Tags: row.Tags,
		SizeGiB: row.SizeGiB, AttachedTo: row.AttachedTo, Incomplete: row.Incomplete, Tiering: row.Tiering,
	}
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	if row.CreatedAt != nil {
		r.CreatedAt = row.CreatedAt.UTC()
	}
	return r
}

// seriesRow is one row of the utilization table: one series. A NaN in
// Values is a gap (the point was not observed); gaps are never filled.
type seriesRow struct {
	ResourceID  string    `parquet:"resource_id"`
	Metric      string    `parquet:"metric,dict"`
	Start       time.Time `parquet:"start,timestamp(millisecond)"`
	StepSeconds int64     `parquet:"step_seconds"`
	Values      []float32 `parquet:"values,list" parquet-element:",split"`
}

func toSeriesRow(s domain.Series) (seriesRow, error) {
	if err := s.Validate(); err != nil {
		return seriesRow{}, err
	}
	if s.Step%time.Second != 0 {
		return seriesRow{}, fmt.Errorf("%w: series %s/%s: step %v is not a whole number of seconds", domain.ErrInvalid, s.ResourceID, s.Metric, s.Step)
	}
	// Copy the values: callers reuse their buffers once a write returns.
	vals := make([]float32, len(s.Values))
	copy(vals, s.Values)
	return seriesRow{
		ResourceID: s.ResourceID, Metric: string(s.Metric), Start: s.Start.UTC(),
		StepSeconds: int64(s.Step / time.Second), Values: vals,
	}, nil
}

func (row *seriesRow) domain() domain.Series {
	return domain.Series{
		ResourceID: row.ResourceID, Metric: domain.Metric(row.Metric), Start: row.Start.UTC(),
		Step: time.Duration(row.StepSeconds) * time.Second, Values: row.Values,
	}
}

// costRow is one row of the costs table, in FOCUS 1.2 column names (our
// own columns prefixed x_). Amounts are DECIMAL(18,6) over INT64
// micro-units, in BillingCurrency.
type costRow struct {
	BillingAccountID           string            `parquet:"BillingAccountId,dict"`
	BillingAccountName         string            `parquet:"BillingAccountName,dict"`
	SubAccountID               string            `parquet:"SubAccountId,dict"`
	SubAccountName             string            `parquet:"SubAccountName,dict"`
	ProviderName               string            `parquet:"ProviderName,dict"`
	PublisherName              string            `parquet:"PublisherName,dict"`
	InvoiceIssuerName          string            `parquet:"InvoiceIssuerName,dict"`
	BillingPeriodStart         time.Time         `parquet:"BillingPeriodStart,timestamp(microsecond)"`
	BillingPeriodEnd           time.Time         `parquet:"BillingPeriodEnd,timestamp(microsecond)"`
	ChargePeriodStart          time.Time         `parquet:"ChargePeriodStart,timestamp(microsecond)"`
	ChargePeriodEnd            time.Time         `parquet:"ChargePeriodEnd,timestamp(microsecond)"`
	ChargeCategory             string            `parquet:"ChargeCategory,dict"`
	ChargeClass                string            `parquet:"ChargeClass,dict"`
	ChargeDescription          string            `parquet:"ChargeDescription,dict"`
	ChargeFrequency            string            `parquet:"ChargeFrequency,dict"`
	BillingCurrency            string            `parquet:"BillingCurrency,dict"`
	BilledCost                 int64             `parquet:"BilledCost,decimal(6:18)"`
	EffectiveCost              int64             `parquet:"EffectiveCost,decimal(6:18)"`
	ListCost                   int64             `parquet:"ListCost,decimal(6:18)"`
	ContractedCost             int64             `parquet:"ContractedCost,decimal(6:18)"`
	ListUnitPrice              int64             `parquet:"ListUnitPrice,decimal(6:18)"`
	ContractedUnitPrice        int64             `parquet:"ContractedUnitPrice,decimal(6:18)"`
	PricingQuantity            float64           `parquet:"PricingQuantity"`
	PricingUnit                string            `parquet:"PricingUnit,dict"`
	ConsumedQuantity           float64           `parquet:"ConsumedQuantity"`
	ConsumedUnit               string            `parquet:"ConsumedUnit,dict"`
	PricingCategory            string            `parquet:"PricingCategory,dict"`
	ResourceID                 string            `parquet:"ResourceId"`
	ResourceName               string            `parquet:"ResourceName"`
	ResourceType               string            `parquet:"ResourceType,dict"`
	RegionID                   string            `parquet:"RegionId,dict"`
	RegionName                 string            `parquet:"RegionName,dict"`
	AvailabilityZone           string            `parquet:"AvailabilityZone,dict"`
	ServiceName                string            `parquet:"ServiceName,dict"`
	ServiceCategory            string            `parquet:"ServiceCategory,dict"`
	ServiceSubcategory         string            `parquet:"ServiceSubcategory,dict"`
	SkuID                      string            `parquet:"SkuId,dict"`
	SkuPriceID                 string            `parquet:"SkuPriceId,dict"`
	CommitmentDiscountID       string            `parquet:"CommitmentDiscountId,dict"`
	CommitmentDiscountType     string            `parquet:"CommitmentDiscountType,dict"`
	CommitmentDiscountStatus   string            `parquet:"CommitmentDiscountStatus,dict"`
	CommitmentDiscountCategory string            `parquet:"CommitmentDiscountCategory,optional,dict"`
	CommitmentDiscountName     string            `parquet:"CommitmentDiscountName,optional,dict"`
	CommitmentDiscountQuantity float64           `parquet:"CommitmentDiscountQuantity,optional"`
	CommitmentDiscountUnit     string            `parquet:"CommitmentDiscountUnit,optional,dict"`
	InvoiceID                  string            `parquet:"InvoiceId,optional,dict"`
	Tags                       map[string]string `parquet:"Tags"`
	XCloud                     string            `parquet:"x_Cloud,dict"`
	XSourceFormat              string            `parquet:"x_SourceFormat,dict"`
	XUsageType                 string            `parquet:"x_UsageType,optional,dict"`
	XOperation                 string            `parquet:"x_Operation,optional,dict"`
	XChargeType                string            `parquet:"x_ChargeType,optional,dict"`
}

// toCostRow converts c. Every amount must be in the row's BillingCurrency
// (or carry no currency); FOCUS has one currency per row.
func toCostRow(c domain.CostRow) (costRow, error) {
	amounts := []struct {
		name string
		m    domain.Money
	}{
		{"BilledCost", c.BilledCost}, {"EffectiveCost", c.EffectiveCost}, {"ListCost", c.ListCost},
		{"ContractedCost", c.ContractedCost}, {"ListUnitPrice", c.ListUnitPrice}, {"ContractedUnitPrice", c.ContractedUnitPrice},
	}
	for _, a := range amounts {
		if a.m.Currency != "" && a.m.Currency != c.BillingCurrency {
			return costRow{}, fmt.Errorf("%w: cost row %s: %s in %s, billing currency %q", domain.ErrInvalid, c.ResourceID, a.name, a.m.Currency, c.BillingCurrency)
		}
	}
	return costRow{
		BillingAccountID: c.BillingAccountID, BillingAccountName: c.BillingAccountName,
		SubAccountID: c.SubAccountID, SubAccountName: c.SubAccountName,
		ProviderName: c.ProviderName, PublisherName: c.PublisherName, InvoiceIssuerName: c.InvoiceIssuerName,
		BillingPeriodStart: c.BillingPeriodStart.UTC(), BillingPeriodEnd: c.BillingPeriodEnd.UTC(),
		ChargePeriodStart: c.ChargePeriodStart.UTC(), ChargePeriodEnd: c.ChargePeriodEnd.UTC(),
		ChargeCategory: c.ChargeCategory, ChargeClass: c.ChargeClass, ChargeDescription: c.ChargeDescription,
		ChargeFrequency: c.ChargeFrequency, BillingCurrency: c.BillingCurrency,
		BilledCost: c.BilledCost.Micros, EffectiveCost: c.EffectiveCost.Micros, ListCost: c.ListCost.Micros,
		ContractedCost: c.ContractedCost.Micros, ListUnitPrice: c.ListUnitPrice.Micros, ContractedUnitPrice: c.ContractedUnitPrice.Micros,
		PricingQuantity: c.PricingQuantity, PricingUnit: c.PricingUnit,
		ConsumedQuantity: c.ConsumedQuantity, ConsumedUnit: c.ConsumedUnit, PricingCategory: c.PricingCategory,
		ResourceID: c.ResourceID, ResourceName: c.ResourceName, ResourceType: c.ResourceType,
		RegionID: c.RegionID, RegionName: c.RegionName, AvailabilityZone: c.AvailabilityZone,
		ServiceName: c.ServiceName, ServiceCategory: c.ServiceCategory, ServiceSubcategory: c.ServiceSubcategory,
		SkuID: c.SkuID, SkuPriceID: c.SkuPriceID,
		CommitmentDiscountID: c.CommitmentDiscountID, CommitmentDiscountType: c.CommitmentDiscountType,
		CommitmentDiscountStatus:   c.CommitmentDiscountStatus,
		CommitmentDiscountCategory: c.CommitmentDiscountCategory, CommitmentDiscountName: c.CommitmentDiscountName,
		CommitmentDiscountQuantity: c.CommitmentDiscountQuantity, CommitmentDiscountUnit: c.CommitmentDiscountUnit,
		InvoiceID: c.InvoiceID,
		Tags:      c.Tags, XCloud: string(c.XCloud), XSourceFormat: c.XSourceFormat,
		XUsageType: c.XUsageType, XOperation: c.XOperation, XChargeType: c.XChargeType,
	}, nil
}

// domain converts a stored row back. Every amount gets the row's
// BillingCurrency.
func (row *costRow) domain() domain.CostRow {
	cur := row.BillingCurrency
	money := func(micros int64) domain.Money { return domain.Money{Micros: micros, Currency: cur} }
	c := domain.CostRow{
		BillingAccountID: row.BillingAccountID, BillingAccountName: row.BillingAccountName,
		SubAccountID: row.SubAccountID, SubAccountName: row.SubAccountName,
		ProviderName: row.ProviderName, PublisherName: row.PublisherName, InvoiceIssuerName: row.InvoiceIssuerName,
		BillingPeriodStart: row.BillingPeriodStart.UTC(), BillingPeriodEnd: row.BillingPeriodEnd.UTC(),
		ChargePeriodStart: row.ChargePeriodStart.UTC(), ChargePeriodEnd: row.ChargePeriodEnd.UTC(),
		ChargeCategory: row.ChargeCategory, ChargeClass: row.ChargeClass, ChargeDescription: row.ChargeDescription,
		ChargeFrequency: row.ChargeFrequency, BillingCurrency: cur,
		BilledCost: money(row.BilledCost), EffectiveCost: money(row.EffectiveCost), ListCost: money(row.ListCost),
		ContractedCost: money(row.ContractedCost), ListUnitPrice: money(row.ListUnitPrice), ContractedUnitPrice: money(row.ContractedUnitPrice),
		PricingQuantity: row.PricingQuantity, PricingUnit: row.PricingUnit,
		ConsumedQuantity: row.ConsumedQuantity, ConsumedUnit: row.ConsumedUnit, PricingCategory: row.PricingCategory,
		ResourceID: row.ResourceID, ResourceName: row.ResourceName, ResourceType: row.ResourceType,
		RegionID: row.RegionID, RegionName: row.RegionName, AvailabilityZone: row.AvailabilityZone,
		ServiceName: row.ServiceName, ServiceCategory: row.ServiceCategory, ServiceSubcategory: row.ServiceSubcategory,
		SkuID: row.SkuID, SkuPriceID: row.SkuPriceID,
		CommitmentDiscountID: row.CommitmentDiscountID, CommitmentDiscountType: row.CommitmentDiscountType,
		CommitmentDiscountStatus:   row.CommitmentDiscountStatus,
		CommitmentDiscountCategory: row.CommitmentDiscountCategory, CommitmentDiscountName: row.CommitmentDiscountName,
		CommitmentDiscountQuantity: row.CommitmentDiscountQuantity, CommitmentDiscountUnit: row.CommitmentDiscountUnit,
		InvoiceID: row.InvoiceID,
		Tags:      row.Tags, XCloud: domain.Cloud(row.XCloud), XSourceFormat: row.XSourceFormat,
		XUsageType: row.XUsageType, XOperation: row.XOperation, XChargeType: row.XChargeType,
	}
	if len(c.Tags) == 0 {
		c.Tags = nil
	}
	return c
}

// costUsageRow is the projection of costRow that prices resources; a
// reader of it decodes only these columns.
type costUsageRow struct {
	BillingAccountID  string    `parquet:"BillingAccountId,dict"`
	SubAccountID      string    `parquet:"SubAccountId,dict"`
	ChargePeriodStart time.Time `parquet:"ChargePeriodStart,timestamp(microsecond)"`
	ChargePeriodEnd   time.Time `parquet:"ChargePeriodEnd,timestamp(microsecond)"`
	ChargeCategory    string    `parquet:"ChargeCategory,dict"`
	BillingCurrency   string    `parquet:"BillingCurrency,dict"`
	BilledCost        int64     `parquet:"BilledCost,decimal(6:18)"`
	EffectiveCost     int64     `parquet:"EffectiveCost,decimal(6:18)"`
	ListCost          int64     `parquet:"ListCost,decimal(6:18)"`
	ContractedCost    int64     `parquet:"ContractedCost,decimal(6:18)"`
	ResourceID        string    `parquet:"ResourceId"`
	RegionID          string    `parquet:"RegionId,dict"`
	ServiceName       string    `parquet:"ServiceName,dict"`
	XCloud            string    `parquet:"x_Cloud,dict"`
}

func (row *costUsageRow) domain() domain.CostRow {
	cur := row.BillingCurrency
	money := func(micros int64) domain.Money { return domain.Money{Micros: micros, Currency: cur} }
	return domain.CostRow{
		BillingAccountID: row.BillingAccountID, SubAccountID: row.SubAccountID,
		ChargePeriodStart: row.ChargePeriodStart.UTC(), ChargePeriodEnd: row.ChargePeriodEnd.UTC(),
		ChargeCategory: row.ChargeCategory, BillingCurrency: cur,
		BilledCost: money(row.BilledCost), EffectiveCost: money(row.EffectiveCost), ListCost: money(row.ListCost),
		ContractedCost: money(row.ContractedCost), ResourceID: row.ResourceID, RegionID: row.RegionID,
		ServiceName: row.ServiceName, XCloud: domain.Cloud(row.XCloud),
	}
}
