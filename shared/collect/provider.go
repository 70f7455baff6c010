package collect

import (
	"context"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Scope is one unit a collector reads: an account (AWS account, Azure
// subscription, GCP project) in one region.
type Scope struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

// Window is a half-open time range [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Inventory lists what runs in a cloud.
type Inventory interface {
	// Cloud names the cloud the provider reads.
	Cloud() domain.Cloud
	// Scopes lists the account/region pairs the identity can see. An
	// error means nothing could be listed.
	Scopes(ctx context.Context) ([]Scope, error)
	// Resources calls fn with each page of resources in scope, in a
	// stable order. An error wrapping domain.ErrPermission or
	// domain.ErrThrottled means the scope could not be read (wholly or
	// partly); the collector records that in the manifest rather than
	// pretending the scope is empty. fn's error stops the listing and is
	// returned as is.
	Resources(ctx context.Context, scope Scope, fn func([]domain.Resource) error) error
}

// Utilization reads utilization history.
type Utilization interface {
	// Series calls fn with every series of the given VMs over window at
	// step, one series per resource and metric. Metrics a resource does
	// not report (memory without an agent) are absent, not zero; points
	// that were not observed are domain.Missing.
	Series(ctx context.Context, scope Scope, vmIDs []string, window Window, step time.Duration, fn func(domain.Series) error) error
}

// BucketUsage reads object storage usage; a provider that does not
// implement it yields buckets without series, and the optimizer reports
// their access pattern as unknown.
type BucketUsage interface {
	// BucketSeries calls fn with the series of the given buckets over
	// window, at the step the cloud keeps them (a day): stored bytes and
	// objects of the hot class (domain.MetricStoredBytes,
	// MetricObjects) and, where the bucket's request metrics are
	// available, read requests and bytes read per second
	// (MetricReadRequests, MetricReadBytes). Metrics a bucket does not
	// report are absent, not zero.
	BucketSeries(ctx context.Context, scope Scope, bucketIDs []string, window Window, fn func(domain.Series) error) error
}

// Costs reads cost data.
type Costs interface {
	// CostRows calls fn with pages of FOCUS rows for account whose charge
	// period overlaps window. An account without cost data returns nil
	// without calling fn.
	CostRows(ctx context.Context, account string, window Window, fn func([]domain.CostRow) error) error
}

// Provider is everything a collector needs from one cloud.
type Provider interface {
	Inventory
	Utilization
	Costs
}
