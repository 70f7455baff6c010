package awscloud_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

// newDataFake serves the AWS part of the demo estate with the data
// APIs configured by data; Cost Explorer's clock is the estate's.
func newDataFake(t *testing.T, data awsfake.DataOptions) (*simcloud.Estate, *awsfake.Server) {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(simcloud.Demo(demoNow), prices)
	if err != nil {
		t.Fatal(err)
	}
	if data.Now == nil {
		data.Now = est.Now
	}
	srv := awsfake.New(est.Cloud(domain.AWS), awsfake.Options{Prices: prices, Data: data})
	t.Cleanup(srv.Close)
	return est, srv
}

// newDataProvider returns a provider acting as account against srv,
// retrying at most attempts times without waiting between attempts.
func newDataProvider(t *testing.T, srv *awsfake.Server, account string, attempts int, costByResource bool) *awscloud.Provider {
	t.Helper()
	cfg := srv.Config(account)
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	p, err := awscloud.New(context.Background(), awscloud.Config{AWS: cfg, MaxAttempts: -1, CostByResource: costByResource})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// vmsOf lists the VMs of a scope of the simulated estate.
func vmsOf(t *testing.T, est *simcloud.Estate, sc collect.Scope) []string {
	t.Helper()
	var ids []string
	err := est.Cloud(domain.AWS).Resources(context.Background(), sc, func(rs []domain.Resource) error {
		for _, r := range rs {
			if r.Kind == domain.KindVM {
				ids = append(ids, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

type seriesSource interface {
	Series(ctx context.Context, scope collect.Scope, vmIDs []string, window collect.Window, step time.Duration, fn func(domain.Series) error) error
}

// readSeries collects the series a source hands on, by resource and metric.
func readSeries(t *testing.T, src seriesSource, sc collect.Scope, ids []string, w collect.Window, step time.Duration) (map[string]domain.Series, error) {
	t.Helper()
	out := map[string]domain.Series{}
	err := src.Series(context.Background(), sc, ids, w, step, func(s domain.Series) error {
		if s.Metric == domain.MetricDiskRead || s.Metric == domain.MetricDiskWrite {
			return nil // the provider does not read disk traffic (see ec2Metrics)
		}
		k := s.ResourceID + "/" + string(s.Metric)
		if _, dup := out[k]; dup {
			t.Errorf("series %s handed on twice", k)
		}
		out[k] = s
		return nil
	})
	return out, err
}

// equateNaN makes missing points equal each other.
var equateNaN = cmp.Comparer(func(a, b float32) bool { return a == b || (domain.IsMissing(a) && domain.IsMissing(b)) })

var demoWindow = collect.Window{Start: demoNow.Add(-14 * 24 * time.Hour), End: demoNow}

// TestSeriesEqualTheEstates reads every scope's utilization through the
// SDK and the CloudWatch fake and finds exactly the simulated estate's
// own series: CPU for every VM, memory for VMs with an agent, whatever
// dimension set the agent publishes under, with the same gaps. Pages are
// forced small, so results continue across GetMetricData pages
// (PartialData) and ListMetrics pages.
func TestSeriesEqualTheEstates(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{MetricPageSize: 700, ListMetricsPageSize: 2})
	cloud := est.Cloud(domain.AWS)
	scopes, err := cloud.Scopes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	withAgent, withoutAgent := 0, 0
	for _, sc := range scopes {
		for _, step := range []time.Duration{time.Hour, 3 * time.Hour} {
			t.Run(fmt.Sprintf("%s/%s/%v", sc.Account, sc.Region, step), func(t *testing.T) {
				p := newDataProvider(t, srv, sc.Account, 2, false)
				ids := vmsOf(t, est, sc)
				want, err := readSeries(t, cloud, sc, ids, demoWindow, step)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readSeries(t, p, sc, ids, demoWindow, step)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, equateNaN); diff != "" {
					t.Errorf("Series through CloudWatch differ from the estate's (-want +got):\n%s", diff)
				}
				for _, id := range ids {
					if _, ok := want[id+"/"+string(domain.MetricMemory)]; ok {
						withAgent++
					} else {
						withoutAgent++
					}
				}
			})
		}
	}
	if withAgent == 0 || withoutAgent == 0 {
		t.Errorf("%d VM series with an agent, %d without; the estate should have both", withAgent, withoutAgent)
	}
	if n := countCalls(srv, "monitoring", "GetMetricData", ""); n < 8 {
		t.Errorf("%d GetMetricData calls, want pages (MetricPageSize 700)", n)
	}
}

// TestSeriesOfOneVM takes the small-batch path: memory dimension sets
// found per instance with a dimension filter.
func TestSeriesOfOneVM(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	cloud := est.Cloud(domain.AWS)
	account := est.Accounts(domain.AWS)[0]
	sc := collect.Scope{Account: account, Region: "us-east-1"}
	p := newDataProvider(t, srv, account, 2, false)
	for _, id := range vmsOf(t, est, sc) {
		want, err := readSeries(t, cloud, sc, []string{id}, demoWindow, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSeries(t, p, sc, []string{id, id}, demoWindow, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, equateNaN); diff != "" {
			t.Errorf("Series(%s) (-want +got):\n%s", id, diff)
		}
	}
}

// TestSeriesGridAndGaps checks the grid of a window that does not start
// on the step and ends after the estate's clock: points after the last
// datapoint are missing, never zero.
func TestSeriesGridAndGaps(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	account := est.Accounts(domain.AWS)[0]
	sc := collect.Scope{Account: account, Region: "us-east-1"}
	p := newDataProvider(t, srv, account, 2, false)
	ids := vmsOf(t, est, sc)
	w := collect.Window{Start: demoNow.Add(-48*time.Hour + 17*time.Minute), End: demoNow.Add(5 * time.Hour)}
	got, err := readSeries(t, p, sc, ids, w, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for k, s := range got {
		if !s.Start.Equal(demoNow.Add(-48*time.Hour)) || s.Step != time.Hour || len(s.Values) != 53 {
			t.Fatalf("%s: start %v step %v %d points, want %v, 1h, 53", k, s.Start, s.Step, len(s.Values), demoNow.Add(-48*time.Hour))
		}
		for _, v := range s.Values[48:] {
			if !domain.IsMissing(v) {
				t.Errorf("%s: a point after the estate's clock is %v, want missing", k, v)
			}
		}
	}
	if _, err := readSeries(t, p, sc, ids, w, 90*time.Second); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("step 90s: err = %v, want invalid", err)
	}
	if _, err := readSeries(t, p, collect.Scope{Account: "999999999999", Region: "us-east-1"}, ids, w, time.Hour); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("another account: err = %v, want permission", err)
	}
}

// TestSeriesWithoutAgentHasNoMemory: a VM whose agent reports nothing
// has a CPU series and no memory series, not a series of zeros.
func TestSeriesWithoutAgentHasNoMemory(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	cloud := est.Cloud(domain.AWS)
	without := 0
	for _, account := range est.Accounts(domain.AWS) {
		sc := collect.Scope{Account: account, Region: "us-east-1"}
		p := newDataProvider(t, srv, account, 2, false)
		ids := vmsOf(t, est, sc)
		want, _ := readSeries(t, cloud, sc, ids, demoWindow, time.Hour)
		got, err := readSeries(t, p, sc, ids, demoWindow, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		without += checkNoAgent(t, ids, want, got)
	}
	if without == 0 {
		t.Fatal("every VM of the estate has an agent; the test needs one without")
	}
}

// checkNoAgent checks the series of VMs without an agent and counts them.
func checkNoAgent(t *testing.T, ids []string, want, got map[string]domain.Series) int {
	t.Helper()
	without := 0
	for _, id := range ids {
		if _, ok := want[id+"/"+string(domain.MetricMemory)]; ok {
			continue
		}
		without++
		if _, ok := got[id+"/"+string(domain.MetricMemory)]; ok {
			t.Errorf("%s has no agent but a memory series", id)
		}
		if _, ok := got[id+"/"+string(domain.MetricCPU)]; !ok {
			t.Errorf("%s has no CPU series", id)
		}
	}
	for k := range got {
		if m := domain.Metric(k[strings.IndexByte(k, '/')+1:]); m != domain.MetricCPU && m != domain.MetricMemory {
			t.Errorf("series %s: the estate has no such data, so CloudWatch has none", k)
		}
	}
	return without
}

// TestSeriesBatchesQueries: more VMs than 500 queries hold are split into
// several GetMetricData calls, none over the limit (the fake refuses
// more than 500 queries with a ValidationError).
func TestSeriesBatchesQueries(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	account := est.Accounts(domain.AWS)[0]
	sc := collect.Scope{Account: account, Region: "us-east-1"}
	p := newDataProvider(t, srv, account, 2, false)
	ids := vmsOf(t, est, sc)
	// Unknown instances are asked about too (they get no data): enough
	// of them to need three calls (3 queries each, 4 with an agent).
	for i := range 330 {
		ids = append(ids, fmt.Sprintf("i-%017x", i))
	}
	got, err := readSeries(t, p, sc, ids, demoWindow, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Three calls, none refused for holding too many queries.
	if n := countCalls(srv, "monitoring", "GetMetricData", ""); n != 3 {
		t.Errorf("%d GetMetricData calls for %d instances, want 3", n, len(ids))
	}
	if n := countCalls(srv, "monitoring", "GetMetricData", "ValidationException"); n != 0 {
		t.Errorf("%d GetMetricData calls refused", n)
	}
	for _, id := range ids[len(ids)-330:] {
		s, ok := got[id+"/"+string(domain.MetricCPU)]
		if !ok || s.Present() != 0 {
			t.Errorf("unknown instance %s: CPU series %v present %d, want an all-missing series", id, ok, s.Present())
		}
	}
}

// TestSeriesErrors: throttling is retried and then mapped, a denied
// call is a permission error, and result status codes fail the call.
func TestSeriesErrors(t *testing.T) {
	est, _ := newDataFake(t, awsfake.DataOptions{})
	account := est.Accounts(domain.AWS)[0]
	sc := collect.Scope{Account: account, Region: "us-east-1"}
	ids := vmsOf(t, est, sc)
	tests := []struct {
		name  string
		setup func(srv *awsfake.Server)
		data  awsfake.DataOptions
		kind  error
		calls int // GetMetricData calls made
	}{
		{name: "throttled then served", setup: func(srv *awsfake.Server) {
			srv.Fail("monitoring", "GetMetricData", "", 2, "ThrottlingException", http.StatusBadRequest)
		}, calls: 3},
		{name: "throttled out", setup: func(srv *awsfake.Server) {
			srv.Fail("monitoring", "GetMetricData", "", 10, "ThrottlingException", http.StatusBadRequest)
		}, kind: domain.ErrThrottled, calls: 3},
		{name: "access denied", setup: func(srv *awsfake.Server) {
			srv.Fail("monitoring", "GetMetricData", "", 1, "AccessDeniedException", http.StatusForbidden)
		}, kind: domain.ErrPermission, calls: 1},
		{name: "list metrics denied", setup: func(srv *awsfake.Server) {
			srv.Fail("monitoring", "ListMetrics", "", 1, "AccessDeniedException", http.StatusForbidden)
		}, kind: domain.ErrPermission, calls: 0},
		{name: "result forbidden", data: awsfake.DataOptions{MetricStatus: map[string]string{ids[1]: "Forbidden"}},
			kind: domain.ErrPermission, calls: 1},
		{name: "result internal error", data: awsfake.DataOptions{MetricStatus: map[string]string{ids[1]: "InternalError"}},
			kind: errInternal, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newDataFake(t, tt.data)
			if tt.setup != nil {
				tt.setup(srv)
			}
			p := newDataProvider(t, srv, account, 3, false)
			got, err := readSeries(t, p, sc, ids, demoWindow, time.Hour)
			switch {
			case tt.kind == nil && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tt.kind == errInternal:
				var aerr *awscloud.Error
				if !errors.As(err, &aerr) || aerr.Code != "InternalError" || errors.Is(err, domain.ErrPermission) {
					t.Fatalf("err = %v, want an InternalError result error", err)
				}
			case tt.kind != nil && !errors.Is(err, tt.kind):
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			if tt.kind == nil && len(got) == 0 {
				t.Error("no series")
			}
			if n := countCalls(srv, "monitoring", "GetMetricData", "*"); n != tt.calls {
				t.Errorf("%d GetMetricData calls, want %d", n, tt.calls)
			}
			t.Log(err)
		})
	}
}

var errInternal = errors.New("internal error result")

// countCalls counts the calls of op on service that returned code.
func countCalls(srv *awsfake.Server, service, op, code string) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Service == service && c.Op == op && (code == "*" || c.Code == code) {
			n++
		}
	}
	return n
}

// TestCloudWatchFakeRefusesWhatAWSRefuses drives the fake with the SDK
// directly: more than 500 queries, a bad period, a stale token.
func TestCloudWatchFakeRefusesWhatAWSRefuses(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	account := est.Accounts(domain.AWS)[0]
	ids := vmsOf(t, est, collect.Scope{Account: account, Region: "us-east-1"})
	many := make([]string, 0, 501)
	for len(many) < 501 {
		many = append(many, ids...)
	}
	for _, tt := range []struct {
		name   string
		ids    []string
		period int32
		token  string
		code   string
	}{
		{"501 queries", many[:501], 3600, "", "ValidationError"},
		{"period 90 s", ids[:1], 90, "", "InvalidParameterValue"},
		{"foreign token", ids[:1], 3600, "bm90IGEgdG9rZW4", "InvalidNextToken"},
	} {
		err := cwRawQuery(srv, account, tt.ids, tt.period, tt.token)
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != tt.code || api.ErrorFault() != smithy.FaultClient {
			t.Errorf("%s: err = %v, want %s (a client fault)", tt.name, err, tt.code)
		}
	}
	if !slices.ContainsFunc(srv.Calls(), func(c awsfake.Call) bool { return c.Code == "ValidationException" }) {
		t.Error("the fake recorded no ValidationException")
	}
}

// cwRawQuery calls GetMetricData for the CPU of ids with the SDK alone.
func cwRawQuery(srv *awsfake.Server, account string, ids []string, period int32, token string) error {
	cfg := srv.Config(account)
	cfg.RetryMaxAttempts = 1
	c := cloudwatch.NewFromConfig(cfg)
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(demoNow.Add(-24 * time.Hour)), EndTime: aws.Time(demoNow)}
	if token != "" {
		in.NextToken = aws.String(token)
	}
	for i, id := range ids {
		in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{Id: aws.String(fmt.Sprintf("q%d", i)),
			MetricStat: &cwtypes.MetricStat{Period: aws.Int32(period), Stat: aws.String("Average"),
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/EC2"), MetricName: aws.String("CPUUtilization"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(id)}}}}})
	}
	_, err := c.GetMetricData(context.Background(), in)
	return err
}

// TestCloudWatchFakePartialData reads one page of a result the fake
// splits: PartialData with a NextToken, the rest on the next page, in
// the order ScanBy asks (newest first by default). Agent metrics are
// listed under both dimension sets the agent uses.
func TestCloudWatchFakePartialData(t *testing.T) {
	est, srv := newDataFake(t, awsfake.DataOptions{})
	var account string
	var ids []string
	for _, a := range est.Accounts(domain.AWS) {
		if v := vmsOf(t, est, collect.Scope{Account: a, Region: "us-east-1"}); len(v) > len(ids) {
			account, ids = a, v
		}
	}
	c := cloudwatch.NewFromConfig(srv.Config(account))
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(demoNow.Add(-24 * time.Hour)), EndTime: aws.Time(demoNow),
		MaxDatapoints: aws.Int32(10), MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("cpu"),
			MetricStat: &cwtypes.MetricStat{Period: aws.Int32(3600), Stat: aws.String("Average"),
				Metric: &cwtypes.Metric{Namespace: aws.String("AWS/EC2"), MetricName: aws.String("CPUUtilization"),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("InstanceId"), Value: aws.String(ids[1])}}}}}}}
	var all []time.Time
	for page := 0; ; page++ {
		out, err := c.GetMetricData(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.MetricDataResults) != 1 {
			t.Fatalf("page %d: %d results, want 1", page, len(out.MetricDataResults))
		}
		r := out.MetricDataResults[0]
		wantStatus := cwtypes.StatusCodePartialData
		if out.NextToken == nil {
			wantStatus = cwtypes.StatusCodeComplete
		}
		if r.StatusCode != wantStatus || len(r.Timestamps) > 10 {
			t.Fatalf("page %d: status %s with %d points, want %s with at most 10", page, r.StatusCode, len(r.Timestamps), wantStatus)
		}
		all = append(all, r.Timestamps...)
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(all) < 11 || !slices.IsSortedFunc(all, func(a, b time.Time) int { return b.Compare(a) }) {
		t.Errorf("%d timestamps over the pages, want more than one page, newest first", len(all))
	}
	sets := map[int]bool{}
	pages := cloudwatch.NewListMetricsPaginator(c, &cloudwatch.ListMetricsInput{Namespace: aws.String("CWAgent")})
	for pages.HasMorePages() {
		out, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Metrics {
			sets[len(m.Dimensions)] = true
		}
	}
	if !sets[1] || !sets[3] {
		t.Errorf("agent dimension sets of sizes %v, want both {InstanceId} and {ImageId, InstanceId, InstanceType}", sets)
	}
}
