package gcpfake

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// timestamp formats a time as Compute Engine's creationTimestamp does
// (RFC 3339 with milliseconds).
func timestamp(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return proto.String(t.UTC().Format("2006-01-02T15:04:05.000-07:00"))
}

func link(relative string) string { return SelfLinkBase + relative }

// labelsOf returns a copy of labels: the encoded message must not share
// the estate's map.
func labelsOf(labels map[string]string) map[string]string {
	if len(labels) == 0 {
		return nil
	}
	return maps.Clone(labels)
}

// attachments indexes, for the instances of a project, the disks
// attached to them and the external addresses they use.
type attachments struct {
	disks map[string][]*Disk
	ips   map[string][]string
}

// attachmentsOf builds the index of a project; the lock is held.
func attachmentsOf(p *Project) attachments {
	a := attachments{disks: map[string][]*Disk{}, ips: map[string][]string{}}
	for _, d := range p.Disks {
		for _, u := range d.Users {
			a.disks[u] = append(a.disks[u], d)
		}
	}
	for _, ad := range p.Addresses {
		for _, u := range ad.Users {
			a.ips[u] = append(a.ips[u], ad.Address)
		}
	}
	for _, ds := range a.disks {
		slices.SortFunc(ds, func(x, y *Disk) int { return strings.Compare(x.ID(), y.ID()) })
	}
	return a
}

// instanceMessage encodes an instance: its attached disks (the first as
// the boot disk) and one network interface whose access configs carry
// its external addresses.
func instanceMessage(i *Instance, att attachments) *computepb.Instance {
	id := i.ID()
	m := &computepb.Instance{
		Kind: proto.String("compute#instance"), Id: proto.Uint64(NumericID(id)), Name: proto.String(i.Name),
		Zone:        proto.String(link("projects/" + i.Project + "/zones/" + i.Zone)),
		MachineType: proto.String(link("projects/" + i.Project + "/zones/" + i.Zone + "/machineTypes/" + i.MachineType)),
		Status:      proto.String(i.status()), Labels: labelsOf(i.Labels), LabelFingerprint: proto.String(LabelFingerprint(i.Labels)),
		CreationTimestamp: timestamp(i.Created), SelfLink: proto.String(link(id)),
	}
	for n, d := range att.disks[id] {
		m.Disks = append(m.Disks, &computepb.AttachedDisk{
			Kind: proto.String("compute#attachedDisk"), Index: proto.Int32(int32(n)), Boot: proto.Bool(n == 0),
			Source: proto.String(link(d.ID())), DeviceName: proto.String(d.Name), DiskSizeGb: proto.Int64(d.SizeGiB),
			Mode: proto.String("READ_WRITE"), Type: proto.String("PERSISTENT"),
		})
	}
	nic := &computepb.NetworkInterface{
		Kind: proto.String("compute#networkInterface"), Name: proto.String("nic0"),
		Network: proto.String(link("projects/" + i.Project + "/global/networks/default")),
	}
	for _, ip := range att.ips[id] {
		nic.AccessConfigs = append(nic.AccessConfigs, &computepb.AccessConfig{
			Kind: proto.String("compute#accessConfig"), Name: proto.String("External NAT"),
			Type: proto.String("ONE_TO_ONE_NAT"), NatIP: proto.String(ip), NetworkTier: proto.String("PREMIUM"),
		})
	}
	m.NetworkInterfaces = []*computepb.NetworkInterface{nic}
	return m
}

func diskMessage(d *Disk) *computepb.Disk {
	id := d.ID()
	scope := "projects/" + d.Project + "/zones/" + d.Zone
	if d.Zone == "" {
		scope = "projects/" + d.Project + "/regions/" + d.Region
	}
	m := &computepb.Disk{
		Kind: proto.String("compute#disk"), Id: proto.Uint64(NumericID(id)), Name: proto.String(d.Name),
		Type: proto.String(link(scope + "/diskTypes/" + d.Type)), SizeGb: proto.Int64(d.SizeGiB),
		Status: proto.String(d.status()), Labels: labelsOf(d.Labels), LabelFingerprint: proto.String(LabelFingerprint(d.Labels)),
		CreationTimestamp: timestamp(d.Created), SelfLink: proto.String(link(id)),
	}
	if d.Zone != "" {
		m.Zone = proto.String(link(scope))
	} else {
		m.Region = proto.String(link(scope))
	}
	for _, u := range d.Users {
		m.Users = append(m.Users, link(u))
	}
	return m
}

func addressMessage(a *Address) *computepb.Address {
	id := a.ID()
	typ := a.AddressType
	if typ == "" {
		typ = External
	}
	m := &computepb.Address{
		Kind: proto.String("compute#address"), Id: proto.Uint64(NumericID(id)), Name: proto.String(a.Name),
		Address: proto.String(a.Address), AddressType: proto.String(typ), Status: proto.String(a.status()),
		IpVersion: proto.String("IPV4"), Labels: labelsOf(a.Labels), LabelFingerprint: proto.String(LabelFingerprint(a.Labels)),
		CreationTimestamp: timestamp(a.Created), SelfLink: proto.String(link(id)),
	}
	if typ == External {
		m.NetworkTier = proto.String("PREMIUM")
	}
	if a.Region != "" {
		m.Region = proto.String(link("projects/" + a.Project + "/regions/" + a.Region))
	}
	for _, u := range a.Users {
		m.Users = append(m.Users, link(u))
	}
	return m
}

func snapshotMessage(s *Snapshot) *computepb.Snapshot {
	id := s.ID()
	m := &computepb.Snapshot{
		Kind: proto.String("compute#snapshot"), Id: proto.Uint64(NumericID(id)), Name: proto.String(s.Name),
		DiskSizeGb: proto.Int64(s.DiskSizeGiB), StorageBytes: proto.Int64(s.StorageBytes), StorageBytesStatus: proto.String("UP_TO_DATE"),
		StorageLocations: append([]string(nil), s.StorageLocations...), Status: proto.String(s.status()),
		Labels: labelsOf(s.Labels), LabelFingerprint: proto.String(LabelFingerprint(s.Labels)),
		CreationTimestamp: timestamp(s.Created), SelfLink: proto.String(link(id)), SnapshotType: proto.String("STANDARD"),
	}
	if s.SourceDisk != "" {
		m.SourceDisk = proto.String(link(s.SourceDisk))
		m.SourceDiskId = proto.String(strconv.FormatUint(NumericID(s.SourceDisk), 10))
	}
	return m
}

func machineTypeMessage(project, zone string, mt MachineType) *computepb.MachineType {
	id := "projects/" + project + "/zones/" + zone + "/machineTypes/" + mt.Name
	return &computepb.MachineType{
		Kind: proto.String("compute#machineType"), Id: proto.Uint64(NumericID("zones/" + zone + "/machineTypes/" + mt.Name)),
		Name: proto.String(mt.Name), GuestCpus: proto.Int32(mt.GuestCPUs), MemoryMb: proto.Int32(mt.MemoryMB),
		Zone: proto.String(zone), SelfLink: proto.String(link(id)),
	}
}

// get answers the get of one resource or operation; the lock is held.
func (s *Server) get(req *request) (proto.Message, *apiError) {
	if strings.HasSuffix(req.method, "Operations.get") {
		return s.pollOperation(req)
	}
	e := s.Estate
	p := e.Projects[req.project]
	id := req.resourceName()
	switch req.method {
	case "compute.instances.get":
		if i := p.Instances[id]; i != nil {
			return instanceMessage(i, attachmentsOf(p)), nil
		}
	case "compute.disks.get", "compute.regionDisks.get":
		if d := p.Disks[id]; d != nil {
			return diskMessage(d), nil
		}
	case "compute.addresses.get", "compute.globalAddresses.get":
		if a := p.Addresses[id]; a != nil {
			return addressMessage(a), nil
		}
	case "compute.snapshots.get":
		if sn := p.Snapshots[id]; sn != nil {
			return snapshotMessage(sn), nil
		}
	case "compute.machineTypes.get":
		if mt, ok := e.machineType(req.location(), req.parts[3]); ok {
			return machineTypeMessage(req.project, req.location(), mt), nil
		}
	}
	return nil, notFound(id)
}
