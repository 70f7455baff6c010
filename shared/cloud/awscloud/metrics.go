package awscloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// MaxMetricQueries is the most queries one GetMetricData call takes.
const MaxMetricQueries = 500

// perInstanceListing is the batch size up to which the memory metrics
// are found with one ListMetrics call per instance (a dimension filter
// on InstanceId) rather than by listing every agent metric of the
// region.
const perInstanceListing = 10

// The CloudWatch names of what Series reads.
const (
	namespaceEC2   = "AWS/EC2"
	namespaceAgent = "CWAgent"
	metricMemory   = "mem_used_percent"
	dimInstanceID  = "InstanceId"
)

// ec2Metric is one CloudWatch metric of AWS/EC2 that Series reads, and
// what it contributes to.
type ec2Metric struct {
	key    string // the suffix of its query IDs
	name   string // the CloudWatch metric name
	stat   string
	metric domain.Metric
	rate   bool // a Sum per period, turned into a rate per second
}

// ec2Metrics are read for every instance. GetMetricData is billed per
// metric asked for, so Series reads what the optimizer and its evidence
// use: CPU, and network traffic to tell idle instances. Disk traffic
// would take four more metrics an instance (EBSReadBytes and
// EBSWriteBytes for EBS on Nitro instances, DiskReadBytes and
// DiskWriteBytes for instance store), doubling the cost of a run.
var ec2Metrics = []ec2Metric{
	{"cpu", "CPUUtilization", "Average", domain.MetricCPU, false},
	{"netin", "NetworkIn", "Sum", domain.MetricNetIn, true},
	{"netout", "NetworkOut", "Sum", domain.MetricNetOut, true},
}

// seriesOrder is the order in which an instance's series are handed on.
var seriesOrder = []domain.Metric{domain.MetricCPU, domain.MetricMemory, domain.MetricNetIn, domain.MetricNetOut}

// Series implements collect.Utilization with CloudWatch GetMetricData
// in the scope's region: for each instance the AWS/EC2 metrics
// CPUUtilization (Average) and NetworkIn and NetworkOut (Sum per step,
// handed on as bytes per second), and the CloudWatch agent's memory,
// CWAgent mem_used_percent (Average), under every dimension set that
// ListMetrics reports for the instance (the agent may append ImageId,
// InstanceType and others to InstanceId; sets that differ over time are
// averaged point by point).
//
// The period is step, which must be a whole number of minutes. Series
// are on the grid of window.Start truncated to step, covering every
// whole step before window.End; a point CloudWatch has no datapoint for
// is domain.Missing, never zero. The CPU series of every instance is
// handed on, even without datapoints; memory only for instances with an
// agent metric; network only when CloudWatch has datapoints for it.
// Queries are batched, whole instances at a time and at most
// MaxMetricQueries a call, and results are followed across pages
// (NextToken, results marked PartialData). A result CloudWatch reports
// as InternalError fails the call, one reported Forbidden fails it with
// domain.ErrPermission, and so does a ListMetrics the identity may not
// call. Errors come from mapErr; fn's error is returned as it is.
func (p *Provider) Series(ctx context.Context, scope collect.Scope, vmIDs []string, window collect.Window, step time.Duration, fn func(domain.Series) error) error {
	if step < time.Minute || step%time.Minute != 0 {
		return fmt.Errorf("%w: awscloud: series step %v is not a whole number of minutes", domain.ErrInvalid, step)
	}
	if scope.Region == "" {
		return fmt.Errorf("%w: awscloud: series scope has no region", domain.ErrInvalid)
	}
	if scope.Account != p.account {
		return fmt.Errorf("%w: awscloud: scope account %s is not this provider's account %s", domain.ErrPermission, scope.Account, p.account)
	}
	start := window.Start.UTC().Truncate(step)
	n := int(window.End.Sub(start) / step)
	if n <= 0 || len(vmIDs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(vmIDs))
	seen := make(map[string]bool, len(vmIDs))
	for _, id := range vmIDs {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	cw := p.cloudwatch(scope.Region)
	memDims, err := p.memoryDimensions(ctx, cw, scope.Region, ids)
	if err != nil {
		return err
	}
	g := seriesGrid{start: start, step: step, n: n}
	// Batches of whole instances, at most MaxMetricQueries queries each.
	for i := 0; i < len(ids); {
		var batch []string
		queries := 0
		for ; i < len(ids); i++ {
			q := len(ec2Metrics) + len(memDims[ids[i]])
			if len(batch) > 0 && queries+q > MaxMetricQueries {
				break
			}
			batch = append(batch, ids[i])
			queries += q
		}
		if err := p.seriesBatch(ctx, cw, scope.Region, batch, memDims, g, fn); err != nil {
			return err
		}
	}
	return nil
}

// seriesGrid is the time grid of the series Series hands on.
type seriesGrid struct {
	start time.Time
	step  time.Duration
	n     int
}

// index returns the point of t on the grid, or false when t is off it.
func (g seriesGrid) index(t time.Time) (int, bool) {
	d := t.Sub(g.start)
	if d < 0 || d%g.step != 0 {
		return 0, false
	}
	i := int(d / g.step)
	return i, i < g.n
}

// instanceData collects the datapoints of one instance.
type instanceData struct {
	values map[domain.Metric][]float64 // per point: the sum of the values seen
	counts map[domain.Metric][]int     // per point: how many values were seen
}

// queryTarget says where the datapoints of one query go.
type queryTarget struct {
	instance int
	metric   domain.Metric
	rate     bool
}

// seriesBatch reads and hands on the series of one batch of instances.
func (p *Provider) seriesBatch(ctx context.Context, cw *cloudwatch.Client, region string, ids []string, memDims map[string][][]cwtypes.Dimension, g seriesGrid, fn func(domain.Series) error) error {
	period := int32(g.step / time.Second)
	var queries []cwtypes.MetricDataQuery
	targets := map[string]queryTarget{}
	for i, id := range ids {
		for _, m := range ec2Metrics {
			qid := "m" + strconv.Itoa(i) + "_" + m.key
			queries = append(queries, cwtypes.MetricDataQuery{Id: aws.String(qid), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(namespaceEC2), MetricName: aws.String(m.name),
					Dimensions: []cwtypes.Dimension{{Name: aws.String(dimInstanceID), Value: aws.String(id)}}},
				Period: aws.Int32(period), Stat: aws.String(m.stat)}})
			targets[qid] = queryTarget{instance: i, metric: m.metric, rate: m.rate}
		}
		for j, dims := range memDims[id] {
			qid := "m" + strconv.Itoa(i) + "_mem" + strconv.Itoa(j)
			queries = append(queries, cwtypes.MetricDataQuery{Id: aws.String(qid), MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(namespaceAgent), MetricName: aws.String(metricMemory), Dimensions: dims},
				Period: aws.Int32(period), Stat: aws.String("Average")}})
			targets[qid] = queryTarget{instance: i, metric: domain.MetricMemory}
		}
	}
	data, err := p.fetchMetricData(ctx, cw, region, queries, targets, ids, g)
	if err != nil {
		return err
	}
	for i, id := range ids {
		d := data[i]
		for _, m := range seriesOrder {
			vals, ok := d.values[m]
			switch {
			case ok:
			case m == domain.MetricCPU:
				// Every instance has a CPU series, observed or not.
			case m == domain.MetricMemory && len(memDims[id]) > 0:
				// The agent reports memory, but not in this window.
			default:
				continue
			}
			s := domain.Series{ResourceID: id, Metric: m, Start: g.start, Step: g.step, Values: make([]float32, g.n)}
			for k := range s.Values {
				switch {
				case !ok || d.counts[m][k] == 0:
					s.Values[k] = domain.Missing
				default:
					// The mean of what the queries of the metric gave:
					// one value, or one for each agent dimension set.
					s.Values[k] = float32(vals[k] / float64(d.counts[m][k]))
				}
			}
			if err := fn(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetchMetricData runs GetMetricData for queries over the grid, across
// pages, and adds each datapoint to the resource and metric its query's
// target names (ids are the resources, for messages).
func (p *Provider) fetchMetricData(ctx context.Context, cw *cloudwatch.Client, region string, queries []cwtypes.MetricDataQuery, targets map[string]queryTarget, ids []string, g seriesGrid) ([]instanceData, error) {
	data := make([]instanceData, len(ids))
	for i := range data {
		data[i] = instanceData{values: map[domain.Metric][]float64{}, counts: map[domain.Metric][]int{}}
	}
	op := "cloudwatch GetMetricData in " + region
	pages := cloudwatch.NewGetMetricDataPaginator(cw, &cloudwatch.GetMetricDataInput{
		MetricDataQueries: queries,
		StartTime:         aws.Time(g.start),
		EndTime:           aws.Time(g.start.Add(time.Duration(g.n) * g.step)),
		ScanBy:            cwtypes.ScanByTimestampAscending,
	}, func(o *cloudwatch.GetMetricDataPaginatorOptions) { o.StopOnDuplicateToken = true })
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, mapErr(op, err)
		}
		for _, m := range out.Messages {
			p.logger.DebugContext(ctx, "cloudwatch message", "region", region, "code", aws.ToString(m.Code), "message", aws.ToString(m.Value))
		}
		for _, r := range out.MetricDataResults {
			t, ok := targets[aws.ToString(r.Id)]
			if !ok {
				return nil, fmt.Errorf("%s: a result for query %q, which was not asked", op, aws.ToString(r.Id))
			}
			switch r.StatusCode {
			case cwtypes.StatusCodeInternalError:
				return nil, &Error{Op: op, Code: string(r.StatusCode), Message: resultMessage(r, ids[t.instance]), err: errors.New("result status InternalError")}
			case cwtypes.StatusCodeForbidden:
				return nil, &Error{Op: op, Code: string(r.StatusCode), Message: resultMessage(r, ids[t.instance]), kind: domain.ErrPermission, err: errors.New("result status Forbidden")}
			}
			if len(r.Timestamps) != len(r.Values) {
				return nil, fmt.Errorf("%s: result %s has %d timestamps and %d values", op, aws.ToString(r.Id), len(r.Timestamps), len(r.Values))
			}
			d := data[t.instance]
			for k, ts := range r.Timestamps {
				idx, ok := g.index(ts)
				if !ok {
					continue
				}
				vals, cnts := d.values[t.metric], d.counts[t.metric]
				if vals == nil {
					vals, cnts = make([]float64, g.n), make([]int, g.n)
					d.values[t.metric], d.counts[t.metric] = vals, cnts
				}
				v := r.Values[k]
				if t.rate {
					v /= g.step.Seconds()
				}
				vals[idx] += v
				cnts[idx]++
			}
		}
	}
	return data, nil
}

// resultMessage describes a failed result.
func resultMessage(r cwtypes.MetricDataResult, instance string) string {
	msg := "result " + aws.ToString(r.Id) + " of instance " + instance
	for _, m := range r.Messages {
		msg += "; " + aws.ToString(m.Code) + ": " + aws.ToString(m.Value)
	}
	return msg
}

// memoryDimensions finds, with ListMetrics, every dimension set under
// which the CloudWatch agent publishes mem_used_percent for each of ids.
// For a small batch it asks per instance; otherwise it lists the
// metric's every dimension set in the region and keeps the ones of ids.
func (p *Provider) memoryDimensions(ctx context.Context, cw *cloudwatch.Client, region string, ids []string) (map[string][][]cwtypes.Dimension, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := map[string][][]cwtypes.Dimension{}
	list := func(filter []cwtypes.DimensionFilter) error {
		pages := cloudwatch.NewListMetricsPaginator(cw, &cloudwatch.ListMetricsInput{
			Namespace: aws.String(namespaceAgent), MetricName: aws.String(metricMemory), Dimensions: filter,
		}, func(o *cloudwatch.ListMetricsPaginatorOptions) { o.StopOnDuplicateToken = true })
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return mapErr("cloudwatch ListMetrics "+namespaceAgent+"/"+metricMemory+" in "+region, err)
			}
			for _, m := range page.Metrics {
				i := slices.IndexFunc(m.Dimensions, func(d cwtypes.Dimension) bool { return aws.ToString(d.Name) == dimInstanceID })
				if i < 0 {
					continue // an aggregate without an instance
				}
				id := aws.ToString(m.Dimensions[i].Value)
				if want[id] {
					out[id] = append(out[id], m.Dimensions)
				}
			}
		}
		return nil
	}
	if len(ids) <= perInstanceListing {
		for _, id := range ids {
			if err := list([]cwtypes.DimensionFilter{{Name: aws.String(dimInstanceID), Value: aws.String(id)}}); err != nil {
				return nil, err
			}
		}
	} else if err := list(nil); err != nil {
		return nil, err
	}
	// A stable order of each instance's dimension sets.
	for id, sets := range out {
		slices.SortFunc(sets, func(a, b []cwtypes.Dimension) int { return compareDims(a, b) })
		out[id] = slices.CompactFunc(sets, func(a, b []cwtypes.Dimension) bool { return compareDims(a, b) == 0 })
	}
	return out, nil
}

func compareDims(a, b []cwtypes.Dimension) int {
	key := func(ds []cwtypes.Dimension) string {
		s := ""
		for _, d := range ds {
			s += aws.ToString(d.Name) + "=" + aws.ToString(d.Value) + "\x00"
		}
		return s
	}
	ka, kb := key(a), key(b)
	switch {
	case ka < kb:
		return -1
	case ka > kb:
		return 1
	}
	return 0
}
