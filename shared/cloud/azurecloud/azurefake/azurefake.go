// Package azurefake serves an in-memory Azure estate through the Azure
// SDK's own fake servers (armcompute, armnetwork, armmonitor,
// armcostmanagement and armsubscriptions fake packages), combined
// behind one policy.Transporter that routes each request by its URL
// path. An SDK client built with Server.ClientOptions talks to the
// estate exactly as it would talk to Azure Resource Manager: the same
// request building, paging (nextLink), long-running operations, error
// responses and retry policy run, only the transport is in memory.
//
// The estate (Estate) is a mutex-guarded set of subscriptions holding
// virtual machines, managed disks, public IP addresses, snapshots, cost
// entries and a metric source. Tests build one by hand, load the Azure
// part of the simulated estate (FromSim) or generate a large one
// (Synthetic). The server injects faults the way Azure shows them:
// 429 with Retry-After, 403 for one subscription, slow responses.
//
// Extension: the Server's fake server factories (Compute, Network,
// Monitor, CostManagement, Subscriptions) are exported; handlers set on
// them before the first request (directly or through Options.Register)
// are served alongside the read handlers this package installs. The
// fake handlers of list operations receive no context; this package
// binds its own list handlers to each request, and every other handler
// finds the request's subscription and URL with RequestFrom(ctx).
package azurefake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	computefake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8/fake"
	costfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement/v3/fake"
	monitorfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor/fake"
	networkfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
	subsfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions/fake"
)

// Power states of a VM: the instance view's "PowerState/<state>" code
// without its prefix.
const (
	PowerRunning      = "running"
	PowerStopped      = "stopped" // stopped from inside or by the API without deallocation: compute still bills
	PowerDeallocated  = "deallocated"
	PowerStarting     = "starting"
	PowerStopping     = "stopping"
	PowerDeallocating = "deallocating"
)

// Disk states, as a managed disk's properties.diskState spells them.
const (
	DiskUnattached = "Unattached"
	DiskAttached   = "Attached"
	DiskReserved   = "Reserved" // attached to a deallocated VM
	DiskActiveSAS  = "ActiveSAS"
)

// The Azure Monitor metrics of a virtual machine the fake serves.
const (
	MetricCPU          = "Percentage CPU"         // percent, averaged
	MetricAvailableMem = "Available Memory Bytes" // bytes, averaged
	MetricNetIn        = "Network In Total"       // bytes per interval
	MetricNetOut       = "Network Out Total"      // bytes per interval
	MetricDiskRead     = "Disk Read Bytes"        // bytes per interval
	MetricDiskWrite    = "Disk Write Bytes"       // bytes per interval
)

// Key returns the form of an Azure resource ID the estate indexes by:
// ARM IDs are case-insensitive, so keys are lower-case.
func Key(id string) string { return strings.ToLower(id) }

// SubscriptionOf returns the subscription ID of an ARM resource ID
// ("/subscriptions/<id>/..."), or "" when id names none.
func SubscriptionOf(id string) string {
	const p = "/subscriptions/"
	if len(id) < len(p) || !strings.EqualFold(id[:len(p)], p) {
		return ""
	}
	rest := id[len(p):]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// NameOf returns the last segment of an ARM resource ID: the resource's
// name.
func NameOf(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return id
}

// ResourceGroupOf returns the resource group an ARM resource ID names.
func ResourceGroupOf(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

// VM is a virtual machine.
type VM struct {
	ID       string
	Location string
	// Size is the VM size ("Standard_D2s_v5").
	Size  string
	Zones []string
	Tags  map[string]string
	// PowerState is one of the Power* constants; empty means the
	// instance view reports no power state.
	PowerState string
	// ProvisioningState is "Succeeded" when empty.
	ProvisioningState string
	TimeCreated       time.Time
	OSDiskID          string
	DataDiskIDs       []string
	// NICID is the VM's network interface; empty means one named
	// "<vm>-nic" in the VM's resource group (see NICOf).
	NICID string
}

// NICOf returns the ID of vm's network interface.
func NICOf(vm *VM) string {
	if vm.NICID != "" {
		return vm.NICID
	}
	return "/subscriptions/" + SubscriptionOf(vm.ID) + "/resourceGroups/" + ResourceGroupOf(vm.ID) +
		"/providers/Microsoft.Network/networkInterfaces/" + NameOf(vm.ID) + "-nic"
}

// IPConfigurationOf returns the ID of the IP configuration of vm's
// network interface that a public IP is associated with.
func IPConfigurationOf(vm *VM) string { return NICOf(vm) + "/ipConfigurations/ipconfig1" }

// Disk is a managed disk.
type Disk struct {
	ID       string
	Location string
	// SKU is the storage account type ("Premium_LRS").
	SKU string
	// Tier is the performance tier ("P10"), empty for none.
	Tier    string
	SizeGiB int32
	IOPS    int64
	MBps    int64
	// State is one of the Disk* constants.
	State string
	// ManagedBy is the ID of the VM the disk is attached to.
	ManagedBy   string
	Zones       []string
	Tags        map[string]string
	TimeCreated time.Time
}

// PublicIP is a public IP address.
type PublicIP struct {
	ID       string
	Location string
	// SKU is "Standard" or "Basic".
	SKU string
	// Version is "IPv4" or "IPv6".
	Version    string
	Address    string
	Allocation string // "Static" or "Dynamic"
	// IPConfigurationID is the IP configuration (of a network interface,
	// load balancer or gateway) the address is associated with.
	IPConfigurationID string
	// NATGatewayID is the NAT gateway the address serves.
	NATGatewayID string
	Zones        []string
	Tags         map[string]string
}

// Snapshot is a managed disk snapshot.
type Snapshot struct {
	ID       string
	Location string
	// SKU is the storage account type ("Standard_LRS").
	SKU          string
	SizeGiB      int32
	SourceDiskID string
	Incremental  bool
	TimeCreated  time.Time
	// ProvisioningState is "Succeeded" when empty.
	ProvisioningState string
	Tags              map[string]string
}

// VMSize is what the resource SKUs and VM sizes APIs say about one VM
// size.
type VMSize struct {
	Name      string
	VCPUs     int32
	MemoryMiB int32
	// GPUs is the number of GPUs; Arch is the CpuArchitectureType
	// capability, "x64" when empty, or "Arm64".
	GPUs int32
	Arch string
}

// CostEntry is one day of one charge of a subscription, as Cost
// Management aggregates it. The string fields are the query API's
// grouping dimensions.
type CostEntry struct {
	Date             time.Time // the UTC day
	ResourceID       string
	ResourceType     string
	ResourceLocation string
	ConsumedService  string
	MeterCategory    string
	MeterSubcategory string
	Meter            string
	MeterID          string
	ChargeType       string // Usage, Purchase, UnusedReservation ...
	PricingModel     string // OnDemand, Reservation, SavingsPlan, Spot
	BenefitID        string
	BenefitName      string
	Frequency        string // UsageBased, Recurring, OneTime
	Currency         string
	// ActualCost is what the ActualCost dataset charges, AmortizedCost
	// what the AmortizedCost dataset charges.
	ActualCost    float64
	AmortizedCost float64
	Quantity      float64
}

// Subscription is one subscription and what it holds. Its maps are
// keyed by Key(ID).
type Subscription struct {
	ID       string
	Name     string
	State    string // "Enabled" when empty
	TenantID string

	VMs       map[string]*VM
	Disks     map[string]*Disk
	PublicIPs map[string]*PublicIP
	Snapshots map[string]*Snapshot
	Costs     []CostEntry
}

// NewSubscription returns an empty subscription.
func NewSubscription(id, name string) *Subscription {
	return &Subscription{ID: id, Name: name, VMs: map[string]*VM{}, Disks: map[string]*Disk{},
		PublicIPs: map[string]*PublicIP{}, Snapshots: map[string]*Snapshot{}}
}

// MetricSource returns the values of one metric (a Metric* name) of a
// VM at each of n intervals of interval from start, NaN where nothing was
// observed, or nil when the VM does not report the metric at all.
type MetricSource func(vmID, metric string, start time.Time, interval time.Duration, n int) []float64

// Estate is an in-memory Azure estate. Its exported fields are guarded
// by its mutex: lock it around every read or change made while a
// Server serves it. Methods named Find* and Sub expect the caller to
// hold the lock; the Add* methods take it themselves.
type Estate struct {
	sync.Mutex
	// Subscriptions are keyed by Key(ID).
	Subscriptions map[string]*Subscription
	// Sizes are the VM sizes of each location (ARM name, "eastus").
	Sizes map[string][]VMSize
	// Metrics answers metric queries; nil serves no data points.
	Metrics MetricSource
}

// NewEstate returns an empty estate.
func NewEstate() *Estate {
	return &Estate{Subscriptions: map[string]*Subscription{}, Sizes: map[string][]VMSize{}}
}

// AddSubscription adds (or replaces) a subscription.
func (e *Estate) AddSubscription(s *Subscription) {
	e.Lock()
	defer e.Unlock()
	e.Subscriptions[Key(s.ID)] = s
}

// Sub returns the subscription of an ID or a resource ID, or nil. The
// caller holds the lock.
func (e *Estate) Sub(id string) *Subscription {
	if sub := SubscriptionOf(id); sub != "" {
		id = sub
	}
	return e.Subscriptions[Key(id)]
}

// AddVM adds a VM to the subscription its ID names, which must exist.
func (e *Estate) AddVM(vm *VM) error {
	return e.add(vm.ID, func(s *Subscription) { s.VMs[Key(vm.ID)] = vm })
}

// AddDisk adds a disk to the subscription its ID names.
func (e *Estate) AddDisk(d *Disk) error {
	return e.add(d.ID, func(s *Subscription) { s.Disks[Key(d.ID)] = d })
}

// AddPublicIP adds a public IP address to the subscription its ID names.
func (e *Estate) AddPublicIP(ip *PublicIP) error {
	return e.add(ip.ID, func(s *Subscription) { s.PublicIPs[Key(ip.ID)] = ip })
}

// AddSnapshot adds a snapshot to the subscription its ID names.
func (e *Estate) AddSnapshot(sn *Snapshot) error {
	return e.add(sn.ID, func(s *Subscription) { s.Snapshots[Key(sn.ID)] = sn })
}

func (e *Estate) add(id string, fn func(*Subscription)) error {
	e.Lock()
	defer e.Unlock()
	s := e.Sub(id)
	if s == nil {
		return fmt.Errorf("azurefake: %s: no subscription %q in the estate", id, SubscriptionOf(id))
	}
	fn(s)
	return nil
}

// FindVM returns the VM of an ID, or nil. The caller holds the lock.
func (e *Estate) FindVM(id string) *VM {
	if s := e.Sub(id); s != nil {
		return s.VMs[Key(id)]
	}
	return nil
}

// FindDisk returns the disk of an ID, or nil. The caller holds the lock.
func (e *Estate) FindDisk(id string) *Disk {
	if s := e.Sub(id); s != nil {
		return s.Disks[Key(id)]
	}
	return nil
}

// FindPublicIP returns the public IP of an ID, or nil. The caller holds
// the lock.
func (e *Estate) FindPublicIP(id string) *PublicIP {
	if s := e.Sub(id); s != nil {
		return s.PublicIPs[Key(id)]
	}
	return nil
}

// FindSnapshot returns the snapshot of an ID, or nil. The caller holds
// the lock.
func (e *Estate) FindSnapshot(id string) *Snapshot {
	if s := e.Sub(id); s != nil {
		return s.Snapshots[Key(id)]
	}
	return nil
}

// FindSize returns a VM size of a location, or false. The caller holds
// the lock.
func (e *Estate) FindSize(location, size string) (VMSize, bool) {
	for _, s := range e.Sizes[strings.ToLower(location)] {
		if strings.EqualFold(s.Name, size) {
			return s, true
		}
	}
	return VMSize{}, false
}

// sortedKeys returns a map's keys in order: listings are stable.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Options configures a Server.
type Options struct {
	// PageSize is the number of items in a page of an ARM listing
	// (default 1000).
	PageSize int
	// CostPageSize is the number of rows in a page of a Cost Management
	// query (default 1000).
	CostPageSize int
	// Latency is added to every request (a slow service).
	Latency time.Duration
	// FastMetrics serves subscription-scope metrics queries with this
	// package's own encoder of the same answer instead of the SDK fake,
	// whose generated encoder costs about 20 µs a data point: for
	// estates of thousands of VMs (benchmarks).
	FastMetrics bool
	// Register is called with the server at the end of New, before the
	// first request: the place to set extra fake handlers.
	Register []func(*Server)
}

// Server serves an Estate to Azure SDK clients. It implements
// policy.Transporter.
type Server struct {
	Estate *Estate

	// The SDK fake servers. Handlers set on them before the first request
	// are served; list (pager) handlers left nil are served by this
	// package from the estate.
	Compute        computefake.ServerFactory
	Network        networkfake.ServerFactory
	Monitor        monitorfake.ServerFactory
	CostManagement costfake.ServerFactory
	Subscriptions  subsfake.ServerFactory

	opts Options

	once       sync.Once
	transports map[string]policy.Transporter

	mu       sync.Mutex
	faults   []*Fault
	denied   map[string]string // Key(subscription) → error code
	calls    []Call
	listings map[string]policy.Transporter
	order    []string // listing IDs, oldest first
	nextID   int
}

// New returns a server of est. The read handlers (listings of
// subscriptions, VMs, sizes, disks, snapshots, public IPs and network
// interfaces, subscription-scope metrics and the Cost Management query)
// are installed; opts.Register adds more.
func New(est *Estate, opts Options) *Server {
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.CostPageSize <= 0 {
		opts.CostPageSize = 1000
	}
	s := &Server{Estate: est, opts: opts, denied: map[string]string{}, listings: map[string]policy.Transporter{}}
	s.Monitor.MetricsServer.ListAtSubscriptionScopePost = s.metricsPost
	s.Monitor.MetricsServer.ListAtSubscriptionScope = s.metricsGet
	s.CostManagement.QueryServer.Usage = s.costQuery
	for _, fn := range opts.Register {
		fn(s)
	}
	return s
}

// Credential returns a credential the fake accepts: the SDK's fake
// token credential.
func Credential() azcore.TokenCredential { return &azfake.TokenCredential{} }

// ClientOptions returns ARM client options whose transport is s. Retries
// are left to the caller's configuration.
func (s *Server) ClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: s}}
}

// Modules of the ARM API the router knows.
const (
	moduleCompute       = "compute"
	moduleNetwork       = "network"
	moduleMonitor       = "monitor"
	moduleCost          = "costmanagement"
	moduleSubscriptions = "subscriptions"
)

// moduleOf returns the module that serves an ARM URL path, or "".
func moduleOf(path string) string {
	p := strings.ToLower(path)
	switch {
	case strings.Contains(p, "/providers/microsoft.compute/"):
		return moduleCompute
	case strings.Contains(p, "/providers/microsoft.network/"):
		return moduleNetwork
	case strings.Contains(p, "/providers/microsoft.insights/"):
		return moduleMonitor
	case strings.Contains(p, "/providers/microsoft.costmanagement/"):
		return moduleCost
	case p == "/subscriptions" || p == "/tenants" || (strings.HasPrefix(p, "/subscriptions/") && !strings.Contains(p, "/providers/")):
		return moduleSubscriptions
	}
	return ""
}

func (s *Server) init() {
	s.once.Do(func() {
		s.transports = map[string]policy.Transporter{
			moduleCompute:       computefake.NewServerFactoryTransport(&s.Compute),
			moduleNetwork:       networkfake.NewServerFactoryTransport(&s.Network),
			moduleMonitor:       monitorfake.NewServerFactoryTransport(&s.Monitor),
			moduleCost:          costfake.NewServerFactoryTransport(&s.CostManagement),
			moduleSubscriptions: subsfake.NewServerFactoryTransport(&s.Subscriptions),
		}
	})
}

// Request is what the router learned about a request; handlers read it
// with RequestFrom.
type Request struct {
	// API is the SDK's operation name ("VirtualMachinesClient.Get").
	API string
	// Subscription is the subscription the URL path names, "" for none.
	Subscription string
	Method       string
	URL          *url.URL
	// NextPage is true for the second and later pages of a listing.
	NextPage bool
}

type requestKey struct{}

// RequestFrom returns the request a fake handler is serving.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// listingParam is the query parameter that ties the pages of one
// listing to the transport that serves it.
const listingParam = "azurefakeListing"

// fakePageSuffix marks the URL of a fake listing's later pages.
const fakePageSuffix = "/fake_page_"

// maxListings bounds the listings kept open for their next pages.
const maxListings = 256

// Do implements policy.Transporter: it applies the latency, the denied
// subscriptions and the faults, then hands the request to the SDK fake
// server of its module.
//
// Each listing (pager) gets a fake transport of its own, bound to the
// request so the list handler knows its subscription: the SDK's fake
// keeps a listing's pages by URL path, so a listing abandoned halfway
// (a persistent error) would otherwise be resumed by the next listing of
// the same path, and two listings of one path at once would share pages.
func (s *Server) Do(req *http.Request) (*http.Response, error) {
	s.init()
	api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
	info := Request{API: api, Subscription: SubscriptionOf(req.URL.Path), Method: req.Method,
		URL: req.URL, NextPage: strings.Contains(req.URL.Path, fakePageSuffix)}
	module := moduleOf(req.URL.Path)
	if module == "" {
		return nil, fmt.Errorf("azurefake: no fake serves %s %s", req.Method, req.URL.Path)
	}
	if err := sleep(req.Context(), s.opts.Latency); err != nil {
		return nil, err
	}
	if resp, delay := s.intercept(req, info); resp != nil || delay > 0 {
		if err := sleep(req.Context(), delay); err != nil {
			return nil, err
		}
		if resp != nil {
			s.record(info, resp.StatusCode)
			return resp, nil
		}
	}
	req = req.Clone(context.WithValue(req.Context(), requestKey{}, info))
	if s.opts.FastMetrics && (api == "MetricsClient.ListAtSubscriptionScopePost" || api == "MetricsClient.ListAtSubscriptionScope") {
		resp := s.serveMetricsFast(req)
		s.record(info, resp.StatusCode)
		return resp, nil
	}
	var t policy.Transporter
	switch {
	case strings.HasSuffix(api, "Pager") && !info.NextPage:
		t = s.newListing(module, info, req)
	case strings.HasSuffix(api, "Pager"):
		var ok bool
		if t, ok = s.listing(req.URL.Query().Get(listingParam)); !ok {
			s.record(info, http.StatusNotFound)
			return errorResponse(req, http.StatusNotFound, "NotFound", "azurefake: the listing of this page is no longer open"), nil
		}
	default:
		t = s.transports[module]
	}
	resp, err := t.Do(req)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	var re *azcore.ResponseError
	if err != nil && errors.As(err, &re) {
		status = re.StatusCode
	}
	s.record(info, status)
	return resp, err
}

// newListing makes the transport of a new listing and tags the request
// with the listing's ID, which the fake copies into every nextLink.
func (s *Server) newListing(module string, info Request, req *http.Request) policy.Transporter {
	var t policy.Transporter
	switch module {
	case moduleCompute:
		f := s.Compute
		s.bindCompute(&f, info)
		t = computefake.NewServerFactoryTransport(&f)
	case moduleNetwork:
		f := s.Network
		s.bindNetwork(&f, info)
		t = networkfake.NewServerFactoryTransport(&f)
	case moduleSubscriptions:
		f := s.Subscriptions
		s.bindSubscriptions(&f, info)
		t = subsfake.NewServerFactoryTransport(&f)
	default:
		t = s.transports[module]
	}
	s.mu.Lock()
	s.nextID++
	id := strconv.Itoa(s.nextID)
	s.listings[id] = t
	s.order = append(s.order, id)
	if len(s.order) > maxListings {
		delete(s.listings, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()
	q := req.URL.Query()
	q.Set(listingParam, id)
	req.URL.RawQuery = q.Encode()
	return t
}

func (s *Server) listing(id string) (policy.Transporter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.listings[id]
	return t, ok
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Fault makes matching requests fail or slow down.
type Fault struct {
	// API matches the SDK operation name exactly
	// ("VirtualMachinesClient.NewListAllPager") or, ending in ".", every
	// operation of a client ("MetricsClient."); empty matches every one.
	API string
	// Subscription, when set, limits the fault to one subscription.
	Subscription string
	// NextPagesOnly limits the fault to the second and later pages of a
	// listing.
	NextPagesOnly bool
	// Times is how many matching requests the fault affects; 0 means
	// every one until ClearFaults.
	Times int
	// Status and Code are the error answered (Code in the ARM error body
	// and x-ms-error-code); a zero Status only delays.
	Status int
	Code   string
	// RetryAfter is the wait the answer asks for, written in the header
	// RetryAfterHeader: "Retry-After" (whole seconds, rounded up; the
	// default), "retry-after-ms", or a Cost Management
	// "x-ms-ratelimit-microsoft.costmanagement-*-retry-after" header
	// (seconds).
	RetryAfter       time.Duration
	RetryAfterHeader string
	// Delay is waited before answering.
	Delay time.Duration
}

func (f *Fault) matches(info Request) bool {
	switch {
	case f.API != "" && !strings.HasSuffix(f.API, ".") && f.API != info.API:
		return false
	case f.API != "" && strings.HasSuffix(f.API, ".") && !strings.HasPrefix(info.API, f.API):
		return false
	case f.Subscription != "" && !strings.EqualFold(f.Subscription, info.Subscription):
		return false
	case f.NextPagesOnly && !info.NextPage:
		return false
	}
	return true
}

// Fail adds a fault. Faults are tried in the order added; the first
// that matches a request applies to it.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff := f
	s.faults = append(s.faults, &ff)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Deny makes every request about a subscription's resources answer 403
// with code ("AuthorizationFailed" when empty), as for an identity
// without a role on it; the subscription is still listed. Allow lifts
// it.
func (s *Server) Deny(subscription, code string) {
	if code == "" {
		code = "AuthorizationFailed"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[Key(subscription)] = code
}

// Allow lifts a Deny.
func (s *Server) Allow(subscription string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.denied, Key(subscription))
}

// intercept returns the response of a denied subscription or a fault
// with a status, and the delay a fault asks for.
func (s *Server) intercept(req *http.Request, info Request) (*http.Response, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code, ok := s.denied[Key(info.Subscription)]; ok && info.Subscription != "" {
		msg := fmt.Sprintf("The client does not have authorization to perform action %q over scope '/subscriptions/%s' or the scope is invalid.", info.API, info.Subscription)
		return errorResponse(req, http.StatusForbidden, code, msg), 0
	}
	for i, f := range s.faults {
		if !f.matches(info) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		if f.Status == 0 {
			return nil, f.Delay
		}
		code := f.Code
		if code == "" {
			code = strings.ReplaceAll(http.StatusText(f.Status), " ", "") // TooManyRequests
		}
		resp := errorResponse(req, f.Status, code, "azurefake: injected "+code)
		if f.RetryAfter > 0 {
			h := f.RetryAfterHeader
			if h == "" {
				h = "Retry-After"
			}
			v := strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10)
			if strings.EqualFold(h, "retry-after-ms") || strings.EqualFold(h, "x-ms-retry-after-ms") {
				v = strconv.FormatInt(f.RetryAfter.Milliseconds(), 10)
			}
			resp.Header.Set(h, v)
		}
		return resp, f.Delay
	}
	return nil, 0
}

// errorResponse is an ARM error answer.
func errorResponse(req *http.Request, status int, code, message string) *http.Response {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("x-ms-error-code", code)
	return &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: req,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}

// Call is one request the server answered.
type Call struct {
	API          string
	Subscription string
	// Region is the region a subscription-scope metrics query names.
	Region   string
	NextPage bool
	Status   int
}

func (s *Server) record(info Request, status int) {
	c := Call{API: info.API, Subscription: info.Subscription, NextPage: info.NextPage, Status: status}
	if info.URL != nil {
		c.Region = info.URL.Query().Get("region")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// Calls returns the requests answered so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallCount counts the requests of an API (an exact operation name, or a
// client prefix ending in ".").
func (s *Server) CallCount(api string) int {
	f := Fault{API: api}
	n := 0
	for _, c := range s.Calls() {
		if f.matches(Request{API: c.API}) {
			n++
		}
	}
	return n
}

// ResetCalls forgets the requests recorded so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}
