package gcpcloud

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// Resources of the hand-built estate the actions change.
var (
	vmA       = "projects/" + projA + "/zones/us-central1-a/instances/vm-a"
	diskVMA   = "projects/" + projA + "/zones/us-central1-a/disks/vm-a"
	orphan    = "projects/" + projA + "/zones/us-central1-a/disks/orphan"
	shared    = "projects/" + projA + "/regions/us-central1/disks/shared"
	webIP     = "projects/" + projA + "/regions/us-central1/addresses/web-ip"
	spareIP   = "projects/" + projA + "/regions/europe-west1/addresses/spare-ip"
	globalIP  = "projects/" + projA + "/global/addresses/lb-ip"
	oldSnap   = "projects/" + projA + "/global/snapshots/orphan-snap"
	foreignVM = "projects/" + projB + "/zones/us-central1-a/instances/vm-a"
)

func ref(id string) domain.ResourceRef { return domain.ResourceRef{Cloud: domain.GCP, ID: id} }

// actuator serves the hand-built estate to a provider owning projA,
// with operations done on their second poll.
func actuator(t *testing.T) (*gcpfake.Server, *Provider) {
	t.Helper()
	srv := startCompute(t, smallCompute(t), gcpfake.Options{OperationPolls: 2})
	return srv, computeProvider(t, srv, Config{Projects: []string{projA}})
}

// methods lists the methods of the mutations srv applied.
func methods(srv *gcpfake.Server) []string {
	var out []string
	for _, m := range srv.Mutations() {
		out = append(out, m.Method+" "+m.Resource)
	}
	return out
}

func TestTargetChecksTheReference(t *testing.T) {
	_, p := actuator(t)
	for _, tc := range []struct {
		name string
		ref  domain.ResourceRef
		want error
	}{
		{"another cloud", domain.ResourceRef{Cloud: domain.AWS, ID: vmA}, domain.ErrInvalid},
		{"not a relative name", ref("i-0abc"), domain.ErrInvalid},
		{"a collection not changed", ref("projects/" + projA + "/global/images/img"), domain.ErrInvalid},
		{"kind disagrees", domain.ResourceRef{Cloud: domain.GCP, Kind: domain.KindDisk, ID: vmA}, domain.ErrInvalid},
		{"account disagrees", domain.ResourceRef{Cloud: domain.GCP, Account: projB, ID: vmA}, domain.ErrInvalid},
		{"malformed name", ref("projects/" + projA + "/zones/us-central1-a/instances/VM_A"), domain.ErrInvalid},
		{"project not owned", ref(foreignVM), domain.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Get(context.Background(), tc.ref); !errors.Is(err, tc.want) {
				t.Fatalf("Get(%v) = %v; want %v", tc.ref, err, tc.want)
			}
		})
	}
	// A URL names the resource as well as its relative name.
	r, err := p.Get(context.Background(), ref(gcpfake.SelfLinkBase+vmA))
	if err != nil || r.ID != vmA {
		t.Fatalf("Get(URL) = %+v, %v; want %s", r, err, vmA)
	}
	// No project configured: nothing is owned.
	srv := startCompute(t, smallCompute(t), gcpfake.Options{})
	if _, err := computeProvider(t, srv, Config{}).Get(context.Background(), ref(vmA)); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Get without projects configured = %v; want ErrPermission", err)
	}
}

func TestGetReadsLive(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	for _, tc := range []struct {
		id                string
		kind              domain.Kind
		sku, state, attch string
	}{
		{vmA, domain.KindVM, "n2-standard-4", domain.StateRunning, ""},
		{diskVMA, domain.KindDisk, "pd-balanced", domain.StateInUse, vmA},
		{shared, domain.KindDisk, "pd-ssd", domain.StateAvailable, ""},
		{webIP, domain.KindIP, IPSKU, domain.StateAssociated, vmA},
		{globalIP, domain.KindIP, IPUnusedSKU, domain.StateAvailable, ""},
		{oldSnap, domain.KindSnapshot, SnapshotSKU, domain.StateAvailable, orphan},
	} {
		r, err := p.Get(ctx, ref(tc.id))
		if err != nil {
			t.Fatalf("Get(%s): %v", tc.id, err)
		}
		got := [4]string{string(r.Kind), r.SKU, r.State, r.AttachedTo}
		if want := [4]string{string(tc.kind), tc.sku, tc.state, tc.attch}; got != want || r.ID != tc.id || r.Account != projA {
			t.Errorf("Get(%s) = %+v; want kind, SKU, state, attachment %v", tc.id, r, want)
		}
	}
	srv.Estate.Lock()
	delete(srv.Estate.Projects[projA].Disks, orphan)
	srv.Estate.Unlock()
	if _, err := p.Get(ctx, ref(orphan)); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get(deleted disk) = %v; want ErrNotFound", err)
	}
}

// TestStopStartResize walks an instance through the actuator's
// rightsizing: stop, resize, start; each call made again with its token
// changes nothing more.
func TestStopStartResize(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	status := func() (string, string) {
		srv.Estate.Lock()
		defer srv.Estate.Unlock()
		i := srv.Estate.Instance(vmA)
		return i.Status, i.MachineType
	}
	// Resizing a running instance is refused before any call.
	if err := p.Resize(ctx, ref(vmA), "n2-standard-2", "plan/act/resize"); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Resize(running) = %v; want ErrConflict", err)
	}
	for range 2 {
		if err := p.Stop(ctx, ref(vmA), "plan/act/stop"); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	if s, _ := status(); s != gcpfake.StatusTerminated {
		t.Fatalf("after Stop the instance is %s; want TERMINATED", s)
	}
	if n := srv.Calls("compute.zoneOperations.get"); n != 2 {
		t.Errorf("%d operation polls for one stop; want 2 (OperationPolls)", n)
	}
	for _, bad := range []struct {
		sku  string
		want error
	}{{"n9-imaginary-64", domain.ErrConflict}, {"../x", domain.ErrInvalid}, {"", domain.ErrInvalid}} {
		if err := p.Resize(ctx, ref(vmA), bad.sku, "plan/act/resize-bad"); !errors.Is(err, bad.want) {
			t.Errorf("Resize(%q) = %v; want %v", bad.sku, err, bad.want)
		}
	}
	for range 2 {
		if err := p.Resize(ctx, ref(vmA), "n2-standard-2", "plan/act/resize"); err != nil {
			t.Fatalf("Resize: %v", err)
		}
	}
	for range 2 {
		if err := p.Start(ctx, ref(vmA), "plan/act/start"); err != nil {
			t.Fatalf("Start: %v", err)
		}
	}
	if s, mt := status(); s != gcpfake.StatusRunning || mt != "n2-standard-2" {
		t.Fatalf("after stop, resize, start the instance is %s %s; want RUNNING n2-standard-2", s, mt)
	}
	want := []string{"compute.instances.stop " + vmA, "compute.instances.setMachineType " + vmA, "compute.instances.start " + vmA}
	if diff := cmp.Diff(want, methods(srv)); diff != "" {
		t.Errorf("mutations (-want +got):\n%s", diff)
	}
	for _, m := range srv.Mutations() {
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(m.RequestID) {
			t.Errorf("%s carried requestId %q; want a version 5 UUID", m.Method, m.RequestID)
		}
	}
	if r, err := p.Get(ctx, ref(vmA)); err != nil || r.SKU != "n2-standard-2" || r.State != domain.StateRunning {
		t.Errorf("Get after the rightsizing = %+v, %v", r, err)
	}
}

// TestRetryWithTheSameRequestID replays a stop whose answer was lost
// (the instance is reset to RUNNING by hand, as if the first call never
// showed): the same token makes the same requestId, and Compute Engine
// answers with the first operation, applying nothing again.
func TestRetryWithTheSameRequestID(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	if err := p.Stop(ctx, ref(vmA), "plan/act/stop"); err != nil {
		t.Fatal(err)
	}
	srv.Estate.Lock()
	srv.Estate.Instance(vmA).Status = gcpfake.StatusRunning
	srv.Estate.Unlock()
	err := p.Stop(ctx, ref(vmA), "plan/act/stop")
	var gerr *Error
	if !errors.As(err, &gerr) || !strings.Contains(err.Error(), "reads RUNNING") {
		t.Fatalf("Stop replayed = %v; want the verification to see the instance the replay left alone", err)
	}
	if n := len(srv.Mutations()); n != 1 {
		t.Fatalf("%d mutations applied; want 1: the retry carries the first requestId", n)
	}
	if n := srv.Calls("compute.instances.stop"); n != 2 {
		t.Errorf("%d stop calls; want 2 (the second answered with the first operation)", n)
	}
	// Another token is another request.
	if err := p.Stop(ctx, ref(vmA), "plan/act2/stop"); err != nil || len(srv.Mutations()) != 2 {
		t.Fatalf("Stop with a new token = %v, %d mutations; want applied", err, len(srv.Mutations()))
	}
}

func TestStartOfASuspendedInstanceIsAConflict(t *testing.T) {
	srv, p := actuator(t)
	srv.Estate.Lock()
	srv.Estate.Instance(vmA).Status = gcpfake.StatusSuspended
	srv.Estate.Unlock()
	if err := p.Start(context.Background(), ref(vmA), "t"); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Start(suspended) = %v; want ErrConflict", err)
	}
	if r, err := p.Get(context.Background(), ref(vmA)); err != nil || r.State != StateSuspended {
		t.Fatalf("Get(suspended) = %+v, %v; want state %s", r, err, StateSuspended)
	}
	if n := srv.Calls("compute.instances.start"); n != 0 {
		t.Errorf("%d start calls; want none", n)
	}
}

func TestFailedOperationsAreMapped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault gcpfake.OperationFault
		want  error
	}{
		{"quota", gcpfake.OperationFault{Code: "QUOTA_EXCEEDED", Message: "Quota 'CPUS' exceeded. Limit: 24.0 in region us-central1.", HTTPStatus: 403}, domain.ErrThrottled},
		{"no capacity", gcpfake.OperationFault{Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Message: "The zone 'projects/p/zones/us-central1-a' does not have enough resources available to fulfill the request.", HTTPStatus: 503}, domain.ErrConflict},
		{"permission", gcpfake.OperationFault{Code: "IAM_PERMISSION_DENIED", Message: "Required 'compute.instances.start' permission", HTTPStatus: 403}, domain.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, p := actuator(t)
			ctx := context.Background()
			if err := p.Stop(ctx, ref(vmA), "stop"); err != nil {
				t.Fatal(err)
			}
			srv.FailOperation(vmA, tc.fault)
			err := p.Start(ctx, ref(vmA), "start")
			var gerr *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &gerr) || gerr.Reason != tc.fault.Code || gerr.Status != tc.fault.HTTPStatus ||
				!strings.Contains(err.Error(), tc.fault.Message) {
				t.Fatalf("Start whose operation fails with %s = %v; want %v with the code, status and message", tc.fault.Code, err, tc.want)
			}
			srv.Estate.Lock()
			status := srv.Estate.Instance(vmA).Status
			srv.Estate.Unlock()
			if status != gcpfake.StatusTerminated {
				t.Errorf("after the failed start the instance is %s; want TERMINATED", status)
			}
		})
	}
}

func TestOperationTimeoutIsAnErrorOfNoKind(t *testing.T) {
	srv := startCompute(t, smallCompute(t), gcpfake.Options{OperationPolls: 1 << 30})
	p := computeProvider(t, srv, Config{Projects: []string{projA}, OperationTimeout: 20 * time.Millisecond})
	err := p.Stop(context.Background(), ref(vmA), "stop")
	var gerr *Error
	if err == nil || !errors.As(err, &gerr) || !strings.Contains(err.Error(), "may still complete") {
		t.Fatalf("Stop whose operation never ends = %v; want an *Error saying it may still complete", err)
	}
	for _, kind := range []error{domain.ErrThrottled, domain.ErrConflict, domain.ErrNotFound, context.DeadlineExceeded} {
		if errors.Is(err, kind) {
			t.Errorf("Stop timed out = %v; want no kind, not %v", err, kind)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Start(ctx, ref(vmA), "start"); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with a cancelled context = %v; want context.Canceled", err)
	}
}

func TestSnapshotThenDelete(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	tags := map[string]string{"cloudtrim-action": "act-1a2b", "cloudtrim-plan": "Plan 2026/11/23", "Owner Team": "FinOps"}
	var ids []string
	for range 2 {
		id, err := p.Snapshot(ctx, ref(orphan), tags, "plan/act-1a2b/snapshot")
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] || !strings.HasPrefix(ids[0], "projects/"+projA+"/global/snapshots/cloudtrim-orphan-") {
		t.Fatalf("Snapshot ids %v; want one snapshot named after the disk", ids)
	}
	srv.Estate.Lock()
	sn := srv.Estate.Snapshot(ids[0])
	srv.Estate.Unlock()
	wantLabels := map[string]string{"cloudtrim-action": "act-1a2b", "cloudtrim-plan": "plan_2026_11_23", "owner_team": "finops",
		TokenLabel: tokenValue("plan/act-1a2b/snapshot")}
	if sn == nil || sn.SourceDisk != orphan || !cmp.Equal(wantLabels, sn.Labels) {
		t.Fatalf("snapshot %s = %+v; want of %s labelled %v", ids[0], sn, orphan, wantLabels)
	}
	got, err := p.Get(ctx, ref(ids[0]))
	if err != nil || got.AttachedTo != orphan || got.Region != "us-central1" || got.SizeGiB != 200 {
		t.Fatalf("Get(new snapshot) = %+v, %v; want of %s, filed in the disk's region", got, err, orphan)
	}
	for range 2 {
		if err := p.Delete(ctx, ref(orphan), "plan/act-1a2b/delete"); err != nil {
			t.Fatalf("Delete(disk): %v", err)
		}
	}
	want := []string{"compute.disks.createSnapshot " + orphan, "compute.disks.delete " + orphan}
	if diff := cmp.Diff(want, methods(srv)); diff != "" {
		t.Errorf("mutations (-want +got):\n%s", diff)
	}
	// The same token once the disk is gone: the snapshot is still found.
	if _, err := p.Snapshot(ctx, ref(orphan), tags, "plan/act-1a2b/snapshot"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Snapshot of a deleted disk = %v; want ErrNotFound", err)
	}
	// A regional disk is snapshotted through the regional API.
	if _, err := p.Snapshot(ctx, ref(shared), nil, "plan/act-2/snapshot"); err != nil {
		t.Fatalf("Snapshot(regional disk): %v", err)
	}
	if n := srv.Calls("compute.regionDisks.createSnapshot"); n != 1 {
		t.Errorf("%d regional createSnapshot calls; want 1", n)
	}
}

func TestSnapshotRefusals(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	if _, err := p.Snapshot(ctx, ref(orphan), map[string]string{"CloudTrim-OptIn": "true"}, "t"); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Snapshot labelled with the opt-in label = %v; want ErrPermission", err)
	}
	if _, err := p.Snapshot(ctx, ref(orphan), nil, ""); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Snapshot without a token = %v; want ErrInvalid", err)
	}
	if _, err := p.Snapshot(ctx, ref(vmA), nil, "t"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Snapshot of an instance = %v; want ErrInvalid", err)
	}
	// A snapshot of the token's name from another disk is not ours.
	name := snapshotName(orphan, "orphan", "taken")
	if err := srv.Estate.AddSnapshot(&gcpfake.Snapshot{Project: projA, Name: name, SourceDisk: diskVMA, DiskSizeGiB: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Snapshot(ctx, ref(orphan), nil, "taken"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Snapshot whose name is taken by another disk's snapshot = %v; want ErrConflict", err)
	}
	if n := len(srv.Mutations()); n != 0 {
		t.Errorf("%d mutations; want none", n)
	}
}

func TestDeleteAndReleaseRefuseWhatIsInUse(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	if err := p.Delete(ctx, ref(diskVMA), "t"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Delete(attached disk) = %v; want ErrConflict", err)
	}
	if err := p.Release(ctx, ref(webIP), "t"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Release(address in use) = %v; want ErrConflict", err)
	}
	if err := p.Delete(ctx, ref(vmA), "t"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Delete(instance) = %v; want ErrInvalid", err)
	}
	if n := srv.Calls("compute.disks.delete") + srv.Calls("compute.addresses.delete"); n != 0 {
		t.Errorf("%d delete calls; want none: refused on the live read", n)
	}
	// The API refuses as well, should the read be stale.
	client := p.disks
	_, err := client.Delete(ctx, &computepb.DeleteDiskRequest{Project: projA, Zone: "us-central1-a", Disk: "vm-a"})
	err = mapErr("delete", err)
	var gerr *Error
	if !errors.Is(err, domain.ErrConflict) || !errors.As(err, &gerr) || gerr.Reason != "resourceInUseByAnotherResource" || gerr.Status != http.StatusBadRequest {
		t.Errorf("disks.delete of an attached disk = %v; want 400 resourceInUseByAnotherResource, ErrConflict", err)
	}
}

func TestReleaseAndDeleteSnapshot(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	for range 2 {
		for _, id := range []string{spareIP, globalIP} {
			if err := p.Release(ctx, ref(id), "plan/"+id+"/release"); err != nil {
				t.Fatalf("Release(%s): %v", id, err)
			}
		}
		if err := p.Delete(ctx, ref(oldSnap), "plan/snap/delete"); err != nil {
			t.Fatalf("Delete(snapshot): %v", err)
		}
	}
	want := []string{"compute.addresses.delete " + spareIP, "compute.globalAddresses.delete " + globalIP, "compute.snapshots.delete " + oldSnap}
	if diff := cmp.Diff(want, methods(srv)); diff != "" {
		t.Errorf("mutations (-want +got):\n%s", diff)
	}
	for _, id := range []string{spareIP, globalIP, oldSnap} {
		if _, err := p.Get(ctx, ref(id)); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Get(%s) after its deletion = %v; want ErrNotFound", id, err)
		}
	}
}

func TestTag(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{vmA, orphan, shared, webIP, globalIP, oldSnap} {
		t.Run(id[strings.LastIndexByte(id, '/')+1:], func(t *testing.T) {
			srv, p := actuator(t)
			for range 2 {
				if err := p.Tag(ctx, ref(id), map[string]string{"cloudtrim-schedule": "mon-fri", "Cost Center": "42"}, "plan/act/tag"); err != nil {
					t.Fatalf("Tag: %v", err)
				}
			}
			r, err := p.Get(ctx, ref(id))
			if err != nil || r.Tags["cloudtrim-schedule"] != "mon-fri" || r.Tags["cost_center"] != "42" {
				t.Fatalf("Get after Tag = %+v, %v; want the labels merged", r, err)
			}
			if n := len(srv.Mutations()); n != 1 {
				t.Errorf("%d mutations; want 1 (the second Tag finds the labels set)", n)
			}
		})
	}
	_, p := actuator(t)
	if err := p.Tag(ctx, ref(vmA), map[string]string{"cloudtrim-optin": "true"}, "t"); !errors.Is(err, domain.ErrPermission) {
		t.Errorf("Tag(opt-in label) = %v; want ErrPermission", err)
	}
	if err := p.Tag(ctx, ref(vmA), nil, "t"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Tag(no tags) = %v; want ErrInvalid", err)
	}
}

func TestTagFingerprintRace(t *testing.T) {
	ctx := context.Background()
	t.Run("retried once", func(t *testing.T) {
		srv, p := actuator(t)
		srv.Inject(gcpfake.Fault{Path: "/instances/vm-a/setLabels", Times: 1, Status: http.StatusPreconditionFailed, Reason: "conditionNotMet",
			Message: "Labels fingerprint either invalid or resource labels have changed"})
		if err := p.Tag(ctx, ref(vmA), map[string]string{"team": "web"}, "tag"); err != nil {
			t.Fatalf("Tag after one fingerprint race = %v; want merged again and applied", err)
		}
		if n := srv.Calls("compute.instances.setLabels"); n != 2 || len(srv.Mutations()) != 1 {
			t.Errorf("%d setLabels calls, %d applied; want 2 and 1", n, len(srv.Mutations()))
		}
	})
	t.Run("twice", func(t *testing.T) {
		srv, p := actuator(t)
		srv.Inject(gcpfake.Fault{Path: "/instances/vm-a/setLabels", Times: 2, Status: http.StatusPreconditionFailed, Reason: "conditionNotMet",
			Message: "Labels fingerprint either invalid or resource labels have changed"})
		if err := p.Tag(ctx, ref(vmA), map[string]string{"team": "web"}, "tag"); !errors.Is(err, domain.ErrConflict) {
			t.Fatalf("Tag after two fingerprint races = %v; want ErrConflict", err)
		}
	})
	t.Run("a stale fingerprint on the wire", func(t *testing.T) {
		_, p := actuator(t)
		op, err := p.instances.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{Project: projA, Zone: "us-central1-a", Instance: "vm-a",
			InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{Labels: map[string]string{"a": "b"}, LabelFingerprint: proto.String("c3RhbGU=")}})
		err = mapErr("set labels", err)
		var gerr *Error
		if op != nil || !errors.Is(err, domain.ErrConflict) || !errors.As(err, &gerr) || gerr.Status != http.StatusPreconditionFailed || gerr.Reason != "conditionNotMet" {
			t.Fatalf("setLabels with a stale fingerprint = %v; want 412 conditionNotMet, ErrConflict", err)
		}
	})
}

func TestSetMachineTypeOfARunningInstanceOnTheWire(t *testing.T) {
	_, p := actuator(t)
	_, err := p.instances.SetMachineType(context.Background(), &computepb.SetMachineTypeInstanceRequest{Project: projA, Zone: "us-central1-a", Instance: "vm-a",
		InstancesSetMachineTypeRequestResource: &computepb.InstancesSetMachineTypeRequest{MachineType: proto.String("zones/us-central1-a/machineTypes/n2-standard-2")}})
	err = mapErr("set machine type", err)
	var gerr *Error
	if !errors.Is(err, domain.ErrConflict) || !errors.As(err, &gerr) || gerr.Reason != "resourceNotReady" || gerr.Status != http.StatusBadRequest {
		t.Fatalf("setMachineType of a RUNNING instance = %v; want 400 resourceNotReady, ErrConflict", err)
	}
}

// TestConcurrentActions stops and labels instances of two zones at once.
func TestConcurrentActions(t *testing.T) {
	srv, p := actuator(t)
	ctx := context.Background()
	ids := []string{vmA, "projects/" + projA + "/zones/europe-west1-b/instances/vm-b", "projects/" + projA + "/zones/us-central1-a/instances/vm-c"}
	var wg sync.WaitGroup
	errs := make([]error, 2*len(ids))
	for i, id := range ids {
		wg.Add(2)
		go func() { defer wg.Done(); errs[2*i] = p.Stop(ctx, ref(id), "stop/"+id) }()
		go func() { defer wg.Done(); _, errs[2*i+1] = p.Get(ctx, ref(id)) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Mutations()); n != len(ids) {
		t.Errorf("%d mutations; want %d", n, len(ids))
	}
}

func TestRequestIDAndLabels(t *testing.T) {
	a, b := *requestID("tok", "stop", vmA), *requestID("tok", "start", vmA)
	if a == b || a != *requestID("tok", "stop", vmA) {
		t.Errorf("requestID: stop %s, start %s, stop again %s; want stable and distinct per call", a, b, *requestID("tok", "stop", vmA))
	}
	for _, tc := range []struct {
		in   string
		key  bool
		want string
	}{
		{"Cost Center", true, "cost_center"},
		{"9lives", true, "k_9lives"},
		{"", true, "k_"},
		{"Plan/2026.11", false, "plan_2026_11"},
		{"ünïcode", false, "__n__code"},
	} {
		if got := sanitizeLabel(tc.in, tc.key); got != tc.want || len(got) > 63 {
			t.Errorf("sanitizeLabel(%q, key %v) = %q; want %q", tc.in, tc.key, got, tc.want)
		}
	}
	long1, long2 := sanitizeLabel(strings.Repeat("a", 70), true), sanitizeLabel(strings.Repeat("a", 71), true)
	if len(long1) != 63 || long1 == long2 || !strings.HasPrefix(long1, strings.Repeat("a", 54)+"-") {
		t.Errorf("sanitizeLabel of 70 and 71 a's = %q, %q; want 63 characters, distinct", long1, long2)
	}
	if n := snapshotName(orphan, strings.Repeat("d", 60), "tok"); len(n) > 63 || !regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`).MatchString(n) {
		t.Errorf("snapshotName of a long disk name = %q; want a valid name of at most 63 characters", n)
	}
}
