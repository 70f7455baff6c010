package gcpfake

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/option"
	raw "google.golang.org/api/storage/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Options configure a Server.
type Options struct {
	// OperationPolls is how many reads of an operation (the GET the
	// SDK's Operation.Wait and Poll make) answer it PENDING or RUNNING
	// before it reads DONE. 0 means 1; negative means an operation is
	// DONE in the answer to the mutation itself. The operation's wait
	// method ends it at once, as the real one does within its two minutes.
	OperationPolls int
	// Now stamps operations and the snapshots made; default time.Now.
	Now func() time.Time
}

// Server serves an Estate over the Compute Engine v1 REST protocol,
// Resource Manager v3's projects.search and Cloud Storage's JSON API
// buckets list, get and patch (of the lifecycle and labels), to the SDK's own REST clients
// (cloud.google.com/go/compute/apiv1, resourcemanager/apiv3) pointed at
// it with ClientOptions. Its state (operations, request IDs, faults, the
// mutation and call logs) is guarded by the Estate's mutex, so a
// handler sees the estate and the server in one consistent state.
//
// Served: aggregated lists of instances, disks (zonal and regional),
// addresses (regional and global) and machine types, with maxResults
// and pageToken paging, returnPartialSuccess and the per-scope
// NO_RESULTS_ON_PAGE warnings of the real API; the global snapshot
// list; get of every resource kind and of operations (zone, region,
// global; their wait method too); instances stop, start,
// setMachineType and setLabels; disks delete, createSnapshot and
// setLabels (zonal and regional); addresses delete and setLabels
// (regional and global); snapshots delete and setLabels. List filters
// and orderBy are ignored. Every other path answers 501.
type Server struct {
	// Estate is what the server serves.
	Estate *Estate
	// URL is the server's base URL.
	URL string

	srv  *httptest.Server
	opts Options

	// Guarded by Estate's mutex.
	calls       map[string]int
	faults      []*Fault
	denied      map[string]bool
	unreachable map[string]bool
	opFaults    map[string]OperationFault
	ops         map[string]*operation // by the operation's relative name
	requests    map[string]*operation // by project and requestId
	mutations   []Mutation
	opSeq       int
}

// NewServer starts a server for e. Close it when done.
func NewServer(e *Estate, opts Options) *Server {
	if opts.OperationPolls == 0 {
		opts.OperationPolls = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{Estate: e, opts: opts, calls: map[string]int{}, denied: map[string]bool{}, unreachable: map[string]bool{},
		opFaults: map[string]OperationFault{}, ops: map[string]*operation{}, requests: map[string]*operation{}}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// ClientOptions are the options that point a Google API REST client at
// the server, without credentials.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(s.URL), option.WithoutAuthentication(), option.WithHTTPClient(s.srv.Client())}
}

// Calls returns how many requests of an API method the server answered,
// errors and faults included. Methods are named as in Google's
// discovery documents: "compute.instances.aggregatedList",
// "compute.zoneOperations.get", "cloudresourcemanager.projects.search".
func (s *Server) Calls(method string) int {
	s.Estate.Lock()
	defer s.Estate.Unlock()
	return s.calls[method]
}

// Mutation is one change the estate applied: logged when its operation
// ends without error.
type Mutation struct {
	// Method is the API method ("compute.instances.stop").
	Method string
	// Resource is the relative name of the resource changed; Region its
	// region (a snapshot's storage location, "global" for a global
	// address).
	Resource string
	Region   string
	// RequestID is the request's requestId, "" when it had none.
	RequestID string
	// MachineType is the machine type a setMachineType set; Labels the
	// labels a setLabels set or a snapshot was created with; Snapshot
	// the relative name of the snapshot a createSnapshot made.
	MachineType string
	Labels      map[string]string
	Snapshot    string
	// Lifecycle is the lifecycle configuration a storage.buckets.patch
	// left the bucket with (Resource is then the bucket's name), Labels
	// its labels.
	Lifecycle []*raw.BucketLifecycleRule
}

// Mutations returns the changes applied so far, in order.
func (s *Server) Mutations() []Mutation {
	s.Estate.Lock()
	defer s.Estate.Unlock()
	return slices.Clone(s.mutations)
}

// request is one routed request.
type request struct {
	r       *http.Request
	method  string   // the API method
	project string   // "" for Resource Manager
	parts   []string // the path after /compute/v1/projects/{project}/
}

// computePrefix is the path of every Compute Engine v1 project resource.
const computePrefix = "/compute/v1/projects/"

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, storagePrefix) {
		s.serveStorageRequest(w, r)
		return
	}
	req := &request{r: r}
	switch {
	case r.URL.Path == "/v3/projects:search":
		req.method = "cloudresourcemanager.projects.search"
	case strings.HasPrefix(r.URL.Path, computePrefix):
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, computePrefix), "/")
		req.project, req.parts = parts[0], parts[1:]
		req.method = computeMethod(r.Method, req.parts)
	}
	e := s.Estate
	e.Lock()
	defer e.Unlock()
	if req.method == "" {
		writeError(w, apiErr(http.StatusNotImplemented, "notImplemented", "the fake does not serve "+r.Method+" "+r.URL.Path))
		return
	}
	s.calls[req.method]++
	if f := s.takeFault(r); f != nil {
		f.write(w)
		return
	}
	if req.project != "" && s.denied[req.project] {
		writeError(w, apiErr(http.StatusForbidden, "forbidden", "Required '"+req.method+"' permission for 'projects/"+req.project+"'"))
		return
	}
	if req.project != "" && e.Projects[req.project] == nil {
		writeError(w, apiErr(http.StatusNotFound, "notFound", "The resource 'projects/"+req.project+"' was not found"))
		return
	}
	msg, aerr := s.route(req)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeMessage(w, r, msg)
}

// The collections the fake serves, by the path segment that names them
// in each scope, as the discovery document names them.
var (
	globalCollections = map[string]string{"snapshots": "snapshots", "addresses": "globalAddresses", "operations": "globalOperations"}
	zoneCollections   = map[string]string{"instances": "instances", "disks": "disks", "machineTypes": "machineTypes", "operations": "zoneOperations"}
	regionCollections = map[string]string{"disks": "regionDisks", "addresses": "addresses", "operations": "regionOperations"}
)

// actions are the methods besides get the fake serves on each
// collection.
var actions = map[string][]string{
	"instances":        {"stop", "start", "setMachineType", "setLabels"},
	"disks":            {"delete", "createSnapshot", "setLabels"},
	"regionDisks":      {"delete", "createSnapshot", "setLabels"},
	"addresses":        {"delete", "setLabels"},
	"globalAddresses":  {"delete", "setLabels"},
	"snapshots":        {"delete", "setLabels"},
	"zoneOperations":   {"wait"},
	"regionOperations": {"wait"},
	"globalOperations": {"wait"},
}

// computeMethod names the API method of a Compute Engine request from
// its HTTP method and the path after the project, "" when the fake does
// not serve it.
func computeMethod(verb string, p []string) string {
	n := len(p)
	switch {
	case n == 2 && p[0] == "aggregated" && verb == http.MethodGet:
		switch p[1] {
		case "instances", "disks", "addresses", "machineTypes":
			return "compute." + p[1] + ".aggregatedList"
		}
	case n == 2 && p[0] == "global" && p[1] == "snapshots" && verb == http.MethodGet:
		return "compute.snapshots.list"
	case n < 3:
		return ""
	}
	var collection string
	switch {
	case p[0] == "global" && n >= 3:
		collection = globalCollections[p[1]]
		p = p[2:]
	case p[0] == "zones" && n >= 4:
		collection = zoneCollections[p[2]]
		p = p[3:]
	case p[0] == "regions" && n >= 4:
		collection = regionCollections[p[2]]
		p = p[3:]
	}
	switch {
	case collection == "":
	case len(p) == 1 && verb == http.MethodGet:
		return "compute." + collection + ".get"
	case len(p) == 1 && verb == http.MethodDelete && slices.Contains(actions[collection], "delete"):
		return "compute." + collection + ".delete"
	case len(p) == 2 && verb == http.MethodPost && slices.Contains(actions[collection], p[1]):
		return "compute." + collection + "." + p[1]
	}
	return ""
}

// route serves a request that passed the faults and checks; the lock is
// held.
func (s *Server) route(req *request) (proto.Message, *apiError) {
	switch req.method {
	case "cloudresourcemanager.projects.search":
		return s.searchProjects(req)
	case "compute.instances.aggregatedList", "compute.disks.aggregatedList", "compute.addresses.aggregatedList", "compute.machineTypes.aggregatedList":
		return s.aggregatedList(req)
	case "compute.snapshots.list":
		return s.listSnapshots(req)
	}
	_, action, _ := strings.Cut(strings.TrimPrefix(req.method, "compute."), ".")
	switch action {
	case "get":
		return s.get(req)
	case "wait":
		return s.waitOperation(req)
	}
	return s.mutate(req)
}

// resourceName is the relative name of the resource a request names
// (its path up to the resource's own name).
func (req *request) resourceName() string {
	p := req.parts
	switch p[0] {
	case "global":
		p = p[:3]
	default:
		p = p[:4]
	}
	return "projects/" + req.project + "/" + strings.Join(p, "/")
}

// location is the zone or region a zonal or regional request names.
func (req *request) location() string {
	if req.parts[0] == "global" {
		return ""
	}
	return req.parts[1]
}

// apiError is an error answer in Google's JSON error shape.
type apiError struct {
	code    int
	reason  string
	message string
}

func apiErr(code int, reason, message string) *apiError {
	return &apiError{code: code, reason: reason, message: message}
}

func notFound(id string) *apiError {
	return apiErr(http.StatusNotFound, "notFound", "The resource '"+id+"' was not found")
}

// writeError answers err in Google's JSON error shape, with the
// errors[].reason the REST clients' googleapi.Error reads (see
// writeGoogleError).
func writeError(w http.ResponseWriter, err *apiError) {
	writeGoogleError(w, err.code, err.reason, "", err.message)
}

// writeMessage answers a message in the protocol's JSON: proto JSON
// names, uint64 IDs as strings, and enum numbers where the request asks
// for them ($alt=json;enum-encoding=int, as the Resource Manager client
// does).
func writeMessage(w http.ResponseWriter, r *http.Request, m proto.Message) {
	opts := protojson.MarshalOptions{UseEnumNumbers: strings.Contains(r.URL.Query().Get("$alt"), "enum-encoding=int")}
	b, err := opts.Marshal(m)
	if err != nil {
		writeError(w, apiErr(http.StatusInternalServerError, "internalError", "encode the answer: "+err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(b)
}
