package gcpfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
)

const (
	computeProject = "shop-prod-1234"
	computeZone    = "us-central1-a"
)

var computeT0 = time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)

// computeEstate holds one project: running and stopped instances in two
// zones, a boot disk, an orphan disk, an address in use and a reserved
// one, and a snapshot; three zones have machine types.
func computeEstate(t *testing.T) *gcpfake.Estate {
	t.Helper()
	e := gcpfake.NewEstate()
	for _, z := range []string{"us-central1-a", "us-central1-b", "europe-west1-b"} {
		e.MachineTypes[z] = gcpfake.SyntheticMachineTypes
	}
	e.AddProject(gcpfake.NewProject(computeProject))
	add := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"vm-1", "vm-2", "vm-3", "vm-4", "vm-5"} {
		zone := computeZone
		if i == 4 {
			zone = "europe-west1-b"
		}
		status := gcpfake.StatusRunning
		if i == 1 {
			status = gcpfake.StatusTerminated
		}
		add(e.AddInstance(&gcpfake.Instance{Project: computeProject, Zone: zone, Name: name, MachineType: "n2-standard-4", Status: status,
			Labels: map[string]string{"env": "prod"}, Created: computeT0}))
	}
	vm1 := "projects/" + computeProject + "/zones/" + computeZone + "/instances/vm-1"
	add(e.AddDisk(&gcpfake.Disk{Project: computeProject, Zone: computeZone, Name: "vm-1", Type: "pd-balanced", SizeGiB: 50, Users: []string{vm1}, Created: computeT0}))
	add(e.AddDisk(&gcpfake.Disk{Project: computeProject, Zone: computeZone, Name: "orphan", Type: "pd-standard", SizeGiB: 100, Created: computeT0}))
	add(e.AddAddress(&gcpfake.Address{Project: computeProject, Region: "us-central1", Name: "web", Address: "34.0.0.1", Users: []string{vm1}, Created: computeT0}))
	add(e.AddAddress(&gcpfake.Address{Project: computeProject, Region: "us-central1", Name: "spare", Address: "34.0.0.2", Created: computeT0}))
	add(e.AddSnapshot(&gcpfake.Snapshot{Project: computeProject, Name: "snap", SourceDisk: "projects/" + computeProject + "/zones/" + computeZone + "/disks/vm-1",
		DiskSizeGiB: 50, StorageLocations: []string{"us"}, Created: computeT0}))
	return e
}

// clients are the SDK's REST clients pointed at a server.
type clients struct {
	instances *compute.InstancesClient
	disks     *compute.DisksClient
	addresses *compute.AddressesClient
	snapshots *compute.SnapshotsClient
	zoneOps   *compute.ZoneOperationsClient
}

func computeClients(t *testing.T, opts gcpfake.Options) (*gcpfake.Server, clients) {
	t.Helper()
	srv := gcpfake.NewServer(computeEstate(t), opts)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	var c clients
	var err error
	must := func() {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	c.instances, err = compute.NewInstancesRESTClient(ctx, srv.ClientOptions()...)
	must()
	c.disks, err = compute.NewDisksRESTClient(ctx, srv.ClientOptions()...)
	must()
	c.addresses, err = compute.NewAddressesRESTClient(ctx, srv.ClientOptions()...)
	must()
	c.snapshots, err = compute.NewSnapshotsRESTClient(ctx, srv.ClientOptions()...)
	must()
	c.zoneOps, err = compute.NewZoneOperationsRESTClient(ctx, srv.ClientOptions()...)
	must()
	return srv, c
}

// apiError returns the HTTP status and first reason of an SDK error.
func apiError(err error) (int, string) {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return 0, ""
	}
	if len(gerr.Errors) == 0 {
		return gerr.Code, ""
	}
	return gerr.Code, gerr.Errors[0].Reason
}

// TestAggregatedListPages lists instances two at a time: every instance
// comes once, in scope and name order, and each page names the scopes
// it has nothing for in a NO_RESULTS_ON_PAGE warning.
func TestAggregatedListPages(t *testing.T) {
	srv, c := computeClients(t, gcpfake.Options{})
	it := c.instances.AggregatedList(context.Background(), &computepb.AggregatedListInstancesRequest{Project: computeProject, MaxResults: proto.Uint32(2)})
	var names, warned []string
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if w := pair.Value.GetWarning(); w != nil {
			if w.GetCode() != "NO_RESULTS_ON_PAGE" || w.GetData()[0].GetValue() != pair.Key {
				t.Errorf("warning of %s = %v; want NO_RESULTS_ON_PAGE naming the scope", pair.Key, w)
			}
			warned = append(warned, pair.Key)
		}
		for _, in := range pair.Value.GetInstances() {
			names = append(names, pair.Key+"/"+in.GetName())
			if in.GetId() != gcpfake.NumericID(strings.TrimPrefix(in.GetSelfLink(), gcpfake.SelfLinkBase)) {
				t.Errorf("instance %s has id %d; want NumericID of its relative name", in.GetName(), in.GetId())
			}
		}
	}
	want := []string{"zones/europe-west1-b/vm-5", "zones/us-central1-a/vm-1", "zones/us-central1-a/vm-2", "zones/us-central1-a/vm-3", "zones/us-central1-a/vm-4"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("instances listed (-want +got):\n%s", diff)
	}
	if n := srv.Calls("compute.instances.aggregatedList"); n != 3 {
		t.Errorf("%d pages; want 3 (5 instances, 2 a page)", n)
	}
	// Page 1: europe-west1-b and us-central1-a hold items, us-central1-b
	// warns; pages 2 and 3: both others warn.
	if len(warned) != 5 || !slices.Contains(warned, "zones/us-central1-b") {
		t.Errorf("scopes warned of %v; want us-central1-b on every page and europe-west1-b on the last two", warned)
	}
}

func TestInstanceEncoding(t *testing.T) {
	_, c := computeClients(t, gcpfake.Options{})
	in, err := c.instances.Get(context.Background(), &computepb.GetInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-1"})
	if err != nil {
		t.Fatal(err)
	}
	base := gcpfake.SelfLinkBase + "projects/" + computeProject + "/zones/" + computeZone
	got := []string{in.GetStatus(), in.GetMachineType(), in.GetZone(), in.GetCreationTimestamp(), in.GetDisks()[0].GetSource(),
		in.GetNetworkInterfaces()[0].GetAccessConfigs()[0].GetNatIP(), in.GetLabelFingerprint()}
	want := []string{"RUNNING", base + "/machineTypes/n2-standard-4", base, "2026-05-04T03:02:01.000+00:00", base + "/disks/vm-1", "34.0.0.1",
		gcpfake.LabelFingerprint(map[string]string{"env": "prod"})}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("instance (-want +got):\n%s", diff)
	}
	d, err := c.disks.Get(context.Background(), &computepb.GetDiskRequest{Project: computeProject, Zone: computeZone, Disk: "vm-1"})
	if err != nil || d.GetUsers()[0] != base+"/instances/vm-1" || d.GetSizeGb() != 50 || d.GetStatus() != "READY" {
		t.Errorf("disk = %v, %v; want READY, 50 GiB, used by vm-1", d, err)
	}
	a, err := c.addresses.Get(context.Background(), &computepb.GetAddressRequest{Project: computeProject, Region: "us-central1", Address: "spare"})
	if err != nil || a.GetStatus() != "RESERVED" || a.GetAddressType() != "EXTERNAL" || len(a.GetUsers()) != 0 {
		t.Errorf("address = %v, %v; want RESERVED, EXTERNAL, no users", a, err)
	}
	if _, err := c.instances.Get(context.Background(), &computepb.GetInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-9"}); !isAPI(err, 404, "notFound") {
		t.Errorf("get of a missing instance = %v; want 404 notFound", err)
	}
}

func isAPI(err error, code int, reason string) bool {
	c, r := apiError(err)
	return c == code && r == reason
}

// TestOperationsAndRequestIDs stops an instance: it reads STOPPING until
// its operation has been polled OperationPolls times, then TERMINATED; a
// second stop with the same requestId answers the same operation and
// applies nothing.
func TestOperationsAndRequestIDs(t *testing.T) {
	srv, c := computeClients(t, gcpfake.Options{OperationPolls: 3})
	ctx := context.Background()
	rid := "6f9619ff-8b86-4011-b42d-00cf4fc964ff"
	req := &computepb.StopInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-1", RequestId: proto.String(rid)}
	op, err := c.instances.Stop(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	status := func() string {
		srv.Estate.Lock()
		defer srv.Estate.Unlock()
		return srv.Estate.Instance("projects/" + computeProject + "/zones/" + computeZone + "/instances/vm-1").Status
	}
	for i := range 3 {
		if op.Done() || status() != gcpfake.StatusStopping {
			t.Fatalf("before poll %d the operation is done %v, the instance %s; want running and STOPPING", i+1, op.Done(), status())
		}
		if err := op.Poll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !op.Done() || status() != gcpfake.StatusTerminated || op.Proto().GetOperationType() != "stop" || op.Proto().GetProgress() != 100 {
		t.Fatalf("after 3 polls: done %v, %s, %v; want DONE and TERMINATED", op.Done(), status(), op.Proto())
	}
	again, err := c.instances.Stop(ctx, req)
	if err != nil || again.Name() != op.Name() || !again.Done() {
		t.Fatalf("stop with the same requestId = %v, %v; want operation %s, DONE", again, err, op.Name())
	}
	want := []gcpfake.Mutation{{Method: "compute.instances.stop", Resource: "projects/" + computeProject + "/zones/" + computeZone + "/instances/vm-1",
		Region: "us-central1", RequestID: rid}}
	if diff := cmp.Diff(want, srv.Mutations()); diff != "" {
		t.Errorf("mutations (-want +got):\n%s", diff)
	}
	// The wait method ends an operation at once.
	op2, err := c.instances.Start(ctx, &computepb.StartInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-1"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.zoneOps.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: computeProject, Zone: computeZone, Operation: op2.Name()})
	if err != nil || done.GetStatus() != computepb.Operation_DONE || status() != gcpfake.StatusRunning {
		t.Fatalf("wait = %v, %v, instance %s; want DONE and RUNNING", done, err, status())
	}
	// A requestId that is not a UUID is refused.
	_, err = c.instances.Stop(ctx, &computepb.StopInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-1", RequestId: proto.String("retry-1")})
	if !isAPI(err, 400, "invalid") {
		t.Errorf("stop with requestId retry-1 = %v; want 400 invalid", err)
	}
}

func TestRegionalAndGlobalOperations(t *testing.T) {
	srv, c := computeClients(t, gcpfake.Options{OperationPolls: -1})
	ctx := context.Background()
	op, err := c.addresses.Delete(ctx, &computepb.DeleteAddressRequest{Project: computeProject, Region: "us-central1", Address: "spare"})
	if err != nil || !op.Done() || !strings.HasSuffix(op.Proto().GetRegion(), "/regions/us-central1") {
		t.Fatalf("addresses.delete = %v, %v; want a regional operation DONE at once", op, err)
	}
	if err := op.Poll(ctx); err != nil {
		t.Fatalf("poll of the regional operation: %v", err)
	}
	sop, err := c.snapshots.Delete(ctx, &computepb.DeleteSnapshotRequest{Project: computeProject, Snapshot: "snap"})
	if err != nil || !sop.Done() || sop.Proto().GetZone() != "" || sop.Proto().GetRegion() != "" {
		t.Fatalf("snapshots.delete = %v, %v; want a global operation", sop, err)
	}
	if err := sop.Poll(ctx); err != nil {
		t.Fatalf("poll of the global operation: %v", err)
	}
	if got := []string{srv.Mutations()[0].Method, srv.Mutations()[1].Method}; !slices.Equal(got, []string{"compute.addresses.delete", "compute.snapshots.delete"}) {
		t.Errorf("mutations %v", got)
	}
}

// TestRefusals checks that the fake refuses what Compute Engine
// refuses, with its status and reason, and applies nothing.
func TestRefusals(t *testing.T) {
	srv, c := computeClients(t, gcpfake.Options{})
	ctx := context.Background()
	setType := func(name, mt string) error {
		_, err := c.instances.SetMachineType(ctx, &computepb.SetMachineTypeInstanceRequest{Project: computeProject, Zone: computeZone, Instance: name,
			InstancesSetMachineTypeRequestResource: &computepb.InstancesSetMachineTypeRequest{MachineType: proto.String("zones/" + computeZone + "/machineTypes/" + mt)}})
		return err
	}
	labels := func(fp string, l map[string]string) error {
		_, err := c.disks.SetLabels(ctx, &computepb.SetLabelsDiskRequest{Project: computeProject, Zone: computeZone, Resource: "orphan",
			ZoneSetLabelsRequestResource: &computepb.ZoneSetLabelsRequest{Labels: l, LabelFingerprint: proto.String(fp)}})
		return err
	}
	emptyFP := gcpfake.LabelFingerprint(nil)
	for _, tc := range []struct {
		name   string
		call   func() error
		code   int
		reason string
	}{
		{"setMachineType of a running instance", func() error { return setType("vm-1", "n2-standard-2") }, 400, "resourceNotReady"},
		{"setMachineType to an unknown type", func() error { return setType("vm-2", "n9-huge") }, 400, "invalid"},
		{"delete of an attached disk", func() error {
			_, err := c.disks.Delete(ctx, &computepb.DeleteDiskRequest{Project: computeProject, Zone: computeZone, Disk: "vm-1"})
			return err
		}, 400, "resourceInUseByAnotherResource"},
		{"delete of an address in use", func() error {
			_, err := c.addresses.Delete(ctx, &computepb.DeleteAddressRequest{Project: computeProject, Region: "us-central1", Address: "web"})
			return err
		}, 400, "resourceInUseByAnotherResource"},
		{"setLabels with a stale fingerprint", func() error { return labels("c3RhbGU=", map[string]string{"a": "b"}) }, 412, "conditionNotMet"},
		{"setLabels with an invalid label", func() error { return labels(emptyFP, map[string]string{"Team": "web"}) }, 400, "invalid"},
		{"start of a suspended instance", func() error {
			srv.Estate.Lock()
			srv.Estate.Instance("projects/" + computeProject + "/zones/" + computeZone + "/instances/vm-3").Status = gcpfake.StatusSuspended
			srv.Estate.Unlock()
			_, err := c.instances.Start(ctx, &computepb.StartInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-3"})
			return err
		}, 400, "resourceNotReady"},
		{"snapshot under a taken name", func() error {
			_, err := c.disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: computeProject, Zone: computeZone, Disk: "orphan",
				SnapshotResource: &computepb.Snapshot{Name: proto.String("snap")}})
			return err
		}, 409, "alreadyExists"},
		{"snapshot with an invalid name", func() error {
			_, err := c.disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: computeProject, Zone: computeZone, Disk: "orphan",
				SnapshotResource: &computepb.Snapshot{Name: proto.String("Snap_1")}})
			return err
		}, 400, "invalid"},
		{"stop of a missing instance", func() error {
			_, err := c.instances.Stop(ctx, &computepb.StopInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-9"})
			return err
		}, 404, "notFound"},
		{"a project that does not exist", func() error {
			_, err := c.instances.Stop(ctx, &computepb.StopInstanceRequest{Project: "other-project-1", Zone: computeZone, Instance: "vm-1"})
			return err
		}, 404, "notFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !isAPI(err, tc.code, tc.reason) {
				t.Fatalf("%s = %v; want %d %s", tc.name, err, tc.code, tc.reason)
			}
		})
	}
	if n := len(srv.Mutations()); n != 0 {
		t.Errorf("%d mutations applied; want none", n)
	}
	// With the current fingerprint the labels are set.
	if err := labels(emptyFP, map[string]string{"team": "web"}); err != nil {
		t.Errorf("setLabels with the current fingerprint: %v", err)
	}
}

func TestFailedOperation(t *testing.T) {
	srv, c := computeClients(t, gcpfake.Options{})
	ctx := context.Background()
	vm2 := "projects/" + computeProject + "/zones/" + computeZone + "/instances/vm-2"
	srv.FailOperation(vm2, gcpfake.OperationFault{Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Message: "no capacity", HTTPStatus: 503})
	op, err := c.instances.Start(ctx, &computepb.StartInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-2"})
	if err != nil {
		t.Fatal(err)
	}
	err = op.Poll(ctx)
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 503 || !op.Done() {
		t.Fatalf("poll of the failing operation = %v; want a 503 error and the operation DONE", err)
	}
	e := op.Proto().GetError().GetErrors()
	if len(e) != 1 || e[0].GetCode() != "ZONE_RESOURCE_POOL_EXHAUSTED" || e[0].GetMessage() != "no capacity" || op.Proto().GetHttpErrorStatusCode() != 503 {
		t.Fatalf("operation = %v; want its error code, message and httpErrorStatusCode", op.Proto())
	}
	srv.Estate.Lock()
	status := srv.Estate.Instance(vm2).Status
	srv.Estate.Unlock()
	if status != gcpfake.StatusTerminated || len(srv.Mutations()) != 0 {
		t.Errorf("after the failed start the instance is %s with %d mutations; want TERMINATED and none", status, len(srv.Mutations()))
	}
	// The fault was for one operation.
	op, err = c.instances.Start(ctx, &computepb.StartInstanceRequest{Project: computeProject, Zone: computeZone, Instance: "vm-2"})
	if err != nil || op.Poll(ctx) != nil || len(srv.Mutations()) != 1 {
		t.Fatalf("the next start = %v; want applied", err)
	}
}

// get fetches a path of the server with net/http.
func get(t *testing.T, srv *gcpfake.Server, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s answered %q; want JSON", path, b)
	}
	return resp.StatusCode, body
}

func TestWireFaultsAndErrorShape(t *testing.T) {
	srv, _ := computeClients(t, gcpfake.Options{})
	list := "/compute/v1/projects/" + computeProject + "/aggregated/instances"

	srv.Deny(computeProject)
	code, body := get(t, srv, list)
	want := map[string]any{"error": map[string]any{"code": 403.0, "message": "Required 'compute.instances.aggregatedList' permission for 'projects/" + computeProject + "'",
		"status": "PERMISSION_DENIED", "errors": []any{map[string]any{"message": "Required 'compute.instances.aggregatedList' permission for 'projects/" + computeProject + "'",
			"domain": "global", "reason": "forbidden"}}}}
	if diff := cmp.Diff(want, body); code != 403 || diff != "" {
		t.Errorf("denied list: %d (-want +got):\n%s", code, diff)
	}

	srv2, _ := computeClients(t, gcpfake.Options{})
	srv2.Throttle("/aggregated/", 2)
	for i, wantCode := range []int{429, 429, 200} {
		if code, _ := get(t, srv2, list); code != wantCode {
			t.Errorf("request %d = %d; want %d", i+1, code, wantCode)
		}
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{list + "?maxResults=501", 400},
		{list + "?pageToken=bm9wZQ", 400},
		{"/compute/v1/projects/" + computeProject + "/global/images", 501},
	} {
		if code, _ := get(t, srv2, tc.path); code != tc.code {
			t.Errorf("GET %s = %d; want %d", tc.path, code, tc.code)
		}
	}

	srv2.Unreachable("zones/us-central1-a")
	if code, _ := get(t, srv2, list); code != 503 {
		t.Errorf("list with an unreachable zone = %d; want 503", code)
	}
	code, body = get(t, srv2, list+"?returnPartialSuccess=true")
	items, _ := body["items"].(map[string]any)
	if code != 200 || !cmp.Equal(body["unreachables"], []any{"zones/us-central1-a"}) || items["zones/us-central1-a"] != nil || items["zones/europe-west1-b"] == nil {
		t.Errorf("partial list = %d %v; want the zone in unreachables and the others served", code, body)
	}
}

func TestProjectsSearch(t *testing.T) {
	e := gcpfake.NewEstate()
	for _, id := range []string{"proj-c-0001", "proj-a-0001", "proj-b-0001"} {
		e.AddProject(gcpfake.NewProject(id))
	}
	e.Projects["proj-b-0001"].State = gcpfake.ProjectDeleteRequested
	srv := gcpfake.NewServer(e, gcpfake.Options{})
	defer srv.Close()
	c, err := resourcemanager.NewProjectsRESTClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it := c.SearchProjects(context.Background(), &resourcemanagerpb.SearchProjectsRequest{Query: "state:ACTIVE", PageSize: 1})
	var got []string
	for {
		p, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.GetState() != resourcemanagerpb.Project_ACTIVE || !strings.HasPrefix(p.GetName(), "projects/") {
			t.Errorf("project %v; want ACTIVE and named by number", p)
		}
		got = append(got, p.GetProjectId())
	}
	if want := []string{"proj-a-0001", "proj-c-0001"}; !slices.Equal(got, want) || srv.Calls("cloudresourcemanager.projects.search") != 2 {
		t.Errorf("search = %v in %d calls; want %v in 2", got, srv.Calls("cloudresourcemanager.projects.search"), want)
	}
	_, err = c.SearchProjects(context.Background(), &resourcemanagerpb.SearchProjectsRequest{Query: "parent:folders/1"}).Next()
	if !isAPI(err, 400, "badRequest") {
		t.Errorf("search with a query the fake does not know = %v; want 400", err)
	}
}

// TestConcurrentRequests reads and changes the estate from many
// goroutines at once (run with -race).
func TestConcurrentRequests(t *testing.T) {
	srv, c := computeClients(t, gcpfake.Options{OperationPolls: -1})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 10 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			it := c.instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: computeProject, MaxResults: proto.Uint32(2)})
			for {
				if _, err := it.Next(); err != nil {
					if !errors.Is(err, iterator.Done) {
						errs <- err
					}
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			name := []string{"vm-1", "vm-3", "vm-4"}[i%3]
			if _, err := c.instances.Stop(ctx, &computepb.StopInstanceRequest{Project: computeProject, Zone: computeZone, Instance: name}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(srv.Mutations()); n != 10 {
		t.Errorf("%d mutations; want 10", n)
	}
}
