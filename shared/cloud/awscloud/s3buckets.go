package awscloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// s3HotClass is the class S3 stores new objects in unless told
// otherwise: the class a lifecycle transition moves objects out of.
const s3HotClass = "STANDARD"

// bucketReaders is how many buckets' tags and lifecycles are read at
// once.
const bucketReaders = 8

// s3c returns the S3 client of a region. With an endpoint override (a
// test's fake, a VPC endpoint) requests are path-style, since the
// override's host cannot carry bucket names.
func (p *Provider) s3c(region string) *s3.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.s3s == nil {
		p.s3s = map[string]*s3.Client{}
	}
	c, ok := p.s3s[region]
	if !ok {
		c = s3.NewFromConfig(p.aws, func(o *s3.Options) {
			o.Region = region
			o.UsePathStyle = p.aws.BaseEndpoint != nil
		})
		p.s3s[region] = c
	}
	return c
}

// listBuckets lists the buckets of region (ListBuckets filtered by
// BucketRegion), each with its tags and lifecycle transitions. A listing
// that fails (an identity without s3:ListAllMyBuckets, an S3 endpoint
// that cannot be reached) gives no buckets and a warning, not a failed
// scope: a failed scope loses its VMs' utilization, which matters more
// than its buckets. Only a cancelled context stops the scope.
func (p *Provider) listBuckets(ctx context.Context, region string, fn func([]domain.Resource) error) error {
	client := p.s3c(region)
	in := &s3.ListBucketsInput{BucketRegion: aws.String(region), MaxBuckets: aws.Int32(p.cfg.PageSize)}
	for {
		out, err := client.ListBuckets(ctx, in)
		if err != nil {
			err = mapErr("s3 ListBuckets in "+region, err)
			if ctx.Err() != nil {
				return err
			}
			p.logger.WarnContext(ctx, "buckets not listed", "region", region, "error", err.Error())
			return nil
		}
		var buckets []types.Bucket
		for _, b := range out.Buckets {
			if b.BucketRegion == nil || *b.BucketRegion == region { // an endpoint may ignore the filter
				buckets = append(buckets, b)
			}
		}
		// Two calls a bucket (tags, lifecycle): read bucketReaders
		// buckets at once, so an account of thousands of buckets takes
		// seconds, not minutes.
		page := make([]domain.Resource, len(buckets))
		var g errgroup.Group
		g.SetLimit(bucketReaders)
		for i, b := range buckets {
			g.Go(func() error {
				page[i] = p.readBucket(ctx, client, region, aws.ToString(b.Name), b)
				return nil
			})
		}
		_ = g.Wait() // readBucket reports its failures in the resource
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(page, fn); err != nil {
			return err
		}
		if aws.ToString(out.ContinuationToken) == "" {
			return nil
		}
		in.ContinuationToken = out.ContinuationToken
	}
}

// readBucket reads a bucket's tags and lifecycle. What cannot be read
// makes the bucket incomplete, so it is never acted upon.
func (p *Provider) readBucket(ctx context.Context, client *s3.Client, region, name string, b types.Bucket) domain.Resource {
	r := domain.Resource{Cloud: domain.AWS, Account: p.account, Region: region, Kind: domain.KindBucket, ID: name, Name: name,
		SKU: s3HotClass, State: domain.StateAvailable, CreatedAt: aws.ToTime(b.CreationDate)}
	tags, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(name)})
	switch {
	case err == nil:
		r.Tags = make(map[string]string, len(tags.TagSet))
		for _, t := range tags.TagSet {
			r.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	case s3Code(err) == "NoSuchTagSet":
	default:
		r.Incomplete = "tags could not be read: " + mapErr("s3 GetBucketTagging "+name, err).Error()
		return r
	}
	rules, err := p.lifecycle(ctx, client, name)
	if err != nil {
		r.Tags, r.Incomplete = nil, "lifecycle could not be read: "+err.Error()
		return r
	}
	r.Tiering = s3Tiering(rules)
	return r
}

// lifecycle returns a bucket's lifecycle rules; none when it has no
// configuration.
func (p *Provider) lifecycle(ctx context.Context, client *s3.Client, name string) ([]types.LifecycleRule, error) {
	out, err := client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(name)})
	if s3Code(err) == "NoSuchLifecycleConfiguration" {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr("s3 GetBucketLifecycleConfiguration "+name, err)
	}
	return out.Rules, nil
}

// s3Tiering reads a bucket's transitions as domain.Resource.Tiering:
// none, cloudtrim's rule alone, or custom when any other enabled rule
// moves objects (including noncurrent versions) to another class.
func s3Tiering(rules []types.LifecycleRule) string {
	ours, others := "", false
	for _, r := range rules {
		if r.Status != types.ExpirationStatusEnabled || (len(r.Transitions) == 0 && len(r.NoncurrentVersionTransitions) == 0) {
			continue
		}
		if aws.ToString(r.ID) == domain.TierRuleID && len(r.Transitions) == 1 && r.Transitions[0].Days != nil && len(r.NoncurrentVersionTransitions) == 0 {
			ours = domain.TierRule{Class: string(r.Transitions[0].StorageClass), AfterDays: int(*r.Transitions[0].Days)}.String()
			continue
		}
		others = true
	}
	switch {
	case others:
		return domain.TieringCustom
	case ours != "":
		return ours
	}
	return domain.TieringNone
}

// getBucket re-reads one bucket: HeadBucket for its existence and
// region, then its tags and lifecycle.
func (p *Provider) getBucket(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	client := p.s3c(ref.Region)
	head, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(ref.ID)})
	if err != nil {
		if code := s3Code(err); code == "NotFound" || code == "NoSuchBucket" {
			return domain.Resource{}, notFound("s3 HeadBucket "+ref.ID, ref.ID)
		}
		return domain.Resource{}, mapErr("s3 HeadBucket "+ref.ID, err)
	}
	if region := aws.ToString(head.BucketRegion); region != "" && region != ref.Region {
		return domain.Resource{}, notFound("s3 HeadBucket "+ref.ID+" in "+ref.Region+" (it is in "+region+")", ref.ID)
	}
	r := p.readBucket(ctx, client, ref.Region, ref.ID, types.Bucket{})
	if r.Incomplete != "" {
		return domain.Resource{}, fmt.Errorf("%w: bucket %s: %s", domain.ErrPermission, ref.ID, r.Incomplete)
	}
	return r, nil
}

// SetTiering sets, replaces or (with a zero rule) removes the lifecycle
// rule cloudtrim-tiering of a bucket, keeping every other rule as it is:
// S3 replaces a bucket's whole lifecycle configuration at once, so the
// rules are read and written back. A bucket whose other rules already
// move objects is its owners' and is refused. When the configuration
// already is what is asked, nothing is written, so a replay changes
// nothing (S3 has no idempotency token).
func (p *Provider) SetTiering(ctx context.Context, ref domain.ResourceRef, rule domain.TierRule, token string) error {
	if _, err := p.check(ref, domain.KindBucket); err != nil {
		return err
	}
	if !rule.IsZero() && !slices.Contains(types.TransitionStorageClass("").Values(), types.TransitionStorageClass(rule.Class)) {
		return fmt.Errorf("%w: set lifecycle rule on %s: %q is not an S3 storage class a rule can move objects to", domain.ErrInvalid, ref.ID, rule.Class)
	}
	if !rule.IsZero() && rule.AfterDays < 1 {
		return fmt.Errorf("%w: set lifecycle rule on %s: after %d days: want at least 1", domain.ErrInvalid, ref.ID, rule.AfterDays)
	}
	client := p.s3c(ref.Region)
	rules, err := p.lifecycle(ctx, client, ref.ID)
	if err != nil {
		return err
	}
	if !rule.IsZero() && s3Tiering(slices.DeleteFunc(slices.Clone(rules), isOurs)) == domain.TieringCustom {
		return fmt.Errorf("%w: bucket %s: its lifecycle already moves objects by rules cloudtrim did not set", domain.ErrConflict, ref.ID)
	}
	keep := slices.DeleteFunc(slices.Clone(rules), isOurs)
	want := keep
	if !rule.IsZero() {
		want = append(want, types.LifecycleRule{
			ID: aws.String(domain.TierRuleID), Status: types.ExpirationStatusEnabled,
			Filter:      &types.LifecycleRuleFilter{Prefix: aws.String("")},
			Transitions: []types.Transition{{Days: aws.Int32(int32(rule.AfterDays)), StorageClass: types.TransitionStorageClass(rule.Class)}},
		})
	}
	wantTiering := domain.TieringNone
	if !rule.IsZero() {
		wantTiering = rule.String()
	}
	if s3Tiering(rules) == wantTiering && len(rules) == len(want) {
		return nil
	}
	if len(want) == 0 {
		_, err = client.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(ref.ID)})
		return mapErr("s3 DeleteBucketLifecycle "+ref.ID, err)
	}
	_, err = client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                 aws.String(ref.ID),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: want},
	})
	return mapErr("s3 PutBucketLifecycleConfiguration "+ref.ID, err)
}

func isOurs(r types.LifecycleRule) bool { return aws.ToString(r.ID) == domain.TierRuleID }

// s3Code returns the S3 error code of err, or "".
func s3Code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// The CloudWatch names of what BucketSeries reads: S3's daily storage
// metrics, and the request metrics of a bucket-wide metrics
// configuration (FilterId EntireBucket), which S3 publishes only when the
// bucket's owner turned them on.
const (
	namespaceS3   = "AWS/S3"
	dimBucketName = "BucketName"
	s3Day         = 24 * time.Hour
)

type s3Metric struct {
	key, name, stat string
	dims            [][2]string
	metric          domain.Metric
	rate            bool
}

var s3Metrics = []s3Metric{
	{"bytes", "BucketSizeBytes", "Average", [][2]string{{"StorageType", "StandardStorage"}}, domain.MetricStoredBytes, false},
	{"objects", "NumberOfObjects", "Average", [][2]string{{"StorageType", "AllStorageTypes"}}, domain.MetricObjects, false},
	{"gets", "GetRequests", "Sum", [][2]string{{"FilterId", "EntireBucket"}}, domain.MetricReadRequests, true},
	{"down", "BytesDownloaded", "Sum", [][2]string{{"FilterId", "EntireBucket"}}, domain.MetricReadBytes, true},
}

// BucketSeries implements collect.BucketUsage with CloudWatch
// GetMetricData, one point a UTC day over the window's whole days:
// BucketSizeBytes of S3 Standard and NumberOfObjects (Average), and
// GetRequests and BytesDownloaded (Sum a day, handed on per second). A
// metric without any datapoint is not handed on: a bucket without request
// metrics has no read series, and the optimizer says its access pattern
// is unknown. Days without a datapoint are domain.Missing.
func (p *Provider) BucketSeries(ctx context.Context, scope collect.Scope, bucketIDs []string, window collect.Window, fn func(domain.Series) error) error {
	if scope.Account != p.account {
		return fmt.Errorf("%w: awscloud: scope account %s is not this provider's account %s", domain.ErrPermission, scope.Account, p.account)
	}
	start := window.Start.UTC().Add(s3Day - time.Nanosecond).Truncate(s3Day) // the first whole day
	g := seriesGrid{start: start, step: s3Day, n: int(window.End.Sub(start) / s3Day)}
	if g.n <= 0 || len(bucketIDs) == 0 {
		return nil
	}
	cw := p.cloudwatch(scope.Region)
	per := MaxMetricQueries / len(s3Metrics)
	for lo := 0; lo < len(bucketIDs); lo += per {
		ids := bucketIDs[lo:min(lo+per, len(bucketIDs))]
		var queries []cwtypes.MetricDataQuery
		targets := map[string]queryTarget{}
		for i, id := range ids {
			for _, m := range s3Metrics {
				dims := []cwtypes.Dimension{{Name: aws.String(dimBucketName), Value: aws.String(id)}}
				for _, d := range m.dims {
					dims = append(dims, cwtypes.Dimension{Name: aws.String(d[0]), Value: aws.String(d[1])})
				}
				qid := "b" + strconv.Itoa(i) + "_" + m.key
				queries = append(queries, cwtypes.MetricDataQuery{Id: aws.String(qid), MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String(namespaceS3), MetricName: aws.String(m.name), Dimensions: dims},
					Period: aws.Int32(int32(s3Day / time.Second)), Stat: aws.String(m.stat)}})
				targets[qid] = queryTarget{instance: i, metric: m.metric, rate: m.rate}
			}
		}
		data, err := p.fetchMetricData(ctx, cw, scope.Region, queries, targets, ids, g)
		if err != nil {
			return err
		}
		for i, id := range ids {
			for _, m := range s3Metrics {
				vals, ok := data[i].values[m.metric]
				if !ok {
					continue
				}
				s := domain.Series{ResourceID: id, Metric: m.metric, Start: g.start, Step: g.step, Values: make([]float32, g.n)}
				for k := range s.Values {
					s.Values[k] = domain.Missing
					if c := data[i].counts[m.metric][k]; c > 0 {
						s.Values[k] = float32(vals[k] / float64(c))
					}
				}
				if err := fn(s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var _ collect.BucketUsage = (*Provider)(nil)
