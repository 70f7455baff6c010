package awsfake

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// The EC2 API version the fake speaks and the namespace of its replies.
const (
	ec2Version   = "2016-11-15"
	ec2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"
)

// EC2 instance states and their codes, as DescribeInstances reports
// them.
const (
	ec2Pending  = "pending"
	ec2Running  = "running"
	ec2Stopping = "stopping"
	ec2Stopped  = "stopped"
)

var ec2StateCodes = map[string]int{ec2Pending: 0, ec2Running: 16, "shutting-down": 32, "terminated": 48, ec2Stopping: 64, ec2Stopped: 80}

// ec2State is what the fake EC2 keeps beside the simulated estate: the
// transitional states it still shows after a change (the estate changes
// at once; EC2 takes a while), the descriptions given to snapshots and
// the most recent modification of each volume.
type ec2State struct {
	mu           sync.Mutex
	reads        int                         // reads a transitional state lasts
	shown        map[string]*ec2Transition   // resource ID → state still shown
	descriptions map[string]string           // snapshot ID → description
	mods         map[string]*ec2Modification // volume ID → its last modification
	clock        func() time.Time            // the clock of volume modifications; nil: the server's
}

// ec2Transition is a state shown for left more reads.
type ec2Transition struct {
	state string
	left  int
}

// ec2States holds each server's EC2 state. It is keyed by a weak
// pointer and cleaned up when the server is collected, so a server
// carries its EC2 state without server.go knowing about it.
var ec2States sync.Map // weak.Pointer[Server] → *ec2State

// ec2Sim returns the server's EC2 state, made on first use.
func (s *Server) ec2Sim() *ec2State {
	key := weak.Make(s)
	if st, ok := ec2States.Load(key); ok {
		return st.(*ec2State)
	}
	st, loaded := ec2States.LoadOrStore(key, &ec2State{reads: 1, shown: map[string]*ec2Transition{}, descriptions: map[string]string{},
		mods: map[string]*ec2Modification{}})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[Server]) { ec2States.Delete(k) }, key)
	}
	return st.(*ec2State)
}

// SetTransitions sets for how many reads a change shows its
// transitional state: after StopInstances an instance reads stopping,
// after StartInstances pending, and a new snapshot reads pending, for the
// next n DescribeInstances or DescribeSnapshots results that include it,
// before the final state. The default is 1; 0 makes every change appear
// complete at once.
func (s *Server) SetTransitions(n int) {
	st := s.ec2Sim()
	st.mu.Lock()
	defer st.mu.Unlock()
	st.reads = max(n, 0)
}

// begin shows state for id for the configured number of reads.
func (st *ec2State) begin(id, state string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.reads > 0 {
		st.shown[id] = &ec2Transition{state: state, left: st.reads}
	} else {
		delete(st.shown, id)
	}
}

// peek returns the transitional state of id, if any, without using up
// a read.
func (st *ec2State) peek(id string) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if t, ok := st.shown[id]; ok {
		return t.state, true
	}
	return "", false
}

// read returns the transitional state of id, if any, and uses up one
// of its reads.
func (st *ec2State) read(id string) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	t, ok := st.shown[id]
	if !ok {
		return "", false
	}
	if t.left--; t.left <= 0 {
		delete(st.shown, id)
	}
	return t.state, true
}

func (st *ec2State) forget(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.shown, id)
	delete(st.descriptions, id)
	delete(st.mods, id)
}

func (st *ec2State) describe(id, description string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.descriptions[id] = description
}

func (st *ec2State) description(id string) (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	d, ok := st.descriptions[id]
	return d, ok
}

// ec2Err is an EC2 error reply.
type ec2Err struct {
	status        int
	code, message string
}

func ec2BadRequest(code, format string, args ...any) *ec2Err {
	return &ec2Err{status: http.StatusBadRequest, code: code, message: fmt.Sprintf(format, args...)}
}

var errEC2DryRun = &ec2Err{status: http.StatusPreconditionFailed, code: "DryRunOperation", message: "Request would have succeeded, but DryRun flag is set."}

// ec2Request is one EC2 query request being served.
type ec2Request struct {
	s    *Server
	st   *ec2State
	rc   *reqContext
	ctx  context.Context
	form url.Values
}

// ec2Replier is a reply that takes the common header.
type ec2Replier interface{ setHeader(requestID string) }

// ec2Reply is the header of every EC2 reply.
type ec2Reply struct {
	Xmlns     string `xml:"xmlns,attr"`
	RequestID string `xml:"requestId"`
}

func (h *ec2Reply) setHeader(id string) { h.Xmlns, h.RequestID = ec2Namespace, id }

// ec2ReturnReply is the reply of actions that answer only true.
type ec2ReturnReply struct {
	XMLName xml.Name
	ec2Reply
	Return bool `xml:"return"`
}

func ec2Done(action string) *ec2ReturnReply {
	return &ec2ReturnReply{XMLName: xml.Name{Local: action + "Response"}, Return: true}
}

// ec2Set is an EC2 list: <fooSet><item>…</item></fooSet>.
type ec2Set[T any] struct {
	Items []T `xml:"item"`
}

// ec2Actions are the actions served.
var ec2Actions = map[string]func(*ec2Request) (ec2Replier, *ec2Err){
	"DescribeRegions":              (*ec2Request).describeRegions,
	"DescribeInstances":            (*ec2Request).describeInstances,
	"DescribeVolumes":              (*ec2Request).describeVolumes,
	"DescribeAddresses":            (*ec2Request).describeAddresses,
	"DescribeSnapshots":            (*ec2Request).describeSnapshots,
	"StopInstances":                (*ec2Request).stopInstances,
	"StartInstances":               (*ec2Request).startInstances,
	"ModifyInstanceAttribute":      (*ec2Request).modifyInstanceAttribute,
	"ModifyVolume":                 (*ec2Request).modifyVolume,
	"DescribeVolumesModifications": (*ec2Request).describeVolumesModifications,
	"CreateSnapshot":               (*ec2Request).createSnapshot,
	"DeleteVolume":                 (*ec2Request).deleteVolume,
	"DeleteSnapshot":               (*ec2Request).deleteSnapshot,
	"ReleaseAddress":               (*ec2Request).releaseAddress,
	"CreateTags":                   (*ec2Request).createTags,
}

// serveEC2 answers the EC2 query protocol: a form-encoded POST naming
// the Action, answered in XML. Reads and changes go to the simulated
// cloud's scope of the request's account and region.
func (s *Server) serveEC2(w http.ResponseWriter, r *http.Request, rc *reqContext) {
	if err := r.ParseForm(); err != nil {
		s.fail(w, rc, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	serve, known := ec2Actions[rc.op]
	if !known {
		s.fail(w, rc, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", rc.op))
		return
	}
	if v := r.PostForm.Get("Version"); v != ec2Version {
		s.fail(w, rc, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("awsfake serves EC2 API version %s, not %q", ec2Version, v))
		return
	}
	q := &ec2Request{s: s, st: s.ec2Sim(), rc: rc, ctx: r.Context(), form: r.PostForm}
	out, e := serve(q)
	if e != nil {
		s.fail(w, rc, e.status, e.code, e.message)
		return
	}
	out.setHeader(rc.requestID)
	s.ok(rc)
	writeXML(w, http.StatusOK, out)
}

// --- request parsing

// list reads the flattened list prefix.1, prefix.2, … .
func (q *ec2Request) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := q.form[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func (q *ec2Request) dryRun() bool { return strings.EqualFold(q.form.Get("DryRun"), "true") }

// required reads a parameter that must be present.
func (q *ec2Request) required(name string) (string, *ec2Err) {
	v := q.form.Get(name)
	if v == "" {
		return "", ec2BadRequest("MissingParameter", "The request must contain the parameter %s", name)
	}
	return v, nil
}

// tagsOf reads prefix.N.Key / prefix.N.Value pairs.
func (q *ec2Request) tagsOf(prefix string) (map[string]string, *ec2Err) {
	tags := map[string]string{}
	for i := 1; ; i++ {
		p := prefix + "." + strconv.Itoa(i)
		k, ok := q.form[p+".Key"]
		if !ok {
			if _, v := q.form[p+".Value"]; v {
				return nil, ec2BadRequest("MissingParameter", "The request must contain the parameter %s.Key", p)
			}
			return tags, nil
		}
		key := k[0]
		switch {
		case key == "":
			return nil, ec2BadRequest("InvalidParameterValue", "Tag keys must not be empty")
		case strings.HasPrefix(strings.ToLower(key), "aws:"):
			return nil, ec2BadRequest("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
		case len(key) > 128:
			return nil, ec2BadRequest("InvalidParameterValue", "Tag key exceeds the maximum length of 128 characters")
		}
		v := q.form.Get(p + ".Value")
		if len(v) > 256 {
			return nil, ec2BadRequest("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters")
		}
		tags[key] = v
	}
}

// ec2Filter is one Filter.N of a Describe call.
type ec2Filter struct {
	name   string
	values []string
}

// filters reads Filter.N.Name and Filter.N.Value.M, accepting only the
// names allowed (and tag:<key>, tag-key).
func (q *ec2Request) filters(allowed ...string) ([]ec2Filter, *ec2Err) {
	var out []ec2Filter
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name, ok := q.form[p+".Name"]
		if !ok {
			return out, nil
		}
		f := ec2Filter{name: name[0], values: q.list(p + ".Value")}
		if !strings.HasPrefix(f.name, "tag:") && f.name != "tag-key" && !slices.Contains(allowed, f.name) {
			return nil, ec2BadRequest("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		}
		if len(f.values) == 0 {
			return nil, ec2BadRequest("InvalidParameterValue", "The filter '%s' has no values", f.name)
		}
		out = append(out, f)
	}
}

// ec2Matches reports whether every filter matches one of the values attr
// gives for its name; the resource's tags answer tag:<key> and tag-key.
func ec2Matches(fs []ec2Filter, tags map[string]string, attr func(name string) []string) bool {
	for _, f := range fs {
		var have []string
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			if v, ok := tags[strings.TrimPrefix(f.name, "tag:")]; ok {
				have = []string{v}
			}
		case f.name == "tag-key":
			have = slices.Collect(maps.Keys(tags))
		default:
			have = attr(f.name)
		}
		hit := false
		for _, h := range have {
			for _, pattern := range f.values {
				hit = hit || ec2Glob(pattern, h)
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// ec2Glob matches s against an EC2 filter value: * matches any run of
// characters, ? any one, and a backslash escapes the next character.
func ec2Glob(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch p[i] {
			case '*':
				for k := j; k <= len(t); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case '?':
				if j >= len(t) {
					return false
				}
			case '\\':
				if i+1 < len(p) {
					i++
				}
				fallthrough
			default:
				if j >= len(t) || t[j] != p[i] {
					return false
				}
			}
			i++
			j++
		}
		return j == len(t)
	}
	return match(0, 0)
}

// --- pagination

// maxResults reads MaxResults: 0 when absent; 5..1000 as in EC2.
func (q *ec2Request) maxResults() (int, *ec2Err) {
	v := q.form.Get("MaxResults")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 5 || n > 1000 {
		return 0, ec2BadRequest("InvalidParameterValue", "Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", v)
	}
	return n, nil
}

const ec2TokenPrefix = "awsfake-ec2/v1"

// ec2EncodeToken makes the opaque NextToken that resumes action after the
// item whose key is last.
func ec2EncodeToken(action, last string) string {
	body := ec2TokenPrefix + "\x00" + action + "\x00" + last
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf([]byte(body), "\x00%08x", crc32.ChecksumIEEE([]byte(body))))
}

// ec2DecodeToken returns the key a NextToken of action resumes after.
func ec2DecodeToken(action, token string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 4 || parts[0] != ec2TokenPrefix || parts[1] != action {
		return "", false
	}
	body := strings.Join(parts[:3], "\x00")
	if fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body))) != parts[3] {
		return "", false
	}
	return parts[2], true
}

// page cuts one page out of items, which are sorted by ID, following
// MaxResults and NextToken.
func (q *ec2Request) page(items []domain.Resource) ([]domain.Resource, string, *ec2Err) {
	n, e := q.maxResults()
	if e != nil {
		return nil, "", e
	}
	if tok := q.form.Get("NextToken"); tok != "" {
		last, ok := ec2DecodeToken(q.rc.op, tok)
		if !ok {
			return nil, "", ec2BadRequest("InvalidNextToken", "The token '%s' is invalid", tok)
		}
		i := sort.Search(len(items), func(i int) bool { return items[i].ID > last })
		items = items[i:]
	}
	if n == 0 || len(items) <= n {
		return items, "", nil
	}
	return items[:n], ec2EncodeToken(q.rc.op, items[n-1].ID), nil
}

// --- reading the simulated cloud

// ec2IDKind describes the IDs of one resource kind.
type ec2IDKind struct {
	re                  *regexp.Regexp
	noun                string
	notFound, malformed string
}

var ec2IDKinds = map[domain.Kind]ec2IDKind{
	domain.KindVM:       {regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`), "instance ID", "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"},
	domain.KindDisk:     {regexp.MustCompile(`^vol-([0-9a-f]{8}|[0-9a-f]{17})$`), "volume", "InvalidVolume.NotFound", "InvalidVolumeID.Malformed"},
	domain.KindSnapshot: {regexp.MustCompile(`^snap-([0-9a-f]{8}|[0-9a-f]{17})$`), "snapshot", "InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed"},
	domain.KindIP:       {regexp.MustCompile(`^eipalloc-([0-9a-f]{8}|[0-9a-f]{17})$`), "allocation ID", "InvalidAllocationID.NotFound", "InvalidAllocationID.Malformed"},
}

// ec2KindOfID returns the kind an EC2 ID names by its prefix.
func ec2KindOfID(id string) (domain.Kind, bool) {
	for k, ik := range ec2IDKinds {
		if ik.re.MatchString(id) {
			return k, true
		}
	}
	return "", false
}

func (q *ec2Request) scope() collect.Scope {
	return collect.Scope{Account: q.rc.account, Region: q.rc.region}
}

func (q *ec2Request) ref(kind domain.Kind, id string) domain.ResourceRef {
	return domain.ResourceRef{Cloud: domain.AWS, Account: q.rc.account, Region: q.rc.region, Kind: kind, ID: id}
}

// all lists the live resources of kind in the request's scope, sorted by
// ID.
func (q *ec2Request) all(kind domain.Kind) ([]domain.Resource, *ec2Err) {
	var out []domain.Resource
	err := q.s.cloud.Resources(q.ctx, q.scope(), func(page []domain.Resource) error {
		for _, r := range page {
			if r.Kind == kind {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, ec2SimErr(err, ec2IDKinds[kind], "", "")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// get reads one resource of kind; an unknown ID is EC2's NotFound.
func (q *ec2Request) get(kind domain.Kind, id string) (domain.Resource, *ec2Err) {
	ik := ec2IDKinds[kind]
	if !ik.re.MatchString(id) {
		return domain.Resource{}, ec2BadRequest(ik.malformed, "Invalid id: \"%s\"", id)
	}
	r, err := q.s.cloud.Get(q.ctx, q.ref(kind, id))
	if err != nil {
		return domain.Resource{}, ec2SimErr(err, ik, id, "")
	}
	return r, nil
}

// byIDs reads the resources of the IDs listed under prefix (all of them
// must exist, as in EC2), or every resource of kind when none is listed.
func (q *ec2Request) byIDs(kind domain.Kind, prefix string) ([]domain.Resource, bool, *ec2Err) {
	ids := q.list(prefix)
	if len(ids) == 0 {
		rs, e := q.all(kind)
		return rs, false, e
	}
	seen := map[string]bool{}
	var out []domain.Resource
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, e := q.get(kind, id)
		if e != nil {
			return nil, true, e
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, true, nil
}

// ec2SimErr translates an error of the simulated cloud into the error EC2
// answers: NotFound and conflicts in the codes of the resource kind and
// action, permission as UnauthorizedOperation, throttling as
// RequestLimitExceeded.
func ec2SimErr(err error, ik ec2IDKind, id, conflictCode string) *ec2Err {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return ec2BadRequest(ik.notFound, "The %s '%s' does not exist", ik.noun, id)
	case errors.Is(err, domain.ErrPermission):
		return &ec2Err{status: http.StatusForbidden, code: "UnauthorizedOperation", message: "You are not authorized to perform this operation. (" + err.Error() + ")"}
	case errors.Is(err, domain.ErrConflict) && conflictCode != "":
		return ec2BadRequest(conflictCode, "%s", err.Error())
	case errors.Is(err, domain.ErrConflict):
		return ec2BadRequest("IncorrectState", "%s", err.Error())
	case errors.Is(err, domain.ErrInvalid):
		return ec2BadRequest("InvalidParameterValue", "%s", err.Error())
	case errors.Is(err, domain.ErrUnsupported):
		return ec2BadRequest("UnsupportedOperation", "%s", err.Error())
	case errors.Is(err, domain.ErrThrottled):
		return &ec2Err{status: http.StatusServiceUnavailable, code: "RequestLimitExceeded", message: "Request limit exceeded."}
	}
	return &ec2Err{status: http.StatusInternalServerError, code: "InternalError", message: "An internal error has occurred: " + err.Error()}
}

// token is the idempotency token the simulated cloud requires. None of
// the EC2 calls served takes a ClientToken, so each request is its own
// operation: the token is derived from the request ID.
func (q *ec2Request) token(id string) string { return "awsfake/" + q.rc.requestID + "/" + id }

// --- reply shapes

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func ec2TagSet(tags map[string]string) ec2Set[ec2Tag] {
	var s ec2Set[ec2Tag]
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		s.Items = append(s.Items, ec2Tag{k, tags[k]})
	}
	return s
}

func ec2Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ec2Hash16 is a stable 16-hex-digit digest of s, for IDs the estate does
// not keep (reservations, associations).
func ec2Hash16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// ec2Zone places a resource in one of three zones of its region.
func ec2Zone(region, id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return region + string(rune('a'+h.Sum32()%3))
}

// ec2PublicIP gives an address a stable public IPv4 from the documentation
// ranges (RFC 5737): the estate keeps no addresses.
func ec2PublicIP(allocationID string) string {
	h := fnv.New32a()
	h.Write([]byte(allocationID))
	n := h.Sum32()
	nets := []string{"192.0.2", "198.51.100", "203.0.113"}
	return fmt.Sprintf("%s.%d", nets[n%3], 1+(n>>8)%254)
}

// --- DescribeRegions

type ec2Region struct {
	RegionName     string `xml:"regionName"`
	RegionEndpoint string `xml:"regionEndpoint"`
	OptInStatus    string `xml:"optInStatus"`
}

type ec2RegionsReply struct {
	XMLName xml.Name `xml:"DescribeRegionsResponse"`
	ec2Reply
	Regions ec2Set[ec2Region] `xml:"regionInfo"`
}

func (q *ec2Request) describeRegions() (ec2Replier, *ec2Err) {
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	regions := q.s.regions()
	if want := q.list("RegionName"); len(want) > 0 {
		for _, w := range want {
			if !slices.Contains(regions, w) {
				return nil, ec2BadRequest("InvalidParameterValue", "Invalid region: %s", w)
			}
		}
		regions = want
	}
	fs, e := q.filters("region-name", "opt-in-status", "endpoint")
	if e != nil {
		return nil, e
	}
	out := &ec2RegionsReply{}
	for _, r := range regions {
		x := ec2Region{RegionName: r, RegionEndpoint: "ec2." + r + ".amazonaws.com", OptInStatus: "opt-in-not-required"}
		if ec2Matches(fs, nil, func(name string) []string {
			return map[string][]string{"region-name": {x.RegionName}, "opt-in-status": {x.OptInStatus}, "endpoint": {x.RegionEndpoint}}[name]
		}) {
			out.Regions.Items = append(out.Regions.Items, x)
		}
	}
	return out, nil
}

// --- DescribeInstances

type ec2InstanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func ec2InstanceStateOf(name string) ec2InstanceState {
	return ec2InstanceState{Code: ec2StateCodes[name], Name: name}
}

type ec2Instance struct {
	InstanceID    string           `xml:"instanceId"`
	InstanceState ec2InstanceState `xml:"instanceState"`
	InstanceType  string           `xml:"instanceType"`
	LaunchTime    string           `xml:"launchTime"`
	Placement     struct {
		AvailabilityZone string `xml:"availabilityZone"`
		Tenancy          string `xml:"tenancy"`
	} `xml:"placement"`
	Tags ec2Set[ec2Tag] `xml:"tagSet"`
}

type ec2Reservation struct {
	ReservationID string              `xml:"reservationId"`
	OwnerID       string              `xml:"ownerId"`
	Instances     ec2Set[ec2Instance] `xml:"instancesSet"`
}

type ec2InstancesReply struct {
	XMLName xml.Name `xml:"DescribeInstancesResponse"`
	ec2Reply
	Reservations ec2Set[ec2Reservation] `xml:"reservationSet"`
	NextToken    string                 `xml:"nextToken,omitempty"`
}

// shownState is the state EC2 shows for a VM of the estate: a
// transitional state after a change, else the estate's.
func (q *ec2Request) shownState(r domain.Resource, use bool) string {
	var (
		s  string
		ok bool
	)
	if use {
		s, ok = q.st.read(r.ID)
	} else {
		s, ok = q.st.peek(r.ID)
	}
	if ok {
		return s
	}
	return r.State
}

func (q *ec2Request) describeInstances() (ec2Replier, *ec2Err) {
	if len(q.list("InstanceId")) > 0 && q.form.Get("MaxResults") != "" {
		return nil, ec2BadRequest("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults")
	}
	fs, e := q.filters("instance-id", "instance-state-name", "instance-state-code", "instance-type", "availability-zone")
	if e != nil {
		return nil, e
	}
	rs, _, e := q.byIDs(domain.KindVM, "InstanceId")
	if e != nil {
		return nil, e
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	var kept []domain.Resource
	for _, r := range rs {
		if ec2Matches(fs, r.Tags, func(name string) []string {
			state := q.shownState(r, false)
			return map[string][]string{
				"instance-id": {r.ID}, "instance-state-name": {state}, "instance-state-code": {strconv.Itoa(ec2StateCodes[state])},
				"instance-type": {r.SKU}, "availability-zone": {ec2Zone(r.Region, r.ID)},
			}[name]
		}) {
			kept = append(kept, r)
		}
	}
	page, next, e := q.page(kept)
	if e != nil {
		return nil, e
	}
	out := &ec2InstancesReply{NextToken: next}
	for _, r := range page {
		x := ec2Instance{InstanceID: r.ID, InstanceState: ec2InstanceStateOf(q.shownState(r, true)), InstanceType: r.SKU,
			LaunchTime: ec2Time(r.CreatedAt), Tags: ec2TagSet(r.Tags)}
		x.Placement.AvailabilityZone, x.Placement.Tenancy = ec2Zone(r.Region, r.ID), "default"
		out.Reservations.Items = append(out.Reservations.Items, ec2Reservation{
			ReservationID: "r-0" + ec2Hash16(r.ID)[:16], OwnerID: q.rc.account, Instances: ec2Set[ec2Instance]{Items: []ec2Instance{x}},
		})
	}
	return out, nil
}

// --- DescribeVolumes

type ec2Attachment struct {
	VolumeID            string `xml:"volumeId"`
	InstanceID          string `xml:"instanceId"`
	Device              string `xml:"device"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type ec2Volume struct {
	VolumeID         string                `xml:"volumeId"`
	Size             int64                 `xml:"size"`
	SnapshotID       string                `xml:"snapshotId"`
	AvailabilityZone string                `xml:"availabilityZone"`
	Status           string                `xml:"status"`
	CreateTime       string                `xml:"createTime"`
	Attachments      ec2Set[ec2Attachment] `xml:"attachmentSet"`
	Tags             ec2Set[ec2Tag]        `xml:"tagSet"`
	VolumeType       string                `xml:"volumeType"`
	Encrypted        bool                  `xml:"encrypted"`
	MultiAttach      bool                  `xml:"multiAttachEnabled"`
}

type ec2VolumesReply struct {
	XMLName xml.Name `xml:"DescribeVolumesResponse"`
	ec2Reply
	Volumes   ec2Set[ec2Volume] `xml:"volumeSet"`
	NextToken string            `xml:"nextToken,omitempty"`
}

func ec2VolumeZone(r domain.Resource) string {
	if r.AttachedTo != "" {
		return ec2Zone(r.Region, r.AttachedTo) // in the zone of its instance
	}
	return ec2Zone(r.Region, r.ID)
}

func (q *ec2Request) describeVolumes() (ec2Replier, *ec2Err) {
	fs, e := q.filters("volume-id", "status", "volume-type", "size", "attachment.instance-id", "attachment.status", "availability-zone")
	if e != nil {
		return nil, e
	}
	rs, _, e := q.byIDs(domain.KindDisk, "VolumeId")
	if e != nil {
		return nil, e
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	var kept []domain.Resource
	for _, r := range rs {
		if ec2Matches(fs, r.Tags, func(name string) []string {
			attrs := map[string][]string{"volume-id": {r.ID}, "status": {r.State}, "volume-type": {r.SKU},
				"size": {strconv.FormatInt(r.SizeGiB, 10)}, "availability-zone": {ec2VolumeZone(r)}}
			if r.AttachedTo != "" {
				attrs["attachment.instance-id"], attrs["attachment.status"] = []string{r.AttachedTo}, []string{"attached"}
			}
			return attrs[name]
		}) {
			kept = append(kept, r)
		}
	}
	page, next, e := q.page(kept)
	if e != nil {
		return nil, e
	}
	out := &ec2VolumesReply{NextToken: next}
	for _, r := range page {
		x := ec2Volume{VolumeID: r.ID, Size: r.SizeGiB, AvailabilityZone: ec2VolumeZone(r), Status: r.State,
			CreateTime: ec2Time(r.CreatedAt), Tags: ec2TagSet(r.Tags), VolumeType: r.SKU}
		if r.AttachedTo != "" {
			x.Attachments.Items = []ec2Attachment{{VolumeID: r.ID, InstanceID: r.AttachedTo, Device: "/dev/sdf",
				Status: "attached", AttachTime: ec2Time(r.CreatedAt)}}
		}
		out.Volumes.Items = append(out.Volumes.Items, x)
	}
	return out, nil
}

// --- DescribeAddresses

type ec2Address struct {
	PublicIP           string         `xml:"publicIp"`
	AllocationID       string         `xml:"allocationId"`
	Domain             string         `xml:"domain"`
	InstanceID         string         `xml:"instanceId,omitempty"`
	AssociationID      string         `xml:"associationId,omitempty"`
	NetworkBorderGroup string         `xml:"networkBorderGroup"`
	Tags               ec2Set[ec2Tag] `xml:"tagSet"`
}

type ec2AddressesReply struct {
	XMLName xml.Name `xml:"DescribeAddressesResponse"`
	ec2Reply
	Addresses ec2Set[ec2Address] `xml:"addressesSet"`
}

func ec2AddressOf(r domain.Resource) ec2Address {
	x := ec2Address{PublicIP: ec2PublicIP(r.ID), AllocationID: r.ID, Domain: "vpc", NetworkBorderGroup: r.Region, Tags: ec2TagSet(r.Tags)}
	if r.AttachedTo != "" {
		x.InstanceID, x.AssociationID = r.AttachedTo, "eipassoc-0"+ec2Hash16(r.ID+"/"+r.AttachedTo)
	}
	return x
}

func (q *ec2Request) describeAddresses() (ec2Replier, *ec2Err) {
	fs, e := q.filters("allocation-id", "association-id", "instance-id", "public-ip", "domain", "network-border-group")
	if e != nil {
		return nil, e
	}
	rs, _, e := q.byIDs(domain.KindIP, "AllocationId")
	if e != nil {
		return nil, e
	}
	ips := q.list("PublicIp")
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	out := &ec2AddressesReply{}
	for _, r := range rs {
		x := ec2AddressOf(r)
		if len(ips) > 0 && !slices.Contains(ips, x.PublicIP) {
			continue
		}
		if ec2Matches(fs, r.Tags, func(name string) []string {
			return map[string][]string{"allocation-id": {x.AllocationID}, "association-id": {x.AssociationID}, "instance-id": {x.InstanceID},
				"public-ip": {x.PublicIP}, "domain": {x.Domain}, "network-border-group": {x.NetworkBorderGroup}}[name]
		}) {
			out.Addresses.Items = append(out.Addresses.Items, x)
		}
	}
	return out, nil
}

// --- DescribeSnapshots

type ec2Snapshot struct {
	SnapshotID  string         `xml:"snapshotId"`
	VolumeID    string         `xml:"volumeId"`
	Status      string         `xml:"status"`
	StartTime   string         `xml:"startTime"`
	Progress    string         `xml:"progress"`
	OwnerID     string         `xml:"ownerId"`
	VolumeSize  int64          `xml:"volumeSize"`
	Description string         `xml:"description"`
	Encrypted   bool           `xml:"encrypted"`
	StorageTier string         `xml:"storageTier"`
	Tags        ec2Set[ec2Tag] `xml:"tagSet"`
}

type ec2SnapshotsReply struct {
	XMLName xml.Name `xml:"DescribeSnapshotsResponse"`
	ec2Reply
	Snapshots ec2Set[ec2Snapshot] `xml:"snapshotSet"`
	NextToken string              `xml:"nextToken,omitempty"`
}

// snapshotOf shows a snapshot of the estate; use spends one read of a
// pending state.
func (q *ec2Request) snapshotOf(r domain.Resource, use bool) ec2Snapshot {
	x := ec2Snapshot{SnapshotID: r.ID, VolumeID: r.AttachedTo, Status: "completed", StartTime: ec2Time(r.CreatedAt), Progress: "100%",
		OwnerID: q.rc.account, VolumeSize: r.SizeGiB, Description: r.Name, StorageTier: "standard", Tags: ec2TagSet(r.Tags)}
	if d, ok := q.st.description(r.ID); ok {
		x.Description = d
	}
	state, pending := q.st.peek(r.ID)
	if use {
		state, pending = q.st.read(r.ID)
	}
	if pending {
		x.Status, x.Progress = state, "0%"
	}
	return x
}

func (q *ec2Request) describeSnapshots() (ec2Replier, *ec2Err) {
	fs, e := q.filters("snapshot-id", "volume-id", "status", "owner-id", "volume-size", "description", "storage-tier")
	if e != nil {
		return nil, e
	}
	rs, byID, e := q.byIDs(domain.KindSnapshot, "SnapshotId")
	if e != nil {
		return nil, e
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	// Every snapshot of the estate is owned by the account: an owner
	// list without self or the account's ID matches nothing (public
	// and Amazon-owned snapshots are not simulated).
	if owners := q.list("Owner"); len(owners) > 0 && !slices.Contains(owners, "self") && !slices.Contains(owners, q.rc.account) {
		if byID {
			return nil, ec2BadRequest("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist", rs[0].ID)
		}
		rs = nil
	}
	var kept []domain.Resource
	for _, r := range rs {
		x := q.snapshotOf(r, false)
		if ec2Matches(fs, r.Tags, func(name string) []string {
			return map[string][]string{"snapshot-id": {x.SnapshotID}, "volume-id": {x.VolumeID}, "status": {x.Status}, "owner-id": {x.OwnerID},
				"volume-size": {strconv.FormatInt(x.VolumeSize, 10)}, "description": {x.Description}, "storage-tier": {x.StorageTier}}[name]
		}) {
			kept = append(kept, r)
		}
	}
	page, next, e := q.page(kept)
	if e != nil {
		return nil, e
	}
	out := &ec2SnapshotsReply{NextToken: next}
	for _, r := range page {
		out.Snapshots.Items = append(out.Snapshots.Items, q.snapshotOf(r, true))
	}
	return out, nil
}

// --- StopInstances, StartInstances

type ec2StateChange struct {
	InstanceID    string           `xml:"instanceId"`
	CurrentState  ec2InstanceState `xml:"currentState"`
	PreviousState ec2InstanceState `xml:"previousState"`
}

type ec2StateChangeReply struct {
	XMLName xml.Name
	ec2Reply
	Instances ec2Set[ec2StateChange] `xml:"instancesSet"`
}

// changeState serves StopInstances (to = stopped) and StartInstances (to
// = running) as EC2 does, not as the estate does: asking for the state
// an instance is in or moving to succeeds and changes nothing; an
// instance moving the other way is IncorrectInstanceState. A change
// shows the transitional state (stopping, pending) for the configured
// reads.
func (q *ec2Request) changeState(to string) (ec2Replier, *ec2Err) {
	ids := q.list("InstanceId")
	if len(ids) == 0 {
		return nil, ec2BadRequest("MissingParameter", "The request must contain the parameter InstanceId")
	}
	via, against, verb := ec2Stopping, ec2Pending, "stopped"
	if to == ec2Running {
		via, against, verb = ec2Pending, ec2Stopping, "started"
	}
	type item struct {
		r    domain.Resource
		from string
	}
	var items []item
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		r, e := q.get(domain.KindVM, id)
		if e != nil {
			return nil, e
		}
		from := q.shownState(r, false)
		if from == against {
			return nil, ec2BadRequest("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be %s.", id, verb)
		}
		items = append(items, item{r, from})
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	out := &ec2StateChangeReply{XMLName: xml.Name{Local: q.rc.op + "Response"}}
	for _, it := range items {
		now := it.from
		if it.from != to && it.from != via {
			var err error
			if to == ec2Stopped {
				err = q.s.cloud.Stop(q.ctx, it.r.Ref(), q.token(it.r.ID))
			} else {
				err = q.s.cloud.Start(q.ctx, it.r.Ref(), q.token(it.r.ID))
			}
			if err != nil {
				return nil, ec2SimErr(err, ec2IDKinds[domain.KindVM], it.r.ID, "IncorrectInstanceState")
			}
			q.st.begin(it.r.ID, via)
			now = via
			if s, ok := q.st.peek(it.r.ID); !ok || s != via {
				now = to // no transitional reads configured
			}
		}
		out.Instances.Items = append(out.Instances.Items, ec2StateChange{InstanceID: it.r.ID,
			CurrentState: ec2InstanceStateOf(now), PreviousState: ec2InstanceStateOf(it.from)})
	}
	return out, nil
}

func (q *ec2Request) stopInstances() (ec2Replier, *ec2Err)  { return q.changeState(ec2Stopped) }
func (q *ec2Request) startInstances() (ec2Replier, *ec2Err) { return q.changeState(ec2Running) }

// --- ModifyInstanceAttribute

// modifyInstanceAttribute serves the instance type, the one attribute
// the provider changes: the instance must be stopped (not stopping).
func (q *ec2Request) modifyInstanceAttribute() (ec2Replier, *ec2Err) {
	id, e := q.required("InstanceId")
	if e != nil {
		return nil, e
	}
	sku := q.form.Get("InstanceType.Value")
	if sku == "" && q.form.Get("Attribute") == "instanceType" {
		sku = q.form.Get("Value")
	}
	if sku == "" {
		for k := range q.form {
			if k != "Action" && k != "Version" && k != "InstanceId" && k != "DryRun" {
				return nil, ec2BadRequest("UnsupportedOperation", "awsfake: ModifyInstanceAttribute serves only the instance type, not %s", k)
			}
		}
		return nil, ec2BadRequest("MissingParameter", "The request must contain the parameter InstanceType")
	}
	r, e := q.get(domain.KindVM, id)
	if e != nil {
		return nil, e
	}
	if s := q.shownState(r, false); s != ec2Stopped {
		return nil, ec2BadRequest("IncorrectInstanceState", "The instance '%s' is not in the 'stopped' state.", id)
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	if err := q.s.cloud.Resize(q.ctx, r.Ref(), sku, q.token(id)); err != nil {
		if errors.Is(err, domain.ErrInvalid) {
			return nil, ec2BadRequest("InvalidParameterValue", "Value (%s) for parameter instanceType is invalid. %v", sku, err)
		}
		return nil, ec2SimErr(err, ec2IDKinds[domain.KindVM], id, "IncorrectInstanceState")
	}
	return ec2Done("ModifyInstanceAttribute"), nil
}

// --- CreateSnapshot

type ec2CreateSnapshotReply struct {
	XMLName xml.Name `xml:"CreateSnapshotResponse"`
	ec2Reply
	ec2Snapshot
}

func (q *ec2Request) createSnapshot() (ec2Replier, *ec2Err) {
	volID, e := q.required("VolumeId")
	if e != nil {
		return nil, e
	}
	tags := map[string]string{}
	for i := 1; ; i++ {
		p := "TagSpecification." + strconv.Itoa(i)
		rt, ok := q.form[p+".ResourceType"]
		if !ok {
			break
		}
		if rt[0] != "snapshot" {
			return nil, ec2BadRequest("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt[0])
		}
		t, e := q.tagsOf(p + ".Tag")
		if e != nil {
			return nil, e
		}
		maps.Copy(tags, t)
	}
	vol, e := q.get(domain.KindDisk, volID)
	if e != nil {
		return nil, e
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	id, err := q.s.cloud.Snapshot(q.ctx, vol.Ref(), tags, q.token(volID))
	if err != nil {
		return nil, ec2SimErr(err, ec2IDKinds[domain.KindDisk], volID, "IncorrectState")
	}
	if d, ok := q.form["Description"]; ok {
		q.st.describe(id, d[0])
	}
	q.st.begin(id, ec2Pending)
	snap, e := q.get(domain.KindSnapshot, id)
	if e != nil {
		return nil, e
	}
	return &ec2CreateSnapshotReply{ec2Snapshot: q.snapshotOf(snap, false)}, nil
}

// --- DeleteVolume, DeleteSnapshot, ReleaseAddress

// remove serves the calls that delete: the resource named by the
// parameter param goes, unless the estate refuses (conflictCode).
func (q *ec2Request) remove(kind domain.Kind, param, conflictCode string, apply func(context.Context, domain.ResourceRef, string) error) (ec2Replier, *ec2Err) {
	id, e := q.required(param)
	if e != nil {
		return nil, e
	}
	r, e := q.get(kind, id)
	if e != nil {
		return nil, e
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	if err := apply(q.ctx, r.Ref(), q.token(id)); err != nil {
		e := ec2SimErr(err, ec2IDKinds[kind], id, conflictCode)
		if e.code == conflictCode {
			switch conflictCode {
			case "VolumeInUse":
				e.message = fmt.Sprintf("Volume %s is currently attached to %s", id, r.AttachedTo)
			case "InvalidIPAddress.InUse":
				e.message = fmt.Sprintf("Address %s is in use.", id)
			}
		}
		return nil, e
	}
	q.st.forget(id)
	return ec2Done(q.rc.op), nil
}

func (q *ec2Request) deleteVolume() (ec2Replier, *ec2Err) {
	return q.remove(domain.KindDisk, "VolumeId", "VolumeInUse", q.s.cloud.Delete)
}

func (q *ec2Request) deleteSnapshot() (ec2Replier, *ec2Err) {
	return q.remove(domain.KindSnapshot, "SnapshotId", "InvalidSnapshot.InUse", q.s.cloud.Delete)
}

func (q *ec2Request) releaseAddress() (ec2Replier, *ec2Err) {
	if q.form.Get("AllocationId") == "" && q.form.Get("PublicIp") != "" {
		return nil, ec2BadRequest("InvalidParameterValue", "You must specify an allocation id when releasing a VPC elastic IP address")
	}
	return q.remove(domain.KindIP, "AllocationId", "InvalidIPAddress.InUse", q.s.cloud.Release)
}

// --- CreateTags

// createTags merges tags into every resource listed; all of them must
// exist before any is tagged.
func (q *ec2Request) createTags() (ec2Replier, *ec2Err) {
	ids := q.list("ResourceId")
	if len(ids) == 0 {
		return nil, ec2BadRequest("MissingParameter", "The request must contain the parameter ResourceId")
	}
	tags, e := q.tagsOf("Tag")
	if e != nil {
		return nil, e
	}
	if len(tags) == 0 {
		return nil, ec2BadRequest("MissingParameter", "The request must contain the parameter Tag")
	}
	var rs []domain.Resource
	for _, id := range ids {
		kind, known := ec2KindOfID(id)
		if !known {
			return nil, ec2BadRequest("InvalidID", "The ID '%s' is not valid", id)
		}
		r, e := q.get(kind, id)
		if e != nil {
			return nil, e
		}
		rs = append(rs, r)
	}
	if q.dryRun() {
		return nil, errEC2DryRun
	}
	for _, r := range rs {
		if err := q.s.cloud.Tag(q.ctx, r.Ref(), tags, q.token(r.ID)); err != nil {
			return nil, ec2SimErr(err, ec2IDKinds[r.Kind], r.ID, "ConcurrentTagAccess")
		}
	}
	return ec2Done("CreateTags"), nil
}
