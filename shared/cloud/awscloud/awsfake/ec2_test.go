package awsfake_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

var ec2Now = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// ec2Env is the demo estate served by a fake, with the first AWS
// account's EC2 client in us-east-1.
type ec2Env struct {
	est     *simcloud.Estate
	srv     *awsfake.Server
	account string
	region  string
	ec2     *ec2.Client
}

func newEC2Env(t *testing.T, cfg simcloud.Config, opts awsfake.Options) *ec2Env {
	t.Helper()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(cfg, prices)
	if err != nil {
		t.Fatal(err)
	}
	srv := awsfake.New(est.Cloud(domain.AWS), opts)
	t.Cleanup(srv.Close)
	e := &ec2Env{est: est, srv: srv, account: est.Accounts(domain.AWS)[0], region: "us-east-1"}
	e.ec2 = e.client(e.account, e.region)
	return e
}

// client is an SDK client of account in region that does not retry, so
// every error the fake answers reaches the test.
func (e *ec2Env) client(account, region string) *ec2.Client {
	return ec2.NewFromConfig(e.srv.Config(account), func(o *ec2.Options) {
		o.Region = region
		o.RetryMaxAttempts = 1
	})
}

// estate lists the estate's resources of kind in the env's scope, by ID.
func (e *ec2Env) estate(t *testing.T, kind domain.Kind, keep func(domain.Resource) bool) []domain.Resource {
	t.Helper()
	var out []domain.Resource
	err := e.est.Cloud(domain.AWS).Resources(context.Background(), collect.Scope{Account: e.account, Region: e.region}, func(page []domain.Resource) error {
		for _, r := range page {
			if r.Kind == kind && (keep == nil || keep(r)) {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(out) == 0 {
		t.Fatalf("the estate has no %s in %s/%s for this test", kind, e.account, e.region)
	}
	return out
}

// use makes the env act as the account of the first resource of the
// estate that keep accepts.
func (e *ec2Env) use(t *testing.T, keep func(domain.Resource) bool) {
	t.Helper()
	for _, r := range e.est.Resources() {
		if r.Cloud == domain.AWS && keep(r) {
			e.account, e.region = r.Account, r.Region
			e.ec2 = e.client(e.account, e.region)
			return
		}
	}
	t.Fatal("the estate has no AWS resource for this test")
}

func (e *ec2Env) get(t *testing.T, kind domain.Kind, id string) domain.Resource {
	t.Helper()
	r, err := e.est.Cloud(domain.AWS).Get(context.Background(), domain.ResourceRef{Cloud: domain.AWS, Account: e.account, Region: e.region, Kind: kind, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ids(rs []domain.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// wantAPIError checks that err is the AWS error code with the HTTP
// status.
func wantAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != code {
		t.Fatalf("err = %v, want AWS error %s", err, code)
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() != status {
		t.Fatalf("%s: HTTP status %d, want %d", code, resp.HTTPStatusCode(), status)
	}
}

func instanceState(t *testing.T, c *ec2.Client, id string) types.InstanceStateName {
	t.Helper()
	out, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("DescribeInstances(%s) = %d reservations, want one with one instance", id, len(out.Reservations))
	}
	return out.Reservations[0].Instances[0].State.Name
}

func TestEC2DescribeRegions(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{Regions: []string{"eu-west-1", "us-east-1"}})
	out, err := e.ec2.DescribeRegions(context.Background(), &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range out.Regions {
		got = append(got, aws.ToString(r.RegionName))
		if aws.ToString(r.OptInStatus) != "opt-in-not-required" || aws.ToString(r.Endpoint) == "" {
			t.Errorf("region %+v: want opt-in-not-required and an endpoint", r)
		}
	}
	if diff := cmp.Diff([]string{"eu-west-1", "us-east-1"}, got); diff != "" {
		t.Errorf("DescribeRegions (-want +got):\n%s", diff)
	}
}

func TestEC2PagesCoverTheEstate(t *testing.T) {
	e := newEC2Env(t, simcloud.Config{Seed: 7, Resources: 400, Now: ec2Now}, awsfake.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		kind domain.Kind
		list func() ([]string, []int, error)
	}{
		{domain.KindVM, func() (got []string, sizes []int, err error) {
			p := ec2.NewDescribeInstancesPaginator(e.ec2, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return nil, nil, err
				}
				n := 0
				for _, res := range out.Reservations {
					for _, in := range res.Instances {
						got, n = append(got, aws.ToString(in.InstanceId)), n+1
					}
				}
				sizes = append(sizes, n)
			}
			return got, sizes, nil
		}},
		{domain.KindDisk, func() (got []string, sizes []int, err error) {
			p := ec2.NewDescribeVolumesPaginator(e.ec2, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5)})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return nil, nil, err
				}
				for _, v := range out.Volumes {
					got = append(got, aws.ToString(v.VolumeId))
				}
				sizes = append(sizes, len(out.Volumes))
			}
			return got, sizes, nil
		}},
		{domain.KindSnapshot, func() (got []string, sizes []int, err error) {
			p := ec2.NewDescribeSnapshotsPaginator(e.ec2, &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(5), OwnerIds: []string{"self"}})
			for p.HasMorePages() {
				out, err := p.NextPage(ctx)
				if err != nil {
					return nil, nil, err
				}
				for _, s := range out.Snapshots {
					got = append(got, aws.ToString(s.SnapshotId))
				}
				sizes = append(sizes, len(out.Snapshots))
			}
			return got, sizes, nil
		}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			want := ids(e.estate(t, tc.kind, nil))
			got, sizes, err := tc.list()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paged IDs (-estate +fake):\n%s", diff)
			}
			if len(want) > 5 && len(sizes) < 2 {
				t.Errorf("%d resources in %d page(s), want pages of 5", len(want), len(sizes))
			}
			for i, n := range sizes {
				if n > 5 {
					t.Errorf("page %d holds %d, want at most MaxResults 5", i, n)
				}
			}
		})
	}
	out, err := e.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range out.Addresses {
		got = append(got, aws.ToString(a.AllocationId))
	}
	if diff := cmp.Diff(ids(e.estate(t, domain.KindIP, nil)), got); diff != "" {
		t.Errorf("DescribeAddresses (-estate +fake):\n%s", diff)
	}
}

func TestEC2PaginationParameters(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	ctx := context.Background()
	vm := e.estate(t, domain.KindVM, nil)[0]
	for _, n := range []int32{4, 1001} {
		_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(n)})
		wantAPIError(t, err, "InvalidParameterValue", http.StatusBadRequest)
	}
	_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), InstanceIds: []string{vm.ID}})
	wantAPIError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	_, err = e.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{MaxResults: aws.Int32(5), NextToken: aws.String("not-a-token")})
	wantAPIError(t, err, "InvalidNextToken", http.StatusBadRequest)

	// A token is bound to its action and cannot be altered.
	out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	tok := aws.ToString(out.NextToken)
	if tok == "" {
		t.Fatal("no NextToken after a full page of 5 instances")
	}
	_, err = e.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{MaxResults: aws.Int32(5), NextToken: &tok})
	wantAPIError(t, err, "InvalidNextToken", http.StatusBadRequest)
	bad := []byte(tok)
	bad[len(bad)/2] ^= 1
	_, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), NextToken: aws.String(string(bad))})
	wantAPIError(t, err, "InvalidNextToken", http.StatusBadRequest)
}

func TestEC2IDsAndFilters(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	ctx := context.Background()
	vms := e.estate(t, domain.KindVM, nil)

	out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{vms[1].ID, vms[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Reservations); n != 2 {
		t.Fatalf("DescribeInstances(2 IDs) = %d reservations, want 2", n)
	}
	in := out.Reservations[0].Instances[0]
	if aws.ToString(in.InstanceId) != vms[0].ID || string(in.InstanceType) != vms[0].SKU || !aws.ToTime(in.LaunchTime).Equal(vms[0].CreatedAt) {
		t.Errorf("instance = %s %s %v, want %s %s %v", aws.ToString(in.InstanceId), in.InstanceType, aws.ToTime(in.LaunchTime), vms[0].ID, vms[0].SKU, vms[0].CreatedAt)
	}

	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"unknown instance", func() error {
			_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{vms[0].ID, "i-0123456789abcdef0"}})
			return err
		}, "InvalidInstanceID.NotFound"},
		{"malformed instance", func() error {
			_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"instance-1"}})
			return err
		}, "InvalidInstanceID.Malformed"},
		{"unknown volume", func() error {
			_, err := e.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{"vol-0123456789abcdef0"}})
			return err
		}, "InvalidVolume.NotFound"},
		{"unknown address", func() error {
			_, err := e.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{AllocationIds: []string{"eipalloc-0123456789abcdef0"}})
			return err
		}, "InvalidAllocationID.NotFound"},
		{"unknown snapshot", func() error {
			_, err := e.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-0123456789abcdef0"}})
			return err
		}, "InvalidSnapshot.NotFound"},
		{"unknown filter", func() error {
			_, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}})
			return err
		}, "InvalidParameterValue"},
		{"instance in another region", func() error {
			_, err := e.client(e.account, "eu-west-1").DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{vms[0].ID}})
			return err
		}, "InvalidInstanceID.NotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantAPIError(t, tc.call(), tc.code, http.StatusBadRequest) })
	}

	// Filters: tag values with wildcards, states, volume of a snapshot.
	prod := e.estate(t, domain.KindVM, func(r domain.Resource) bool { return r.Tags["env"] == "prod" })
	out, err = e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{
		{Name: aws.String("tag:env"), Values: []string{"pr*"}},
		{Name: aws.String("instance-state-name"), Values: []string{"running", "stopped"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, res := range out.Reservations {
		for _, in := range res.Instances {
			got = append(got, aws.ToString(in.InstanceId))
		}
	}
	if diff := cmp.Diff(ids(prod), got); diff != "" {
		t.Errorf("instances tagged env=pr* (-want +got):\n%s", diff)
	}
	snap := e.estate(t, domain.KindSnapshot, nil)[0]
	sout, err := e.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []types.Filter{{Name: aws.String("volume-id"), Values: []string{snap.AttachedTo}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := ids(e.estate(t, domain.KindSnapshot, func(r domain.Resource) bool { return r.AttachedTo == snap.AttachedTo }))
	got = nil
	for _, s := range sout.Snapshots {
		got = append(got, aws.ToString(s.SnapshotId))
		if aws.ToString(s.Description) == "" || s.State != types.SnapshotStateCompleted || aws.ToString(s.OwnerId) != e.account {
			t.Errorf("snapshot %s: description %q, state %s, owner %s; want the estate's name, completed, %s",
				aws.ToString(s.SnapshotId), aws.ToString(s.Description), s.State, aws.ToString(s.OwnerId), e.account)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("snapshots of %s (-want +got):\n%s", snap.AttachedTo, diff)
	}
	sout, err = e.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"amazon"}})
	if err != nil || len(sout.Snapshots) != 0 {
		t.Errorf("snapshots owned by amazon = %d, %v; want none", len(sout.Snapshots), err)
	}
}

func TestEC2StopAndStartAreAsynchronous(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	ctx := context.Background()
	vm := e.estate(t, domain.KindVM, func(r domain.Resource) bool { return r.State == domain.StateRunning })[0]

	stop, err := e.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{vm.ID}})
	if err != nil {
		t.Fatal(err)
	}
	ch := stop.StoppingInstances[0]
	if ch.CurrentState.Name != types.InstanceStateNameStopping || ch.PreviousState.Name != types.InstanceStateNameRunning || aws.ToInt32(ch.CurrentState.Code) != 64 {
		t.Fatalf("StopInstances: %s → %s (code %d), want running → stopping (64)", ch.PreviousState.Name, ch.CurrentState.Name, aws.ToInt32(ch.CurrentState.Code))
	}
	// Stopping: no start, no resize.
	_, err = e.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{vm.ID}})
	wantAPIError(t, err, "IncorrectInstanceState", http.StatusBadRequest)
	_, err = e.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &vm.ID, InstanceType: &types.AttributeValue{Value: aws.String("m5.large")}})
	wantAPIError(t, err, "IncorrectInstanceState", http.StatusBadRequest)
	if s := instanceState(t, e.ec2, vm.ID); s != types.InstanceStateNameStopping {
		t.Fatalf("first read after StopInstances: %s, want stopping", s)
	}
	if s := instanceState(t, e.ec2, vm.ID); s != types.InstanceStateNameStopped {
		t.Fatalf("second read after StopInstances: %s, want stopped", s)
	}
	if got := e.get(t, domain.KindVM, vm.ID).State; got != domain.StateStopped {
		t.Fatalf("estate state %s, want stopped", got)
	}

	// Stopping a stopped instance succeeds and changes nothing, as in EC2
	// (the estate itself would call it a conflict).
	calls := len(e.est.Calls())
	stop, err = e.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{vm.ID}})
	if err != nil {
		t.Fatalf("StopInstances of a stopped instance: %v, want success", err)
	}
	if ch := stop.StoppingInstances[0]; ch.CurrentState.Name != types.InstanceStateNameStopped || ch.PreviousState.Name != types.InstanceStateNameStopped {
		t.Errorf("StopInstances of a stopped instance: %s → %s, want stopped → stopped", ch.PreviousState.Name, ch.CurrentState.Name)
	}
	if n := len(e.est.Calls()); n != calls {
		t.Errorf("StopInstances of a stopped instance made %d estate calls, want none", n-calls)
	}

	e.srv.SetTransitions(3)
	start, err := e.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{vm.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if ch := start.StartingInstances[0]; ch.CurrentState.Name != types.InstanceStateNamePending || ch.PreviousState.Name != types.InstanceStateNameStopped {
		t.Fatalf("StartInstances: %s → %s, want stopped → pending", ch.PreviousState.Name, ch.CurrentState.Name)
	}
	_, err = e.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{vm.ID}})
	wantAPIError(t, err, "IncorrectInstanceState", http.StatusBadRequest)
	for i := range 3 {
		if s := instanceState(t, e.ec2, vm.ID); s != types.InstanceStateNamePending {
			t.Fatalf("read %d after StartInstances: %s, want pending", i+1, s)
		}
	}
	if s := instanceState(t, e.ec2, vm.ID); s != types.InstanceStateNameRunning {
		t.Fatalf("read 4 after StartInstances: %s, want running", s)
	}

	e.srv.SetTransitions(0)
	stop, err = e.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{vm.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if s := stop.StoppingInstances[0].CurrentState.Name; s != types.InstanceStateNameStopped {
		t.Errorf("StopInstances without transitions: current %s, want stopped", s)
	}
	if s := instanceState(t, e.ec2, vm.ID); s != types.InstanceStateNameStopped {
		t.Errorf("read after StopInstances without transitions: %s, want stopped", s)
	}
}

func TestEC2ModifyInstanceType(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	e.srv.SetTransitions(0)
	ctx := context.Background()
	vm := e.estate(t, domain.KindVM, func(r domain.Resource) bool { return r.State == domain.StateRunning })[0]
	sku := "m5.large"
	if vm.SKU == sku {
		sku = "c5.large"
	}
	modify := func(sku string) error {
		_, err := e.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &vm.ID, InstanceType: &types.AttributeValue{Value: &sku}})
		return err
	}
	wantAPIError(t, modify(sku), "IncorrectInstanceState", http.StatusBadRequest)
	if _, err := e.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{vm.ID}}); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, modify("m5.gigantic"), "InvalidParameterValue", http.StatusBadRequest)
	if err := modify(sku); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, domain.KindVM, vm.ID).SKU; got != sku {
		t.Errorf("estate SKU %s after ModifyInstanceAttribute, want %s", got, sku)
	}
	_, err := e.ec2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: &vm.ID, SourceDestCheck: &types.AttributeBooleanValue{Value: aws.Bool(false)}})
	wantAPIError(t, err, "UnsupportedOperation", http.StatusBadRequest)
}

func TestEC2SnapshotIsPendingThenCompleted(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	ctx := context.Background()
	disk := e.estate(t, domain.KindDisk, nil)[0]
	out, err := e.ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: &disk.ID, Description: aws.String("before delete"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSnapshot, Tags: []types.Tag{{Key: aws.String("cloudtrim-token"), Value: aws.String("p/a/snapshot")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.SnapshotId)
	if out.State != types.SnapshotStatePending || aws.ToString(out.VolumeId) != disk.ID || aws.ToInt32(out.VolumeSize) != int32(disk.SizeGiB) {
		t.Fatalf("CreateSnapshot = %s %s of %s (%d GiB), want pending of %s (%d GiB)", id, out.State, aws.ToString(out.VolumeId), aws.ToInt32(out.VolumeSize), disk.ID, disk.SizeGiB)
	}
	find := func() types.Snapshot {
		t.Helper()
		out, err := e.ec2.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"}, Filters: []types.Filter{
			{Name: aws.String("tag:cloudtrim-token"), Values: []string{"p/a/snapshot"}}, {Name: aws.String("volume-id"), Values: []string{disk.ID}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Snapshots) != 1 || aws.ToString(out.Snapshots[0].SnapshotId) != id {
			t.Fatalf("snapshots with the token: %d, want %s alone", len(out.Snapshots), id)
		}
		return out.Snapshots[0]
	}
	if s := find(); s.State != types.SnapshotStatePending || aws.ToString(s.Description) != "before delete" {
		t.Fatalf("first read: %s %q, want pending \"before delete\"", s.State, aws.ToString(s.Description))
	}
	if s := find(); s.State != types.SnapshotStateCompleted {
		t.Fatalf("second read: %s, want completed", s.State)
	}
	if got := e.get(t, domain.KindSnapshot, id); got.Tags["cloudtrim-token"] != "p/a/snapshot" || got.AttachedTo != disk.ID {
		t.Errorf("estate snapshot %+v, want the token tag and source %s", got, disk.ID)
	}
	_, err = e.ec2.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: &disk.ID,
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}})
	wantAPIError(t, err, "InvalidParameterValue", http.StatusBadRequest)
}

func TestEC2DeleteAndRelease(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	e.use(t, func(r domain.Resource) bool { return r.Kind == domain.KindDisk && r.AttachedTo == "" })
	ctx := context.Background()
	free := e.estate(t, domain.KindDisk, func(r domain.Resource) bool { return r.AttachedTo == "" })[0]
	attached := e.estate(t, domain.KindDisk, func(r domain.Resource) bool { return r.AttachedTo != "" })[0]
	snap := e.estate(t, domain.KindSnapshot, nil)[0]
	unused := e.estate(t, domain.KindIP, func(r domain.Resource) bool { return r.AttachedTo == "" })[0]
	used := e.estate(t, domain.KindIP, func(r domain.Resource) bool { return r.AttachedTo != "" })[0]

	_, err := e.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: &attached.ID})
	wantAPIError(t, err, "VolumeInUse", http.StatusBadRequest)
	_, err = e.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: &used.ID})
	wantAPIError(t, err, "InvalidIPAddress.InUse", http.StatusBadRequest)
	_, err = e.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: &free.ID, DryRun: aws.Bool(true)})
	wantAPIError(t, err, "DryRunOperation", http.StatusPreconditionFailed)

	if _, err := e.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: &free.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: &snap.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: &unused.ID}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []domain.Resource{free, snap, unused} {
		if _, err := e.est.Cloud(domain.AWS).Get(ctx, r.Ref()); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("estate Get(%s) after the call: %v, want not found", r.ID, err)
		}
	}
	// A second call finds nothing, as in EC2.
	_, err = e.ec2.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: &free.ID})
	wantAPIError(t, err, "InvalidVolume.NotFound", http.StatusBadRequest)
	_, err = e.ec2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: &snap.ID})
	wantAPIError(t, err, "InvalidSnapshot.NotFound", http.StatusBadRequest)
	_, err = e.ec2.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: &unused.ID})
	wantAPIError(t, err, "InvalidAllocationID.NotFound", http.StatusBadRequest)
	if got := e.get(t, domain.KindDisk, attached.ID); got.State != domain.StateInUse {
		t.Errorf("attached disk is %s after a refused delete, want in-use", got.State)
	}
}

func TestEC2CreateTags(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	ctx := context.Background()
	vm := e.estate(t, domain.KindVM, func(r domain.Resource) bool { return r.Incomplete == "" })[0]
	disk := e.estate(t, domain.KindDisk, nil)[0]
	tag := func(id, k, v string) error {
		_, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: []types.Tag{{Key: &k, Value: &v}}})
		return err
	}
	if err := tag(vm.ID, "cloudtrim-schedule", "Mon-Fri 08:00-20:00 UTC"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{vm.ID, disk.ID}, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("finops")}}}); err != nil {
		t.Fatal(err)
	}
	got := e.get(t, domain.KindVM, vm.ID).Tags
	if got["cloudtrim-schedule"] != "Mon-Fri 08:00-20:00 UTC" || got["owner"] != "finops" || got["Name"] != vm.Tags["Name"] {
		t.Errorf("tags after CreateTags: %v, want the old ones merged with the new", got)
	}
	if e.get(t, domain.KindDisk, disk.ID).Tags["owner"] != "finops" {
		t.Error("the second resource of CreateTags was not tagged")
	}
	// The simulated identity may not set the opt-in tag.
	wantAPIError(t, tag(vm.ID, "cloudtrim-optin", "true"), "UnauthorizedOperation", http.StatusForbidden)
	wantAPIError(t, tag(vm.ID, "aws:cloudformation:stack-name", "x"), "InvalidParameterValue", http.StatusBadRequest)
	wantAPIError(t, tag("i-0123456789abcdef0", "k", "v"), "InvalidInstanceID.NotFound", http.StatusBadRequest)
	wantAPIError(t, tag("ami-0123456789abcdef0", "k", "v"), "InvalidID", http.StatusBadRequest)
}

func TestEC2ErrorsOfTheService(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	denied := newEC2Env(t, simcloud.Config{Seed: simcloud.DemoSeed, Resources: simcloud.DemoResources, Now: ec2Now,
		DeniedScopes: []collect.Scope{{Account: e.account, Region: "us-east-1"}}}, awsfake.Options{})
	ctx := context.Background()

	_, err := denied.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	wantAPIError(t, err, "UnauthorizedOperation", http.StatusForbidden)

	_, err = e.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	wantAPIError(t, err, "InvalidAction", http.StatusBadRequest)

	e.srv.Fail("ec2", "DescribeVolumes", "us-east-1", 1, "RequestLimitExceeded", http.StatusServiceUnavailable)
	_, err = e.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	wantAPIError(t, err, "RequestLimitExceeded", http.StatusServiceUnavailable)
	if _, err = e.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{}); err != nil {
		t.Fatalf("after the injected fault: %v", err)
	}

	// The call log names every EC2 call with its region and error code.
	var got []string
	for _, c := range e.srv.Calls() {
		if c.Service == "ec2" {
			got = append(got, c.Op+" "+c.Region+" "+c.Code)
		}
	}
	want := []string{"DescribeImages us-east-1 InvalidAction", "DescribeVolumes us-east-1 RequestLimitExceeded", "DescribeVolumes us-east-1 "}
	if !slices.Equal(got, want) {
		t.Errorf("call log %q, want %q", got, want)
	}
}
