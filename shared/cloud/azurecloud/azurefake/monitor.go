package azurefake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
)

// MaxMetricNames is the most metric names one metrics query takes.
const MaxMetricNames = 20

// DefaultMetricTop is the number of time series a metrics query with a
// filter answers when it does not say (its top parameter).
const DefaultMetricTop = 10

// intervals are the time grains Azure Monitor serves platform metrics at.
var intervals = map[string]time.Duration{
	"PT1M": time.Minute, "PT5M": 5 * time.Minute, "PT15M": 15 * time.Minute, "PT30M": 30 * time.Minute,
	"PT1H": time.Hour, "PT6H": 6 * time.Hour, "PT12H": 12 * time.Hour, "P1D": 24 * time.Hour,
}

// metricUnits gives each served metric its unit; a metric not listed is
// not served (the API answers it with an error).
var metricUnits = map[string]armmonitor.MetricUnit{
	MetricCPU: armmonitor.MetricUnitPercent, MetricAvailableMem: armmonitor.MetricUnitBytes,
	MetricNetIn: armmonitor.MetricUnitBytes, MetricNetOut: armmonitor.MetricUnitBytes,
	MetricDiskRead: armmonitor.MetricUnitBytes, MetricDiskWrite: armmonitor.MetricUnitBytes,
}

// totals are the metrics whose value over an interval is a sum of
// one-minute values; the others are averages.
var totals = map[string]bool{MetricNetIn: true, MetricNetOut: true, MetricDiskRead: true, MetricDiskWrite: true}

// metricQuery is a subscription-scope metrics query, from the query
// string or the POST body.
type metricQuery struct {
	region, namespace, names, aggregation, interval, timespan, filter string
	top                                                               int32
}

func (s *Server) metricsPost(ctx context.Context, region string, o *armmonitor.MetricsClientListAtSubscriptionScopePostOptions) (resp azfake.Responder[armmonitor.MetricsClientListAtSubscriptionScopePostResponse], errResp azfake.ErrorResponder) {
	q := metricQuery{region: region, top: DefaultMetricTop}
	if o != nil {
		q.namespace, q.names, q.aggregation = deref(o.Metricnamespace), deref(o.Metricnames), deref(o.Aggregation)
		q.interval, q.timespan, q.filter = deref(o.Interval), deref(o.Timespan), deref(o.Filter)
		if o.Top != nil {
			q.top = *o.Top
		}
		if b := o.Body; b != nil {
			q.namespace = or(deref(b.MetricNamespace), q.namespace)
			q.names = or(deref(b.MetricNames), q.names)
			q.aggregation = or(deref(b.Aggregation), q.aggregation)
			q.interval = or(deref(b.Interval), q.interval)
			q.timespan = or(deref(b.Timespan), q.timespan)
			q.filter = or(deref(b.Filter), q.filter)
			if b.Top != nil {
				q.top = *b.Top
			}
		}
	}
	out, status, code := s.metrics(ctx, q)
	if status != 0 {
		errResp.SetResponseError(status, code)
		return resp, errResp
	}
	resp.SetResponse(http.StatusOK, armmonitor.MetricsClientListAtSubscriptionScopePostResponse{Response: out}, nil)
	return resp, errResp
}

func (s *Server) metricsGet(ctx context.Context, region string, o *armmonitor.MetricsClientListAtSubscriptionScopeOptions) (resp azfake.Responder[armmonitor.MetricsClientListAtSubscriptionScopeResponse], errResp azfake.ErrorResponder) {
	q := metricQuery{region: region, top: DefaultMetricTop}
	if o != nil {
		q.namespace, q.names, q.aggregation = deref(o.Metricnamespace), deref(o.Metricnames), deref(o.Aggregation)
		q.interval, q.timespan, q.filter = deref(o.Interval), deref(o.Timespan), deref(o.Filter)
		if o.Top != nil {
			q.top = *o.Top
		}
	}
	out, status, code := s.metrics(ctx, q)
	if status != 0 {
		errResp.SetResponseError(status, code)
		return resp, errResp
	}
	resp.SetResponse(http.StatusOK, armmonitor.MetricsClientListAtSubscriptionScopeResponse{Response: out}, nil)
	return resp, errResp
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// resourceIDFilter finds the resource IDs a $filter names.
var resourceIDFilter = regexp.MustCompile(`(?i)microsoft\.resourceid\s+eq\s+'([^']*)'`)

// metrics answers a subscription-scope metrics query: one time series
// per VM of the subscription and region the filter names ('*' for all),
// at most top of them per metric, each point carrying the aggregations
// asked for, NaN values left out as Azure leaves out points without
// data. A status other than 0 is an error to answer.
func (s *Server) metrics(ctx context.Context, q metricQuery) (armmonitor.Response, int, string) {
	info := RequestFrom(ctx)
	if !strings.EqualFold(q.namespace, "Microsoft.Compute/virtualMachines") {
		return armmonitor.Response{}, http.StatusBadRequest, "BadRequest"
	}
	names := strings.Split(q.names, ",")
	if q.names == "" || len(names) > MaxMetricNames {
		return armmonitor.Response{}, http.StatusBadRequest, "BadRequest"
	}
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
		if _, ok := metricUnits[names[i]]; !ok {
			return armmonitor.Response{}, http.StatusBadRequest, "BadRequest"
		}
	}
	step, ok := intervals[strings.ToUpper(q.interval)]
	if !ok {
		return armmonitor.Response{}, http.StatusBadRequest, "BadRequest"
	}
	from, to_, ok := parseTimespan(q.timespan)
	if !ok || !to_.After(from) {
		return armmonitor.Response{}, http.StatusBadRequest, "BadRequest"
	}
	aggs := map[string]bool{}
	for _, a := range strings.Split(strings.ToLower(q.aggregation), ",") {
		aggs[strings.TrimSpace(a)] = true
	}
	if q.aggregation == "" {
		aggs["average"] = true
	}
	n := int(to_.Sub(from) / step)

	// The VMs the filter names, in the subscription and region.
	var ids []string
	all := false
	want := map[string]bool{}
	for _, m := range resourceIDFilter.FindAllStringSubmatch(q.filter, -1) {
		if m[1] == "*" {
			all = true
		}
		want[Key(m[1])] = true
	}
	s.Estate.Lock()
	source := s.Estate.Metrics
	if sub := s.Estate.Sub(info.Subscription); sub != nil {
		for _, k := range sortedKeys(sub.VMs) {
			vm := sub.VMs[k]
			if strings.EqualFold(vm.Location, q.region) && (all || want[k]) {
				ids = append(ids, vm.ID)
			}
		}
	}
	s.Estate.Unlock()
	if q.filter == "" && len(ids) > 0 {
		ids = ids[:1] // without a filter Azure aggregates; the fake serves one series
	}

	out := armmonitor.Response{
		Timespan: to.Ptr(q.timespan), Interval: to.Ptr(strings.ToUpper(q.interval)),
		Namespace: to.Ptr(q.namespace), Resourceregion: to.Ptr(q.region), Cost: to.Ptr(int32(0)),
	}
	for _, name := range names {
		m := &armmonitor.Metric{
			ID:   to.Ptr(fmt.Sprintf("/subscriptions/%s/providers/Microsoft.Insights/metrics/%s", info.Subscription, name)),
			Name: &armmonitor.LocalizableString{Value: to.Ptr(name), LocalizedValue: to.Ptr(name)},
			Type: to.Ptr("Microsoft.Insights/metrics"), Unit: to.Ptr(metricUnits[name]),
			ErrorCode: to.Ptr("Success"), Timeseries: []*armmonitor.TimeSeriesElement{},
		}
		for _, id := range ids {
			if len(m.Timeseries) >= int(q.top) {
				break
			}
			var vals []float64
			if source != nil {
				vals = source(id, name, from, step, n)
			}
			if vals == nil {
				continue // the VM does not report this metric
			}
			ts := &armmonitor.TimeSeriesElement{
				Metadatavalues: []*armmonitor.MetadataValue{{Name: &armmonitor.LocalizableString{Value: to.Ptr("Microsoft.ResourceId"),
					LocalizedValue: to.Ptr("Microsoft.ResourceId")}, Value: to.Ptr(Key(id))}},
				Data: make([]*armmonitor.MetricValue, 0, n),
			}
			minutes := step.Minutes()
			for i := 0; i < n; i++ {
				p := &armmonitor.MetricValue{TimeStamp: to.Ptr(from.Add(time.Duration(i) * step))}
				if i < len(vals) && !math.IsNaN(vals[i]) {
					v := vals[i]
					avg, total := v, v*minutes
					if totals[name] {
						avg, total = v/minutes, v
					}
					if aggs["average"] {
						p.Average = to.Ptr(avg)
					}
					if aggs["total"] {
						p.Total = to.Ptr(total)
					}
				}
				ts.Data = append(ts.Data, p)
			}
			m.Timeseries = append(m.Timeseries, ts)
		}
		out.Value = append(out.Value, m)
	}
	return out, 0, ""
}

// serveMetricsFast answers a subscription-scope metrics query (GET or
// POST) without the SDK fake: the same answer as metricsPost and
// metricsGet, written by encodeMetrics.
func (s *Server) serveMetricsFast(req *http.Request) *http.Response {
	qp := req.URL.Query()
	q := metricQuery{region: qp.Get("region"), namespace: qp.Get("metricnamespace"), names: qp.Get("metricnames"),
		aggregation: qp.Get("aggregation"), interval: qp.Get("interval"), timespan: qp.Get("timespan"),
		filter: qp.Get("$filter"), top: DefaultMetricTop}
	if v := qp.Get("top"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			q.top = int32(n)
		}
	}
	if req.Body != nil && req.Method == http.MethodPost {
		var b armmonitor.SubscriptionScopeMetricsRequestBodyParameters
		raw, err := io.ReadAll(req.Body)
		if err == nil && len(raw) > 0 {
			err = json.Unmarshal(raw, &b)
		}
		if err != nil {
			return errorResponse(req, http.StatusBadRequest, "BadRequest", "azurefake: unreadable metrics query body")
		}
		q.namespace = or(deref(b.MetricNamespace), q.namespace)
		q.names = or(deref(b.MetricNames), q.names)
		q.aggregation = or(deref(b.Aggregation), q.aggregation)
		q.interval = or(deref(b.Interval), q.interval)
		q.timespan = or(deref(b.Timespan), q.timespan)
		q.filter = or(deref(b.Filter), q.filter)
		if b.Top != nil {
			q.top = *b.Top
		}
	}
	out, status, code := s.metrics(req.Context(), q)
	if status != 0 {
		return errorResponse(req, status, code, "azurefake: invalid metrics query")
	}
	body := encodeMetrics(out)
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Request: req, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}

// encodeMetrics writes a metrics answer as the SDK's MarshalJSON writes
// it (the same fields, names and formats), at a small part of its cost:
// the generated encoder builds a map per data point.
func encodeMetrics(r armmonitor.Response) []byte {
	b := make([]byte, 0, 1<<16)
	str := func(b []byte, s string) []byte {
		q, _ := json.Marshal(s)
		return append(b, q...)
	}
	field := func(b []byte, first bool, name string) []byte {
		if !first {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		return append(b, '"', ':')
	}
	loc := func(b []byte, l *armmonitor.LocalizableString) []byte {
		b = append(b, '{')
		first := true
		if l.LocalizedValue != nil {
			b = str(field(b, first, "localizedValue"), *l.LocalizedValue)
			first = false
		}
		if l.Value != nil {
			b = str(field(b, first, "value"), *l.Value)
		}
		return append(b, '}')
	}
	b = append(b, '{')
	first := true
	opt := func(name string, v *string) {
		if v != nil {
			b = str(field(b, first, name), *v)
			first = false
		}
	}
	if r.Cost != nil {
		b = strconv.AppendInt(field(b, first, "cost"), int64(*r.Cost), 10)
		first = false
	}
	opt("interval", r.Interval)
	opt("namespace", r.Namespace)
	opt("resourceregion", r.Resourceregion)
	opt("timespan", r.Timespan)
	b = append(field(b, first, "value"), '[')
	for i, m := range r.Value {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		f := true
		mopt := func(name string, v *string) {
			if v != nil {
				b = str(field(b, f, name), *v)
				f = false
			}
		}
		mopt("displayDescription", m.DisplayDescription)
		mopt("errorCode", m.ErrorCode)
		mopt("errorMessage", m.ErrorMessage)
		mopt("id", m.ID)
		if m.Name != nil {
			b = loc(field(b, f, "name"), m.Name)
			f = false
		}
		b = append(field(b, f, "timeseries"), '[')
		for j, ts := range m.Timeseries {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"data":[`...)
			for k, pt := range ts.Data {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				pf := true
				num := func(name string, v *float64) {
					if v != nil {
						b = strconv.AppendFloat(field(b, pf, name), *v, 'g', -1, 64)
						pf = false
					}
				}
				num("average", pt.Average)
				num("count", pt.Count)
				num("maximum", pt.Maximum)
				num("minimum", pt.Minimum)
				if pt.TimeStamp != nil {
					b = append(field(b, pf, "timeStamp"), '"')
					b = pt.TimeStamp.UTC().AppendFormat(b, time.RFC3339Nano)
					b = append(b, '"')
					pf = false
				}
				num("total", pt.Total)
				b = append(b, '}')
			}
			b = append(b, `],"metadatavalues":[`...)
			for k, mv := range ts.Metadatavalues {
				if k > 0 {
					b = append(b, ',')
				}
				b = append(b, '{')
				vf := true
				if mv.Name != nil {
					b = loc(field(b, vf, "name"), mv.Name)
					vf = false
				}
				if mv.Value != nil {
					b = str(field(b, vf, "value"), *mv.Value)
				}
				b = append(b, '}')
			}
			b = append(b, ']', '}')
		}
		b = append(b, ']')
		f = false
		mopt("type", m.Type)
		if m.Unit != nil {
			b = str(field(b, f, "unit"), string(*m.Unit))
		}
		b = append(b, '}')
	}
	return append(b, ']', '}')
}

// parseTimespan reads "start/end" in RFC 3339.
func parseTimespan(s string) (time.Time, time.Time, bool) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	from, err1 := time.Parse(time.RFC3339, a)
	to_, err2 := time.Parse(time.RFC3339, b)
	return from.UTC(), to_.UTC(), err1 == nil && err2 == nil
}
