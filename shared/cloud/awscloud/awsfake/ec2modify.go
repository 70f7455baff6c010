package awsfake

import (
	"encoding/xml"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// ec2VolumeTypes are the volume types ModifyVolume accepts.
var ec2VolumeTypes = []string{"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"}

// ec2OptimizeFor is how long a volume modification optimizes in the
// fake: the new type shows at once, the modification reads optimizing
// for this long and completed after. A volume takes one modification at
// a time, so a second ModifyVolume of the volume within this time is
// IncorrectModificationState.
const ec2OptimizeFor = 6 * time.Hour

// ec2HDDMinGiB is the smallest size of an st1 or sc1 volume.
const ec2HDDMinGiB = 125

// ec2Modification is the most recent modification of a volume.
type ec2Modification struct {
	account, region  string
	volumeID         string
	fromType, toType string
	sizeGiB          int64
	start            time.Time
}

// SetClock sets the clock of EC2's volume modifications: a modification
// reads optimizing until ec2OptimizeFor after it started by this clock.
// Nil means Options.Data.Now, or time.Now.
func (s *Server) SetClock(now func() time.Time) {
	st := s.ec2Sim()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.clock = now
}

// modNow is the time by the clock of volume modifications.
func (q *ec2Request) modNow() time.Time {
	q.st.mu.Lock()
	clock := q.st.clock
	q.st.mu.Unlock()
	if clock != nil {
		return clock().UTC()
	}
	return q.s.now()
}

// modification returns the last modification of a volume of the
// request's scope, nil for none.
func (q *ec2Request) modification(volumeID string) *ec2Modification {
	q.st.mu.Lock()
	defer q.st.mu.Unlock()
	m, ok := q.st.mods[volumeID]
	if !ok || m.account != q.rc.account || m.region != q.rc.region {
		return nil
	}
	c := *m
	return &c
}

// state returns a modification's state and progress at now.
func (m *ec2Modification) state(now time.Time) (string, int64) {
	done := now.Sub(m.start)
	if done >= ec2OptimizeFor {
		return "completed", 100
	}
	return "optimizing", min(max(int64(100*done/ec2OptimizeFor), 0), 99)
}

// --- ModifyVolume, DescribeVolumesModifications

type ec2VolumeModification struct {
	VolumeID           string `xml:"volumeId"`
	ModificationState  string `xml:"modificationState"`
	TargetSize         int64  `xml:"targetSize"`
	TargetVolumeType   string `xml:"targetVolumeType"`
	OriginalSize       int64  `xml:"originalSize"`
	OriginalVolumeType string `xml:"originalVolumeType"`
	Progress           int64  `xml:"progress"`
	StartTime          string `xml:"startTime"`
	EndTime            string `xml:"endTime,omitempty"`
}

type ec2ModifyVolumeReply struct {
	XMLName xml.Name `xml:"ModifyVolumeResponse"`
	ec2Reply
	Modification ec2VolumeModification `xml:"volumeModification"`
}

type ec2VolumesModificationsReply struct {
	XMLName xml.Name `xml:"DescribeVolumesModificationsResponse"`
	ec2Reply
	Modifications ec2Set[ec2VolumeModification] `xml:"volumeModificationSet"`
}

// shown is a modification as EC2 describes it at now.
func (m *ec2Modification) shown(now time.Time) ec2VolumeModification {
	state, progress := m.state(now)
	x := ec2VolumeModification{VolumeID: m.volumeID, ModificationState: state, TargetSize: m.sizeGiB, TargetVolumeType: m.toType,
		OriginalSize: m.sizeGiB, OriginalVolumeType: m.fromType, Progress: progress, StartTime: ec2Time(m.start)}
	if state == "completed" {
		x.EndTime = ec2Time(m.start.Add(ec2OptimizeFor))
	}
	return x
}

// modifyVolume serves the volume type, the one attribute the provider
// changes. The type changes at once; the modification then reads
// optimizing for ec2OptimizeFor, during which the volume takes no other
// modification (IncorrectModificationState), as EC2 takes one
// modification of a volume at a time.
func (q *ec2Request) modifyVolume() (ec2Replier, *ec2Err) {
	id, e := q.required("VolumeId")
	if e != nil {
		return nil, e
	}
	for k := range q.form {
		switch k {
		case "Action", "Version", "VolumeId", "VolumeType", "DryRun":
		default:
			return nil, ec2BadRequest("UnsupportedOperation", "awsfake: ModifyVolume serves only the volume type, not %s", k)
		}
	}
	sku, e := q.required("VolumeType")
	if e != nil {
		return nil, e
	}
	if !slices.Contains(ec2VolumeTypes, sku) {
		return nil, ec2BadRequest("InvalidParameterValue", "Value (%s) for parameter volumeType is invalid. Valid values: %s", sku, strings.Join(ec2VolumeTypes, ", "))
	}
	vol, e := q.get(domain.KindDisk, id)
	if e != nil {
		return nil, e
	}
	now := q.modNow()
	if m := q.modification(id); m != nil {
		if state, _ := m.state(now); state != "completed" {
			return nil, ec2BadRequest("IncorrectModificationState", "Volume %s cannot be modified in modification state %s", id, strings.ToUpper(state))
		}
	}
	if (sku == "st1" || sku == "sc1") && vol.SizeGiB < ec2HDDMinGiB {
		return nil, ec2BadRequest("InvalidParameterValue", "Volume of %d GiB is too small for volume type %s; the minimum is %d GiB", vol.SizeGiB, sku, ec2HDDMinGiB)
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	if err := q.s.cloud.Retype(q.ctx, vol.Ref(), sku, q.token(id)); err != nil {
		return nil, ec2SimErr(err, ec2IDKinds[domain.KindDisk], id, "IncorrectModificationState")
	}
	m := &ec2Modification{account: q.rc.account, region: q.rc.region, volumeID: id, fromType: vol.SKU, toType: sku, sizeGiB: vol.SizeGiB, start: now}
	q.st.mu.Lock()
	q.st.mods[id] = m
	q.st.mu.Unlock()
	return &ec2ModifyVolumeReply{Modification: m.shown(now)}, nil
}

// describeVolumesModifications answers the most recent modification of
// each volume, in one page. A volume named (VolumeId.N) must exist and
// have been modified: one never modified is
// InvalidVolumeModification.NotFound, as in EC2.
func (q *ec2Request) describeVolumesModifications() (ec2Replier, *ec2Err) {
	fs, e := q.filters("volume-id", "modification-state", "target-volume-type", "original-volume-type", "target-size", "original-size")
	if e != nil {
		return nil, e
	}
	now := q.modNow()
	var mods []*ec2Modification
	if ids := q.list("VolumeId"); len(ids) > 0 {
		for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
			if _, e := q.get(domain.KindDisk, id); e != nil {
				return nil, e
			}
			m := q.modification(id)
			if m == nil {
				return nil, ec2BadRequest("InvalidVolumeModification.NotFound", "Modification for volume '%s' does not exist.", id)
			}
			mods = append(mods, m)
		}
	} else {
		q.st.mu.Lock()
		for _, id := range slices.Sorted(maps.Keys(q.st.mods)) {
			if m := q.st.mods[id]; m.account == q.rc.account && m.region == q.rc.region {
				c := *m
				mods = append(mods, &c)
			}
		}
		q.st.mu.Unlock()
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	out := &ec2VolumesModificationsReply{}
	for _, m := range mods {
		if _, err := q.s.cloud.Get(q.ctx, q.ref(domain.KindDisk, m.volumeID)); err != nil {
			continue // the volume is gone
		}
		x := m.shown(now)
		if ec2Matches(fs, nil, func(name string) []string {
			return map[string][]string{"volume-id": {x.VolumeID}, "modification-state": {x.ModificationState},
				"target-volume-type": {x.TargetVolumeType}, "original-volume-type": {x.OriginalVolumeType},
				"target-size": {strconv.FormatInt(x.TargetSize, 10)}, "original-size": {strconv.FormatInt(x.OriginalSize, 10)}}[name]
		}) {
			out.Modifications.Items = append(out.Modifications.Items, x)
		}
	}
	return out, nil
}
