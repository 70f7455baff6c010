package azurecloud

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ collect.Utilization = (*Provider)(nil)

// vmNamespace is the Azure Monitor namespace of virtual machine metrics.
const vmNamespace = "Microsoft.Compute/virtualMachines"

// azMetric is one Azure Monitor platform metric of a VM that Series
// reads, and what it becomes.
type azMetric struct {
	name   string // the Azure Monitor name
	metric domain.Metric
	total  bool // read as the Total per interval, handed on per second
}

// azMetrics are read for every VM, in one query: Azure Monitor takes up
// to 20 metric names a query. Available Memory Bytes is a platform
// metric of most VMs (no agent), turned into a used percentage of the
// size's memory.
var azMetrics = []azMetric{
	{"Percentage CPU", domain.MetricCPU, false},
	{"Available Memory Bytes", domain.MetricMemory, false},
	{"Network In Total", domain.MetricNetIn, true},
	{"Network Out Total", domain.MetricNetOut, true},
	{"Disk Read Bytes", domain.MetricDiskRead, true},
	{"Disk Write Bytes", domain.MetricDiskWrite, true},
}

// metricNames is the metricnames parameter of every query.
var metricNames = func() string {
	names := make([]string, len(azMetrics))
	for i, m := range azMetrics {
		names[i] = m.name
	}
	return strings.Join(names, ",")
}()

// intervals are the time grains Azure Monitor serves, by step.
var intervals = map[time.Duration]string{
	time.Minute: "PT1M", 5 * time.Minute: "PT5M", 15 * time.Minute: "PT15M", 30 * time.Minute: "PT30M",
	time.Hour: "PT1H", 6 * time.Hour: "PT6H", 12 * time.Hour: "PT12H", 24 * time.Hour: "P1D",
}

// MetricQueries returns how many metrics queries Series makes for n VMs
// of one scope over a window of the given number of steps, with the
// provider's configuration: ⌈n / MetricResources⌉ batches, each asked
// for ⌈steps / (MetricSpan/step)⌉ time chunks. Series is called by the
// collector with up to 500 VMs at a time; the count is per call.
func (p *Provider) MetricQueries(n, steps int, step time.Duration) int {
	if n <= 0 || steps <= 0 || step <= 0 {
		return 0
	}
	per := max(1, int(p.cfg.MetricSpan/step))
	return (n + p.cfg.MetricResources - 1) / p.cfg.MetricResources * ((steps + per - 1) / per)
}

// Series implements collect.Utilization with Azure Monitor's
// subscription-scope metrics query (Metrics - List At Subscription
// Scope, POST form), which answers for many VMs of one region at once:
// one query names up to MetricResources VMs in its $filter
// ("Microsoft.ResourceId eq '…' or …", top set to their number, unknown
// IDs ignored), all six metrics, both aggregations (average, total), one
// time chunk of at most MetricSpan. A window longer than that is split
// into chunks, so the calls are MetricQueries(len(vmIDs), steps, step).
// The identity needs Monitoring Reader on the subscription itself.
//
// The interval is step, which must be one Azure Monitor serves (1, 5,
// 15, 30 minutes, 1, 6, 12 hours, 1 day). Series are on the grid of
// window.Start truncated to step, covering every whole step before
// window.End; a point Azure Monitor has no value for is domain.Missing.
// Every VM gets its CPU series (Percentage CPU, average), observed or
// not; memory (100 × (1 − Available Memory Bytes / the size's memory,
// the size read from ResourceSKUs)) only when the VM reports it and its
// size is known; network in and out and disk read and write (Total per
// interval, handed on as bytes per second) only when they have a value.
// Series of each VM are handed on in that order, VMs in the order of
// vmIDs, with vmIDs' spelling of the ID (Azure Monitor lower-cases it).
//
// Errors come from mapErr; a metric Azure answers with an error code is
// logged and left out. fn's error is returned as it is.
func (p *Provider) Series(ctx context.Context, scope collect.Scope, vmIDs []string, window collect.Window, step time.Duration, fn func(domain.Series) error) error {
	interval, ok := intervals[step]
	if !ok {
		return fmt.Errorf("%w: azurecloud: series step %v is not an interval Azure Monitor serves (1m, 5m, 15m, 30m, 1h, 6h, 12h, 24h)", domain.ErrInvalid, step)
	}
	if scope.Account == "" || scope.Region == "" {
		return fmt.Errorf("%w: azurecloud: series scope %s/%s needs a subscription and a region", domain.ErrInvalid, scope.Account, scope.Region)
	}
	start := window.Start.UTC().Truncate(step)
	n := int(window.End.Sub(start) / step)
	if n <= 0 || len(vmIDs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(vmIDs))
	seen := make(map[string]bool, len(vmIDs))
	for _, id := range vmIDs {
		if k := key(id); id != "" && !seen[k] {
			seen[k] = true
			ids = append(ids, id)
		}
	}
	region := normRegion(scope.Region)
	scope = collect.Scope{Account: scope.Account, Region: region}
	c, err := p.clientsOf(scope.Account)
	if err != nil {
		return err
	}
	memory, err := p.memoryOf(ctx, c, scope, ids)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// CPU and traffic are still worth reading.
		p.logger.WarnContext(ctx, "VM memory sizes not readable; memory series left out", "account_id", scope.Account, "region", region, "error", err)
	}
	g := grid{start: start, step: step, n: n}
	per := max(1, int(p.cfg.MetricSpan/step))
	for i := 0; i < len(ids); i += p.cfg.MetricResources {
		batch := ids[i:min(i+p.cfg.MetricResources, len(ids))]
		d := newBatchData(batch, len(azMetrics), n)
		for from := 0; from < n; from += per {
			if err := p.queryMetrics(ctx, c, scope, interval, g, from, min(from+per, n), memory, d); err != nil {
				return err
			}
		}
		if err := d.emit(g, fn); err != nil {
			return err
		}
	}
	return nil
}

// grid is the time grid of the series Series hands on.
type grid struct {
	start time.Time
	step  time.Duration
	n     int
}

// index returns the point of t on the grid, or false when t is off it.
func (g grid) index(t time.Time) (int, bool) {
	d := t.Sub(g.start)
	if d < 0 || d%g.step != 0 {
		return 0, false
	}
	i := int(d / g.step)
	return i, i < g.n
}

// batchData holds the points of one batch of VMs, per VM and metric,
// allocated when a metric of a VM gets its first value.
type batchData struct {
	ids    []string
	byKey  map[string]int
	values [][][]float32 // [vm][metric][point]
	n      int
}

func newBatchData(ids []string, metrics, n int) *batchData {
	d := &batchData{ids: ids, byKey: make(map[string]int, len(ids)), values: make([][][]float32, len(ids)), n: n}
	for i, id := range ids {
		d.byKey[key(id)] = i
		d.values[i] = make([][]float32, metrics)
	}
	return d
}

func (d *batchData) set(vm, metric, point int, v float32) {
	vals := d.values[vm][metric]
	if vals == nil {
		vals = make([]float32, d.n)
		for i := range vals {
			vals[i] = domain.Missing
		}
		d.values[vm][metric] = vals
	}
	vals[point] = v
}

// emit hands on each VM's series: CPU always, the others when observed.
func (d *batchData) emit(g grid, fn func(domain.Series) error) error {
	for i, id := range d.ids {
		for m, am := range azMetrics {
			vals := d.values[i][m]
			if vals == nil {
				if am.metric != domain.MetricCPU {
					continue
				}
				vals = make([]float32, d.n)
				for k := range vals {
					vals[k] = domain.Missing
				}
			}
			if err := fn(domain.Series{ResourceID: id, Metric: am.metric, Start: g.start, Step: g.step, Values: vals}); err != nil {
				return err
			}
		}
		d.values[i] = nil
	}
	return nil
}

// queryMetrics asks for the points [from, to) of the grid for the VMs of
// d and records them in d.
func (p *Provider) queryMetrics(ctx context.Context, c *clients, scope collect.Scope, interval string, g grid, from, to_ int, memory map[string]int64, d *batchData) error {
	var filter strings.Builder
	for i, id := range d.ids {
		if i > 0 {
			filter.WriteString(" or ")
		}
		filter.WriteString("Microsoft.ResourceId eq '")
		filter.WriteString(strings.ReplaceAll(id, "'", "''"))
		filter.WriteString("'")
	}
	t0, t1 := g.start.Add(time.Duration(from)*g.step), g.start.Add(time.Duration(to_)*g.step)
	timespan := t0.Format(time.RFC3339) + "/" + t1.Format(time.RFC3339)
	op := fmt.Sprintf("azure monitor metrics of %d VMs of subscription %s in %s", len(d.ids), scope.Account, scope.Region)
	p.metricCalls.Add(1)
	body := &capturedBody{}
	_, err := c.metrics.ListAtSubscriptionScopePost(context.WithValue(ctx, capturedBodyKey{}, body), scope.Region, &armmonitor.MetricsClientListAtSubscriptionScopePostOptions{
		Body: &armmonitor.SubscriptionScopeMetricsRequestBodyParameters{
			MetricNamespace:     to.Ptr(vmNamespace),
			MetricNames:         to.Ptr(metricNames),
			Aggregation:         to.Ptr("average,total"),
			Interval:            to.Ptr(interval),
			Timespan:            to.Ptr(timespan),
			Filter:              to.Ptr(filter.String()),
			Top:                 to.Ptr(int32(len(d.ids))),
			AutoAdjustTimegrain: to.Ptr(false),
			ValidateDimensions:  to.Ptr(false),
		},
	})
	if err != nil {
		return mapErr(op, err)
	}
	var resp metricsAnswer
	if err := json.Unmarshal(body.b, &resp); err != nil {
		return fmt.Errorf("%s: %w: the answer is not a metrics response: %v", op, domain.ErrInvalid, err)
	}
	points := map[string]int{} // timestamp → grid index, -1 off the grid
	pointIndex := func(ts string) int {
		if j, ok := points[ts]; ok {
			return j
		}
		j := -1
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			if k, ok := g.index(t.UTC()); ok && k >= from && k < to_ {
				j = k
			}
		}
		points[ts] = j
		return j
	}
	for _, m := range resp.Value {
		mi := -1
		for i, am := range azMetrics {
			if strings.EqualFold(m.Name.Value, am.name) {
				mi = i
			}
		}
		if mi < 0 {
			continue
		}
		if m.ErrorCode != "" && m.ErrorCode != "Success" {
			p.logger.WarnContext(ctx, "azure monitor answered a metric with an error", "account_id", scope.Account,
				"region", scope.Region, "metric", azMetrics[mi].name, "code", m.ErrorCode, "message", m.ErrorMessage)
			continue
		}
		am := azMetrics[mi]
		for _, ts := range m.Timeseries {
			vi, ok := d.byKey[key(ts.resourceID())]
			if !ok {
				continue
			}
			var memBytes float64
			if am.metric == domain.MetricMemory {
				if memBytes = float64(memory[key(d.ids[vi])]) * (1 << 20); memBytes <= 0 {
					continue // the size's memory is unknown: no percentage
				}
			}
			for _, pt := range ts.Data {
				j := pointIndex(pt.TimeStamp)
				if j < 0 {
					continue
				}
				var v float64
				switch {
				case am.total && pt.Total != nil:
					v = *pt.Total / g.step.Seconds()
				case !am.total && pt.Average != nil:
					v = *pt.Average
				default:
					continue // no value at this point
				}
				if am.metric == domain.MetricMemory {
					v = min(100, max(0, 100*(1-v/memBytes)))
				}
				d.set(vi, mi, j, float32(v))
			}
		}
	}
	return nil
}

// metricsAnswer is the part of a metrics query's answer read. The SDK's
// generated decoder (a map per object, each level parsed again) reads
// about 4 MB a second, a minute for the answers about 1,000 VMs' two
// weeks; the provider takes the answer's bytes (captureBodyPolicy) and
// decodes them into these plain structs instead.
type metricsAnswer struct {
	Value []struct {
		Name struct {
			Value string `json:"value"`
		} `json:"name"`
		ErrorCode    string          `json:"errorCode"`
		ErrorMessage string          `json:"errorMessage"`
		Timeseries   []metricsSeries `json:"timeseries"`
	} `json:"value"`
}

type metricsSeries struct {
	Metadatavalues []struct {
		Name struct {
			Value string `json:"value"`
		} `json:"name"`
		Value string `json:"value"`
	} `json:"metadatavalues"`
	Data []struct {
		// TimeStamp is parsed once per distinct value (pointIndex): the
		// series of an answer share their timestamps.
		TimeStamp string   `json:"timeStamp"`
		Average   *float64 `json:"average"`
		Total     *float64 `json:"total"`
	} `json:"data"`
}

// resourceID returns the resource a time series of a multi-resource
// query is about: its Microsoft.ResourceId metadata value.
func (ts metricsSeries) resourceID() string {
	for _, mv := range ts.Metadatavalues {
		if strings.EqualFold(mv.Name.Value, "Microsoft.ResourceId") {
			return mv.Value
		}
	}
	return ""
}

type capturedBodyKey struct{}

// bodyTaker takes the body of a successful answer and returns the body
// the SDK decodes in its place.
type bodyTaker interface {
	take(b []byte) ([]byte, error)
}

// capturedBody keeps the body of a successful answer and gives the SDK
// an empty object.
type capturedBody struct{ b []byte }

func (c *capturedBody) take(b []byte) ([]byte, error) {
	c.b = b
	return []byte("{}"), nil
}

// captureBodyPolicy hands the body of a successful answer to the
// bodyTaker the request's context carries and gives the SDK what it
// returns to decode instead. Errors, and answers to requests without a
// taker, pass as they are.
type captureBodyPolicy struct{}

func (captureBodyPolicy) Do(req *policy.Request) (*http.Response, error) {
	taker, _ := req.Raw().Context().Value(capturedBodyKey{}).(bodyTaker)
	resp, err := req.Next()
	if taker == nil || err != nil || resp == nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := runtime.Payload(resp)
	if err != nil {
		return nil, err
	}
	instead, err := taker.take(b)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(instead))
	return resp, nil
}

// memoryOf returns the memory in MiB of each VM of ids by Key(ID), 0
// where unknown: the VM's size from the scope's listing (listed again
// when Resources did not just list the scope) and the size's memory from
// ResourceSKUs.
func (p *Provider) memoryOf(ctx context.Context, c *clients, scope collect.Scope, ids []string) (map[string]int64, error) {
	p.mu.Lock()
	last := p.last
	p.mu.Unlock()
	sizes := make(map[string]string, len(ids))
	missing := last.scope != scope
	for _, id := range ids {
		if s, ok := last.sizes[key(id)]; ok && !missing {
			sizes[key(id)] = s
		} else {
			missing = true
		}
	}
	if missing {
		want := make(map[string]bool, len(ids))
		for _, id := range ids {
			want[key(id)] = true
		}
		pager := c.vms.NewListAllPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, mapErr("list virtual machines of subscription "+scope.Account, err)
			}
			for _, v := range page.Value {
				if v == nil || !want[key(str(v.ID))] || v.Properties == nil || v.Properties.HardwareProfile == nil || v.Properties.HardwareProfile.VMSize == nil {
					continue
				}
				sizes[key(str(v.ID))] = string(*v.Properties.HardwareProfile.VMSize)
			}
		}
	}
	shapes, err := p.shapesOf(ctx, scope.Account, scope.Region)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(sizes))
	for k, size := range sizes {
		out[k] = shapes[key(size)].memoryMiB
	}
	return out, nil
}
