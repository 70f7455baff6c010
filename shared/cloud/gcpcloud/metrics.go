package gcpcloud

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	gax "github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ collect.Utilization = (*Provider)(nil)

// metricPagePoints is the page_size of every ListTimeSeries call: in
// the FULL view it counts points, and 100,000 is the API's maximum.
const metricPagePoints = 100_000

// gceMetric is one Cloud Monitoring metric of a Compute Engine instance
// that Series reads, and what it becomes.
type gceMetric struct {
	metricType string
	// labels is an extra filter term on the metric's labels.
	labels  string
	aligner monitoringpb.Aggregation_Aligner
	metric  domain.Metric
	// scale turns the aligned value into the domain's unit.
	scale float64
	// rate metrics have one series per device or traffic kind of an
	// instance (loadbalanced, device_name): their points add up.
	rate bool
}

// gceMetrics are read for every scope, one query each, CPU first: its
// series name the instance of every instance_id (the metric label
// instance_name), which maps the Ops Agent's series, labelled by
// instance_id only, when the inventory has not run. CPU utilization is
// a fraction, handed on as a percentage; the Ops Agent's memory
// percent_used of state "used" is a percentage already; the traffic
// counters (DELTA, bytes) are aligned with ALIGN_RATE into bytes per
// second. The domain keeps no maximum, so no ALIGN_MAX query is made.
var gceMetrics = []gceMetric{
	{"compute.googleapis.com/instance/cpu/utilization", "", monitoringpb.Aggregation_ALIGN_MEAN, domain.MetricCPU, 100, false},
	{"agent.googleapis.com/memory/percent_used", `metric.labels.state = "used"`, monitoringpb.Aggregation_ALIGN_MEAN, domain.MetricMemory, 1, false},
	{"compute.googleapis.com/instance/network/received_bytes_count", "", monitoringpb.Aggregation_ALIGN_RATE, domain.MetricNetIn, 1, true},
	{"compute.googleapis.com/instance/network/sent_bytes_count", "", monitoringpb.Aggregation_ALIGN_RATE, domain.MetricNetOut, 1, true},
	{"compute.googleapis.com/instance/disk/read_bytes_count", "", monitoringpb.Aggregation_ALIGN_RATE, domain.MetricDiskRead, 1, true},
	{"compute.googleapis.com/instance/disk/write_bytes_count", "", monitoringpb.Aggregation_ALIGN_RATE, domain.MetricDiskWrite, 1, true},
}

// seriesRegion is what a region of a scope must look like to be quoted in
// a filter.
var seriesRegion = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)

// MetricFilter returns the Cloud Monitoring filter Series sends for one
// metric type of the instances of a region, with extra terms (a
// metric label condition) appended.
func MetricFilter(metricType, region, extra string) string {
	f := fmt.Sprintf(`metric.type = %q AND resource.type = "gce_instance" AND resource.labels.zone = starts_with(%q)`, metricType, region+"-")
	if extra != "" {
		f += " AND " + extra
	}
	return f
}

// Series implements collect.Utilization with Cloud Monitoring's
// ListTimeSeries on the scope's project, one query per metric for all
// the instances of the scope's region (resource.type "gce_instance",
// resource.labels.zone starting with the region), not one per VM, each
// page a call under Config.CallTimeout (counted by MetricCalls; an
// empty page with a next-page token, which the client follows at once,
// goes with the call before it), retried up to Config.MaxRetries times
// when answered RESOURCE_EXHAUSTED or UNAVAILABLE. The metrics are
// gceMetrics: CPU utilization, the Ops Agent's memory percent used,
// network received and sent, disk read and written.
//
// vmIDs are instances' relative names
// ("projects/p/zones/z/instances/n"). A time series is matched to one by
// its resource.labels.instance_id through the IDs Resources listed last,
// and else by resource.labels.zone and metric.labels.instance_name (an
// Ops Agent series, without the name, through the name the same
// instance_id has in the CPU series); series of instances not in vmIDs
// are dropped.
//
// The alignment period is step, at least a minute and a whole number of
// seconds. Series are on the grid of window.Start truncated to step,
// covering every whole step before window.End; Cloud Monitoring's points
// end at the query's end and every step before it, so the point ending
// at a grid line holds the step before it. A point without a value is
// domain.Missing. Every VM gets its CPU series, observed or not; memory
// (absent without the agent, never zero), network and disk only when
// observed. A rate metric's series of one VM (one per disk, or per
// load-balanced and direct traffic) are added up; a gauge point seen in
// two series of one VM (a VM recreated under its name) keeps the first.
// Series of each VM are handed on in gceMetrics' order, VMs in the order
// of vmIDs. Errors come from mapErr (a denied project wraps
// domain.ErrPermission, an exhausted quota domain.ErrThrottled); fn's
// error is returned as it is. Execution errors the API reports beside
// a page (a partial answer) are logged.
func (p *Provider) Series(ctx context.Context, scope collect.Scope, vmIDs []string, window collect.Window, step time.Duration, fn func(domain.Series) error) error {
	if step < time.Minute || step%time.Second != 0 {
		return fmt.Errorf("%w: gcpcloud: series step %v is not a whole number of seconds of at least a minute", domain.ErrInvalid, step)
	}
	if scope.Account == "" || !seriesRegion.MatchString(scope.Region) {
		return fmt.Errorf("%w: gcpcloud: series scope %q/%q needs a project and a region", domain.ErrInvalid, scope.Account, scope.Region)
	}
	start := window.Start.UTC().Truncate(step)
	n := int(window.End.Sub(start) / step)
	if n <= 0 || len(vmIDs) == 0 {
		return nil
	}
	d := newSeriesData(vmIDs, n)
	c, err := p.metricClient(ctx)
	if err != nil {
		return err
	}
	m := &instanceMatcher{project: scope.Account, ids: p.instanceIDs(scope.Account), names: map[string]string{}, index: d.index}
	g := seriesGrid{start: start, step: step, n: n}
	for mi, gm := range gceMetrics {
		req := &monitoringpb.ListTimeSeriesRequest{
			Name:   "projects/" + scope.Account,
			Filter: MetricFilter(gm.metricType, scope.Region, gm.labels),
			Interval: &monitoringpb.TimeInterval{
				StartTime: timestamppb.New(start),
				EndTime:   timestamppb.New(start.Add(time.Duration(n) * step)),
			},
			Aggregation: &monitoringpb.Aggregation{
				AlignmentPeriod:  durationpb.New(step),
				PerSeriesAligner: gm.aligner,
			},
			View:     monitoringpb.ListTimeSeriesRequest_FULL,
			PageSize: metricPagePoints,
		}
		op := fmt.Sprintf("gcpcloud: list %s time series of project %s in %s", gm.metricType, scope.Account, scope.Region)
		err := p.listTimeSeries(ctx, c, req, op, func(ts *monitoringpb.TimeSeries) {
			vm, ok := m.vmOf(ts)
			if !ok {
				return
			}
			g.eachPoint(ts, func(i int, v float64) { d.add(vm, mi, i, float32(v*gm.scale), gm.rate) })
		})
		if err != nil {
			return err
		}
	}
	return d.emit(g, fn)
}

// listTimeSeries calls fn with every time series of every page of req,
// each page a call under its own deadline (counted in metricCalls),
// retried when throttled or unavailable. Execution errors the API
// reports beside a page (a partial answer) are logged.
func (p *Provider) listTimeSeries(ctx context.Context, c *monitoring.MetricClient, req *monitoringpb.ListTimeSeriesRequest, op string, fn func(*monitoringpb.TimeSeries)) error {
	var last *monitoring.TimeSeriesIterator
	logPartial := func() {
		if resp, ok := last.Response.(*monitoringpb.ListTimeSeriesResponse); ok {
			for _, e := range resp.GetExecutionErrors() {
				p.logger.WarnContext(ctx, "cloud monitoring answered in part", "op", op, "code", e.GetCode(), "message", e.GetMessage())
			}
		}
	}
	err := listAll(ctx, p, op, func(ctx context.Context, token string) pageIterator[*monitoringpb.TimeSeries] {
		if last != nil {
			logPartial()
		}
		p.metricCalls.Add(1)
		req.PageToken = token
		last = c.ListTimeSeries(ctx, req, p.metricRetry())
		return last
	}, fn)
	if err == nil {
		logPartial()
	}
	return err
}

// metricRetry is the call option of every Cloud Monitoring call: it
// retries a RESOURCE_EXHAUSTED or UNAVAILABLE answer as retry does a
// REST call's 429 or 503.
func (p *Provider) metricRetry() gax.CallOption {
	return gax.WithRetry(func() gax.Retryer {
		return &boundedRetryer{left: p.retries, inner: gax.OnCodes([]codes.Code{codes.ResourceExhausted, codes.Unavailable},
			gax.Backoff{Initial: p.cfg.RetryDelay, Max: 32 * p.cfg.RetryDelay, Multiplier: 2})}
	})
}

// onePage calls fn with the items of the first page a fresh listing
// iterator fetches and returns the token of the next page, "" at the
// end: each page can so be a call of its own, under its own deadline.
// (An empty page with a next-page token is followed by the iterator at
// once, in the same call.)
func onePage[T any](it pageIterator[T], fn func(T)) (string, error) {
	for {
		item, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		fn(item)
		if it.PageInfo().Remaining() == 0 {
			return it.PageInfo().Token, nil
		}
	}
}

// pointValue reads an aligned point: a double (ALIGN_MEAN, ALIGN_RATE)
// or an integer.
func pointValue(v *monitoringpb.TypedValue) (float64, bool) {
	switch x := v.GetValue().(type) {
	case *monitoringpb.TypedValue_DoubleValue:
		return x.DoubleValue, true
	case *monitoringpb.TypedValue_Int64Value:
		return float64(x.Int64Value), true
	}
	return 0, false
}

// seriesGrid is the time grid of the series Series hands on.
type seriesGrid struct {
	start time.Time
	step  time.Duration
	n     int
}

// eachPoint calls fn with the grid point and value of each numeric
// point of ts that ends on the grid.
func (g seriesGrid) eachPoint(ts *monitoringpb.TimeSeries, fn func(i int, v float64)) {
	for _, pt := range ts.GetPoints() {
		i, ok := g.pointEndingAt(pt.GetInterval().GetEndTime().AsTime())
		if v, isNum := pointValue(pt.GetValue()); ok && isNum {
			fn(i, v)
		}
	}
}

// pointEndingAt returns the grid point of the step that ends at t, or
// false when t is off the grid.
func (g seriesGrid) pointEndingAt(t time.Time) (int, bool) {
	d := t.Sub(g.start)
	if d <= 0 || d%g.step != 0 {
		return 0, false
	}
	i := int(d/g.step) - 1
	return i, i < g.n
}

// instanceMatcher maps a time series to the index of its VM in vmIDs.
type instanceMatcher struct {
	project string
	// ids are the numeric ID → relative name map of the inventory, nil
	// before it runs.
	ids map[string]string
	// names are the relative names learnt from the series that carry
	// instance_name, by instance_id.
	names map[string]string
	index map[string]int
}

func (m *instanceMatcher) vmOf(ts *monitoringpb.TimeSeries) (int, bool) {
	id := ts.GetResource().GetLabels()["instance_id"]
	rel, ok := m.ids[id]
	if !ok {
		zone, name := ts.GetResource().GetLabels()["zone"], ts.GetMetric().GetLabels()["instance_name"]
		switch {
		case zone != "" && name != "":
			rel = "projects/" + m.project + "/zones/" + zone + "/instances/" + name
			if id != "" {
				m.names[id] = rel
			}
		case id != "":
			rel = m.names[id]
		}
	}
	i, ok := m.index[rel]
	return i, ok
}

// seriesData holds the points of the VMs of one Series call, per VM and
// metric, allocated when a metric of a VM gets its first value.
type seriesData struct {
	ids    []string
	index  map[string]int
	values [][][]float32 // [vm][metric][point]
	n      int
}

// newSeriesData holds the VMs of vmIDs once each, in their order.
func newSeriesData(vmIDs []string, n int) *seriesData {
	d := &seriesData{index: make(map[string]int, len(vmIDs)), n: n}
	for _, id := range vmIDs {
		if _, dup := d.index[id]; id == "" || dup {
			continue
		}
		d.index[id] = len(d.ids)
		d.ids = append(d.ids, id)
	}
	d.values = make([][][]float32, len(d.ids))
	for i := range d.values {
		d.values[i] = make([][]float32, len(gceMetrics))
	}
	return d
}

// add records a value: a rate adds to what the point holds, a gauge
// keeps the first value.
func (d *seriesData) add(vm, metric, point int, v float32, rate bool) {
	if d.values[vm][metric] == nil {
		d.values[vm][metric] = missingPoints(d.n)
	}
	addPoint(d.values[vm][metric], point, v, rate)
}

// addPoint records a value at a point: a rate adds to what the point
// holds, a gauge keeps the first value.
func addPoint(vals []float32, point int, v float32, rate bool) {
	switch {
	case domain.IsMissing(vals[point]):
		vals[point] = v
	case rate:
		vals[point] += v
	}
}

// missingPoints returns n points not observed.
func missingPoints(n int) []float32 {
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = domain.Missing
	}
	return vals
}

// emit hands on each VM's series: CPU always, the others when observed.
func (d *seriesData) emit(g seriesGrid, fn func(domain.Series) error) error {
	for i, id := range d.ids {
		for m, gm := range gceMetrics {
			vals := d.values[i][m]
			if vals == nil {
				if gm.metric != domain.MetricCPU {
					continue
				}
				vals = missingPoints(d.n)
			}
			if err := fn(domain.Series{ResourceID: id, Metric: gm.metric, Start: g.start, Step: g.step, Values: vals}); err != nil {
				return err
			}
		}
		d.values[i] = nil
	}
	return nil
}
