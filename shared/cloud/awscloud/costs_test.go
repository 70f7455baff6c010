package awscloud_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// costKey is what Cost Explorer can tell rows apart by: the day and
// either the service and region or the resource.
type costKey struct {
	Day      int64 // ChargePeriodStart, epoch seconds
	Service  string
	Region   string
	Resource string
}

// costValue is what Cost Explorer carries of a row.
type costValue struct {
	Billed, Effective int64 // micro-USD
	Quantity          float64
	Unit              string
	Rows              int
}

// ceServiceOf is the Cost Explorer service of a simulated row: instance
// hours are EC2 - Compute, volumes and snapshots EC2 - Other, public
// IPv4 addresses Amazon VPC.
func ceServiceOf(r domain.CostRow) string {
	switch r.ResourceType {
	case "Virtual Machine":
		return awscloud.ServiceEC2Compute
	case "IP Address":
		return "Amazon Virtual Private Cloud"
	}
	return "EC2 - Other"
}

// projectEstate sums the estate's rows as Cost Explorer reports them:
// by day, service and region, and, when byResource, the instance rows
// by day and instance instead.
func projectEstate(t *testing.T, est *simcloud.Estate, account string, w collect.Window, byResource func(day time.Time) bool) map[costKey]costValue {
	t.Helper()
	out := map[costKey]costValue{}
	err := est.Cloud(domain.AWS).CostRows(context.Background(), account, w, func(rows []domain.CostRow) error {
		for _, r := range rows {
			k := costKey{Day: r.ChargePeriodStart.Unix(), Service: ceServiceOf(r), Region: r.RegionID}
			if k.Service == awscloud.ServiceEC2Compute && byResource != nil && byResource(r.ChargePeriodStart) {
				k.Resource = r.ResourceID
			}
			v := out[k]
			v.Billed += r.BilledCost.Micros
			v.Effective += r.EffectiveCost.Micros
			v.Quantity += r.ConsumedQuantity
			v.Unit = r.ConsumedUnit
			v.Rows++
			out[k] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range out {
		v.Rows = 1
		out[k] = v
	}
	return out
}

// projectProvider reads the provider's rows the same way, checking what
// every row must carry.
func projectProvider(t *testing.T, p *awscloud.Provider, account string, w collect.Window) (map[costKey]costValue, error) {
	t.Helper()
	out := map[costKey]costValue{}
	calls := 0
	err := p.CostRows(context.Background(), account, w, func(rows []domain.CostRow) error {
		calls++
		if len(rows) == 0 {
			t.Error("fn called with no rows")
		}
		for _, r := range rows {
			if r.SubAccountID != account || r.ProviderName != "AWS" || r.BillingCurrency != "USD" ||
				r.ChargeCategory != domain.ChargeUsage || r.XCloud != domain.AWS ||
				!r.ChargePeriodEnd.Equal(r.ChargePeriodStart.Add(24*time.Hour)) ||
				r.BilledCost.Currency != "USD" || r.EffectiveCost.Currency != "USD" ||
				!r.BillingPeriodStart.Equal(time.Date(r.ChargePeriodStart.Year(), r.ChargePeriodStart.Month(), 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("row %+v lacks what every row carries", r)
			}
			k := costKey{Day: r.ChargePeriodStart.Unix(), Service: r.ServiceName, Region: r.RegionID, Resource: r.ResourceID}
			v := out[k]
			v.Billed += r.BilledCost.Micros
			v.Effective += r.EffectiveCost.Micros
			v.Quantity += r.ConsumedQuantity
			v.Unit = r.ConsumedUnit
			v.Rows++
			out[k] = v
		}
		return nil
	})
	return out, err
}

var approx = cmpopts.EquateApprox(0, 1e-9)

// TestCostRowsEqualTheEstates reads each account's cost through the SDK
// and the Cost Explorer fake, one group a page, and finds the estate's
// rows summed by day, Cost Explorer service and region: amounts exact to
// the micro-dollar, quantities in the rows' units.
func TestCostRowsEqualTheEstates(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{CostPageSize: 3})
	for _, account := range est.Accounts(domain.AWS) {
		t.Run(account, func(t *testing.T) {
			p := newDataProvider(t, srv, account, 2, false)
			want := projectEstate(t, est, account, demoWindow, nil)
			got, err := projectProvider(t, p, account, demoWindow)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatal("the estate has no cost rows")
			}
			if diff := cmp.Diff(want, got, approx); diff != "" {
				t.Errorf("CostRows through Cost Explorer (-estate +provider):\n%s", diff)
			}
		})
	}
	if n := countCalls(srv, "ce", "GetCostAndUsage", ""); n < 10 {
		t.Errorf("%d GetCostAndUsage calls, want many pages", n)
	}
	if n := countCalls(srv, "ce", "GetCostAndUsageWithResources", "*"); n != 0 {
		t.Errorf("%d resource-level calls without CostByResource", n)
	}
}

// TestCostRowsByResource reads instance cost per instance: the rows of
// the days within 14 days of the window's end carry the instance's ID
// and equal the estate's, the EC2 instance usage of those days is not
// also counted at service level, and the other services are as before.
func TestCostRowsByResource(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{ResourceLevelCost: true, CostPageSize: 4})
	for _, w := range []collect.Window{demoWindow, {Start: demoNow.Add(-30 * 24 * time.Hour), End: demoNow}, {Start: demoNow.Add(-3 * 24 * time.Hour), End: demoNow.Add(-25 * time.Hour)}} {
		for _, account := range est.Accounts(domain.AWS) {
			t.Run(account+"/"+w.Start.Format(time.DateOnly), func(t *testing.T) {
				p := newDataProvider(t, srv, account, 2, true)
				end := w.End.Truncate(24 * time.Hour)
				if !end.Equal(w.End) {
					end = end.Add(24 * time.Hour)
				}
				resFrom := end.AddDate(0, 0, -awscloud.ResourceCostDays)
				want := projectEstate(t, est, account, w, func(day time.Time) bool { return !day.Before(resFrom) })
				got, err := projectProvider(t, p, account, w)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, approx); diff != "" {
					t.Errorf("CostRows with resource-level cost (-estate +provider):\n%s", diff)
				}
				withID := 0
				for k := range got {
					if k.Resource != "" {
						withID++
					}
				}
				if withID == 0 {
					t.Error("no row carries a ResourceId")
				}
			})
		}
	}
	for _, c := range srv.Calls() {
		if c.Service == "ce" && c.Code != "" {
			t.Errorf("call %s answered %s", c.Op, c.Code)
		}
	}
	if n := countCalls(srv, "ce", "GetCostAndUsageWithResources", ""); n < 6 {
		t.Errorf("%d resource-level calls, want pages of them", n)
	}
}

// TestCostRowsByResourceSinceOptIn: resource-level data enabled three
// days ago has no rows for the days before; the instance usage of those
// days stays at service level, whole.
func TestCostRowsByResourceSinceOptIn(t *testing.T) {
	since := demoNow.Truncate(24*time.Hour).AddDate(0, 0, -3)
	est, srv := newDataFake(t, awsfake.DataOptions{ResourceLevelCost: true, ResourceLevelSince: since})
	for _, account := range est.Accounts(domain.AWS) {
		p := newDataProvider(t, srv, account, 2, true)
		want := projectEstate(t, est, account, demoWindow, func(day time.Time) bool { return !day.Before(since) })
		got, err := projectProvider(t, p, account, demoWindow)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, approx); diff != "" {
			t.Errorf("CostRows of %s (-estate +provider):\n%s", account, diff)
		}
		service := 0
		for k := range got {
			if k.Service == awscloud.ServiceEC2Compute && k.Resource == "" {
				service++
			}
		}
		if service == 0 {
			t.Errorf("%s: no service-level instance usage before the opt-in", account)
		}
	}
}

// TestCostRowsWithoutResourceLevelData: an account that has not enabled
// resource-level data answers DataUnavailableException; the provider
// reads the service-level cost alone.
func TestCostRowsWithoutResourceLevelData(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	account := est.Accounts(domain.AWS)[0]
	p := newDataProvider(t, srv, account, 2, true)
	got, err := projectProvider(t, p, account, demoWindow)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(projectEstate(t, est, account, demoWindow, nil), got, approx); diff != "" {
		t.Errorf("CostRows (-estate +provider):\n%s", diff)
	}
	if n := countCalls(srv, "ce", "GetCostAndUsageWithResources", "DataUnavailableException"); n != 1 {
		t.Errorf("%d DataUnavailableException answers, want 1", n)
	}
}

// TestCostRowsOfAnAccountWithoutData: no call of fn, no error.
func TestCostRowsOfAnAccountWithoutData(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	account := est.Accounts(domain.AWS)[0]
	p := newDataProvider(t, srv, account, 2, true)
	for _, tt := range []struct {
		account string
		w       collect.Window
	}{
		{"999999999999", demoWindow},
		{account, collect.Window{Start: demoNow.AddDate(0, -6, 0), End: demoNow.AddDate(0, -5, 0)}},
		{account, collect.Window{Start: demoNow, End: demoNow}},
	} {
		err := p.CostRows(context.Background(), tt.account, tt.w, func(rows []domain.CostRow) error {
			t.Errorf("CostRows(%s, %v) called fn with %d rows", tt.account, tt.w, len(rows))
			return nil
		})
		if err != nil {
			t.Errorf("CostRows(%s, %v) = %v, want nil", tt.account, tt.w, err)
		}
	}
}

// TestCostRowsErrors: throttling (LimitExceededException) is retried and
// then mapped; a denied call is a permission error; fn's error stops.
func TestCostRowsErrors(t *testing.T) {
	for _, tt := range []struct {
		name, op, code string
		status, n      int
		kind           error
		calls          int // GetCostAndUsage calls before the first success or failure
	}{
		{"throttled then served", "GetCostAndUsage", "LimitExceededException", http.StatusBadRequest, 2, nil, 3},
		{"throttled out", "GetCostAndUsage", "LimitExceededException", http.StatusBadRequest, 9, domain.ErrThrottled, 3},
		{"access denied", "GetCostAndUsage", "AccessDeniedException", http.StatusBadRequest, 1, domain.ErrPermission, 1},
		{"resources denied", "GetCostAndUsageWithResources", "AccessDeniedException", http.StatusBadRequest, 1, domain.ErrPermission, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			est, srv := newDataFake(t, awsfake.DataOptions{ResourceLevelCost: true})
			account := est.Accounts(domain.AWS)[0]
			p := newDataProvider(t, srv, account, 3, true)
			srv.Fail("ce", tt.op, "", tt.n, tt.code, tt.status)
			rows := 0
			err := p.CostRows(context.Background(), account, demoWindow, func(r []domain.CostRow) error { rows += len(r); return nil })
			if (tt.kind == nil) != (err == nil) || (tt.kind != nil && !errors.Is(err, tt.kind)) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			if tt.kind == nil && rows == 0 {
				t.Error("no rows")
			}
			if n := countCalls(srv, "ce", "GetCostAndUsage", tt.code); n != min(tt.n, tt.calls) && tt.op == "GetCostAndUsage" {
				t.Errorf("%d GetCostAndUsage calls answered %s, want %d", n, tt.code, min(tt.n, tt.calls))
			}
			if n := countCalls(srv, "ce", "GetCostAndUsage", "*"); n != tt.calls {
				t.Errorf("%d GetCostAndUsage calls, want %d", n, tt.calls)
			}
			t.Log(err)
		})
	}
	est, srv := newDataFake(t, awsfake.DataOptions{CostPageSize: 2})
	account := est.Accounts(domain.AWS)[0]
	p := newDataProvider(t, srv, account, 2, false)
	stop := errors.New("stop")
	before := 0
	err := p.CostRows(context.Background(), account, demoWindow, func([]domain.CostRow) error {
		before = countCalls(srv, "ce", "GetCostAndUsage", "*")
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("fn's error: err = %v, want it returned", err)
	}
	if n := countCalls(srv, "ce", "GetCostAndUsage", "*"); n != before {
		t.Errorf("%d calls after fn failed, want none", n-before)
	}
}

// TestCostExplorerFakeRefusesWhatAWSRefuses drives the fake with the SDK
// directly, and checks what a payer and a member account see.
func TestCostExplorerFakeRefusesWhatAWSRefuses(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{ResourceLevelCost: true})
	accounts := est.Accounts(domain.AWS)
	cfg := srv.Config(accounts[0])
	cfg.RetryMaxAttempts = 1
	c := costexplorer.NewFromConfig(cfg)
	ctx := context.Background()
	period := func(start, end string) *cetypes.DateInterval {
		return &cetypes.DateInterval{Start: aws.String(start), End: aws.String(end)}
	}
	group := func(keys ...string) []cetypes.GroupDefinition {
		var out []cetypes.GroupDefinition
		for _, k := range keys {
			out = append(out, cetypes.GroupDefinition{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String(k)})
		}
		return out
	}
	usage := func(in *costexplorer.GetCostAndUsageInput) error {
		if in.Granularity == "" {
			in.Granularity = cetypes.GranularityDaily
		}
		if in.Metrics == nil {
			in.Metrics = []string{"UnblendedCost"}
		}
		_, err := c.GetCostAndUsage(ctx, in)
		return err
	}
	for _, tt := range []struct {
		name string
		call func() error
		code string
	}{
		{"three group-bys", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2026-11-16", "2026-11-23"), GroupBy: group("SERVICE", "REGION", "LINKED_ACCOUNT")})
		}, "ValidationException"},
		{"end before start", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2026-11-23", "2026-11-16")})
		}, "ValidationException"},
		{"end equals start", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2026-11-23", "2026-11-23")})
		}, "ValidationException"},
		{"a time in a daily period", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2026-11-16T00:00:00Z", "2026-11-23")})
		}, "ValidationException"},
		{"no metrics", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2026-11-16", "2026-11-23"), Metrics: []string{}})
		}, "ValidationException"},
		{"resource group in GetCostAndUsage", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2026-11-16", "2026-11-23"), GroupBy: group("RESOURCE_ID")})
		}, "ValidationException"},
		{"older than 14 months", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2025-01-01", "2025-02-01")})
		}, "BillExpirationException"},
		{"resources without the EC2 filter", func() error {
			_, err := c.GetCostAndUsageWithResources(ctx, &costexplorer.GetCostAndUsageWithResourcesInput{TimePeriod: period("2026-11-16", "2026-11-23"),
				Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"}, GroupBy: group("RESOURCE_ID"),
				Filter: &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionLinkedAccount, Values: accounts[:1]}}})
			return err
		}, "ValidationException"},
		{"resources older than 14 days", func() error {
			_, err := c.GetCostAndUsageWithResources(ctx, &costexplorer.GetCostAndUsageWithResourcesInput{TimePeriod: period("2026-11-01", "2026-11-23"),
				Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"}, GroupBy: group("RESOURCE_ID"),
				Filter: &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionService, Values: []string{awscloud.ServiceEC2Compute}}}})
			return err
		}, "ValidationException"},
		{"foreign page token", func() error {
			return usage(&costexplorer.GetCostAndUsageInput{TimePeriod: period("2026-11-16", "2026-11-23"), NextPageToken: aws.String("bm9wZQ")})
		}, "InvalidNextTokenException"},
	} {
		err := tt.call()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != tt.code {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
		}
	}

	// The payer sees its linked accounts; a member account sees only itself.
	payer, member := "", ""
	_ = est.Cloud(domain.AWS).CostRows(ctx, accounts[0], demoWindow, func(rows []domain.CostRow) error {
		payer = rows[0].BillingAccountID
		return nil
	})
	for _, a := range accounts {
		if a != payer {
			member = a
		}
	}
	if payer == "" || member == "" {
		t.Fatalf("the demo estate has payer %q and member %q; the test needs both", payer, member)
	}
	sees := func(caller, account string) bool {
		cfg := srv.Config(caller)
		out, err := costexplorer.NewFromConfig(cfg).GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
			TimePeriod: period("2026-11-16", "2026-11-23"), Granularity: cetypes.GranularityMonthly, Metrics: []string{"UnblendedCost"},
			Filter: &cetypes.Expression{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionLinkedAccount, Values: []string{account}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ResultsByTime) != 1 || out.ResultsByTime[0].Total["UnblendedCost"].Amount == nil {
			t.Fatalf("monthly total: %+v", out.ResultsByTime)
		}
		m, err := domain.ParseMoney(*out.ResultsByTime[0].Total["UnblendedCost"].Amount, "USD")
		return err == nil && m.Micros > 0
	}
	if !sees(payer, member) || sees(member, payer) || !sees(member, member) {
		t.Errorf("payer sees member: %v, member sees payer: %v, member sees itself: %v; want true, false, true",
			sees(payer, member), sees(member, payer), sees(member, member))
	}
}
