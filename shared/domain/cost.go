package domain

import "time"

// FOCUS charge categories.
const (
	ChargeUsage      = "Usage"
	ChargePurchase   = "Purchase"
	ChargeTax        = "Tax"
	ChargeCredit     = "Credit"
	ChargeAdjustment = "Adjustment"
)

// CostRow is one row of cost data in the FinOps FOCUS 1.2 shape. Field
// names follow the FOCUS column names; amounts are exact Money in the
// row's BillingCurrency. Columns FOCUS lacks carry an X prefix (x_ in
// storage).
type CostRow struct {
	BillingAccountID         string    `json:"BillingAccountId"`
	BillingAccountName       string    `json:"BillingAccountName,omitempty"`
	SubAccountID             string    `json:"SubAccountId"`
	SubAccountName           string    `json:"SubAccountName,omitempty"`
	ProviderName             string    `json:"ProviderName"`
	PublisherName            string    `json:"PublisherName,omitempty"`
	InvoiceIssuerName        string    `json:"InvoiceIssuerName,omitempty"`
	BillingPeriodStart       time.Time `json:"BillingPeriodStart"`
	BillingPeriodEnd         time.Time `json:"BillingPeriodEnd"`
	ChargePeriodStart        time.Time `json:"ChargePeriodStart"`
	ChargePeriodEnd          time.Time `json:"ChargePeriodEnd"`
	ChargeCategory           string    `json:"ChargeCategory"`
	ChargeClass              string    `json:"ChargeClass,omitempty"`
	ChargeDescription        string    `json:"ChargeDescription,omitempty"`
	ChargeFrequency          string    `json:"ChargeFrequency,omitempty"`
	BillingCurrency          string    `json:"BillingCurrency"`
	BilledCost               Money     `json:"BilledCost"`
	EffectiveCost            Money     `json:"EffectiveCost"`
	ListCost                 Money     `json:"ListCost"`
	ContractedCost           Money     `json:"ContractedCost"`
	ListUnitPrice            Money     `json:"ListUnitPrice"`
	ContractedUnitPrice      Money     `json:"ContractedUnitPrice"`
	PricingQuantity          float64   `json:"PricingQuantity"`
	PricingUnit              string    `json:"PricingUnit,omitempty"`
	ConsumedQuantity         float64   `json:"ConsumedQuantity"`
	ConsumedUnit             string    `json:"ConsumedUnit,omitempty"`
	PricingCategory          string    `json:"PricingCategory,omitempty"`
	ResourceID               string    `json:"ResourceId,omitempty"`
	ResourceName             string    `json:"ResourceName,omitempty"`
	ResourceType             string    `json:"ResourceType,omitempty"`
	RegionID                 string    `json:"RegionId,omitempty"`
	RegionName               string    `json:"RegionName,omitempty"`
	AvailabilityZone         string    `json:"AvailabilityZone,omitempty"`
	ServiceName              string    `json:"ServiceName,omitempty"`
	ServiceCategory          string    `json:"ServiceCategory,omitempty"`
	ServiceSubcategory       string    `json:"ServiceSubcategory,omitempty"`
	SkuID                    string    `json:"SkuId,omitempty"`
	SkuPriceID               string    `json:"SkuPriceId,omitempty"`
	CommitmentDiscountID     string    `json:"CommitmentDiscountId,omitempty"`
	CommitmentDiscountType   string    `json:"CommitmentDiscountType,omitempty"`
	CommitmentDiscountStatus string    `json:"CommitmentDiscountStatus,omitempty"`
	// CommitmentDiscountCategory is "Spend" or "Usage".
	CommitmentDiscountCategory string            `json:"CommitmentDiscountCategory,omitempty"`
	CommitmentDiscountName     string            `json:"CommitmentDiscountName,omitempty"`
	CommitmentDiscountQuantity float64           `json:"CommitmentDiscountQuantity,omitempty"`
	CommitmentDiscountUnit     string            `json:"CommitmentDiscountUnit,omitempty"`
	InvoiceID                  string            `json:"InvoiceId,omitempty"`
	Tags                       map[string]string `json:"Tags,omitempty"`
	XCloud                     Cloud             `json:"x_Cloud"`
	XSourceFormat              string            `json:"x_SourceFormat,omitempty"`
	// XUsageType is the source's own name for what was used (AWS
	// lineItem/UsageType, Azure MeterName, Google sku.description).
	XUsageType string `json:"x_UsageType,omitempty"`
	// XOperation is the source's operation (AWS lineItem/Operation).
	XOperation string `json:"x_Operation,omitempty"`
	// XChargeType is the source's own charge type before mapping to
	// ChargeCategory (AWS lineItem/LineItemType, Azure ChargeType,
	// Google cost_type).
	XChargeType string `json:"x_ChargeType,omitempty"`
}
