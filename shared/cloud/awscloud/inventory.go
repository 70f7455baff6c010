package awscloud

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ collect.Inventory = (*Provider)(nil)

// liveInstanceStates are the instance states the inventory lists:
// shutting-down and terminated instances no longer bill and are gone
// within the hour.
var liveInstanceStates = []string{"pending", "running", "stopping", "stopped"}

// Scopes returns one scope per region of the provider's account.
func (p *Provider) Scopes(ctx context.Context) ([]collect.Scope, error) {
	regions, err := p.Regions(ctx)
	if err != nil {
		return nil, err
	}
	scopes := make([]collect.Scope, 0, len(regions))
	for _, r := range regions {
		scopes = append(scopes, collect.Scope{Account: p.account, Region: r})
	}
	return scopes, nil
}

// Resources calls fn with each page of the scope's EC2 instances, EBS
// volumes, Elastic IPs and the snapshots the account owns, in that
// order, one EC2 page at a time (cfg.PageSize resources at most), so a
// region is never held in memory whole.
//
// An error mapped onto domain.ErrPermission or domain.ErrThrottled (after
// the SDK's bounded retries) means the region could not be read, wholly
// or in part: the collector records the scope as failed or partial. fn's
// error is returned as it is.
//
// EC2 returns tags inline with every resource, so Incomplete stays
// empty. CreatedAt is an instance's LaunchTime, which EC2 resets when a
// stopped instance starts again (a restarted instance looks younger than
// it is), a volume's CreateTime, a snapshot's StartTime; EC2 keeps no
// allocation time for an Elastic IP, so an address has none.
func (p *Provider) Resources(ctx context.Context, scope collect.Scope, fn func([]domain.Resource) error) error {
	if scope.Account != p.account {
		return fmt.Errorf("%w: scope %s/%s belongs to another account than %s", domain.ErrPermission, scope.Account, scope.Region, p.account)
	}
	region := scope.Region
	client := p.ec2(region)
	for _, list := range []func(context.Context, *ec2.Client, string, func([]domain.Resource) error) error{
		p.listInstances, p.listVolumes, p.listAddresses, p.listSnapshots,
	} {
		if err := list(ctx, client, region, fn); err != nil {
			return err
		}
	}
	return p.listBuckets(ctx, region, fn)
}

// emit hands a non-empty page to fn.
func emit(page []domain.Resource, fn func([]domain.Resource) error) error {
	if len(page) == 0 {
		return nil
	}
	return fn(page)
}

func (p *Provider) listInstances(ctx context.Context, client *ec2.Client, region string, fn func([]domain.Resource) error) error {
	pages := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{
		MaxResults: aws.Int32(p.cfg.PageSize),
		Filters:    []types.Filter{{Name: aws.String("instance-state-name"), Values: liveInstanceStates}},
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return mapErr("ec2 DescribeInstances in "+region, err)
		}
		var page []domain.Resource
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				if r, ok := p.instance(region, in); ok {
					page = append(page, r)
				}
			}
		}
		if err := emit(page, fn); err != nil {
			return err
		}
	}
	return nil
}

func (p *Provider) listVolumes(ctx context.Context, client *ec2.Client, region string, fn func([]domain.Resource) error) error {
	pages := ec2.NewDescribeVolumesPaginator(client, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(p.cfg.PageSize)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return mapErr("ec2 DescribeVolumes in "+region, err)
		}
		page := make([]domain.Resource, 0, len(out.Volumes))
		for _, v := range out.Volumes {
			if r, ok := p.volume(region, v); ok {
				page = append(page, r)
			}
		}
		if err := emit(page, fn); err != nil {
			return err
		}
	}
	return nil
}

// listAddresses reads the region's Elastic IPs: DescribeAddresses is
// not paginated and answers every address in one call.
func (p *Provider) listAddresses(ctx context.Context, client *ec2.Client, region string, fn func([]domain.Resource) error) error {
	out, err := client.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return mapErr("ec2 DescribeAddresses in "+region, err)
	}
	for i := 0; i < len(out.Addresses); i += int(p.cfg.PageSize) {
		batch := out.Addresses[i:min(i+int(p.cfg.PageSize), len(out.Addresses))]
		page := make([]domain.Resource, 0, len(batch))
		for _, a := range batch {
			page = append(page, p.address(region, a))
		}
		if err := emit(page, fn); err != nil {
			return err
		}
	}
	return nil
}

// listSnapshots reads the snapshots the account owns (OwnerIds self):
// without it EC2 also lists every public snapshot.
func (p *Provider) listSnapshots(ctx context.Context, client *ec2.Client, region string, fn func([]domain.Resource) error) error {
	pages := ec2.NewDescribeSnapshotsPaginator(client, &ec2.DescribeSnapshotsInput{
		MaxResults: aws.Int32(p.cfg.PageSize), OwnerIds: []string{"self"},
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return mapErr("ec2 DescribeSnapshots in "+region, err)
		}
		page := make([]domain.Resource, 0, len(out.Snapshots))
		for _, s := range out.Snapshots {
			page = append(page, p.snapshot(region, s))
		}
		if err := emit(page, fn); err != nil {
			return err
		}
	}
	return nil
}

// tagsOf returns an EC2 tag set as a map (never nil: the tags were read).
func tagsOf(ts []types.Tag) map[string]string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// instanceStateOf normalises an EC2 instance state: running and stopped
// are the domain's; pending and stopping keep their EC2 names.
func instanceStateOf(s types.InstanceStateName) string {
	switch s {
	case types.InstanceStateNameRunning:
		return domain.StateRunning
	case types.InstanceStateNameStopped:
		return domain.StateStopped
	}
	return string(s)
}

// gone reports whether an instance is terminated or on its way there.
func gone(in types.Instance) bool {
	if in.State == nil {
		return false
	}
	return in.State.Name == types.InstanceStateNameTerminated || in.State.Name == types.InstanceStateNameShuttingDown
}

// instance converts an EC2 instance; false for one that is gone.
func (p *Provider) instance(region string, in types.Instance) (domain.Resource, bool) {
	if gone(in) {
		return domain.Resource{}, false
	}
	tags := tagsOf(in.Tags)
	r := domain.Resource{Cloud: domain.AWS, Account: p.account, Region: region, Kind: domain.KindVM,
		ID: aws.ToString(in.InstanceId), Name: tags["Name"], SKU: string(in.InstanceType), State: domain.StateUnknown,
		Tags: tags, CreatedAt: aws.ToTime(in.LaunchTime).UTC()}
	if in.State != nil {
		r.State = instanceStateOf(in.State.Name)
	}
	return r, true
}

// volumeGone reports whether a volume is being deleted or was.
func volumeGone(v types.Volume) bool {
	return v.State == types.VolumeStateDeleting || v.State == types.VolumeStateDeleted
}

// volume converts an EBS volume; false for one that is being deleted.
func (p *Provider) volume(region string, v types.Volume) (domain.Resource, bool) {
	if volumeGone(v) {
		return domain.Resource{}, false
	}
	tags := tagsOf(v.Tags)
	r := domain.Resource{Cloud: domain.AWS, Account: p.account, Region: region, Kind: domain.KindDisk,
		ID: aws.ToString(v.VolumeId), Name: tags["Name"], SKU: string(v.VolumeType), State: string(v.State),
		Tags: tags, CreatedAt: aws.ToTime(v.CreateTime).UTC(), SizeGiB: int64(aws.ToInt32(v.Size))}
	if len(v.Attachments) > 0 {
		r.AttachedTo = aws.ToString(v.Attachments[0].InstanceId)
	}
	return r, true
}

// address converts an Elastic IP, identified by its allocation ID.
func (p *Provider) address(region string, a types.Address) domain.Resource {
	tags := tagsOf(a.Tags)
	r := domain.Resource{Cloud: domain.AWS, Account: p.account, Region: region, Kind: domain.KindIP,
		ID: aws.ToString(a.AllocationId), Name: tags["Name"], SKU: "public-ipv4", State: domain.StateAvailable,
		Tags: tags, AttachedTo: aws.ToString(a.InstanceId)}
	if a.AssociationId != nil || a.InstanceId != nil {
		r.State = domain.StateAssociated
	}
	return r
}

// snapshot converts an EBS snapshot. A completed snapshot is available;
// pending, error and the archive states keep their EC2 names. Its name
// is its Name tag or, without one, its description (the console's
// label for a snapshot).
func (p *Provider) snapshot(region string, s types.Snapshot) domain.Resource {
	tags := tagsOf(s.Tags)
	name := tags["Name"]
	if name == "" {
		name = strings.TrimSpace(aws.ToString(s.Description))
	}
	state := string(s.State)
	if s.State == types.SnapshotStateCompleted {
		state = domain.StateAvailable
	}
	return domain.Resource{Cloud: domain.AWS, Account: p.account, Region: region, Kind: domain.KindSnapshot,
		ID: aws.ToString(s.SnapshotId), Name: name, SKU: "snapshot", State: state, Tags: tags,
		CreatedAt: aws.ToTime(s.StartTime).UTC(), SizeGiB: int64(aws.ToInt32(s.VolumeSize)), AttachedTo: aws.ToString(s.VolumeId)}
}
