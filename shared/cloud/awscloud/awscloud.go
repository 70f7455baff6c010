package awscloud

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Config configures a Provider.
type Config struct {
	// AWS is the SDK configuration: credentials, home region, endpoints.
	// Its Retryer is replaced by a bounded standard retryer unless
	// MaxAttempts is negative.
	AWS aws.Config
	// Account is the account the provider reads and changes. Empty means
	// the account of the credentials, asked of STS; when set and the
	// credentials belong to another account, New fails.
	Account string
	// Regions limits the provider to these regions. Empty means every
	// region enabled for the account (EC2 DescribeRegions).
	Regions []string
	// PageSize is the EC2 page size (MaxResults), 5..1000; 0 means 1000.
	PageSize int32
	// MaxAttempts bounds the SDK's retries of throttled and transient
	// calls (0 means 5; negative keeps AWS.Retryer as it is).
	MaxAttempts int
	// Poll is the interval between reads while waiting for an instance
	// to reach a state; 0 means 5 s. WaitTimeout bounds the wait; 0
	// means 10 minutes.
	Poll        time.Duration
	WaitTimeout time.Duration
	// CostByResource asks Cost Explorer for resource-level cost
	// (GetCostAndUsageWithResources, the last 14 days, an opt-in feature
	// of the account) in addition to the service-level cost.
	CostByResource bool
	Logger         *slog.Logger
}

// Provider reads and changes one AWS account.
type Provider struct {
	cfg     Config
	aws     aws.Config
	account string
	logger  *slog.Logger

	mu      sync.Mutex
	regions []string
	ec2s    map[string]*ec2.Client
	cws     map[string]*cloudwatch.Client
	s3s     map[string]*s3.Client
	ce      *costexplorer.Client
	pricing *pricing.Client
}

// New returns a provider for cfg.Account (or the credentials' account).
// It calls STS once to learn or check the account.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.PageSize == 0 {
		cfg.PageSize = 1000
	}
	if cfg.PageSize < 5 || cfg.PageSize > 1000 {
		return nil, fmt.Errorf("%w: awscloud: page size %d is outside 5..1000", domain.ErrInvalid, cfg.PageSize)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AWS.Region == "" {
		return nil, fmt.Errorf("%w: awscloud: no AWS region configured (set AWS_REGION)", domain.ErrInvalid)
	}
	for _, r := range cfg.Regions {
		if r == "" {
			return nil, fmt.Errorf("%w: awscloud: empty region in the region list", domain.ErrInvalid)
		}
	}
	awsCfg := cfg.AWS.Copy()
	awsCfg.HTTPClient = withWholeRequestBody(awsCfg.HTTPClient)
	if cfg.MaxAttempts >= 0 {
		attempts := cfg.MaxAttempts
		if attempts == 0 {
			attempts = 5
		}
		awsCfg.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 20 * time.Second
			})
		}
	}
	p := &Provider{cfg: cfg, aws: awsCfg, logger: cfg.Logger, ec2s: map[string]*ec2.Client{}, cws: map[string]*cloudwatch.Client{}}
	out, err := sts.NewFromConfig(awsCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, mapErr("sts GetCallerIdentity", err)
	}
	id := aws.ToString(out.Account)
	if cfg.Account != "" && cfg.Account != id {
		return nil, fmt.Errorf("%w: awscloud: the credentials belong to account %s, not the configured account %s", domain.ErrPermission, id, cfg.Account)
	}
	p.account = id
	if len(cfg.Regions) > 0 {
		p.regions = append([]string(nil), cfg.Regions...)
		sort.Strings(p.regions)
	}
	return p, nil
}

// Cloud implements collect.Inventory and actuate.Resources.
func (p *Provider) Cloud() domain.Cloud { return domain.AWS }

// Account returns the account the provider reads and changes.
func (p *Provider) Account() string { return p.account }

// InScope reports whether ref names a resource of this provider's
// account and regions; the actuator refuses actions for anything else.
func (p *Provider) InScope(ctx context.Context, ref domain.ResourceRef) error {
	if ref.Cloud != domain.AWS {
		return fmt.Errorf("%w: %s is not an AWS resource", domain.ErrInvalid, ref)
	}
	if ref.Account != p.account {
		return fmt.Errorf("%w: %s belongs to account %s, not this deployment's account %s", domain.ErrPermission, ref, ref.Account, p.account)
	}
	regions, err := p.Regions(ctx)
	if err != nil {
		return err
	}
	for _, r := range regions {
		if r == ref.Region {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is in region %q, which this deployment does not manage", domain.ErrPermission, ref, ref.Region)
}

// Regions returns the regions the provider covers: the configured ones,
// or every region enabled for the account.
func (p *Provider) Regions(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	have := p.regions
	p.mu.Unlock()
	if have != nil {
		return have, nil
	}
	out, err := p.ec2(p.aws.Region).DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, mapErr("ec2 DescribeRegions", err)
	}
	var regions []string
	for _, r := range out.Regions {
		switch aws.ToString(r.OptInStatus) {
		case "", "opt-in-not-required", "opted-in":
			regions = append(regions, aws.ToString(r.RegionName))
		}
	}
	sort.Strings(regions)
	p.mu.Lock()
	p.regions = regions
	p.mu.Unlock()
	return regions, nil
}

func (p *Provider) ec2(region string) *ec2.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.ec2s[region]
	if !ok {
		c = ec2.NewFromConfig(p.aws, func(o *ec2.Options) { o.Region = region })
		p.ec2s[region] = c
	}
	return c
}

func (p *Provider) cloudwatch(region string) *cloudwatch.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.cws[region]
	if !ok {
		c = cloudwatch.NewFromConfig(p.aws, func(o *cloudwatch.Options) { o.Region = region })
		p.cws[region] = c
	}
	return c
}

// costExplorer returns the Cost Explorer client; its endpoint is global,
// served from us-east-1.
func (p *Provider) costExplorer() *costexplorer.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ce == nil {
		p.ce = costexplorer.NewFromConfig(p.aws, func(o *costexplorer.Options) { o.Region = "us-east-1" })
	}
	return p.ce
}

// priceList returns the Price List API client (us-east-1 endpoint).
func (p *Provider) priceList() *pricing.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pricing == nil {
		p.pricing = pricing.NewFromConfig(p.aws, func(o *pricing.Options) { o.Region = "us-east-1" })
	}
	return p.pricing
}
