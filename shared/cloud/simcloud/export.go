package simcloud

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Billing events the exported bills carry for a cost monitor to find.
const (
	// SpikeDaysAgo is the day (before the estate's clock) on which the
	// first AWS account's NAT gateway moves four times its usual data.
	SpikeDaysAgo = 2
	// NewServiceDaysAgo is the day the second AWS account starts using a
	// service it never used before.
	NewServiceDaysAgo = 3
	// NewServiceName is that service.
	NewServiceName = "Amazon SageMaker"
)

// ExportBilling writes the estate's bills for the days whole UTC days
// before its clock in each cloud's own export format, under dir:
//
//   - aws: a legacy Cost and Usage Report per billing month (gzip CSV with
//     slash-style headers, and its Manifest.json, laid out as CUR writes
//     them to S3);
//   - azure: an EA cost details CSV per month (MM/DD/YYYY dates);
//   - gcp: a BigQuery billing export per month as JSON lines (nested
//     service, sku, project, labels and credits; list price in cost, the
//     negotiated discount as a credit).
//
// Besides the inventoried resources' usage, each account's bill has the
// usage every real bill has and no inventory lists (data transfer,
// requests) with a weekly pattern and a slow growth, and two events a
// cost monitor should flag: a NAT gateway data spike (SpikeDaysAgo) and a
// new service (NewServiceDaysAgo). It returns the files written.
func (e *Estate) ExportBilling(dir string, days int) ([]string, error) {
	if days < 1 || days > 400 {
		return nil, fmt.Errorf("%w: export billing: days %d outside 1..400", domain.ErrInvalid, days)
	}
	e.mu.Lock()
	today := e.now.UTC().Truncate(24 * time.Hour)
	byMonth := map[domain.Cloud]map[string][]domain.CostRow{}
	memo := newRowMemo()
	for ai, a := range e.accounts {
		for d := days; d >= 1; d-- {
			day := today.AddDate(0, 0, -d)
			rows := e.dayRowsLocked(ai, day, memo)
			rows = append(rows, extraRows(e, ai, day, d, days)...)
			month := day.Format("2006-01")
			if byMonth[a.cloud] == nil {
				byMonth[a.cloud] = map[string][]domain.CostRow{}
			}
			byMonth[a.cloud][month] = append(byMonth[a.cloud][month], rows...)
		}
	}
	e.mu.Unlock()

	var files []string
	for _, c := range domain.Clouds {
		months := make([]string, 0, len(byMonth[c]))
		for m := range byMonth[c] {
			months = append(months, m)
		}
		sort.Strings(months)
		for _, m := range months {
			rows := byMonth[c][m]
			var written []string
			var err error
			switch c {
			case domain.AWS:
				written, err = writeCUR(dir, m, rows)
			case domain.Azure:
				written, err = writeAzureEA(dir, m, rows)
			case domain.GCP:
				written, err = writeGCPJSON(dir, m, rows)
			}
			if err != nil {
				return nil, fmt.Errorf("export billing %s %s: %w", c, m, err)
			}
			files = append(files, written...)
		}
	}
	return files, nil
}

// extraRows is the account-level usage of one day: data transfer with a
// weekly pattern (weekends at 60%), growing 0.3% a day, and the events.
func extraRows(e *Estate, ai int, day time.Time, daysAgo, span int) []domain.CostRow {
	a := e.accounts[ai]
	weekly := 1.0
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		weekly = 0.6
	}
	growth := 1 + 0.003*float64(span-daysAgo)
	// A small deterministic wobble, the same in every run.
	wobble := 1 + 0.04*math.Sin(float64(day.Unix()/86400)*1.7+float64(ai))
	base := 40 + 15*float64(ai%5)
	month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	row := func(svc, cat, resID, usage string, amount float64) domain.CostRow {
		eff := domain.FromFloat(amount*(1-float64(a.discountBP)/10_000), "USD")
		gb := math.Round(amount/0.09*1000) / 1000
		return domain.CostRow{
			BillingAccountID: a.billing, SubAccountID: a.id, SubAccountName: a.name,
			ProviderName: providerNames[a.cloud], PublisherName: providerNames[a.cloud], InvoiceIssuerName: providerNames[a.cloud],
			BillingPeriodStart: month, BillingPeriodEnd: month.AddDate(0, 1, 0),
			ChargePeriodStart: day, ChargePeriodEnd: day.Add(24 * time.Hour),
			ChargeCategory: domain.ChargeUsage, ChargeDescription: usage, ChargeFrequency: "Usage-Based",
			BillingCurrency: "USD", BilledCost: eff, EffectiveCost: eff, ListCost: domain.FromFloat(amount, "USD"), ContractedCost: eff,
			ListUnitPrice: domain.FromFloat(0.09, "USD"), ContractedUnitPrice: domain.FromFloat(0.09*(1-float64(a.discountBP)/10_000), "USD"),
			PricingQuantity: gb, PricingUnit: "GB", ConsumedQuantity: gb, ConsumedUnit: "GB", PricingCategory: "Standard",
			ResourceID: resID, RegionID: a.regions[0], ServiceName: svc, ServiceCategory: cat, SkuID: usage,
			XCloud: a.cloud, XUsageType: usage,
		}
	}
	transfer := map[domain.Cloud]string{domain.AWS: "AWS Data Transfer", domain.Azure: "Bandwidth", domain.GCP: "Networking"}[a.cloud]
	amount := base * weekly * growth * wobble
	rows := []domain.CostRow{row(transfer, "Networking", "", "DataTransfer-Out-Bytes", amount)}
	awsIndex := 0
	for i := 0; i < ai; i++ {
		if e.accounts[i].cloud == domain.AWS {
			awsIndex++
		}
	}
	if a.cloud == domain.AWS {
		nat := "nat-0" + fmt.Sprintf("%016x", uint64(ai)*0x9e3779b97f4a7c15)
		natGB := 12 * weekly * growth * wobble
		if awsIndex == 0 && daysAgo == SpikeDaysAgo {
			natGB *= 4
		}
		rows = append(rows, row("Amazon Virtual Private Cloud", "Networking", nat, "NatGateway-Bytes", natGB))
		if awsIndex == 1 && daysAgo <= NewServiceDaysAgo {
			rows = append(rows, row(NewServiceName, "AI and Machine Learning",
				"arn:aws:sagemaker:"+a.regions[0]+":"+a.id+":notebook-instance/experiment-1", "ml.p3.2xlarge-Notebook", 84))
		}
	}
	return rows
}

func money(m domain.Money) string { return strconv.FormatFloat(float64(m.Micros)/1e6, 'f', -1, 64) }

func qty(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func writeFile(path string, write func(f *os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var curColumns = []string{
	"identity/LineItemId", "identity/TimeInterval", "bill/InvoiceId", "bill/BillingEntity", "bill/BillType", "bill/PayerAccountId",
	"bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate", "lineItem/UsageAccountId", "lineItem/LineItemType",
	"lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation",
	"lineItem/AvailabilityZone", "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/CurrencyCode", "lineItem/UnblendedRate",
	"lineItem/UnblendedCost", "lineItem/BlendedRate", "lineItem/BlendedCost", "lineItem/LineItemDescription", "product/ProductName",
	"product/region", "product/sku", "pricing/publicOnDemandCost", "pricing/publicOnDemandRate", "pricing/term", "pricing/unit",
	"resourceTags/user:app", "resourceTags/user:env", "resourceTags/user:team",
}

// writeCUR writes one month as CUR does: <report>/<period>/<assembly>/
// <report>-00001.csv.gz and <report>/<period>/<report>-Manifest.json,
// keys relative to the bucket (dir/aws).
func writeCUR(dir, month string, rows []domain.CostRow) ([]string, error) {
	start, _ := time.Parse("2006-01", month)
	period := start.Format("20060102") + "-" + start.AddDate(0, 1, 0).Format("20060102")
	assembly := "6f1c2a7e-0000-4000-8000-" + start.Format("200601") + "000000"
	key := "cur/cloudtrim-demo/" + period + "/" + assembly + "/cloudtrim-demo-00001.csv.gz"
	bucket := filepath.Join(dir, "aws")
	data := filepath.Join(bucket, filepath.FromSlash(key))
	err := writeFile(data, func(f *os.File) error {
		zw := gzip.NewWriter(f)
		w := csv.NewWriter(zw)
		w.Write(curColumns)
		for i, r := range rows {
			code := map[string]string{"Amazon EC2": "AmazonEC2", "Amazon EBS": "AmazonEC2", "AWS Data Transfer": "AWSDataTransfer",
				"Amazon Virtual Private Cloud": "AmazonVPC", NewServiceName: "AmazonSageMaker",
				"Amazon Simple Storage Service": "AmazonS3"}[r.ServiceName]
			if code == "" {
				code = "AmazonEC2"
			}
			rate := 0.0
			if r.PricingQuantity != 0 {
				rate = float64(r.BilledCost.Micros) / 1e6 / r.PricingQuantity
			}
			w.Write([]string{
				fmt.Sprintf("%s-%07d", month, i), r.ChargePeriodStart.Format(time.RFC3339) + "/" + r.ChargePeriodEnd.Format(time.RFC3339),
				"", "AWS", "Anniversary", r.BillingAccountID,
				r.BillingPeriodStart.Format(time.RFC3339), r.BillingPeriodEnd.Format(time.RFC3339), r.SubAccountID, "Usage",
				r.ChargePeriodStart.Format(time.RFC3339), r.ChargePeriodEnd.Format(time.RFC3339), code, usageType(r), "RunInstances",
				r.AvailabilityZone, r.ResourceID, qty(r.PricingQuantity), "USD", qty(rate),
				money(r.BilledCost), qty(rate), money(r.BilledCost), r.ChargeDescription, r.ServiceName,
				r.RegionID, r.SkuID, money(r.ListCost), qty(float64(r.ListUnitPrice.Micros) / 1e6), "OnDemand", r.PricingUnit,
				r.Tags["app"], r.Tags["env"], r.Tags["team"],
			})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return nil, err
	}
	manifest := filepath.Join(bucket, "cur", "cloudtrim-demo", period, "cloudtrim-demo-Manifest.json")
	cols := make([]map[string]string, len(curColumns))
	for i, c := range curColumns {
		cat, name, _ := cutSlash(c)
		cols[i] = map[string]string{"category": cat, "name": name}
	}
	m := map[string]any{
		"assemblyId": assembly, "account": rows[0].BillingAccountID, "columns": cols, "charset": "UTF-8",
		"compression": "GZIP", "contentType": "text/csv", "reportId": "cloudtrim-demo", "reportName": "cloudtrim-demo",
		"billingPeriod": map[string]string{"start": start.Format("20060102T150405.000Z"), "end": start.AddDate(0, 1, 0).Format("20060102T150405.000Z")},
		"bucket":        "cloudtrim-demo-cur", "reportKeys": []string{key}, "additionalArtifactKeys": []any{},
	}
	err = writeFile(manifest, func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
	if err != nil {
		return nil, err
	}
	return []string{manifest, data}, nil
}

func cutSlash(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

func usageType(r domain.CostRow) string {
	if r.XUsageType != "" {
		return r.XUsageType
	}
	return r.RegionID + ":" + r.SkuID
}

var azureColumns = []string{
	"BillingAccountId", "BillingAccountName", "BillingPeriodStartDate", "BillingPeriodEndDate", "SubscriptionId", "SubscriptionName",
	"Date", "MeterCategory", "MeterSubCategory", "MeterName", "MeterId", "Quantity", "EffectivePrice", "Cost", "UnitPrice", "PayGPrice",
	"BillingCurrency", "ResourceLocation", "ConsumedService", "ResourceId", "ResourceName", "Tags", "ChargeType", "Frequency",
	"PricingModel", "UnitOfMeasure", "ResourceGroup", "PublisherType", "PublisherName",
}

func writeAzureEA(dir, month string, rows []domain.CostRow) ([]string, error) {
	path := filepath.Join(dir, "azure", "ea-actualcost-"+month+".csv")
	err := writeFile(path, func(f *os.File) error {
		w := csv.NewWriter(f)
		w.Write(azureColumns)
		for _, r := range rows {
			tags := ""
			if len(r.Tags) > 0 {
				b, _ := json.Marshal(r.Tags)
				tags = string(b)
			}
			consumed := "Microsoft.Compute"
			if r.ServiceName == "Bandwidth" {
				consumed = "Microsoft.Network"
			}
			price := 0.0
			if r.PricingQuantity != 0 {
				price = float64(r.BilledCost.Micros) / 1e6 / r.PricingQuantity
			}
			w.Write([]string{
				r.BillingAccountID, "Contoso EA", r.BillingPeriodStart.Format("01/02/2006"), r.BillingPeriodEnd.AddDate(0, 0, -1).Format("01/02/2006"),
				r.SubAccountID, r.SubAccountName, r.ChargePeriodStart.Format("01/02/2006"), meterCategory(r), r.SkuID, r.SkuID, r.SkuPriceID,
				qty(r.PricingQuantity), qty(price), money(r.BilledCost), qty(price), qty(float64(r.ListUnitPrice.Micros) / 1e6),
				"USD", r.RegionID, consumed, r.ResourceID, r.ResourceName, tags, "Usage", "UsageBased",
				"OnDemand", azureUnit(r.PricingUnit), "", "Azure", "Microsoft",
			})
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return nil, err
	}
	return []string{path}, nil
}

func meterCategory(r domain.CostRow) string {
	switch r.ServiceName {
	case "Bandwidth":
		return "Bandwidth"
	case "Virtual Machines":
		return "Virtual Machines"
	}
	if r.ServiceName != "" {
		return r.ServiceName
	}
	return "Storage"
}

func azureUnit(u string) string {
	switch u {
	case domain.UnitHour:
		return "1 Hour"
	case domain.UnitGiBMonth:
		return "1 GB/Month"
	}
	return "1 " + u
}

func writeGCPJSON(dir, month string, rows []domain.CostRow) ([]string, error) {
	path := filepath.Join(dir, "gcp", "billing-export-"+month+".jsonl")
	err := writeFile(path, func(f *os.File) error {
		enc := json.NewEncoder(f)
		for _, r := range rows {
			labels := []map[string]string{}
			for _, k := range sortedTagKeys(r.Tags) {
				labels = append(labels, map[string]string{"key": k, "value": r.Tags[k]})
			}
			credits := []map[string]any{}
			if d := r.ListCost.Micros - r.BilledCost.Micros; d != 0 {
				credits = append(credits, map[string]any{"name": "Committed spend discount", "amount": -float64(d) / 1e6,
					"full_name": "Negotiated discount", "id": "", "type": "DISCOUNT"})
			}
			obj := map[string]any{
				"billing_account_id":       r.BillingAccountID,
				"service":                  map[string]string{"id": "6F81-5844-456A", "description": r.ServiceName},
				"sku":                      map[string]string{"id": r.SkuPriceID, "description": r.ChargeDescription},
				"usage_start_time":         r.ChargePeriodStart.Format("2006-01-02 15:04:05 UTC"),
				"usage_end_time":           r.ChargePeriodEnd.Format("2006-01-02 15:04:05 UTC"),
				"project":                  map[string]any{"id": r.SubAccountID, "name": r.SubAccountName, "labels": []any{}},
				"labels":                   labels,
				"system_labels":            []any{},
				"location":                 map[string]string{"location": r.RegionID, "country": "US", "region": r.RegionID, "zone": r.AvailabilityZone},
				"cost":                     float64(r.ListCost.Micros) / 1e6,
				"currency":                 "USD",
				"currency_conversion_rate": 1,
				"usage": map[string]any{"amount": r.ConsumedQuantity, "unit": r.ConsumedUnit,
					"amount_in_pricing_units": r.PricingQuantity, "pricing_unit": r.PricingUnit},
				"credits":   credits,
				"invoice":   map[string]string{"month": r.BillingPeriodStart.Format("200601")},
				"cost_type": "regular",
				"resource":  map[string]string{"name": r.ResourceName, "global_name": gcpGlobalName(r.ResourceID)},
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []string{path}, nil
}

func gcpGlobalName(id string) string {
	if id == "" {
		return ""
	}
	return "//compute.googleapis.com/" + id
}

func sortedTagKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
