package awscloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/cloudtrim/cloudtrim/shared/actuate"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

var _ actuate.Resources = (*Provider)(nil)

// TokenTag is the tag that carries the actuator's idempotency token on
// the snapshots the provider takes: EC2 CreateSnapshot takes no client
// token, so Snapshot looks for a snapshot of the volume with this tag
// before taking a new one.
const TokenTag = "cloudtrim-token"

// Idempotency of the mutating calls. None of the EC2 calls used here
// takes a ClientToken (StopInstances, StartInstances,
// ModifyInstanceAttribute, ModifyVolume, CreateSnapshot, DeleteVolume,
// DeleteSnapshot, ReleaseAddress, CreateTags), so the provider makes each
// idempotent itself:
//
//   - Stop and Start read the instance first and make no call when it is
//     already in (or moving to) the wanted state; EC2 also answers a
//     repeated StopInstances or StartInstances with success.
//   - Resize makes no call when the instance already has the size.
//   - Retype makes no call when the volume already has the type or its
//     most recent modification goes to the type and has not failed.
//   - Snapshot finds the snapshot an earlier call with the same token
//     took (TokenTag) instead of taking a second one.
//   - Delete and Release treat EC2's NotFound answer as success: the
//     resource is gone, which is what the call asks for. EC2 cannot tell
//     the provider whether an earlier attempt with the same token (an
//     SDK retry whose first answer was lost, a redelivered message) or
//     someone else removed it; either way the actuator read the
//     resource just before the call and verifies it is gone after.
//   - Tag merges tags, which is idempotent by nature.

// kindOfID returns the kind an EC2 ID names by its prefix.
func kindOfID(id string) domain.Kind {
	switch {
	case strings.HasPrefix(id, "i-"):
		return domain.KindVM
	case strings.HasPrefix(id, "vol-"):
		return domain.KindDisk
	case strings.HasPrefix(id, "snap-"):
		return domain.KindSnapshot
	case strings.HasPrefix(id, "eipalloc-"):
		return domain.KindIP
	}
	return ""
}

// check returns the kind of the resource ref names, which must be one
// of kinds, in this provider's account.
func (p *Provider) check(ref domain.ResourceRef, kinds ...domain.Kind) (domain.Kind, error) {
	switch {
	case ref.Cloud != domain.AWS:
		return "", fmt.Errorf("%w: %s is not an AWS resource", domain.ErrInvalid, ref)
	case ref.Account != p.account:
		return "", fmt.Errorf("%w: %s belongs to account %s, not %s", domain.ErrPermission, ref, ref.Account, p.account)
	case ref.Region == "" || ref.ID == "":
		return "", fmt.Errorf("%w: %s names no region or no ID", domain.ErrInvalid, ref)
	}
	kind := kindOfID(ref.ID)
	if ref.Kind == domain.KindBucket {
		// Bucket names have no prefix of their own ("i-logs" is one).
		kind = domain.KindBucket
	}
	if ref.Kind != "" && ref.Kind != kind {
		return "", fmt.Errorf("%w: %s: the ID %s does not name a %s", domain.ErrInvalid, ref, ref.ID, ref.Kind)
	}
	if !slices.Contains(kinds, kind) {
		return "", fmt.Errorf("%w: %s: the call does not apply to a %s", domain.ErrInvalid, ref, orUnknown(kind))
	}
	return kind, nil
}

func orUnknown(k domain.Kind) domain.Kind {
	if k == "" {
		return "resource of unknown kind"
	}
	return k
}

// notFound is the error of a read that answered no resource.
func notFound(op, id string) error {
	return &Error{Op: op, Code: "NotFound", Message: id + " does not exist", kind: domain.ErrNotFound, err: domain.ErrNotFound}
}

// Get re-reads one EC2 instance, EBS volume, Elastic IP, snapshot or S3 bucket. A
// resource that does not exist (EC2's NotFound code or an empty answer),
// a terminated or shutting-down instance and a volume being deleted
// return an error wrapping domain.ErrNotFound; a resource of another
// account domain.ErrPermission.
func (p *Provider) Get(ctx context.Context, ref domain.ResourceRef) (domain.Resource, error) {
	kind, err := p.check(ref, domain.KindVM, domain.KindDisk, domain.KindIP, domain.KindSnapshot, domain.KindBucket)
	if err != nil {
		return domain.Resource{}, err
	}
	switch kind {
	case domain.KindBucket:
		return p.getBucket(ctx, ref)
	case domain.KindVM:
		in, err := p.describeInstance(ctx, ref.Region, ref.ID)
		if err != nil {
			return domain.Resource{}, err
		}
		r, ok := p.instance(ref.Region, in)
		if !ok {
			return domain.Resource{}, notFound("ec2 DescribeInstances "+ref.ID+" in "+ref.Region, ref.ID)
		}
		return r, nil
	case domain.KindDisk:
		v, err := p.describeVolume(ctx, ref.Region, ref.ID)
		if err != nil {
			return domain.Resource{}, err
		}
		r, ok := p.volume(ref.Region, v)
		if !ok {
			return domain.Resource{}, notFound("ec2 DescribeVolumes "+ref.ID+" in "+ref.Region, ref.ID)
		}
		return r, nil
	case domain.KindIP:
		op := "ec2 DescribeAddresses " + ref.ID + " in " + ref.Region
		out, err := p.ec2(ref.Region).DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{ref.ID}})
		if err != nil {
			return domain.Resource{}, mapErr(op, err)
		}
		for _, a := range out.Addresses {
			if aws.ToString(a.AllocationId) == ref.ID {
				return p.address(ref.Region, a), nil
			}
		}
		return domain.Resource{}, notFound(op, ref.ID)
	default:
		s, err := p.describeSnapshot(ctx, ref.Region, ref.ID)
		if err != nil {
			return domain.Resource{}, err
		}
		return p.snapshot(ref.Region, s), nil
	}
}

func (p *Provider) describeInstance(ctx context.Context, region, id string) (types.Instance, error) {
	op := "ec2 DescribeInstances " + id + " in " + region
	out, err := p.ec2(region).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return types.Instance{}, mapErr(op, err)
	}
	for _, res := range out.Reservations {
		for _, in := range res.Instances {
			if aws.ToString(in.InstanceId) == id {
				return in, nil
			}
		}
	}
	return types.Instance{}, notFound(op, id)
}

func (p *Provider) describeSnapshot(ctx context.Context, region, id string) (types.Snapshot, error) {
	op := "ec2 DescribeSnapshots " + id + " in " + region
	out, err := p.ec2(region).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{id}, OwnerIds: []string{"self"}})
	if err != nil {
		return types.Snapshot{}, mapErr(op, err)
	}
	for _, s := range out.Snapshots {
		if aws.ToString(s.SnapshotId) == id {
			return s, nil
		}
	}
	return types.Snapshot{}, notFound(op, id)
}

func stateName(in types.Instance) types.InstanceStateName {
	if in.State == nil {
		return ""
	}
	return in.State.Name
}

// Stop stops an instance and waits until EC2 reports it stopped. An
// instance that is already stopped is left alone (no StopInstances
// call); one that is stopping is waited for. Errors wrap the domain
// kinds: domain.ErrNotFound for an unknown instance, domain.ErrConflict
// for one EC2 cannot stop in its state (IncorrectInstanceState). A wait
// that outlasts cfg.WaitTimeout returns an error of no kind (transient:
// re-read before retrying).
func (p *Provider) Stop(ctx context.Context, ref domain.ResourceRef, token string) error {
	if _, err := p.check(ref, domain.KindVM); err != nil {
		return err
	}
	return p.moveInstance(ctx, ref, types.InstanceStateNameStopped)
}

// Start starts an instance and waits until EC2 reports it running; an
// instance that is already running is left alone. Errors are as Stop's.
func (p *Provider) Start(ctx context.Context, ref domain.ResourceRef, token string) error {
	if _, err := p.check(ref, domain.KindVM); err != nil {
		return err
	}
	return p.moveInstance(ctx, ref, types.InstanceStateNameRunning)
}

// moveInstance brings an instance to want (stopped or running).
func (p *Provider) moveInstance(ctx context.Context, ref domain.ResourceRef, want types.InstanceStateName) error {
	via, call := types.InstanceStateNameStopping, "StopInstances"
	if want == types.InstanceStateNameRunning {
		via, call = types.InstanceStateNamePending, "StartInstances"
	}
	op := "ec2 " + call + " " + ref.ID + " in " + ref.Region
	in, err := p.describeInstance(ctx, ref.Region, ref.ID)
	if err != nil {
		return err
	}
	if gone(in) {
		return notFound(op, ref.ID)
	}
	switch stateName(in) {
	case want:
		return nil
	case via:
		return p.waitInstance(ctx, ref, want)
	}
	client := p.ec2(ref.Region)
	if want == types.InstanceStateNameStopped {
		_, err = client.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{ref.ID}})
	} else {
		_, err = client.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{ref.ID}})
	}
	if err != nil {
		return mapErr(op, err)
	}
	if err := p.waitInstance(ctx, ref, want); err != nil {
		return err
	}
	p.logger.InfoContext(ctx, "ec2 instance "+string(want), "account_id", p.account, "region", ref.Region, "resource_id", ref.ID)
	return nil
}

// waitInstance polls the instance every cfg.Poll until it reads want,
// for at most cfg.WaitTimeout.
func (p *Provider) waitInstance(ctx context.Context, ref domain.ResourceRef, want types.InstanceStateName) error {
	op := fmt.Sprintf("wait for ec2 instance %s in %s to be %s", ref.ID, ref.Region, want)
	return p.poll(ctx, op, func(ctx context.Context) (bool, string, error) {
		in, err := p.describeInstance(ctx, ref.Region, ref.ID)
		if err != nil {
			return false, "", err
		}
		if gone(in) {
			return false, "", notFound(op, ref.ID)
		}
		return stateName(in) == want, string(stateName(in)), nil
	})
}

// poll calls check every cfg.Poll until it reports done or fails, for
// at most cfg.WaitTimeout and never beyond ctx. The wait's own timeout
// is an error of no kind, naming the last state seen.
func (p *Provider) poll(ctx context.Context, op string, check func(context.Context) (done bool, state string, err error)) error {
	wctx, cancel := context.WithTimeout(ctx, p.cfg.WaitTimeout)
	defer cancel()
	timer := time.NewTimer(0)
	defer timer.Stop()
	last := "unknown"
	for {
		select {
		case <-wctx.Done():
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			return &Error{Op: op, err: fmt.Errorf("still %s after %v", last, p.cfg.WaitTimeout)}
		case <-timer.C:
		}
		done, state, err := check(wctx)
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return &Error{Op: op, err: fmt.Errorf("still %s after %v", last, p.cfg.WaitTimeout)}
			}
			return err
		}
		if done {
			return nil
		}
		last = state
		timer.Reset(p.cfg.Poll)
	}
}

// Resize changes a stopped instance's type (ModifyInstanceAttribute).
// An instance that already has the type is left alone; a running one is
// a conflict (EC2's IncorrectInstanceState), and a type EC2 does not
// offer is invalid.
func (p *Provider) Resize(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	if _, err := p.check(ref, domain.KindVM); err != nil {
		return err
	}
	if sku == "" {
		return fmt.Errorf("%w: resize %s: no instance type", domain.ErrInvalid, ref)
	}
	in, err := p.describeInstance(ctx, ref.Region, ref.ID)
	if err != nil {
		return err
	}
	if string(in.InstanceType) == sku {
		return nil
	}
	_, err = p.ec2(ref.Region).ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{
		InstanceId: aws.String(ref.ID), InstanceType: &types.AttributeValue{Value: aws.String(sku)},
	})
	if err != nil {
		return mapErr("ec2 ModifyInstanceAttribute "+ref.ID+" in "+ref.Region, err)
	}
	p.logger.InfoContext(ctx, "ec2 instance resized", "account_id", p.account, "region", ref.Region, "resource_id", ref.ID, "sku", sku)
	return nil
}

// tokenValue is the TokenTag value for an idempotency token: the token
// itself, or its SHA-256 when it is longer than a tag value may be.
func tokenValue(token string) string {
	if len(token) <= 256 {
		return token
	}
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// filterValue escapes the wildcards of an EC2 filter value.
func filterValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
}

// Snapshot takes a snapshot of a volume, tagged with tags and TokenTag,
// waits until it is completed and returns its ID. A snapshot of the
// volume that already carries the token (an earlier call) is returned
// instead of taking another. A snapshot that fails (EC2 state error) is
// a conflict; the volume must not be deleted on its strength.
func (p *Provider) Snapshot(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) (string, error) {
	if _, err := p.check(ref, domain.KindDisk); err != nil {
		return "", err
	}
	if token == "" {
		return "", fmt.Errorf("%w: snapshot %s: an idempotency token is required", domain.ErrInvalid, ref)
	}
	client := p.ec2(ref.Region)
	tv := tokenValue(token)
	op := "ec2 DescribeSnapshots of " + ref.ID + " in " + ref.Region
	out, err := client.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []types.Filter{
		{Name: aws.String("tag:" + TokenTag), Values: []string{filterValue(tv)}},
		{Name: aws.String("volume-id"), Values: []string{ref.ID}},
	}})
	if err != nil {
		return "", mapErr(op, err)
	}
	var id string
	for _, s := range out.Snapshots {
		if id == "" || s.State == types.SnapshotStateCompleted {
			id = aws.ToString(s.SnapshotId)
		}
	}
	if id == "" {
		all := maps.Clone(tags)
		if all == nil {
			all = map[string]string{}
		}
		all[TokenTag] = tv
		created, err := client.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{
			VolumeId:          aws.String(ref.ID),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: ec2Tags(all)}},
		})
		if err != nil {
			return "", mapErr("ec2 CreateSnapshot of "+ref.ID+" in "+ref.Region, err)
		}
		id = aws.ToString(created.SnapshotId)
		p.logger.InfoContext(ctx, "ec2 snapshot started", "account_id", p.account, "region", ref.Region, "resource_id", ref.ID, "snapshot_id", id)
	}
	return id, p.waitSnapshot(ctx, ref.Region, id)
}

// waitSnapshot polls a snapshot until it is completed. A snapshot EC2
// does not know yet (its reads are eventually consistent) is waited for.
func (p *Provider) waitSnapshot(ctx context.Context, region, id string) error {
	op := fmt.Sprintf("wait for ec2 snapshot %s in %s to complete", id, region)
	return p.poll(ctx, op, func(ctx context.Context) (bool, string, error) {
		s, err := p.describeSnapshot(ctx, region, id)
		if errors.Is(err, domain.ErrNotFound) {
			return false, "not yet visible", nil
		}
		if err != nil {
			return false, "", err
		}
		switch s.State {
		case types.SnapshotStateCompleted:
			return true, "", nil
		case types.SnapshotStateError:
			return false, "", &Error{Op: op, Code: "SnapshotError", Message: aws.ToString(s.StateMessage), kind: domain.ErrConflict,
				err: fmt.Errorf("snapshot %s failed: %s", id, aws.ToString(s.StateMessage))}
		}
		return false, string(s.State), nil
	})
}

// ec2Tags converts tags to EC2's, sorted by key.
func ec2Tags(tags map[string]string) []types.Tag {
	out := make([]types.Tag, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// Delete deletes a volume (DeleteVolume) or a snapshot (DeleteSnapshot).
// EC2's NotFound answer counts as success (see the idempotency notes
// above); an attached volume is a conflict (VolumeInUse), as is a
// snapshot an image uses (InvalidSnapshot.InUse).
func (p *Provider) Delete(ctx context.Context, ref domain.ResourceRef, token string) error {
	kind, err := p.check(ref, domain.KindDisk, domain.KindSnapshot)
	if err != nil {
		return err
	}
	client := p.ec2(ref.Region)
	var op string
	if kind == domain.KindDisk {
		op = "ec2 DeleteVolume " + ref.ID + " in " + ref.Region
		_, err = client.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(ref.ID)})
	} else {
		op = "ec2 DeleteSnapshot " + ref.ID + " in " + ref.Region
		_, err = client.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(ref.ID)})
	}
	return p.removed(ctx, op, ref, err)
}

// Release releases an Elastic IP (ReleaseAddress by allocation ID).
// EC2's NotFound answer counts as success; an associated address is a
// conflict (InvalidIPAddress.InUse).
func (p *Provider) Release(ctx context.Context, ref domain.ResourceRef, token string) error {
	if _, err := p.check(ref, domain.KindIP); err != nil {
		return err
	}
	_, err := p.ec2(ref.Region).ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(ref.ID)})
	return p.removed(ctx, "ec2 ReleaseAddress "+ref.ID+" in "+ref.Region, ref, err)
}

// removed maps the answer of a call that removes a resource: NotFound
// means it is gone already.
func (p *Provider) removed(ctx context.Context, op string, ref domain.ResourceRef, err error) error {
	if err != nil {
		err = mapErr(op, err)
		if !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		p.logger.InfoContext(ctx, "ec2 resource already gone", "account_id", p.account, "region", ref.Region, "resource_id", ref.ID, "call", op)
		return nil
	}
	p.logger.InfoContext(ctx, "ec2 resource removed", "account_id", p.account, "region", ref.Region, "resource_id", ref.ID, "call", op)
	return nil
}

// Tag merges tags into a resource's tags (CreateTags). An identity that
// may not set a tag answers domain.ErrPermission (UnauthorizedOperation).
func (p *Provider) Tag(ctx context.Context, ref domain.ResourceRef, tags map[string]string, token string) error {
	if _, err := p.check(ref, domain.KindVM, domain.KindDisk, domain.KindIP, domain.KindSnapshot); err != nil {
		return err
	}
	if len(tags) == 0 {
		return fmt.Errorf("%w: tag %s: no tags", domain.ErrInvalid, ref)
	}
	_, err := p.ec2(ref.Region).CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ref.ID}, Tags: ec2Tags(tags)})
	if err != nil {
		return mapErr("ec2 CreateTags "+ref.ID+" in "+ref.Region, err)
	}
	return nil
}

// ebsTypes are the EBS volume types ModifyVolume accepts.
var ebsTypes = []string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}

// Retype changes a volume's type in place (ModifyVolume), keeping its
// data and its attachment, and waits until the volume reads the new
// type. EBS changes the type of an attached volume online; the new type
// shows once the modification leaves the modifying state, and the
// volume then optimizes in the background.
//
// ModifyVolume takes no client token, so Retype reads first: a volume
// that already has the type, or whose most recent modification
// (DescribeVolumesModifications) goes to the type and has not failed,
// gets no second modification. Only the type is sent: a volume moved to
// gp3 gets gp3's baseline (3,000 IOPS, 125 MiB/s).
//
// A type EBS does not have is domain.ErrInvalid, refused before any
// call. A modification of the volume to another type still under way is
// domain.ErrConflict, refused without a ModifyVolume; so is EBS's
// IncorrectModificationState. VolumeModificationRateExceeded (too many
// modifications of the volume lately) is domain.ErrThrottled.
func (p *Provider) Retype(ctx context.Context, ref domain.ResourceRef, sku, token string) error {
	if _, err := p.check(ref, domain.KindDisk); err != nil {
		return err
	}
	if !slices.Contains(ebsTypes, sku) {
		return fmt.Errorf("%w: retype disk %s: %q is not an EBS volume type (%s)", domain.ErrInvalid, ref.ID, sku, strings.Join(ebsTypes, ", "))
	}
	v, err := p.describeVolume(ctx, ref.Region, ref.ID)
	if err != nil {
		return err
	}
	before := string(v.VolumeType)
	if before == sku {
		return nil // replay, or already of the type
	}
	mod, err := p.lastModification(ctx, ref.Region, ref.ID)
	if err != nil {
		return err
	}
	switch {
	case mod == nil || mod.ModificationState == types.VolumeModificationStateFailed:
	case string(mod.TargetVolumeType) == sku:
		return p.waitRetype(ctx, ref, sku) // replay: the first call's modification
	case modifying(mod):
		return fmt.Errorf("%w: retype disk %s to %s: EBS is still modifying the volume to %s (%s, %d%% done) and takes one modification of a volume at a time",
			domain.ErrConflict, ref.ID, sku, mod.TargetVolumeType, mod.ModificationState, aws.ToInt64(mod.Progress))
	}
	op := "ec2 ModifyVolume " + ref.ID + " to " + sku + " in " + ref.Region
	_, err = p.ec2(ref.Region).ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String(ref.ID), VolumeType: types.VolumeType(sku)})
	if err != nil {
		return modifyErr(op, err)
	}
	if err := p.waitRetype(ctx, ref, sku); err != nil {
		return err
	}
	p.logger.InfoContext(ctx, "ebs volume type changed", "account_id", p.account, "region", ref.Region, "resource_id", ref.ID, "sku_before", before, "sku", sku)
	return nil
}

// describeVolume reads one volume; one that does not exist or is being
// deleted is domain.ErrNotFound.
func (p *Provider) describeVolume(ctx context.Context, region, id string) (types.Volume, error) {
	op := "ec2 DescribeVolumes " + id + " in " + region
	out, err := p.ec2(region).DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{id}})
	if err != nil {
		return types.Volume{}, mapErr(op, err)
	}
	for _, v := range out.Volumes {
		if aws.ToString(v.VolumeId) == id && !volumeGone(v) {
			return v, nil
		}
	}
	return types.Volume{}, notFound(op, id)
}

// lastModification returns the most recent modification of a volume,
// nil for a volume never modified. It filters by volume ID rather than
// naming the volume: named, a volume without modifications is an error
// (InvalidVolumeModification.NotFound), which is taken as none as well.
func (p *Provider) lastModification(ctx context.Context, region, id string) (*types.VolumeModification, error) {
	op := "ec2 DescribeVolumesModifications of " + id + " in " + region
	pages := ec2.NewDescribeVolumesModificationsPaginator(p.ec2(region), &ec2.DescribeVolumesModificationsInput{
		Filters: []types.Filter{{Name: aws.String("volume-id"), Values: []string{filterValue(id)}}},
	})
	var last *types.VolumeModification
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			var api smithy.APIError
			if errors.As(err, &api) && api.ErrorCode() == "InvalidVolumeModification.NotFound" {
				return nil, nil
			}
			return nil, mapErr(op, err)
		}
		for i := range out.VolumesModifications {
			m := &out.VolumesModifications[i]
			if aws.ToString(m.VolumeId) == id && (last == nil || aws.ToTime(m.StartTime).After(aws.ToTime(last.StartTime))) {
				last = m
			}
		}
	}
	return last, nil
}

// modifying reports whether a volume modification is still under way.
func modifying(m *types.VolumeModification) bool {
	return m.ModificationState == types.VolumeModificationStateModifying || m.ModificationState == types.VolumeModificationStateOptimizing
}

// waitRetype polls a volume until it reads type sku. A modification to
// sku that failed is domain.ErrConflict; one to another type that took
// over is too. A modification to sku that is optimizing or completed
// ends the wait even if the volume does not read sku yet: the actuator
// verifies the type after the call.
func (p *Provider) waitRetype(ctx context.Context, ref domain.ResourceRef, sku string) error {
	op := fmt.Sprintf("wait for ebs volume %s in %s to be %s", ref.ID, ref.Region, sku)
	return p.poll(ctx, op, func(ctx context.Context) (bool, string, error) {
		v, err := p.describeVolume(ctx, ref.Region, ref.ID)
		if err != nil {
			return false, "", err
		}
		if string(v.VolumeType) == sku {
			return true, "", nil
		}
		mod, err := p.lastModification(ctx, ref.Region, ref.ID)
		switch {
		case err != nil:
			return false, "", err
		case mod == nil:
			return false, "not yet modifying", nil // reads are eventually consistent
		case string(mod.TargetVolumeType) != sku && modifying(mod):
			return false, "", &Error{Op: op, Code: "IncorrectModificationState", kind: domain.ErrConflict,
				Message: fmt.Sprintf("the volume is being modified to %s instead", mod.TargetVolumeType), err: domain.ErrConflict}
		case string(mod.TargetVolumeType) != sku:
			return false, "not yet modifying", nil
		case mod.ModificationState == types.VolumeModificationStateFailed:
			return false, "", &Error{Op: op, Code: "VolumeModificationFailed", Message: aws.ToString(mod.StatusMessage), kind: domain.ErrConflict,
				err: fmt.Errorf("the modification of %s to %s failed: %s", ref.ID, sku, aws.ToString(mod.StatusMessage))}
		case mod.ModificationState == types.VolumeModificationStateModifying:
			return false, fmt.Sprintf("modifying (%d%%)", aws.ToInt64(mod.Progress)), nil
		}
		return true, "", nil
	})
}

// modifyErr maps the error of ModifyVolume: mapErr's kinds, and the two
// codes only a volume modification answers. IncorrectModificationState
// (a modification of the volume is under way) is a conflict;
// VolumeModificationRateExceeded (the volume was modified too often
// lately) is throttling: the call may succeed later.
func modifyErr(op string, err error) error {
	err = mapErr(op, err)
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case "IncorrectModificationState":
		e.kind = domain.ErrConflict
		e.Message = "the volume has a modification under way, and EBS takes one modification of a volume at a time: " + e.Message
	case "VolumeModificationRateExceeded":
		e.kind = domain.ErrThrottled
		e.Message = "the volume was modified too often lately: " + e.Message
	}
	return err
}
