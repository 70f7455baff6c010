package gcpcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	gax "github.com/googleapis/gax-go/v2"
	gcs "google.golang.org/api/storage/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// How cloudtrim's lifecycle rule is known on a bucket. Cloud Storage's
// lifecycle rules have no names, so the rule is marked by the bucket
// label TierLabel, whose value names it ("coldline-30d"): a rule is
// cloudtrim's only when the label names it, so an owners' rule of the
// same shape is never taken for it (and never replaced or removed). The
// rule moves objects of the hot class (MatchesStorageClass STANDARD)
// older than the days to the class, and nothing else.
const (
	TierLabel = domain.TierRuleID
	// gcsHotClass is the class a rule moves objects out of.
	gcsHotClass = "STANDARD"
)

// gcsTierClasses are the classes a lifecycle rule may move objects to.
var gcsTierClasses = []string{"NEARLINE", "COLDLINE", "ARCHIVE"}

// tierLabelValue is the TierLabel value of a rule.
func tierLabelValue(class string, days int64) string {
	return strings.ToLower(class) + "-" + strconv.FormatInt(days, 10) + "d"
}

// bucketName is the form of a bucket name: 3 to 63 characters (222 when
// dotted) of lower-case letters, digits, dashes, underscores and dots,
// starting and ending with a letter or digit.
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,221}[a-z0-9]$`)

// storageService returns the Cloud Storage JSON API service, made on
// first use. The generated JSON API client is used rather than the
// storage package's, because that one reads buckets in the full
// projection (with their ACLs), which needs storage.buckets.getIamPolicy;
// cloudtrim reads them without ACLs (noAcl), with storage.buckets.list.
func (p *Provider) storageService(ctx context.Context) (*gcs.Service, error) {
	p.lazyMu.Lock()
	defer p.lazyMu.Unlock()
	if p.gcs == nil {
		svc, err := gcs.NewService(ctx, p.options(p.cfg.StorageOptions)...)
		if err != nil {
			return nil, mapErr("gcpcloud: storage client", err)
		}
		p.gcs = svc
	}
	return p.gcs, nil
}

// storageCall makes one JSON API call under Config.CallTimeout, retried
// as every REST call is (a 429, 503 or 504, Config.MaxRetries times).
func (p *Provider) storageCall(ctx context.Context, op string, call func(ctx context.Context) error) error {
	err := gax.Invoke(ctx, func(ctx context.Context, _ gax.CallSettings) error {
		callCtx, cancel := p.call(ctx)
		defer cancel()
		return call(callCtx)
	}, p.retry())
	return mapErr(op, err)
}

// listBuckets lists the Cloud Storage buckets of a project, calling add
// with each. A listing that fails (no storage.buckets.list on the
// project, the API not enabled) gives no buckets and a warning, not a
// failed project: a failed project loses its VMs' utilization and
// blocks every change to it, which matters more than its buckets. Only
// a cancelled context is returned.
func (p *Provider) listBuckets(ctx context.Context, project string, add func(domain.Resource, bool)) error {
	err := p.eachBucket(ctx, project, "", func(b *gcs.Bucket) { add(bucketResource(project, b), true) })
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		p.logger.WarnContext(ctx, "buckets not listed", "cloud", domain.GCP, "account_id", project, "error", err.Error())
	}
	return nil
}

// eachBucket calls fn with each bucket of project whose name starts with
// prefix, in the noAcl projection, a page a call. A page token the API
// repeats is an error, not an endless loop.
func (p *Provider) eachBucket(ctx context.Context, project, prefix string, fn func(*gcs.Bucket)) error {
	svc, err := p.storageService(ctx)
	if err != nil {
		return err
	}
	op := "gcpcloud: list the buckets of project " + project
	seen := map[string]bool{}
	token := ""
	for {
		var page *gcs.Buckets
		err := p.storageCall(ctx, op, func(ctx context.Context) error {
			call := svc.Buckets.List(project).Projection("noAcl").MaxResults(int64(p.cfg.PageSize)).Context(ctx)
			if prefix != "" {
				call.Prefix(prefix)
			}
			if token != "" {
				call.PageToken(token)
			}
			var err error
			page, err = call.Do()
			return err
		})
		if err != nil {
			return err
		}
		for _, b := range page.Items {
			fn(b)
		}
		switch {
		case page.NextPageToken == "":
			return nil
		case seen[page.NextPageToken]:
			return fmt.Errorf("%s: the API repeated the page token %q", op, page.NextPageToken)
		}
		seen[page.NextPageToken] = true
		token = page.NextPageToken
	}
}

// bucketResource converts a bucket of project. Its region is its
// location in lower case: a region ("us-central1"), a dual-region
// ("nam4") or a multi-region ("us"), each priced as itself. Its SKU is
// its default storage class, the class new objects land in.
func bucketResource(project string, b *gcs.Bucket) domain.Resource {
	class := b.StorageClass
	if class == "" {
		class = gcsHotClass
	}
	return domain.Resource{Cloud: domain.GCP, Account: project, Region: strings.ToLower(b.Location), Kind: domain.KindBucket,
		ID: b.Name, Name: b.Name, SKU: class, State: domain.StateAvailable, Tags: labelsOf(b.Labels),
		CreatedAt: created(b.TimeCreated), Tiering: gcsTiering(b)}
}

// rules returns a bucket's lifecycle rules.
func rules(b *gcs.Bucket) []*gcs.BucketLifecycleRule {
	if b.Lifecycle == nil {
		return nil
	}
	return b.Lifecycle.Rule
}

// autoclass reports whether Autoclass moves a bucket's objects.
func autoclass(b *gcs.Bucket) bool { return b.Autoclass != nil && b.Autoclass.Enabled }

// changesClass reports whether a rule moves objects to another class.
func changesClass(r *gcs.BucketLifecycleRule) bool {
	return r.Action != nil && r.Action.Type == "SetStorageClass"
}

// gcsTiering reads a bucket's transitions as domain.Resource.Tiering:
// custom when Autoclass moves its objects or any rule but cloudtrim's
// changes a storage class; cloudtrim's rule alone; or none.
func gcsTiering(b *gcs.Bucket) string {
	if autoclass(b) {
		return domain.TieringCustom
	}
	ours, others := ourRule(b), false
	for i, r := range rules(b) {
		if changesClass(r) && i != ours {
			others = true
		}
	}
	switch {
	case others:
		return domain.TieringCustom
	case ours >= 0:
		r := rules(b)[ours]
		return domain.TierRule{Class: r.Action.StorageClass, AfterDays: int(*r.Condition.Age)}.String()
	}
	return domain.TieringNone
}

// ourRule returns the index of cloudtrim's rule in a bucket's lifecycle,
// -1 when it has none: the rule TierLabel names, of exactly the shape
// cloudtrim writes (an age and the hot class, no other condition).
func ourRule(b *gcs.Bucket) int {
	v, ok := b.Labels[TierLabel]
	if !ok {
		return -1
	}
	for i, r := range rules(b) {
		c := r.Condition
		if !changesClass(r) || c == nil || c.Age == nil || *c.Age < 1 || !slices.Equal(c.MatchesStorageClass, []string{gcsHotClass}) ||
			tierLabelValue(r.Action.StorageClass, *c.Age) != v {
			continue
		}
		rest := *c
		rest.Age, rest.MatchesStorageClass = nil, nil
		if js, err := json.Marshal(&rest); err == nil && string(js) == "{}" {
			return i
		}
	}
	return -1
}

// bucketRef checks a reference to a bucket of a project this deployment
// owns: the kind must be bucket, the ID a bucket name and the account
// one of Config.Projects (domain.ErrPermission otherwise). No call is
// made; that the bucket is the project's is checked by readBucket.
func (p *Provider) bucketRef(ref domain.ResourceRef) error {
	switch {
	case ref.Cloud != domain.GCP:
		return fmt.Errorf("%w: %s is not a Google Cloud resource", domain.ErrInvalid, ref)
	case ref.Kind != domain.KindBucket:
		return fmt.Errorf("%w: %s: the call applies to a bucket, not a %s", domain.ErrInvalid, ref.ID, ref.Kind)
	case !bucketName.MatchString(ref.ID):
		return fmt.Errorf("%w: %q is not a Cloud Storage bucket name", domain.ErrInvalid, ref.ID)
	case !slices.Contains(p.cfg.Projects, ref.Account):
		return fmt.Errorf("%w: bucket %s is in project %s, which this deployment does not own", domain.ErrPermission, ref.ID, ref.Account)
	}
	return nil
}

// readBucket reads one bucket of ref's project: a listing of the
// project's buckets by the name as prefix, so that a bucket of the same
// name in another project (bucket names are global) reads as not found
// rather than being changed.
func (p *Provider) readBucket(ctx context.Context, ref domain.ResourceRef) (*gcs.Bucket, error) {
	var found *gcs.Bucket
	err := p.eachBucket(ctx, ref.Account, ref.ID, func(b *gcs.Bucket) {
		if b.Name == ref.ID {
			found = b
		}
	})
	switch {
	case err != nil:
		return nil, err
	case found == nil:
		return nil, fmt.Errorf("gcpcloud: get bucket %s: %w: project %s has no bucket of that name", ref.ID, domain.ErrNotFound, ref.Account)
	}
	return found, nil
}

// getBucket is Get of a bucket.
func (p *Provider) getBucket(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	if err := p.bucketRef(ref); err != nil {
		return domain.Resource{}, err
	}
	b, err := p.readBucket(ctx, ref)
	if err != nil {
		return domain.Resource{}, err
	}
	return bucketResource(ref.Account, b), nil
}

// SetTiering sets, replaces or (with a zero rule) removes cloudtrim's
// lifecycle rule on a bucket (see TierLabel), keeping every other rule
// as it is. Cloud Storage replaces a bucket's whole lifecycle at once,
// so the rules are read and written back, with the label, in one patch
// under the metageneration read (ifMetagenerationMatch): a change made
// in between fails the patch with domain.ErrConflict instead of being
// overwritten. A bucket whose objects other rules or Autoclass already
// move is its owners' and is refused (domain.ErrConflict). When the
// bucket already is as asked, nothing is written, so a replay changes
// nothing: the JSON API has no idempotency token.
func (p *Provider) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	if err := p.bucketRef(ref); err != nil {
		return err
	}
	if !rule.IsZero() && !slices.Contains(gcsTierClasses, rule.Class) {
		return fmt.Errorf("%w: set lifecycle rule on %s: %q is not a class a rule can move objects to (%s)", domain.ErrInvalid, ref.ID, rule.Class, strings.Join(gcsTierClasses, ", "))
	}
	if !rule.IsZero() && rule.AfterDays < 1 {
		return fmt.Errorf("%w: set lifecycle rule on %s: after %d days: want at least 1", domain.ErrInvalid, ref.ID, rule.AfterDays)
	}
	b, err := p.readBucket(ctx, ref)
	if err != nil {
		return err
	}
	ours := ourRule(b)
	keep := make([]*gcs.BucketLifecycleRule, 0, len(rules(b))+1)
	for i, r := range rules(b) {
		if i != ours {
			keep = append(keep, r)
		}
	}
	if !rule.IsZero() && (autoclass(b) || slices.ContainsFunc(keep, changesClass)) {
		return fmt.Errorf("%w: bucket %s: its objects already move between classes by rules or Autoclass cloudtrim did not set", domain.ErrConflict, ref.ID)
	}
	want, label := domain.TieringNone, ""
	if !rule.IsZero() {
		want, label = rule.String(), tierLabelValue(rule.Class, int64(rule.AfterDays))
	}
	have, labelled := b.Labels[TierLabel]
	if gcsTiering(b) == want && have == label && (label != "") == labelled {
		return nil
	}
	patch := &gcs.Bucket{}
	if rule.IsZero() {
		// A label is removed by a null in the labels map, which the
		// client sends only for a map it is forced to send.
		patch.Labels, patch.ForceSendFields, patch.NullFields = map[string]string{}, []string{"Labels"}, []string{"Labels." + TierLabel}
	} else {
		days := int64(rule.AfterDays)
		keep = append(keep, &gcs.BucketLifecycleRule{
			Action:    &gcs.BucketLifecycleRuleAction{Type: "SetStorageClass", StorageClass: rule.Class},
			Condition: &gcs.BucketLifecycleRuleCondition{Age: &days, MatchesStorageClass: []string{gcsHotClass}},
		})
		patch.Labels = map[string]string{TierLabel: label}
	}
	if ours >= 0 || !rule.IsZero() {
		patch.Lifecycle = &gcs.BucketLifecycle{Rule: keep, ForceSendFields: []string{"Rule"}}
	}
	svc, err := p.storageService(ctx)
	if err != nil {
		return err
	}
	err = p.storageCall(ctx, "gcpcloud: set the lifecycle of bucket "+ref.ID, func(ctx context.Context) error {
		_, err := svc.Buckets.Patch(ref.ID, patch).IfMetagenerationMatch(b.Metageneration).Projection("noAcl").Context(ctx).Do()
		return err
	})
	if err != nil {
		return err
	}
	p.logger.InfoContext(ctx, "bucket lifecycle set", "bucket", ref.ID, "project", ref.Account, "tiering", want, "token", tokenValue(token))
	return nil
}

// gcsMetric is one Cloud Monitoring metric of a bucket BucketSeries
// reads.
type gcsMetric struct {
	metricType, labels string
	aligner            monitoringpb.Aggregation_Aligner
	metric             domain.Metric
	rate               bool
}

// gcsMetrics are the bytes and objects of the hot class (GAUGEs sampled
// once a day, averaged over the day) and the ReadObject requests and the
// bytes they sent (DELTAs, a rate per second over the day, added up over
// the response codes).
var gcsMetrics = []gcsMetric{
	{"storage.googleapis.com/storage/total_bytes", `metric.labels.storage_class = "` + gcsHotClass + `"`, monitoringpb.Aggregation_ALIGN_MEAN, domain.MetricStoredBytes, false},
	{"storage.googleapis.com/storage/object_count", `metric.labels.storage_class = "` + gcsHotClass + `"`, monitoringpb.Aggregation_ALIGN_MEAN, domain.MetricObjects, false},
	{"storage.googleapis.com/api/request_count", `metric.labels.method = "ReadObject"`, monitoringpb.Aggregation_ALIGN_RATE, domain.MetricReadRequests, true},
	{"storage.googleapis.com/network/sent_bytes_count", `metric.labels.method = "ReadObject"`, monitoringpb.Aggregation_ALIGN_RATE, domain.MetricReadBytes, true},
}

const gcsDay = 24 * time.Hour

// BucketSeries implements collect.BucketUsage with Cloud Monitoring: one
// query per metric (gcsMetrics) for the buckets of the scope's project
// whose location is the scope's region, one point a UTC day over the
// window's whole days. Cloud Storage always counts requests, so a day
// without a request point had no reads: once a bucket has a stored-bytes
// point, its read series are zero on the days without one (a DELTA
// series has no point for a day nothing happened), and a bucket nobody
// read in the window reads as such rather than as unmetered. Days
// before the first stored-bytes point, and the stored bytes and objects
// of days without a point, are domain.Missing. A bucket without any
// stored-bytes point is not handed on.
func (p *Provider) BucketSeries(ctx context.Context, scope collect.Scope, bucketIDs []string, window collect.Window, fn func(domain.Series) error) error {
	if scope.Account == "" || !seriesRegion.MatchString(scope.Region) {
		return fmt.Errorf("%w: gcpcloud: bucket series scope %q/%q needs a project and a region", domain.ErrInvalid, scope.Account, scope.Region)
	}
	start := window.Start.UTC().Add(gcsDay - time.Nanosecond).Truncate(gcsDay)
	g := seriesGrid{start: start, step: gcsDay, n: int(window.End.Sub(start) / gcsDay)}
	if g.n <= 0 || len(bucketIDs) == 0 {
		return nil
	}
	c, err := p.metricClient(ctx)
	if err != nil {
		return err
	}
	index := map[string]int{}
	for _, id := range bucketIDs {
		if _, dup := index[id]; !dup {
			index[id] = len(index)
		}
	}
	values := make([][][]float32, len(index)) // [bucket][metric][day]
	for i := range values {
		values[i] = make([][]float32, len(gcsMetrics))
	}
	for mi, m := range gcsMetrics {
		req := &monitoringpb.ListTimeSeriesRequest{
			Name: "projects/" + scope.Account,
			Filter: fmt.Sprintf(`metric.type = %q AND resource.type = "gcs_bucket" AND resource.labels.location = %q AND %s`,
				m.metricType, scope.Region, m.labels),
			Interval:    &monitoringpb.TimeInterval{StartTime: timestamppb.New(g.start), EndTime: timestamppb.New(g.start.Add(time.Duration(g.n) * gcsDay))},
			Aggregation: &monitoringpb.Aggregation{AlignmentPeriod: durationpb.New(gcsDay), PerSeriesAligner: m.aligner},
			View:        monitoringpb.ListTimeSeriesRequest_FULL,
			PageSize:    metricPagePoints,
		}
		op := fmt.Sprintf("gcpcloud: list %s time series of project %s in %s", m.metricType, scope.Account, scope.Region)
		err := p.listTimeSeries(ctx, c, req, op, func(ts *monitoringpb.TimeSeries) {
			b, ok := index[ts.GetResource().GetLabels()["bucket_name"]]
			if !ok {
				return
			}
			g.eachPoint(ts, func(i int, v float64) {
				if values[b][mi] == nil {
					values[b][mi] = missingPoints(g.n)
				}
				addPoint(values[b][mi], i, float32(v), m.rate)
			})
		})
		if err != nil {
			return err
		}
	}
	for _, id := range bucketIDs {
		b, ok := index[id]
		if !ok {
			continue
		}
		delete(index, id)
		bytes := values[b][0]
		if bytes == nil {
			continue
		}
		first := slices.IndexFunc(bytes, func(v float32) bool { return !domain.IsMissing(v) })
		for mi, m := range gcsMetrics {
			vals := values[b][mi]
			if m.rate {
				if vals == nil {
					vals = missingPoints(g.n)
				}
				for i := first; i < g.n; i++ {
					if domain.IsMissing(vals[i]) {
						vals[i] = 0
					}
				}
			}
			if vals == nil {
				continue
			}
			if err := fn(domain.Series{ResourceID: id, Metric: m.metric, Start: g.start, Step: gcsDay, Values: vals}); err != nil {
				return err
			}
		}
	}
	return nil
}

var _ collect.BucketUsage = (*Provider)(nil)
