package gcpfake

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"

	"google.golang.org/protobuf/proto"
)

// change is what an accepted mutation does to the estate: begin at
// once (a transitional status), apply when its operation ends well,
// undo when it ends with an injected fault. All run with the lock held.
type change struct {
	opType   string
	target   string
	begin    func()
	apply    func()
	undo     func()
	mutation Mutation
}

// uuidPattern is the form of a requestId: the API takes only UUIDs.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// mutate answers a mutating request with its operation. A requestId
// seen before in the project returns the operation it started and
// changes nothing, as Compute Engine does. The lock is held.
func (s *Server) mutate(req *request) (proto.Message, *apiError) {
	rid := req.r.URL.Query().Get("requestId")
	if rid != "" {
		if !uuidPattern.MatchString(rid) || strings.Trim(rid, "0-") == "" {
			return nil, apiErr(http.StatusBadRequest, "invalid", "Invalid value for field 'requestId': '"+rid+"'. The request ID must be a valid UUID.")
		}
		if o := s.requests[req.project+"\x00"+rid]; o != nil {
			return o.message(), nil
		}
	}
	ch, aerr := s.changeOf(req)
	if aerr != nil {
		return nil, aerr
	}
	scope := "global"
	if req.parts[0] != "global" {
		scope = req.parts[0] + "/" + req.parts[1]
	}
	return s.startOperation(req, scope, ch, rid).message(), nil
}

// changeOf checks a mutating request against the estate, refusing it as
// Compute Engine would, and returns the change it makes.
func (s *Server) changeOf(req *request) (change, *apiError) {
	p := s.Estate.Projects[req.project]
	id := req.resourceName()
	ch := change{target: id, mutation: Mutation{Method: req.method, Resource: id}}
	switch req.method {
	case "compute.instances.stop", "compute.instances.start", "compute.instances.setMachineType":
		i := p.Instances[id]
		if i == nil {
			return ch, notFound(id)
		}
		ch.mutation.Region = RegionOf(i.Zone)
		return s.instanceChange(req, i, ch)
	case "compute.disks.delete", "compute.regionDisks.delete":
		d := p.Disks[id]
		if d == nil {
			return ch, notFound(id)
		}
		if len(d.Users) > 0 {
			return ch, apiErr(http.StatusBadRequest, "resourceInUseByAnotherResource",
				"The disk resource '"+id+"' is already being used by '"+d.Users[0]+"'")
		}
		ch.opType, ch.mutation.Region = "delete", RegionOf(d.location())
		ch.apply = func() { delete(p.Disks, id) }
		return ch, nil
	case "compute.disks.createSnapshot", "compute.regionDisks.createSnapshot":
		d := p.Disks[id]
		if d == nil {
			return ch, notFound(id)
		}
		return s.snapshotChange(req, p, d, ch)
	case "compute.addresses.delete", "compute.globalAddresses.delete":
		a := p.Addresses[id]
		if a == nil {
			return ch, notFound(id)
		}
		if len(a.Users) > 0 {
			return ch, apiErr(http.StatusBadRequest, "resourceInUseByAnotherResource",
				"The address resource '"+id+"' is already being used by '"+a.Users[0]+"'")
		}
		ch.opType, ch.mutation.Region = "delete", a.Region
		if a.Region == "" {
			ch.mutation.Region = "global"
		}
		ch.apply = func() { delete(p.Addresses, id) }
		return ch, nil
	case "compute.snapshots.delete":
		sn := p.Snapshots[id]
		if sn == nil {
			return ch, notFound(id)
		}
		if sn.status() == StatusCreating {
			return ch, apiErr(http.StatusBadRequest, "resourceNotReady", "The resource '"+id+"' is not ready")
		}
		ch.opType, ch.mutation.Region = "delete", snapshotRegion(sn)
		ch.apply = func() { delete(p.Snapshots, id) }
		return ch, nil
	}
	return s.labelChange(req, p, ch)
}

// instanceChange checks and makes an instance's stop, start or
// setMachineType. Stopping a stopped instance and starting a running one
// are accepted and change nothing, as in the real API.
func (s *Server) instanceChange(req *request, i *Instance, ch change) (change, *apiError) {
	prev := i.status()
	notReady := func(why string) *apiError {
		return apiErr(http.StatusBadRequest, "resourceNotReady", "The resource '"+ch.target+"' is not ready: "+why)
	}
	switch req.method {
	case "compute.instances.stop":
		ch.opType = "stop"
		ch.begin = func() { i.Status = StatusStopping }
		ch.apply = func() { i.Status = StatusTerminated }
		ch.undo = func() { i.Status = prev }
		if prev == StatusTerminated {
			ch.begin, ch.undo = nil, nil
		}
	case "compute.instances.start":
		ch.opType = "start"
		switch prev {
		case StatusRunning:
			ch.apply = func() {}
		case StatusTerminated:
			ch.begin = func() { i.Status = StatusStaging }
			ch.apply = func() { i.Status = StatusRunning }
			ch.undo = func() { i.Status = prev }
		default:
			return ch, notReady("it is " + prev + "; start needs it TERMINATED")
		}
	default:
		var body struct {
			MachineType string `json:"machineType"`
		}
		if aerr := readBody(req, &body); aerr != nil {
			return ch, aerr
		}
		if body.MachineType == "" {
			return ch, apiErr(http.StatusBadRequest, "required", "Required field 'machineType' not specified")
		}
		mt := body.MachineType[strings.LastIndexByte(body.MachineType, '/')+1:]
		if _, ok := s.Estate.machineType(i.Zone, mt); !ok {
			return ch, apiErr(http.StatusBadRequest, "invalid",
				"Invalid value for field 'resource.machineType': '"+body.MachineType+"'. Machine type with name '"+mt+"' does not exist in zone '"+i.Zone+"'.")
		}
		if prev != StatusTerminated {
			return ch, notReady("it is " + prev + "; setMachineType needs it TERMINATED")
		}
		ch.opType, ch.mutation.MachineType = "setMachineType", mt
		ch.apply = func() { i.MachineType = mt }
	}
	return ch, nil
}

// namePattern is RFC 1035, as Compute Engine resource names.
var namePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// snapshotChange checks and makes a disk's createSnapshot: the snapshot
// reads CREATING until the operation ends. Without storageLocations it
// is stored in the multi-region of the disk's region, as the API does.
func (s *Server) snapshotChange(req *request, p *Project, d *Disk, ch change) (change, *apiError) {
	var body struct {
		Name             string            `json:"name"`
		Labels           map[string]string `json:"labels"`
		StorageLocations []string          `json:"storageLocations"`
	}
	if aerr := readBody(req, &body); aerr != nil {
		return ch, aerr
	}
	if !namePattern.MatchString(body.Name) {
		return ch, apiErr(http.StatusBadRequest, "invalid", "Invalid value for field 'resource.name': '"+body.Name+"'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	if aerr := checkLabels(body.Labels); aerr != nil {
		return ch, aerr
	}
	sid := "projects/" + req.project + "/global/snapshots/" + body.Name
	if p.Snapshots[sid] != nil {
		return ch, apiErr(http.StatusConflict, "alreadyExists", "The resource '"+sid+"' already exists")
	}
	if d.status() != StatusReady {
		return ch, apiErr(http.StatusBadRequest, "resourceNotReady", "The resource '"+ch.target+"' is not ready")
	}
	locs := body.StorageLocations
	if len(locs) == 0 {
		locs = []string{multiRegion(RegionOf(d.location()))}
	}
	sn := &Snapshot{Project: req.project, Name: body.Name, SourceDisk: d.ID(), DiskSizeGiB: d.SizeGiB,
		StorageBytes: d.SizeGiB << 30 / 4, StorageLocations: locs, Status: StatusCreating, Labels: body.Labels, Created: s.opts.Now()}
	ch.opType = "createSnapshot"
	ch.mutation.Region, ch.mutation.Snapshot, ch.mutation.Labels = RegionOf(d.location()), sid, maps.Clone(body.Labels)
	ch.begin = func() { p.Snapshots[sid] = sn }
	ch.apply = func() { sn.Status = StatusReady }
	ch.undo = func() { delete(p.Snapshots, sid) }
	return ch, nil
}

// multiRegion is the multi-region a region's snapshots default to.
func multiRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "us-") || strings.HasPrefix(region, "northamerica-") || strings.HasPrefix(region, "southamerica-"):
		return "us"
	case strings.HasPrefix(region, "europe-"):
		return "eu"
	case strings.HasPrefix(region, "asia-") || strings.HasPrefix(region, "australia-"):
		return "asia"
	}
	return region
}

// snapshotRegion is the region a snapshot is logged in: its storage
// location, "global" when it has none.
func snapshotRegion(sn *Snapshot) string {
	if len(sn.StorageLocations) > 0 {
		return sn.StorageLocations[0]
	}
	return "global"
}

// labelChange checks and makes a setLabels of any resource kind: the
// labelFingerprint must be the resource's current one (412
// conditionNotMet otherwise), and the labels are replaced as a whole.
func (s *Server) labelChange(req *request, p *Project, ch change) (change, *apiError) {
	id := ch.target
	var labels *map[string]string
	switch req.method {
	case "compute.instances.setLabels":
		if i := p.Instances[id]; i != nil {
			labels, ch.mutation.Region = &i.Labels, RegionOf(i.Zone)
		}
	case "compute.disks.setLabels", "compute.regionDisks.setLabels":
		if d := p.Disks[id]; d != nil {
			labels, ch.mutation.Region = &d.Labels, RegionOf(d.location())
		}
	case "compute.addresses.setLabels", "compute.globalAddresses.setLabels":
		if a := p.Addresses[id]; a != nil {
			labels, ch.mutation.Region = &a.Labels, a.Region
			if a.Region == "" {
				ch.mutation.Region = "global"
			}
		}
	case "compute.snapshots.setLabels":
		if sn := p.Snapshots[id]; sn != nil {
			labels, ch.mutation.Region = &sn.Labels, snapshotRegion(sn)
		}
	}
	if labels == nil {
		return ch, notFound(id)
	}
	var body struct {
		Labels           map[string]string `json:"labels"`
		LabelFingerprint string            `json:"labelFingerprint"`
	}
	if aerr := readBody(req, &body); aerr != nil {
		return ch, aerr
	}
	switch {
	case body.LabelFingerprint == "":
		return ch, apiErr(http.StatusBadRequest, "required", "Required field 'labelFingerprint' not specified")
	case body.LabelFingerprint != LabelFingerprint(*labels):
		return ch, apiErr(http.StatusPreconditionFailed, "conditionNotMet",
			"Labels fingerprint either invalid or resource labels have changed")
	}
	if aerr := checkLabels(body.Labels); aerr != nil {
		return ch, aerr
	}
	ch.opType, ch.mutation.Labels = "setLabels", maps.Clone(body.Labels)
	ch.apply = func() { *labels = maps.Clone(body.Labels) }
	return ch, nil
}

// Label rules: keys start with a lowercase letter; keys and values hold
// lowercase letters, digits, '_' and '-', at most 63 characters; at
// most 64 labels. The real API also takes lowercase international
// letters, which the fake refuses.
var (
	labelKeyPattern   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValuePattern = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
)

func checkLabels(labels map[string]string) *apiError {
	if len(labels) > 64 {
		return apiErr(http.StatusBadRequest, "invalid", "Invalid value for field 'labels': at most 64 labels")
	}
	for k, v := range labels {
		if !labelKeyPattern.MatchString(k) || !labelValuePattern.MatchString(v) {
			return apiErr(http.StatusBadRequest, "invalid", "Invalid value for field 'labels': '"+k+"': '"+v+"'")
		}
	}
	return nil
}

// readBody decodes a request's JSON body.
func readBody(req *request, v any) *apiError {
	b, err := io.ReadAll(io.LimitReader(req.r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return apiErr(http.StatusBadRequest, "parseError", "Invalid JSON payload received: "+err.Error())
	}
	return nil
}
