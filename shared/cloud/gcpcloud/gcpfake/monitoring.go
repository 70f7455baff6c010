package gcpfake

import (
	"context"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/option"
	metricpb "google.golang.org/genproto/googleapis/api/metric"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The Compute Engine and Ops Agent metric types the Monitoring fake
// serves. Any other type in a filter is refused, as a type Cloud
// Monitoring does not know is.
const (
	// MetricCPUUtilization is a GAUGE DOUBLE fraction (0 to about 1).
	MetricCPUUtilization = "compute.googleapis.com/instance/cpu/utilization"
	// MetricMemoryPercentUsed is the Ops Agent's GAUGE DOUBLE percentage,
	// one series per metric.labels.state (used, free, cached, ...).
	MetricMemoryPercentUsed = "agent.googleapis.com/memory/percent_used"
	// MetricNetworkReceived and MetricNetworkSent are DELTA INT64 bytes,
	// one series per metric.labels.loadbalanced.
	MetricNetworkReceived = "compute.googleapis.com/instance/network/received_bytes_count"
	MetricNetworkSent     = "compute.googleapis.com/instance/network/sent_bytes_count"
	// MetricDiskRead and MetricDiskWrite are DELTA INT64 bytes, one
	// series per metric.labels.device_name.
	MetricDiskRead  = "compute.googleapis.com/instance/disk/read_bytes_count"
	MetricDiskWrite = "compute.googleapis.com/instance/disk/write_bytes_count"
)

// The Cloud Storage metric types the Monitoring fake serves, of the
// monitored resource gcs_bucket.
const (
	// MetricStorageBytes is a GAUGE DOUBLE of the bytes stored, one
	// series per metric.labels.storage_class, sampled once a day.
	MetricStorageBytes = "storage.googleapis.com/storage/total_bytes"
	// MetricStorageObjects is a GAUGE INT64 object count, one series per
	// metric.labels.storage_class, sampled once a day.
	MetricStorageObjects = "storage.googleapis.com/storage/object_count"
	// MetricStorageRequests is a DELTA INT64 count of API requests, one
	// series per metric.labels.method and response_code.
	MetricStorageRequests = "storage.googleapis.com/api/request_count"
	// MetricStorageSent is a DELTA INT64 of the bytes sent, one series
	// per metric.labels.method and response_code.
	MetricStorageSent = "storage.googleapis.com/network/sent_bytes_count"
)

// The monitored resource types of the series the fake serves.
const (
	ResourceGCEInstance = "gce_instance"
	ResourceGCSBucket   = "gcs_bucket"
)

// DefaultMaxPagePoints is the most points one ListTimeSeries page holds
// unless the request asks for fewer: the API's page_size counts points
// in the FULL view and is at most 100,000.
const DefaultMaxPagePoints = 100_000

// metricDescriptor is what the fake knows of a metric type.
type metricDescriptor struct {
	kind  metricpb.MetricDescriptor_MetricKind
	value metricpb.MetricDescriptor_ValueType
	unit  string
	// compute metrics carry the instance's name as a metric label; the
	// agent's metrics do not.
	compute bool
	// resource is the monitored resource type; gce_instance when empty.
	resource string
}

func (d metricDescriptor) resourceType() string {
	if d.resource == "" {
		return ResourceGCEInstance
	}
	return d.resource
}

var metricDescriptors = map[string]metricDescriptor{
	MetricCPUUtilization:    {metricpb.MetricDescriptor_GAUGE, metricpb.MetricDescriptor_DOUBLE, "10^2.%", true, ""},
	MetricMemoryPercentUsed: {metricpb.MetricDescriptor_GAUGE, metricpb.MetricDescriptor_DOUBLE, "%", false, ""},
	MetricNetworkReceived:   {metricpb.MetricDescriptor_DELTA, metricpb.MetricDescriptor_INT64, "By", true, ""},
	MetricNetworkSent:       {metricpb.MetricDescriptor_DELTA, metricpb.MetricDescriptor_INT64, "By", true, ""},
	MetricDiskRead:          {metricpb.MetricDescriptor_DELTA, metricpb.MetricDescriptor_INT64, "By", true, ""},
	MetricDiskWrite:         {metricpb.MetricDescriptor_DELTA, metricpb.MetricDescriptor_INT64, "By", true, ""},
	MetricStorageBytes:      {metricpb.MetricDescriptor_GAUGE, metricpb.MetricDescriptor_DOUBLE, "By", false, ResourceGCSBucket},
	MetricStorageObjects:    {metricpb.MetricDescriptor_GAUGE, metricpb.MetricDescriptor_INT64, "1", false, ResourceGCSBucket},
	MetricStorageRequests:   {metricpb.MetricDescriptor_DELTA, metricpb.MetricDescriptor_INT64, "1", false, ResourceGCSBucket},
	MetricStorageSent:       {metricpb.MetricDescriptor_DELTA, metricpb.MetricDescriptor_INT64, "By", false, ResourceGCSBucket},
}

// MetricPoint is one raw sample: for a GAUGE the value at End, for a
// DELTA the amount since the previous sample.
type MetricPoint struct {
	End   time.Time
	Value float64
}

// MetricSeries is the raw series of one metric of one instance, or of
// one bucket for the Cloud Storage metrics.
type MetricSeries struct {
	Project, Zone, InstanceName string
	InstanceID                  uint64
	// Bucket and Location are the bucket's name and its location label
	// (lower case: "us-central1", "us") in a gcs_bucket series.
	Bucket, Location string
	// Type is one of the Metric* constants.
	Type string
	// Labels are the metric labels besides instance_name, which the fake
	// adds to the compute.googleapis.com types itself.
	Labels map[string]string
	Points []MetricPoint
}

// MetricQuery is what a ListTimeSeries call asks a MetricSource for: the
// series of one project and metric type with samples in (From, To], of
// instances in the zones Zone accepts, or buckets in the locations
// Location accepts. A source may hand on more; the fake filters and
// aligns what it gets.
type MetricQuery struct {
	Project, Type string
	From, To      time.Time
	Zone          func(zone string) bool
	Location      func(location string) bool
}

// A MetricSource produces series on demand, so a large estate need not
// sit in memory. Its error is answered as an internal error.
type MetricSource func(ctx context.Context, q MetricQuery, fn func(MetricSeries) error) error

// Monitoring is an in-process Cloud Monitoring MetricService serving
// ListTimeSeries over gRPC (bufconn) to the real monitoring client. It
// evaluates the subset of the filter language Series sends (metric.type,
// resource.type and resource or metric labels compared with = to a
// string or to starts_with("..."), joined by AND) and refuses anything
// else with InvalidArgument, so a drift of the query is caught. It
// aligns raw samples as Cloud Monitoring does: points at the interval's
// end and every alignment period before it, each over the period that
// ends there, newest first, with ALIGN_MEAN, ALIGN_MAX or ALIGN_RATE
// (DELTA metrics only); a period without samples has no point and a
// series without points is left out. Pages hold whole series up to
// page_size points (at least one series). It is safe for concurrent use.
type Monitoring struct {
	monitoringpb.UnimplementedMetricServiceServer

	lis *bufconn.Listener
	srv *grpc.Server

	mu            sync.Mutex
	stored        []MetricSeries
	source        MetricSource
	maxPagePoints int
	denied        map[string]bool
	throttle      int
	requests      []*monitoringpb.ListTimeSeriesRequest
}

// NewMonitoring starts a Monitoring fake; Close stops it.
func NewMonitoring() *Monitoring {
	m := &Monitoring{lis: bufconn.Listen(1 << 20), srv: grpc.NewServer(), maxPagePoints: DefaultMaxPagePoints, denied: map[string]bool{}}
	monitoringpb.RegisterMetricServiceServer(m.srv, m)
	go func() { _ = m.srv.Serve(m.lis) }()
	return m
}

// ClientOptions are the options that point a monitoring client at the
// fake: each client dials its own connection over the in-memory
// listener, without credentials.
func (m *Monitoring) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint("passthrough:///cloudmonitoring.fake"),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return m.lis.DialContext(ctx)
		})),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Close stops the server.
func (m *Monitoring) Close() {
	m.srv.Stop()
	_ = m.lis.Close()
}

// Add stores the raw series of one metric of one instance.
func (m *Monitoring) Add(project, zone, instanceName string, instanceID uint64, metricType string, labels map[string]string, points ...MetricPoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stored = append(m.stored, MetricSeries{Project: project, Zone: zone, InstanceName: instanceName, InstanceID: instanceID,
		Type: metricType, Labels: labels, Points: append([]MetricPoint(nil), points...)})
}

// SetSource makes src answer besides the stored series.
func (m *Monitoring) SetSource(src MetricSource) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.source = src
}

// SetMaxPagePoints caps the points of a page below what requests ask.
func (m *Monitoring) SetMaxPagePoints(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maxPagePoints = n
}

// Deny answers PermissionDenied to every request about project.
func (m *Monitoring) Deny(project string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.denied[project] = true
}

// Throttle answers the next n requests ResourceExhausted.
func (m *Monitoring) Throttle(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.throttle = n
}

// Requests returns a copy of every ListTimeSeries request received, in
// order.
func (m *Monitoring) Requests() []*monitoringpb.ListTimeSeriesRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*monitoringpb.ListTimeSeriesRequest, len(m.requests))
	for i, r := range m.requests {
		out[i] = proto.CloneOf(r)
	}
	return out
}

// ListTimeSeries answers one page of a query.
func (m *Monitoring) ListTimeSeries(ctx context.Context, req *monitoringpb.ListTimeSeriesRequest) (*monitoringpb.ListTimeSeriesResponse, error) {
	m.mu.Lock()
	m.requests = append(m.requests, proto.CloneOf(req))
	throttled := m.throttle > 0
	if throttled {
		m.throttle--
	}
	project, okName := strings.CutPrefix(req.GetName(), "projects/")
	denied := m.denied[project]
	stored := m.stored
	source := m.source
	maxPoints := m.maxPagePoints
	m.mu.Unlock()

	switch {
	case throttled:
		return nil, status.Error(codes.ResourceExhausted, "Quota exceeded for quota metric 'Time series queries' of service 'monitoring.googleapis.com'")
	case !okName || project == "" || strings.Contains(project, "/"):
		return nil, status.Errorf(codes.InvalidArgument, "name %q is not projects/[PROJECT_ID_OR_NUMBER]", req.GetName())
	case denied:
		return nil, status.Errorf(codes.PermissionDenied, "Permission monitoring.timeSeries.list denied (or the resource may not exist) on projects/%s", project)
	}
	q, err := parseSeriesQuery(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var all []*monitoringpb.TimeSeries
	take := func(s MetricSeries) error {
		if ts := q.evaluate(project, s); ts != nil {
			all = append(all, ts)
		}
		return nil
	}
	for _, s := range stored {
		if s.Project == project {
			_ = take(s)
		}
	}
	if source != nil {
		mq := MetricQuery{Project: project, Type: q.metricType, From: q.start, To: q.end,
			Zone: q.labelMatches("zone"), Location: q.labelMatches("location")}
		if err := source(ctx, mq, take); err != nil {
			return nil, status.Errorf(codes.Internal, "reading the series of %s: %v", project, err)
		}
	}

	from := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "series-"))
		if err != nil || !strings.HasPrefix(tok, "series-") || n <= 0 || n > len(all) {
			return nil, status.Errorf(codes.InvalidArgument, "page_token %q is not a token of this query", tok)
		}
		from = n
	}
	limit := int(req.GetPageSize())
	if limit <= 0 || limit > DefaultMaxPagePoints {
		limit = DefaultMaxPagePoints
	}
	limit = min(limit, maxPoints)
	resp := &monitoringpb.ListTimeSeriesResponse{Unit: metricDescriptors[q.metricType].unit}
	points, to := 0, from
	for ; to < len(all); to++ {
		n := len(all[to].Points)
		if to > from && points+n > limit {
			break
		}
		points += n
		resp.TimeSeries = append(resp.TimeSeries, all[to])
	}
	if to < len(all) {
		resp.NextPageToken = "series-" + strconv.Itoa(to)
	}
	return resp, nil
}

// seriesQuery is a parsed ListTimeSeries request.
type seriesQuery struct {
	metricType   string
	resourceType string
	resource     []labelCond // on zone, instance_id, project_id
	metric       []labelCond
	start, end   time.Time
	period       time.Duration
	aligner      monitoringpb.Aggregation_Aligner
	desc         metricDescriptor
}

// labelCond is one `<label> = "v"` or `<label> = starts_with("v")`.
type labelCond struct {
	key, value string
	prefix     bool
}

func (c labelCond) matches(v string, ok bool) bool {
	if !ok {
		return false
	}
	if c.prefix {
		return strings.HasPrefix(v, c.value)
	}
	return v == c.value
}

// filterTerm is one comparison of the filter subset the fake reads.
var filterTerm = regexp.MustCompile(`^(metric\.type|resource\.type|resource\.labels?\.([a-z_]+)|metric\.labels?\.([a-z_]+))\s*=\s*(?:"([^"\\]*)"|starts_with\("([^"\\]*)"\))$`)

// resourceLabels are the labels of each monitored resource type.
var resourceLabels = map[string]map[string]bool{
	ResourceGCEInstance: {"zone": true, "instance_id": true, "project_id": true},
	ResourceGCSBucket:   {"bucket_name": true, "location": true, "project_id": true},
}

// parseSeriesQuery reads and checks a request: the filter subset, an
// interval, and an aggregation the fake serves.
func parseSeriesQuery(req *monitoringpb.ListTimeSeriesRequest) (*seriesQuery, error) {
	q := &seriesQuery{}
	if strings.TrimSpace(req.GetFilter()) == "" {
		return nil, fmt.Errorf("a filter with a metric.type is required")
	}
	for _, term := range strings.Split(req.GetFilter(), " AND ") {
		term = strings.TrimSpace(term)
		m := filterTerm.FindStringSubmatch(term)
		if m == nil {
			return nil, fmt.Errorf("the fake does not understand the filter term %q", term)
		}
		value, prefix := m[4], false
		if m[5] != "" || strings.Contains(term, "starts_with(") {
			value, prefix = m[5], true
		}
		switch {
		case m[1] == "metric.type" || m[1] == "resource.type":
			if prefix {
				return nil, fmt.Errorf("the fake does not understand starts_with on %s", m[1])
			}
			target := &q.metricType
			if m[1] == "resource.type" {
				target = &q.resourceType
			}
			if *target != "" {
				return nil, fmt.Errorf("%s is given twice", m[1])
			}
			*target = value
		case m[2] != "":
			q.resource = append(q.resource, labelCond{m[2], value, prefix})
		default:
			q.metric = append(q.metric, labelCond{m[3], value, prefix})
		}
	}
	desc, ok := metricDescriptors[q.metricType]
	if !ok {
		return nil, fmt.Errorf("the filter names no metric type the fake serves (metric.type = %q)", q.metricType)
	}
	q.desc = desc
	for _, c := range q.resource {
		if !resourceLabels[desc.resourceType()][c.key] {
			return nil, fmt.Errorf("%s has no resource label %q", desc.resourceType(), c.key)
		}
	}
	iv := req.GetInterval()
	if iv == nil || iv.GetEndTime() == nil {
		return nil, fmt.Errorf("an interval with an end time is required")
	}
	q.end = iv.GetEndTime().AsTime()
	q.start = q.end
	if iv.GetStartTime() != nil {
		q.start = iv.GetStartTime().AsTime()
	}
	if q.start.After(q.end) {
		return nil, fmt.Errorf("the interval starts (%v) after it ends (%v)", q.start, q.end)
	}
	if req.GetView() != monitoringpb.ListTimeSeriesRequest_FULL {
		return nil, fmt.Errorf("the fake serves the FULL view only")
	}
	if req.GetSecondaryAggregation() != nil {
		return nil, fmt.Errorf("the fake does not serve a secondary aggregation")
	}
	agg := req.GetAggregation()
	if agg == nil {
		return nil, fmt.Errorf("the fake serves aligned series only: an aggregation is required")
	}
	if agg.GetCrossSeriesReducer() != monitoringpb.Aggregation_REDUCE_NONE || len(agg.GetGroupByFields()) > 0 {
		return nil, fmt.Errorf("the fake does not serve cross-series reducers")
	}
	q.period = agg.GetAlignmentPeriod().AsDuration()
	if q.period < time.Minute || q.period%time.Second != 0 {
		return nil, fmt.Errorf("alignment period %v: must be a whole number of seconds, at least 60", q.period)
	}
	q.aligner = agg.GetPerSeriesAligner()
	switch q.aligner {
	case monitoringpb.Aggregation_ALIGN_MEAN, monitoringpb.Aggregation_ALIGN_MAX:
	case monitoringpb.Aggregation_ALIGN_RATE:
		if desc.kind != metricpb.MetricDescriptor_DELTA {
			return nil, fmt.Errorf("the aligner ALIGN_RATE is not valid for %s, a %s metric", q.metricType, desc.kind)
		}
	default:
		return nil, fmt.Errorf("the fake does not serve the aligner %s", q.aligner)
	}
	return q, nil
}

// labelMatches returns whether the query's conditions on a resource
// label accept a value.
func (q *seriesQuery) labelMatches(key string) func(string) bool {
	return func(v string) bool {
		for _, c := range q.resource {
			if c.key == key && !c.matches(v, true) {
				return false
			}
		}
		return true
	}
}

// evaluate returns s as the query answers it, or nil when the query
// leaves it out (another type, resource or label, or no point in the
// interval).
func (q *seriesQuery) evaluate(project string, s MetricSeries) *monitoringpb.TimeSeries {
	if s.Type != q.metricType || q.resourceType != q.desc.resourceType() {
		return nil
	}
	res := map[string]string{"project_id": project, "zone": s.Zone, "instance_id": strconv.FormatUint(s.InstanceID, 10)}
	if q.resourceType == ResourceGCSBucket {
		res = map[string]string{"project_id": project, "bucket_name": s.Bucket, "location": s.Location}
	}
	for _, c := range q.resource {
		v, ok := res[c.key]
		if !c.matches(v, ok) {
			return nil
		}
	}
	labels := make(map[string]string, len(s.Labels)+1)
	for k, v := range s.Labels {
		labels[k] = v
	}
	if q.desc.compute {
		labels["instance_name"] = s.InstanceName
	}
	for _, c := range q.metric {
		v, ok := labels[c.key]
		if !c.matches(v, ok) {
			return nil
		}
	}
	points := q.align(s.Points)
	if len(points) == 0 {
		return nil
	}
	valueType := metricpb.MetricDescriptor_DOUBLE
	if q.aligner == monitoringpb.Aggregation_ALIGN_MAX {
		valueType = q.desc.value
	}
	unit := q.desc.unit
	if q.aligner == monitoringpb.Aggregation_ALIGN_RATE {
		unit += "/s"
	}
	return &monitoringpb.TimeSeries{
		Metric:     &metricpb.Metric{Type: s.Type, Labels: labels},
		Resource:   &monitoredres.MonitoredResource{Type: q.resourceType, Labels: res},
		MetricKind: metricpb.MetricDescriptor_GAUGE,
		ValueType:  valueType,
		Points:     points,
		Unit:       unit,
	}
}

// align turns raw samples into aligned points: the k-th point ends at
// end − k·period and covers the samples of (its end − period, its end]
// that lie in the interval (start, end]. Points come newest first.
func (q *seriesQuery) align(raw []MetricPoint) []*monitoringpb.Point {
	type bucket struct {
		sum, max float64
		n        int
	}
	buckets := map[int]*bucket{}
	last := -1
	for _, p := range raw {
		t := p.End
		if !t.After(q.start) || t.After(q.end) || math.IsNaN(p.Value) {
			continue
		}
		k := int(q.end.Sub(t) / q.period)
		b := buckets[k]
		if b == nil {
			b = &bucket{max: math.Inf(-1)}
			buckets[k] = b
		}
		b.sum += p.Value
		b.max = max(b.max, p.Value)
		b.n++
		last = max(last, k)
	}
	var out []*monitoringpb.Point
	for k := 0; k <= last; k++ {
		b := buckets[k]
		if b == nil {
			continue
		}
		var v *monitoringpb.TypedValue
		switch q.aligner {
		case monitoringpb.Aggregation_ALIGN_MEAN:
			v = doubleValue(b.sum / float64(b.n))
		case monitoringpb.Aggregation_ALIGN_RATE:
			v = doubleValue(b.sum / q.period.Seconds())
		default:
			v = doubleValue(b.max)
			if q.desc.value == metricpb.MetricDescriptor_INT64 {
				v = &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_Int64Value{Int64Value: int64(b.max)}}
			}
		}
		end := timestamppb.New(q.end.Add(-time.Duration(k) * q.period))
		out = append(out, &monitoringpb.Point{Interval: &monitoringpb.TimeInterval{StartTime: end, EndTime: end}, Value: v})
	}
	return out
}

func doubleValue(v float64) *monitoringpb.TypedValue {
	return &monitoringpb.TypedValue{Value: &monitoringpb.TypedValue_DoubleValue{DoubleValue: v}}
}
