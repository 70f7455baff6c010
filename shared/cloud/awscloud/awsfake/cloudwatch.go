package awsfake

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// DataOptions configures the fakes of the data APIs: CloudWatch, Cost
// Explorer and the Price List API. The zero value behaves like AWS with
// its own page limits and resource-level cost data not enabled.
type DataOptions struct {
	// Now is Cost Explorer's clock: resource-level data reaches back 14
	// days from it and days of its month are estimated. Nil means
	// time.Now.
	Now func() time.Time
	// ResourceLevelCost enables GetCostAndUsageWithResources, as the
	// opt-in in Cost Explorer's preferences does; without it the call
	// fails with DataUnavailableException.
	ResourceLevelCost bool
	// ResourceLevelSince is the day resource-level data was enabled:
	// GetCostAndUsageWithResources has no rows before it. Zero means it
	// has rows for its whole 14 days.
	ResourceLevelSince time.Time
	// Page sizes below AWS's own, to force pagination in tests; 0 means
	// AWS's limits. MetricPageSize caps the datapoints of a GetMetricData
	// page (AWS: the request's MaxDatapoints, default 100,800),
	// ListMetricsPageSize the metrics of a ListMetrics page (AWS: 500),
	// CostPageSize the groups of a Cost Explorer page and PricePageSize
	// the products of a GetProducts page (AWS: the request's MaxResults,
	// at most 100).
	MetricPageSize, ListMetricsPageSize, CostPageSize, PricePageSize int
	// MetricStatus makes GetMetricData report, for the instances named
	// (instance ID → status code: InternalError, Forbidden), that status
	// code and no datapoints instead of their data.
	MetricStatus map[string]string
}

// The namespaces, metric names and dimensions the CloudWatch fake serves.
const (
	cwNamespaceEC2    = "AWS/EC2"
	cwNamespaceAgent  = "CWAgent"
	cwCPU             = "CPUUtilization"
	cwMemory          = "mem_used_percent"
	cwDimInstanceID   = "InstanceId"
	cwDimImageID      = "ImageId"
	cwDimInstanceType = "InstanceType"
	cwMaxQueries      = 500
	cwMaxDatapoints   = 100_800
	cwListPage        = 500
)

// serveCloudWatch answers GetMetricData and ListMetrics over Smithy RPC
// v2 CBOR, with the data of the simulated estate: AWS/EC2 CPUUtilization
// for every instance, and CWAgent mem_used_percent for the instances
// whose simulated agent reports memory, published under the dimension
// set {InstanceId} or {InstanceId, ImageId, InstanceType} (the agent's
// append_dimensions), chosen per instance.
func (s *Server) serveCloudWatch(w http.ResponseWriter, r *http.Request, rc *reqContext) {
	if r.Method != http.MethodPost || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" ||
		!strings.HasPrefix(r.URL.Path, "/service/GraniteServiceVersion20100801/operation/") {
		s.cwFail(w, rc, http.StatusBadRequest, "SerializationException", "ValidationError",
			"awsfake: CloudWatch is served over Smithy RPC v2 CBOR only (POST /service/GraniteServiceVersion20100801/operation/<Op>, Smithy-Protocol: rpc-v2-cbor)")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.cwFail(w, rc, http.StatusBadRequest, "SerializationException", "ValidationError", "awsfake: read body: "+err.Error())
		return
	}
	in := cbor.Map{}
	if len(body) > 0 {
		v, err := cbor.Decode(body)
		m, ok := v.(cbor.Map)
		if err != nil || !ok {
			s.cwFail(w, rc, http.StatusBadRequest, "SerializationException", "ValidationError", "awsfake: the body is not a CBOR map")
			return
		}
		in = m
	}
	switch rc.op {
	case "GetMetricData":
		s.getMetricData(w, r.Context(), rc, in)
	case "ListMetrics":
		s.listMetrics(w, r.Context(), rc, in)
	default:
		s.cwFail(w, rc, http.StatusBadRequest, "UnknownOperationException", "InvalidAction", "awsfake: monitoring "+rc.op+" is not served")
	}
}

// cwFail writes a CloudWatch error. CloudWatch is @awsQueryCompatible:
// besides the CBOR __type it names the error code of the old query
// protocol in X-Amzn-Query-Error, which the SDK reports as the code.
func (s *Server) cwFail(w http.ResponseWriter, rc *reqContext, status int, typ, queryCode, message string) {
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", queryCode+";"+fault)
	s.fail(w, rc, status, typ, message)
}

// cwSimFail answers an error of the simulated estate.
func (s *Server) cwSimFail(w http.ResponseWriter, rc *reqContext, err error) {
	switch {
	case errors.Is(err, domain.ErrPermission):
		s.cwFail(w, rc, http.StatusForbidden, "AccessDeniedException", "AccessDenied", err.Error())
	case errors.Is(err, domain.ErrThrottled):
		s.cwFail(w, rc, http.StatusBadRequest, "ThrottlingException", "Throttling", "Rate exceeded")
	default:
		s.cwFail(w, rc, http.StatusInternalServerError, "InternalServiceFault", "InternalServiceError", err.Error())
	}
}

// cwMetric is one metric the simulated CloudWatch holds.
type cwMetric struct {
	namespace, name string
	dims            []cwDim // sorted by name
	instance        string
	metric          domain.Metric
	// bucket marks an AWS/S3 metric, served a point a day from the
	// estate's bucket series; daySum those published as a day's Sum.
	bucket, daySum bool
}

type cwDim struct{ name, value string }

func (m cwMetric) key() string {
	var b strings.Builder
	b.WriteString(m.namespace + "\x00" + m.name)
	for _, d := range m.dims {
		b.WriteString("\x00" + d.name + "=" + d.value)
	}
	return b.String()
}

// cwScope is what the CloudWatch of one account and region holds.
type cwScope struct {
	metrics []cwMetric          // sorted by key
	byKey   map[string]cwMetric // key → metric
}

// cwProbe is a one-hour window long before any simulated history: the
// estate gives it a memory series exactly for VMs running an agent.
var cwProbe = collect.Window{Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2000, 1, 1, 1, 0, 0, 0, time.UTC)}

// cwCatalog lists the metrics of a scope, as ListMetrics reports them.
func (s *Server) cwCatalog(ctx context.Context, scope collect.Scope) (*cwScope, error) {
	var ids, buckets []string
	sku := map[string]string{}
	err := s.cloud.Resources(ctx, scope, func(page []domain.Resource) error {
		for _, r := range page {
			switch r.Kind {
			case domain.KindVM:
				ids = append(ids, r.ID)
				sku[r.ID] = r.SKU
			case domain.KindBucket:
				buckets = append(buckets, r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	agent := map[string]bool{}
	err = s.cloud.Series(ctx, scope, ids, cwProbe, time.Hour, func(sr domain.Series) error {
		if sr.Metric == domain.MetricMemory {
			agent[sr.ResourceID] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &cwScope{byKey: map[string]cwMetric{}}
	for _, id := range ids {
		c.metrics = append(c.metrics, cwMetric{namespace: cwNamespaceEC2, name: cwCPU,
			dims: []cwDim{{cwDimInstanceID, id}}, instance: id, metric: domain.MetricCPU})
		if agent[id] {
			c.metrics = append(c.metrics, cwMetric{namespace: cwNamespaceAgent, name: cwMemory,
				dims: cwAgentDims(id, sku[id]), instance: id, metric: domain.MetricMemory})
		}
	}
	for _, id := range buckets {
		// Every bucket lists its request metrics too; a bucket without
		// them simply has no datapoints.
		for _, m := range []struct {
			name, dim, val string
			metric         domain.Metric
			sum            bool
		}{
			{"BucketSizeBytes", "StorageType", "StandardStorage", domain.MetricStoredBytes, false},
			{"NumberOfObjects", "StorageType", "AllStorageTypes", domain.MetricObjects, false},
			{"BytesDownloaded", "FilterId", "EntireBucket", domain.MetricReadBytes, true},
			{"GetRequests", "FilterId", "EntireBucket", domain.MetricReadRequests, true},
		} {
			dims := []cwDim{{"BucketName", id}, {m.dim, m.val}}
			slices.SortFunc(dims, func(a, b cwDim) int { return strings.Compare(a.name, b.name) })
			c.metrics = append(c.metrics, cwMetric{namespace: "AWS/S3", name: m.name, dims: dims, instance: id,
				metric: m.metric, bucket: true, daySum: m.sum})
		}
	}
	slices.SortFunc(c.metrics, func(a, b cwMetric) int { return strings.Compare(a.key(), b.key()) })
	for _, m := range c.metrics {
		c.byKey[m.key()] = m
	}
	return c, nil
}

// cwAgentDims returns the dimensions the simulated agent of an instance
// publishes under: about half the instances add ImageId and InstanceType
// (the agent's default append_dimensions), the others only InstanceId.
func cwAgentDims(id, sku string) []cwDim {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	sum := h.Sum64()
	if sum%2 == 0 {
		return []cwDim{{cwDimInstanceID, id}}
	}
	return []cwDim{{cwDimImageID, fmt.Sprintf("ami-%017x", sum>>4)}, {cwDimInstanceID, id}, {cwDimInstanceType, sku}}
}

// listMetrics answers ListMetrics: the metrics of the caller's scope
// matching the namespace, metric name and dimension filters.
func (s *Server) listMetrics(w http.ResponseWriter, ctx context.Context, rc *reqContext, in cbor.Map) {
	ns, _ := cborString(in, "Namespace")
	name, _ := cborString(in, "MetricName")
	type filter struct {
		name, value string
		any         bool
	}
	var filters []filter
	for _, v := range cborList(in, "Dimensions") {
		m, _ := v.(cbor.Map)
		n, ok := cborString(m, "Name")
		if !ok || n == "" {
			s.cwFail(w, rc, http.StatusBadRequest, "InvalidParameterValueException", "InvalidParameterValue", "a dimension filter needs a Name")
			return
		}
		val, has := cborString(m, "Value")
		filters = append(filters, filter{n, val, !has})
	}
	if len(filters) > 10 {
		s.cwFail(w, rc, http.StatusBadRequest, "ValidationException", "ValidationError", "The collection Dimensions must not have a size greater than 10.")
		return
	}
	cat, err := s.cwCatalog(ctx, collect.Scope{Account: rc.account, Region: rc.region})
	if err != nil {
		s.cwSimFail(w, rc, err)
		return
	}
	var match []cwMetric
	for _, m := range cat.metrics {
		if (ns != "" && m.namespace != ns) || (name != "" && m.name != name) {
			continue
		}
		ok := true
		for _, f := range filters {
			i := slices.IndexFunc(m.dims, func(d cwDim) bool { return d.name == f.name && (f.any || d.value == f.value) })
			ok = ok && i >= 0
		}
		if ok {
			match = append(match, m)
		}
	}
	digest := dataDigest(ns, name, fmt.Sprint(filters))
	off := 0
	if tok, ok := cborString(in, "NextToken"); ok {
		if off, ok = parseDataToken(tok, digest); !ok || off > len(match) {
			s.cwFail(w, rc, http.StatusBadRequest, "InvalidNextToken", "InvalidNextToken", "The service returned an invalid next token.")
			return
		}
	}
	size := dataPageSize(cwListPage, s.opts.Data.ListMetricsPageSize)
	end := min(off+size, len(match))
	metrics := cbor.List{}
	for _, m := range match[off:end] {
		dims := cbor.List{}
		for _, d := range m.dims {
			dims = append(dims, cbor.Map{"Name": cbor.String(d.name), "Value": cbor.String(d.value)})
		}
		metrics = append(metrics, cbor.Map{"Namespace": cbor.String(m.namespace), "MetricName": cbor.String(m.name), "Dimensions": dims})
	}
	out := cbor.Map{"Metrics": metrics}
	if end < len(match) {
		out["NextToken"] = cbor.String(dataToken(end, digest))
	}
	s.ok(rc)
	writeCBOR(w, rc, http.StatusOK, out)
}

// cwQuery is one MetricDataQuery of a GetMetricData request.
type cwQuery struct {
	id, label string
	metric    cwMetric
	period    int64
	stat      string
}

var cwIDRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

var cwStats = map[string]bool{"Average": true, "Maximum": true, "Minimum": true, "Sum": true, "SampleCount": true}

// cwPoint is one datapoint of a result.
type cwPoint struct {
	t int64 // epoch seconds
	v float64
}

// cwResult is the full result of one query, before pagination.
type cwResult struct {
	q      cwQuery
	points []cwPoint
	status string
}

// getMetricData answers GetMetricData. Every query must be a MetricStat
// (metric math is not served); its datapoints are the simulated hourly
// samples of the metric, one at the start of each hour, aggregated into
// periods that start at StartTime (rounded down to the minute, as AWS
// does). Results are paginated by datapoints in query order: a query
// whose datapoints continue on the next page reports PartialData.
func (s *Server) getMetricData(w http.ResponseWriter, ctx context.Context, rc *reqContext, in cbor.Map) {
	invalid := func(typ, code, msg string) {
		s.cwFail(w, rc, http.StatusBadRequest, typ, code, msg)
	}
	start, okStart := cborTime(in, "StartTime")
	end, okEnd := cborTime(in, "EndTime")
	if !okStart || !okEnd {
		invalid("ValidationException", "ValidationError", "StartTime and EndTime are required")
		return
	}
	start = start.UTC().Truncate(time.Minute)
	end = end.UTC()
	if !start.Before(end) {
		invalid("ValidationException", "ValidationError", "The parameter StartTime must be less than the parameter EndTime.")
		return
	}
	scanBy := "TimestampDescending"
	if v, ok := cborString(in, "ScanBy"); ok {
		if v != "TimestampDescending" && v != "TimestampAscending" {
			invalid("ValidationException", "ValidationError", "ScanBy must be TimestampDescending or TimestampAscending")
			return
		}
		scanBy = v
	}
	maxPoints := cwMaxDatapoints
	if v, ok := cborInt(in, "MaxDatapoints"); ok {
		if v < 1 {
			invalid("ValidationException", "ValidationError", "MaxDatapoints must be at least 1")
			return
		}
		maxPoints = int(v)
	}
	raw := cborList(in, "MetricDataQueries")
	if len(raw) == 0 {
		invalid("ValidationException", "ValidationError", "MetricDataQueries must not be empty")
		return
	}
	if len(raw) > cwMaxQueries {
		invalid("ValidationException", "ValidationError",
			fmt.Sprintf("The collection MetricDataQueries must not have a size greater than %d.", cwMaxQueries))
		return
	}
	queries := make([]cwQuery, 0, len(raw))
	seen := map[string]bool{}
	for _, v := range raw {
		m, _ := v.(cbor.Map)
		q, msg := cwParseQuery(m)
		if msg == "" && seen[q.id] {
			msg = "The values for parameter id in MetricDataQueries are not unique: " + q.id
		}
		if msg != "" {
			invalid("InvalidParameterValueException", "InvalidParameterValue", msg)
			return
		}
		seen[q.id] = true
		queries = append(queries, q)
	}
	digest := dataDigest(start.Unix(), end.Unix(), scanBy, maxPoints, fmt.Sprint(queries))
	off := 0
	if tok, ok := cborString(in, "NextToken"); ok {
		if off, ok = parseDataToken(tok, digest); !ok {
			invalid("InvalidNextToken", "InvalidNextToken", "The service returned an invalid next token.")
			return
		}
	}
	scope := collect.Scope{Account: rc.account, Region: rc.region}
	cat, err := s.cwCatalog(ctx, scope)
	if err != nil {
		s.cwSimFail(w, rc, err)
		return
	}
	results, err := s.evaluate(ctx, scope, cat, queries, start, end)
	if err != nil {
		s.cwSimFail(w, rc, err)
		return
	}
	if scanBy == "TimestampDescending" {
		for _, r := range results {
			slices.Reverse(r.points)
		}
	}
	total := 0
	for _, r := range results {
		total += len(r.points)
	}
	if off > total {
		invalid("InvalidNextToken", "InvalidNextToken", "The service returned an invalid next token.")
		return
	}
	size := min(maxPoints, dataPageSize(cwMaxDatapoints, s.opts.Data.MetricPageSize))
	out := cbor.List{}
	pos, limit := 0, off+size
	for _, r := range results {
		first, last := pos, pos+len(r.points) // this result's datapoints are [first, last) of the whole
		pos = last
		// A result belongs on this page when some of its datapoints do,
		// or, without datapoints, when its place in the order does.
		if len(r.points) > 0 && (first >= limit || last <= off) {
			continue
		}
		if len(r.points) == 0 && (first < off || (first >= limit && limit < total)) {
			continue
		}
		lo, hi := max(first, off)-first, min(last, limit)-first
		ts, vs := cbor.List{}, cbor.List{}
		for _, p := range r.points[lo:hi] {
			ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(p.t)})
			vs = append(vs, cbor.Float64(p.v))
		}
		status := r.status
		if hi < len(r.points) {
			status = "PartialData"
		}
		res := cbor.Map{"Id": cbor.String(r.q.id), "Label": cbor.String(r.q.label), "Timestamps": ts, "Values": vs,
			"StatusCode": cbor.String(status)}
		if status != "Complete" && status != "PartialData" {
			res["Messages"] = cbor.List{cbor.Map{"Code": cbor.String(status), "Value": cbor.String("awsfake: injected " + status)}}
		}
		out = append(out, res)
	}
	reply := cbor.Map{"MetricDataResults": out, "Messages": cbor.List{}}
	if limit < total {
		reply["NextToken"] = cbor.String(dataToken(limit, digest))
	}
	s.ok(rc)
	writeCBOR(w, rc, http.StatusOK, reply)
}

// cwParseQuery reads one MetricDataQuery; a non-empty message says why it
// is refused.
func cwParseQuery(m cbor.Map) (cwQuery, string) {
	var q cwQuery
	q.id, _ = cborString(m, "Id")
	if !cwIDRE.MatchString(q.id) || len(q.id) > 255 {
		return q, fmt.Sprintf("The value %q for parameter MetricDataQueries.member.Id is invalid: it must start with a lower-case letter and hold only letters, digits and underscores.", q.id)
	}
	if rd, ok := m["ReturnData"].(cbor.Bool); ok && !bool(rd) {
		return q, "awsfake: ReturnData=false is only useful with metric math, which is not served"
	}
	if _, ok := m["Expression"]; ok {
		return q, "awsfake: metric math expressions are not served"
	}
	stat, ok := m["MetricStat"].(cbor.Map)
	if !ok {
		return q, "Exactly one of MetricStat and Expression must be set in query " + q.id
	}
	metric, _ := stat["Metric"].(cbor.Map)
	q.metric.namespace, _ = cborString(metric, "Namespace")
	q.metric.name, _ = cborString(metric, "MetricName")
	if q.metric.namespace == "" || q.metric.name == "" {
		return q, "The metric of query " + q.id + " needs a Namespace and a MetricName"
	}
	for _, v := range cborList(metric, "Dimensions") {
		d, _ := v.(cbor.Map)
		n, _ := cborString(d, "Name")
		val, _ := cborString(d, "Value")
		if n == "" || val == "" {
			return q, "The dimensions of query " + q.id + " need a Name and a Value"
		}
		q.metric.dims = append(q.metric.dims, cwDim{n, val})
	}
	slices.SortFunc(q.metric.dims, func(a, b cwDim) int { return strings.Compare(a.name, b.name) })
	period, ok := cborInt(stat, "Period")
	if !ok || period < 1 || (period >= 60 && period%60 != 0) || (period < 60 && !slices.Contains([]int64{1, 5, 10, 20, 30}, period)) {
		return q, fmt.Sprintf("The parameter Period of query %s must be 1, 5, 10, 20, 30 or a multiple of 60", q.id)
	}
	q.period = period
	q.stat, _ = cborString(stat, "Stat")
	if !cwStats[q.stat] {
		return q, fmt.Sprintf("awsfake: statistic %q of query %s is not served (Average, Maximum, Minimum, Sum, SampleCount)", q.stat, q.id)
	}
	q.label, _ = cborString(m, "Label")
	if q.label == "" {
		q.label = q.metric.name
	}
	return q, ""
}

// evaluate computes the full result of every query.
func (s *Server) evaluate(ctx context.Context, scope collect.Scope, cat *cwScope, queries []cwQuery, start, end time.Time) ([]*cwResult, error) {
	results := make([]*cwResult, len(queries))
	// series memoises the simulated series of one instance at one step.
	type seriesKey struct {
		id   string
		step time.Duration
	}
	memo := map[seriesKey]map[domain.Metric]domain.Series{}
	series := func(id string, step time.Duration, from time.Time) (map[domain.Metric]domain.Series, error) {
		k := seriesKey{id, step}
		if m, ok := memo[k]; ok {
			return m, nil
		}
		m := map[domain.Metric]domain.Series{}
		err := s.cloud.Series(ctx, scope, []string{id}, collect.Window{Start: from, End: end}, step, func(sr domain.Series) error {
			m[sr.Metric] = sr
			return nil
		})
		memo[k] = m
		return m, err
	}
	for i, q := range queries {
		r := &cwResult{q: q, status: "Complete"}
		results[i] = r
		m, ok := cat.byKey[q.metric.key()]
		if !ok {
			continue // no such metric: an empty, complete result, as in AWS
		}
		if st := s.opts.Data.MetricStatus[m.instance]; st != "" {
			r.status = st
			continue
		}
		period := time.Duration(q.period) * time.Second
		if m.bucket {
			// S3 publishes a point a day, at midnight UTC.
			if period != 24*time.Hour || (q.stat != "Average" && q.stat != "Sum") {
				continue
			}
			err := s.cloud.BucketSeries(ctx, scope, []string{m.instance}, collect.Window{Start: start, End: end}, func(sr domain.Series) error {
				if sr.Metric != m.metric {
					return nil
				}
				for j, v := range sr.Values {
					if domain.IsMissing(v) {
						continue
					}
					x := float64(v)
					if m.daySum {
						x *= 86400 // the estate keeps rates per second
					}
					r.points = append(r.points, cwPoint{sr.Start.Add(time.Duration(j) * sr.Step).Unix(), x})
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			continue
		}
		if q.stat == "Average" && period%time.Hour == 0 && start.Truncate(period).Equal(start) {
			// Whole hours on the period's grid: the estate's own averages.
			ss, err := series(m.instance, period, start)
			if err != nil {
				return nil, err
			}
			if sr, ok := ss[m.metric]; ok {
				for j, v := range sr.Values {
					if !domain.IsMissing(v) {
						r.points = append(r.points, cwPoint{sr.Start.Add(time.Duration(j) * period).Unix(), float64(v)})
					}
				}
			}
			continue
		}
		ss, err := series(m.instance, time.Hour, start.Truncate(time.Hour))
		if err != nil {
			return nil, err
		}
		sr, ok := ss[m.metric]
		if !ok {
			continue
		}
		r.points = cwAggregate(sr, start, q.period, q.stat)
	}
	return results, nil
}

// cwAggregate puts the hourly samples of sr (one at the start of each
// hour) into periods of the given length starting at start.
func cwAggregate(sr domain.Series, start time.Time, period int64, stat string) []cwPoint {
	type bucket struct {
		n             int
		sum, min, max float64
	}
	var order []int64
	buckets := map[int64]*bucket{}
	for j, v := range sr.Values {
		t := sr.Start.Add(time.Duration(j) * sr.Step).Unix()
		if domain.IsMissing(v) || t < start.Unix() {
			continue
		}
		b := start.Unix() + (t-start.Unix())/period*period
		bk, ok := buckets[b]
		if !ok {
			bk = &bucket{min: math.Inf(1), max: math.Inf(-1)}
			buckets[b] = bk
			order = append(order, b)
		}
		f := float64(v)
		bk.n++
		bk.sum += f
		bk.min = math.Min(bk.min, f)
		bk.max = math.Max(bk.max, f)
	}
	out := make([]cwPoint, 0, len(order))
	for _, t := range order {
		b := buckets[t]
		var v float64
		switch stat {
		case "Average":
			v = b.sum / float64(b.n)
		case "Maximum":
			v = b.max
		case "Minimum":
			v = b.min
		case "Sum":
			v = b.sum
		case "SampleCount":
			v = float64(b.n)
		}
		out = append(out, cwPoint{t, v})
	}
	return out
}

// dataPageSize returns the page size: AWS's, or the smaller one configured.
func dataPageSize(aws, configured int) int {
	if configured > 0 && configured < aws {
		return configured
	}
	return aws
}

// dataDigest identifies a request apart from its page token, so that
// a token is refused for a request that changed between pages.
func dataDigest(parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return hex.EncodeToString(h[:8])
}

// dataToken encodes the offset of the next page of a request.
func dataToken(offset int, digest string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("awsfake/" + strconv.Itoa(offset) + "/" + digest))
}

// parseDataToken decodes a token of dataToken for the same request.
func parseDataToken(tok, digest string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	parts := strings.Split(string(b), "/")
	if len(parts) != 3 || parts[0] != "awsfake" || parts[2] != digest {
		return 0, false
	}
	off, err := strconv.Atoi(parts[1])
	return off, err == nil && off >= 0
}

func cborString(m cbor.Map, key string) (string, bool) {
	v, ok := m[key].(cbor.String)
	return string(v), ok
}

func cborList(m cbor.Map, key string) cbor.List {
	v, _ := m[key].(cbor.List)
	return v
}

func cborInt(m cbor.Map, key string) (int64, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	i, err := cbor.AsInt64(v)
	return i, err == nil
}

func cborTime(m cbor.Map, key string) (time.Time, bool) {
	v, ok := m[key]
	if !ok {
		return time.Time{}, false
	}
	t, err := cbor.AsTime(v)
	return t, err == nil
}
