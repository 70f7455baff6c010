package awsfake_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cloudtrim/cloudtrim/shared/cloud/awscloud/awsfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestEC2ModifyVolumeType(t *testing.T) {
	e := newEC2Env(t, simcloud.Demo(ec2Now), awsfake.Options{})
	now := ec2Now
	e.srv.SetClock(func() time.Time { return now })
	ctx := context.Background()
	vol := e.estate(t, domain.KindDisk, func(r domain.Resource) bool { return r.SKU != "gp3" && r.SizeGiB < 125 })[0]
	other := e.estate(t, domain.KindDisk, func(r domain.Resource) bool { return r.ID != vol.ID })[0]
	modify := func(in *ec2.ModifyVolumeInput) (*ec2.ModifyVolumeOutput, error) {
		in.VolumeId = aws.String(vol.ID)
		return e.ec2.ModifyVolume(ctx, in)
	}
	describe := func(in *ec2.DescribeVolumesModificationsInput) []types.VolumeModification {
		t.Helper()
		out, err := e.ec2.DescribeVolumesModifications(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out.VolumesModifications
	}

	// A volume never modified: named, it is an error; filtered, none.
	_, err := e.ec2.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{VolumeIds: []string{vol.ID}})
	wantAPIError(t, err, "InvalidVolumeModification.NotFound", http.StatusBadRequest)
	if got := describe(&ec2.DescribeVolumesModificationsInput{Filters: []types.Filter{{Name: aws.String("volume-id"), Values: []string{vol.ID}}}}); len(got) != 0 {
		t.Fatalf("modifications of a volume never modified: %d, want none", len(got))
	}

	// Only the type is served; st1 and sc1 need 125 GiB; unknown types
	// and volumes are refused.
	_, err = modify(&ec2.ModifyVolumeInput{VolumeType: types.VolumeTypeGp3, Iops: aws.Int32(3000)})
	wantAPIError(t, err, "UnsupportedOperation", http.StatusBadRequest)
	_, err = modify(&ec2.ModifyVolumeInput{VolumeType: "gp4"})
	wantAPIError(t, err, "InvalidParameterValue", http.StatusBadRequest)
	_, err = modify(&ec2.ModifyVolumeInput{VolumeType: types.VolumeTypeSt1})
	wantAPIError(t, err, "InvalidParameterValue", http.StatusBadRequest)
	_, err = e.ec2.ModifyVolume(ctx, &ec2.ModifyVolumeInput{VolumeId: aws.String("vol-0123456789abcdef0"), VolumeType: types.VolumeTypeGp3})
	wantAPIError(t, err, "InvalidVolume.NotFound", http.StatusBadRequest)
	if got := e.get(t, domain.KindDisk, vol.ID).SKU; got != vol.SKU {
		t.Fatalf("estate SKU %s after refused modifications, want %s", got, vol.SKU)
	}

	// The type changes at once; the modification reads optimizing.
	out, err := modify(&ec2.ModifyVolumeInput{VolumeType: types.VolumeTypeGp3})
	if err != nil {
		t.Fatal(err)
	}
	m := out.VolumeModification
	if m == nil || m.ModificationState != types.VolumeModificationStateOptimizing || m.TargetVolumeType != types.VolumeTypeGp3 ||
		string(m.OriginalVolumeType) != vol.SKU || !aws.ToTime(m.StartTime).Equal(ec2Now) {
		t.Fatalf("ModifyVolume answered %+v, want optimizing from %s to gp3 started %v", m, vol.SKU, ec2Now)
	}
	if got := e.get(t, domain.KindDisk, vol.ID).SKU; got != "gp3" {
		t.Fatalf("estate SKU %s after ModifyVolume, want gp3", got)
	}
	vols, err := e.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol.ID}})
	if err != nil || len(vols.Volumes) != 1 || vols.Volumes[0].VolumeType != types.VolumeTypeGp3 {
		t.Fatalf("DescribeVolumes after ModifyVolume = %+v, %v; want gp3", vols, err)
	}
	for _, in := range []*ec2.DescribeVolumesModificationsInput{
		{VolumeIds: []string{vol.ID}},
		{Filters: []types.Filter{{Name: aws.String("modification-state"), Values: []string{"optimizing"}}}},
		{},
	} {
		got := describe(in)
		if len(got) != 1 || aws.ToString(got[0].VolumeId) != vol.ID || got[0].ModificationState != types.VolumeModificationStateOptimizing {
			t.Errorf("DescribeVolumesModifications(%+v) = %+v, want the optimizing modification of %s", in, got, vol.ID)
		}
	}
	if _, err := e.ec2.DescribeVolumesModifications(ctx, &ec2.DescribeVolumesModificationsInput{VolumeIds: []string{vol.ID, other.ID}}); err == nil {
		t.Error("DescribeVolumesModifications naming a volume never modified succeeded, want InvalidVolumeModification.NotFound")
	}

	// A second modification while the first optimizes is refused.
	now = ec2Now.Add(5 * time.Hour)
	_, err = modify(&ec2.ModifyVolumeInput{VolumeType: types.VolumeTypeIo1})
	wantAPIError(t, err, "IncorrectModificationState", http.StatusBadRequest)
	if got := e.get(t, domain.KindDisk, vol.ID).SKU; got != "gp3" {
		t.Fatalf("estate SKU %s after a refused second modification, want gp3", got)
	}

	// Once it has completed, the volume takes another.
	now = ec2Now.Add(6 * time.Hour)
	got := describe(&ec2.DescribeVolumesModificationsInput{VolumeIds: []string{vol.ID}})
	if len(got) != 1 || got[0].ModificationState != types.VolumeModificationStateCompleted || aws.ToInt64(got[0].Progress) != 100 || got[0].EndTime == nil {
		t.Fatalf("modification after six hours: %+v, want completed", got)
	}
	if _, err := modify(&ec2.ModifyVolumeInput{VolumeType: types.VolumeTypeIo1}); err != nil {
		t.Fatalf("ModifyVolume after the first completed: %v", err)
	}
	got = describe(&ec2.DescribeVolumesModificationsInput{VolumeIds: []string{vol.ID}})
	if len(got) != 1 || got[0].TargetVolumeType != types.VolumeTypeIo1 || got[0].OriginalVolumeType != types.VolumeTypeGp3 {
		t.Fatalf("most recent modification: %+v, want gp3 to io1", got)
	}
	if n := e.srv.CallCount("ec2", "ModifyVolume"); n != 7 {
		t.Errorf("%d ModifyVolume calls recorded, want 7", n)
	}
}
