package gcpfake

import (
	"encoding/base64"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/proto"
)

// MaxResults is the largest page Compute Engine lists (and the default).
const MaxResults = 500

// paging reads maxResults and pageToken. Tokens are opaque to clients;
// the fake's encode an offset into the listing.
func paging(r *http.Request) (offset, size int, aerr *apiError) {
	q := r.URL.Query()
	size = MaxResults
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxResults {
			return 0, 0, apiErr(http.StatusBadRequest, "invalid", "Invalid value for field 'maxResults': '"+v+"'. Must be less than or equal to 500")
		}
		if n > 0 {
			size = n
		}
	}
	offset, ok := tokenOffset(q.Get("pageToken"))
	if !ok {
		return 0, 0, apiErr(http.StatusBadRequest, "invalid", "Invalid value for field 'pageToken': '"+q.Get("pageToken")+"'")
	}
	return offset, size, nil
}

// tokenOffset decodes a page token: 0 for none, false for a token the
// fake did not make.
func tokenOffset(t string) (int, bool) {
	if t == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	off, ok := strings.CutPrefix(string(b), "offset:")
	n, err2 := strconv.Atoi(off)
	return n, err == nil && ok && err2 == nil && n >= 0
}

// nextToken returns the token of the page after [offset, offset+size) of
// n items, "" after the last.
func nextToken(offset, size, n int) string {
	if offset+size >= n {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset+size)))
}

// aggEntry is one resource of an aggregated list: its scope
// ("zones/us-central1-a"), its name, and its encoding, made only for
// the entries of the page served.
type aggEntry struct {
	scope, name string
	encode      func() proto.Message
}

// aggregatedList answers an aggregated list of instances, disks,
// addresses or machine types: entries sorted by scope and name, a page
// of them grouped by scope, and a NO_RESULTS_ON_PAGE warning for each
// scope of the project without an entry on the page.
func (s *Server) aggregatedList(req *request) (proto.Message, *apiError) {
	offset, size, aerr := paging(req.r)
	if aerr != nil {
		return nil, aerr
	}
	partial := req.r.URL.Query().Get("returnPartialSuccess") == "true"
	kind := req.parts[1]
	entries, scopes := s.aggEntries(req.project, kind)

	var unreachable []string
	for _, sc := range scopes {
		if s.unreachable[sc] {
			if !partial {
				return nil, apiErr(http.StatusServiceUnavailable, "backendError", "Scope '"+sc+"' is unreachable")
			}
			unreachable = append(unreachable, sc)
		}
	}
	if len(unreachable) > 0 {
		entries = slices.DeleteFunc(entries, func(en aggEntry) bool { return s.unreachable[en.scope] })
	}
	slices.SortFunc(entries, func(a, b aggEntry) int {
		if c := strings.Compare(a.scope, b.scope); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	page := entries[min(offset, len(entries)):min(offset+size, len(entries))]
	out := newAggResult(kind)
	onPage := map[string]bool{}
	for _, en := range page {
		out.add(en.scope, en.encode())
		onPage[en.scope] = true
	}
	for _, sc := range scopes {
		if !onPage[sc] && !s.unreachable[sc] {
			out.warn(sc, &computepb.Warning{Code: proto.String("NO_RESULTS_ON_PAGE"),
				Message: proto.String("There are no results for scope '" + sc + "' on this page."),
				Data:    []*computepb.Data{{Key: proto.String("scope"), Value: proto.String(sc)}}})
		}
	}
	return out.finish(req.project, nextToken(offset, size, len(entries)), unreachable), nil
}

// aggEntries returns the entries of a project's aggregated list of kind
// and every scope the list covers, sorted: the zones machine types are
// known in and the zones and regions of the project's resources (and
// "global" for addresses). The lock is held.
func (s *Server) aggEntries(project, kind string) ([]aggEntry, []string) {
	e := s.Estate
	p := e.Projects[project]
	seen := map[string]bool{}
	for z := range e.MachineTypes {
		seen["zones/"+z] = true
	}
	var entries []aggEntry
	switch kind {
	case "instances":
		att := attachmentsOf(p)
		for _, i := range p.Instances {
			entries = append(entries, aggEntry{"zones/" + i.Zone, i.Name, func() proto.Message { return instanceMessage(i, att) }})
		}
	case "disks":
		for _, d := range p.Disks {
			sc := "zones/" + d.Zone
			if d.Zone == "" {
				sc = "regions/" + d.Region
			}
			entries = append(entries, aggEntry{sc, d.Name, func() proto.Message { return diskMessage(d) }})
		}
		for z := range e.MachineTypes {
			seen["regions/"+RegionOf(z)] = true
		}
	case "addresses":
		for _, a := range p.Addresses {
			sc := "global"
			if a.Region != "" {
				sc = "regions/" + a.Region
			}
			entries = append(entries, aggEntry{sc, a.Name, func() proto.Message { return addressMessage(a) }})
		}
		clear(seen) // addresses have no zonal scope
		for z := range e.MachineTypes {
			seen["regions/"+RegionOf(z)] = true
		}
		seen["global"] = true
	case "machineTypes":
		for z, mts := range e.MachineTypes {
			for _, mt := range mts {
				entries = append(entries, aggEntry{"zones/" + z, mt.Name, func() proto.Message { return machineTypeMessage(project, z, mt) }})
			}
		}
	}
	for _, en := range entries {
		seen[en.scope] = true
	}
	scopes := make([]string, 0, len(seen))
	for sc := range seen {
		scopes = append(scopes, sc)
	}
	sort.Strings(scopes)
	return entries, scopes
}

// aggResult builds the answer of one kind of aggregated list.
type aggResult interface {
	add(scope string, m proto.Message)
	warn(scope string, w *computepb.Warning)
	finish(project, next string, unreachable []string) proto.Message
}

func newAggResult(kind string) aggResult {
	switch kind {
	case "instances":
		return &instanceAgg{items: map[string]*computepb.InstancesScopedList{}}
	case "disks":
		return &diskAgg{items: map[string]*computepb.DisksScopedList{}}
	case "addresses":
		return &addressAgg{items: map[string]*computepb.AddressesScopedList{}}
	}
	return &machineTypeAgg{items: map[string]*computepb.MachineTypesScopedList{}}
}

// nextPtr is a page token as the message field wants it, nil for none.
func nextPtr(next string) *string {
	if next == "" {
		return nil
	}
	return proto.String(next)
}

type instanceAgg struct {
	items map[string]*computepb.InstancesScopedList
}

func (a *instanceAgg) add(scope string, m proto.Message) {
	l := a.items[scope]
	if l == nil {
		l = &computepb.InstancesScopedList{}
		a.items[scope] = l
	}
	l.Instances = append(l.Instances, m.(*computepb.Instance))
}

func (a *instanceAgg) warn(scope string, w *computepb.Warning) {
	a.items[scope] = &computepb.InstancesScopedList{Warning: w}
}

func (a *instanceAgg) finish(project, next string, unreachable []string) proto.Message {
	return &computepb.InstanceAggregatedList{Kind: proto.String("compute#instanceAggregatedList"),
		Id: proto.String("projects/" + project + "/aggregated/instances"), Items: a.items, NextPageToken: nextPtr(next),
		SelfLink: proto.String(link("projects/" + project + "/aggregated/instances")), Unreachables: unreachable}
}

type diskAgg struct {
	items map[string]*computepb.DisksScopedList
}

func (a *diskAgg) add(scope string, m proto.Message) {
	l := a.items[scope]
	if l == nil {
		l = &computepb.DisksScopedList{}
		a.items[scope] = l
	}
	l.Disks = append(l.Disks, m.(*computepb.Disk))
}

func (a *diskAgg) warn(scope string, w *computepb.Warning) {
	a.items[scope] = &computepb.DisksScopedList{Warning: w}
}

func (a *diskAgg) finish(project, next string, unreachable []string) proto.Message {
	return &computepb.DiskAggregatedList{Kind: proto.String("compute#diskAggregatedList"),
		Id: proto.String("projects/" + project + "/aggregated/disks"), Items: a.items, NextPageToken: nextPtr(next),
		SelfLink: proto.String(link("projects/" + project + "/aggregated/disks")), Unreachables: unreachable}
}

type addressAgg struct {
	items map[string]*computepb.AddressesScopedList
}

func (a *addressAgg) add(scope string, m proto.Message) {
	l := a.items[scope]
	if l == nil {
		l = &computepb.AddressesScopedList{}
		a.items[scope] = l
	}
	l.Addresses = append(l.Addresses, m.(*computepb.Address))
}

func (a *addressAgg) warn(scope string, w *computepb.Warning) {
	a.items[scope] = &computepb.AddressesScopedList{Warning: w}
}

func (a *addressAgg) finish(project, next string, unreachable []string) proto.Message {
	return &computepb.AddressAggregatedList{Kind: proto.String("compute#addressAggregatedList"),
		Id: proto.String("projects/" + project + "/aggregated/addresses"), Items: a.items, NextPageToken: nextPtr(next),
		SelfLink: proto.String(link("projects/" + project + "/aggregated/addresses")), Unreachables: unreachable}
}

type machineTypeAgg struct {
	items map[string]*computepb.MachineTypesScopedList
}

func (a *machineTypeAgg) add(scope string, m proto.Message) {
	l := a.items[scope]
	if l == nil {
		l = &computepb.MachineTypesScopedList{}
		a.items[scope] = l
	}
	l.MachineTypes = append(l.MachineTypes, m.(*computepb.MachineType))
}

func (a *machineTypeAgg) warn(scope string, w *computepb.Warning) {
	a.items[scope] = &computepb.MachineTypesScopedList{Warning: w}
}

func (a *machineTypeAgg) finish(project, next string, unreachable []string) proto.Message {
	return &computepb.MachineTypeAggregatedList{Kind: proto.String("compute#machineTypeAggregatedList"),
		Id: proto.String("projects/" + project + "/aggregated/machineTypes"), Items: a.items, NextPageToken: nextPtr(next),
		SelfLink: proto.String(link("projects/" + project + "/aggregated/machineTypes")), Unreachables: unreachable}
}

// listSnapshots answers the global snapshot list, sorted by name.
func (s *Server) listSnapshots(req *request) (proto.Message, *apiError) {
	offset, size, aerr := paging(req.r)
	if aerr != nil {
		return nil, aerr
	}
	p := s.Estate.Projects[req.project]
	snaps := make([]*Snapshot, 0, len(p.Snapshots))
	for _, sn := range p.Snapshots {
		snaps = append(snaps, sn)
	}
	slices.SortFunc(snaps, func(a, b *Snapshot) int { return strings.Compare(a.Name, b.Name) })
	out := &computepb.SnapshotList{Kind: proto.String("compute#snapshotList"), Id: proto.String("projects/" + req.project + "/global/snapshots"),
		SelfLink: proto.String(link("projects/" + req.project + "/global/snapshots")), NextPageToken: nextPtr(nextToken(offset, size, len(snaps)))}
	for _, sn := range snaps[min(offset, len(snaps)):min(offset+size, len(snaps))] {
		out.Items = append(out.Items, snapshotMessage(sn))
	}
	return out, nil
}

// searchProjects answers Resource Manager's projects.search: the
// projects sorted by ID, filtered by the query's state term (the only
// term the fake understands), pageSize at a time.
func (s *Server) searchProjects(req *request) (proto.Message, *apiError) {
	q := req.r.URL.Query()
	state := ""
	for _, term := range strings.Fields(q.Get("query")) {
		v, ok := strings.CutPrefix(term, "state:")
		if !ok {
			return nil, apiErr(http.StatusBadRequest, "badRequest", "the fake understands only the state term of a query, not "+term)
		}
		state = strings.ToUpper(v)
	}
	size := 500
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, apiErr(http.StatusBadRequest, "badRequest", "Invalid pageSize "+v)
		}
		if n > 0 {
			size = min(n, 500)
		}
	}
	offset, ok := tokenOffset(q.Get("pageToken"))
	if !ok {
		return nil, apiErr(http.StatusBadRequest, "badRequest", "Invalid page token "+q.Get("pageToken"))
	}
	var ps []*Project
	for _, p := range s.Estate.Projects {
		if state == "" || p.state() == state {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *Project) int { return strings.Compare(a.ID, b.ID) })
	out := &resourcemanagerpb.SearchProjectsResponse{NextPageToken: nextToken(offset, size, len(ps))}
	for _, p := range ps[min(offset, len(ps)):min(offset+size, len(ps))] {
		st := resourcemanagerpb.Project_ACTIVE
		if p.state() == ProjectDeleteRequested {
			st = resourcemanagerpb.Project_DELETE_REQUESTED
		}
		out.Projects = append(out.Projects, &resourcemanagerpb.Project{Name: "projects/" + strconv.FormatInt(p.Number, 10),
			ProjectId: p.ID, DisplayName: p.DisplayName, State: st})
	}
	return out, nil
}
