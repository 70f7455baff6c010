package gcpfunc

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud"
	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/gcpfake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/gcpcloud/pubsubqueue"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pipeline"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
)

const (
	opsProject     = "cloudtrim-ops"
	lakeBucket     = "cloudtrim-lake"
	e2eExportTable = "cloudtrim-ops.billing.gcp_billing_export_v1_0A1B2C_3D4E5F_6A7B8C"
)

// gcpDeployment is what infra/gcp deploys, as a test sees it: the
// functions behind the Functions Framework's server, the lake in
// fake-gcs-server, the actions topic in pstest, and Compute Engine,
// Cloud Monitoring, the Billing Catalog and the BigQuery export served
// by gcpfake from the simulated estate's Google Cloud part. The test
// plays Eventarc: it turns the topic's messages and the bucket's objects
// into CloudEvents.
type gcpDeployment struct {
	est      *simcloud.Estate
	compute  *gcpfake.Server
	estate   *gcpfake.Estate
	deps     Deps
	cfg      Config
	lake     *lake.Lake
	queue    *pubsubqueue.Queue // the actions subscription, pulled by the test
	projects []string
	secret   []byte
	app      *App
}

func newGCPDeployment(t *testing.T) *gcpDeployment {
	t.Helper()
	ctx := context.Background()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	// Object storage prices give the estate buckets, so that the
	// pipeline reads their lifecycle and metrics and tiers one.
	est, err := simcloud.New(simcloud.Demo(time.Now().UTC().Truncate(time.Hour)), pricing.WithObjectStorage(prices))
	if err != nil {
		t.Fatal(err)
	}
	d := &gcpDeployment{est: est, projects: est.Accounts(domain.GCP), secret: []byte("gcp-e2e-approval-secret-0123456789")}

	fe, err := gcpfake.FromSim(ctx, est, prices)
	if err != nil {
		t.Fatal(err)
	}
	// Operations complete at once: the provider's polling has its own tests.
	d.estate = fe
	d.compute = gcpfake.NewServer(fe, gcpfake.Options{OperationPolls: -1})
	t.Cleanup(d.compute.Close)
	mon := gcpfake.NewMonitoring()
	mon.SetSource(gcpfake.SimMetricSource(est))
	t.Cleanup(mon.Close)
	cat := gcpfake.NewCatalog()
	skus, err := gcpfake.SimSKUs(est, prices)
	if err != nil {
		t.Fatal(err)
	}
	cat.AddSKUs("services/6F81-5844-456A", skus...)
	t.Cleanup(cat.Close)
	bq := gcpfake.NewBigQuery()
	if err := bq.AddTable(e2eExportTable, gcpfake.PartitionIngestionTime, gcpfake.SimBillingSource(est, false)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bq.Close)

	startGCS(t, lakeBucket)
	if d.lake, err = lake.Open(ctx, "gs://"+lakeBucket); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.lake.Close() })

	ps := pstest.NewServer()
	t.Cleanup(func() { ps.Close() })
	psOpts := []option.ClientOption{option.WithEndpoint(ps.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	d.queue, err = pubsubqueue.New(ctx, pubsubqueue.Config{Project: opsProject, Topic: "cloudtrim-actions", Subscription: "cloudtrim-actions-eventarc",
		DeadLetterTopic: "cloudtrim-actions-dead", DeadLetterSubscription: "cloudtrim-actions-dead-sub", AckDeadline: 30 * time.Second,
		Options: psOpts})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.queue.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.queue.Close() })

	d.deps = Deps{ComputeOptions: d.compute.ClientOptions(), MonitoringOptions: mon.ClientOptions(), StorageOptions: d.compute.StorageClientOptions(),
		CatalogOptions: cat.ClientOptions(), BigQueryOptions: bq.ClientOptions(), PubSubOptions: psOpts}
	d.cfg = Config{LakeURL: "gs://" + lakeBucket, Project: opsProject, Projects: d.projects, BillingExportTable: e2eExportTable,
		ActionsTopic: "projects/" + opsProject + "/topics/cloudtrim-actions", DeadLetterTopic: "projects/" + opsProject + "/topics/cloudtrim-actions-dead",
		MaxDeliveryAttempts: DefaultMaxDeliveryAttempts, OptInTag: "cloudtrim-optin", WebhookSecrets: [][]byte{d.secret}}
	d.start(t, false)
	return d
}

// startGCS serves fake-gcs-server with bucket and points gocloud's
// gcsblob at it (STORAGE_EMULATOR_HOST), as the lake is opened in
// production: by its gs:// URL.
func startGCS(t *testing.T, bucket string) {
	t.Helper()
	srv, err := gcpfake.StartStorage(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket, VersioningEnabled: true})
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host)
}

// start (re)starts the functions with CLOUDTRIM_APPLY=apply, as a new
// revision of the services does.
func (d *gcpDeployment) start(t *testing.T, apply bool) {
	t.Helper()
	if d.app != nil {
		d.app.Close()
	}
	cfg := d.cfg
	cfg.Apply = apply
	app, err := NewApp(context.Background(), cfg, d.deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.app = app
	h := app.Handlers()
	current.Store(&h)
	t.Cleanup(func() { app.Close() })
}

// drain plays Eventarc's push subscription: each message of the actions
// topic goes to actuate as a binary CloudEvent; a 2xx answer acknowledges
// it, any other leaves it for redelivery.
func (d *gcpDeployment) drain(t *testing.T) (handled, failed int) {
	t.Helper()
	ctx := context.Background()
	for range 50 {
		ms, err := d.queue.Receive(ctx, 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			return handled, failed
		}
		for _, m := range ms {
			handled++
			code := binary(t, "/actuate", TypePubSubMessage, "//pubsub.googleapis.com/projects/"+opsProject+"/topics/cloudtrim-actions",
				map[string]any{"subscription": "projects/" + opsProject + "/subscriptions/cloudtrim-actions-eventarc", "deliveryAttempt": m.Attempt,
					"message": map[string]any{"data": base64.StdEncoding.EncodeToString(m.Body), "messageId": m.ID, "publishTime": m.SentAt}})
			if !ok(code) {
				failed++
				if err := d.queue.Nack(ctx, m.ID, 0, "actuate answered "+http.StatusText(code)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := d.queue.Ack(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		if failed > 0 {
			return handled, failed
		}
	}
	t.Fatal("the actions topic did not drain")
	return
}

// requeue sends the plan's approved actions again, as a redelivery.
func (d *gcpDeployment) requeue(t *testing.T, plan domain.Plan) {
	t.Helper()
	ds, err := d.lake.Decisions(context.Background(), plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.Actions {
		if dec, ok := domain.LatestDecisions(ds)[a.ID]; ok && dec.Verdict == domain.Approved {
			b, _ := json.Marshal(domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: dec.ID, Action: a})
			if err := d.queue.Send(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestEndToEndOnGoogleCloud runs collect → optimize → approve → actuate
// through the Functions Framework and the gcpcloud provider against the
// simulated estate's Google Cloud part, exactly as in a project: dry run
// first (the default), then applied, then redelivered.
func TestEndToEndOnGoogleCloud(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline")
	}
	d := newGCPDeployment(t)
	ctx := context.Background()
	start := time.Now()
	phase := func(name string) { t.Logf("%-8s done at %s", name, time.Since(start).Round(time.Millisecond)) }

	// collect: the Scheduler's message, through Eventarc.
	if code := binary(t, "/collect", TypePubSubMessage, "//pubsub.googleapis.com/projects/"+opsProject+"/topics/cloudtrim-collect",
		pubsubData([]byte("{}"), nil, 1)); !ok(code) {
		t.Fatalf("collect answered %d", code)
	}
	snap, err := d.lake.LatestSnapshot(ctx, domain.GCP)
	if err != nil {
		t.Fatalf("no Google Cloud snapshot after collect: %v", err)
	}
	m := snap.Manifest()
	want := 0
	scopes, _ := d.est.Cloud(domain.GCP).Scopes(ctx)
	for _, s := range scopes {
		_ = d.est.Cloud(domain.GCP).Resources(ctx, s, func(rs []domain.Resource) error { want += len(rs); return nil })
	}
	res, series, costs := m.Tables[lake.TableResources].Rows, m.Tables[lake.TableUtilization].Rows, m.Tables[lake.TableCosts].Rows
	if res != int64(want) || series == 0 || costs == 0 {
		t.Fatalf("snapshot %s: %d resources, %d utilization rows, %d cost rows; want the %d simulated Google Cloud resources with series and costs",
			m.RunID, res, series, costs, want)
	}
	for _, s := range m.Scopes {
		if s.Status != collect.ScopeOK {
			t.Fatalf("scope %+v was not read completely", s)
		}
	}
	phase("collect")

	// optimize: the manifest's finalize event, twice (Eventarc delivers
	// at least once): the second reuses the plan.
	obj := map[string]string{"bucket": lakeBucket, "name": snap.Key(), "generation": "1"}
	src := "//storage.googleapis.com/projects/_/buckets/" + lakeBucket
	if code := structured(t, "/optimize", TypeObjectFinalized, src, obj); !ok(code) {
		t.Fatalf("optimize answered %d", code)
	}
	pipe := &pipeline.Pipeline{Lake: d.lake}
	plan, err := pipe.LatestPlan(ctx)
	if err != nil {
		t.Fatalf("no plan after optimize: %v", err)
	}
	gcpActions := 0
	for _, a := range plan.Actions {
		if a.Target.Cloud == domain.GCP {
			gcpActions++
		}
	}
	if gcpActions == 0 {
		t.Fatal("the plan has no Google Cloud actions")
	}
	if code := binary(t, "/optimize", TypeObjectFinalized, src, obj); !ok(code) {
		t.Fatalf("optimize again answered %d", code)
	}
	if again, _ := pipe.LatestPlan(ctx); again.ID != plan.ID {
		t.Fatalf("a redelivered finalize event made plan %s; want %s reused", again.ID, plan.ID)
	}
	phase("optimize")

	// approve: the signed webhook, over HTTP.
	body, err := approve.NewBody(&plan, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	post := func(key []byte) int {
		ts, sig := approve.Sign(key, time.Now(), body)
		req, _ := http.NewRequest(http.MethodPost, framework+"/approve", bytes.NewReader(body))
		req.Header.Set(approve.HeaderTimestamp, ts)
		req.Header.Set(approve.HeaderSignature, sig)
		return do(t, req)
	}
	if s := post([]byte("not-the-approval-secret-0123456789")); s != http.StatusUnauthorized {
		t.Fatalf("approval with a wrong secret: %d; want 401", s)
	}
	if s := post(d.secret); s != http.StatusOK {
		t.Fatalf("approval: %d", s)
	}
	// A message for a project this deployment does not own.
	var first domain.Action
	for _, a := range plan.Actions {
		if a.Target.Cloud == domain.GCP {
			first = a
			break
		}
	}
	foreign := domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: "dec-x", Action: first}
	foreign.Action.Target.Account = "someone-elses-project"
	fb, _ := json.Marshal(foreign)
	if err := d.queue.Send(ctx, fb); err != nil {
		t.Fatal(err)
	}
	phase("approve")

	// actuate, dry run: nothing changes.
	if handled, failed := d.drain(t); handled != gcpActions+1 || failed != 0 {
		t.Fatalf("dry run: handled %d, %d failed; want %d, none", handled, failed, gcpActions+1)
	}
	if n := len(d.compute.Mutations()); n != 0 {
		t.Fatalf("dry run made %d changes at the fake", n)
	}
	dls, err := d.queue.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "someone-elses-project") {
		t.Fatalf("dead letters %+v; want the foreign project's action, refused naming it", dls)
	}
	states, err := d.lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.Actions {
		if a.Target.Cloud != domain.GCP {
			continue
		}
		if st := states[a.ID]; st.Status != domain.StatusDryRun && st.Status != domain.StatusSkipped {
			t.Fatalf("dry run: action %s is %s (%s)", a.ID, st.Status, st.Reason)
		}
	}
	phase("dry run")

	// actuate, applied.
	d.start(t, true)
	d.requeue(t, plan)
	if _, failed := d.drain(t); failed != 0 {
		t.Fatalf("apply: %d failed deliveries", failed)
	}
	states, err = d.lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	applied, tiered := 0, 0
	fe := d.estate
	fe.Lock() // the fake's estate is read under its lock
	for _, a := range plan.Actions {
		if a.Target.Cloud != domain.GCP || states[a.ID].Status != domain.StatusApplied {
			continue
		}
		applied++
		// The change is there, at the fake estate.
		switch {
		case a.After.State == domain.StateDeleted:
			if fe.Disk(a.Target.ID) != nil || fe.Snapshot(a.Target.ID) != nil {
				t.Errorf("action %s applied but %s still exists", a.ID, a.Target.ID)
			}
		case a.After.State == domain.StateReleased:
			if fe.Address(a.Target.ID) != nil {
				t.Errorf("action %s applied but %s still exists", a.ID, a.Target.ID)
			}
		case a.Kind == domain.ActionTierStorage:
			tiered++
			if b := fe.BucketNamed(a.Target.ID); b == nil || b.Labels[gcpcloud.TierLabel] == "" || len(b.Lifecycle) == 0 {
				t.Errorf("action %s applied but bucket %s has no cloudtrim lifecycle rule", a.ID, a.Target.ID)
			}
		case a.Target.Kind == domain.KindVM:
			vm := fe.Instance(a.Target.ID)
			switch {
			case vm == nil:
				t.Errorf("action %s: instance %s is gone", a.ID, a.Target.ID)
			case a.After.SKU != "" && vm.MachineType != a.After.SKU:
				t.Errorf("action %s applied but %s is %s, want %s", a.ID, a.Target.ID, vm.MachineType, a.After.SKU)
			case a.After.State == domain.StateStopped && vm.Status != gcpfake.StatusTerminated:
				t.Errorf("action %s applied but %s is %q, want TERMINATED", a.ID, a.Target.ID, vm.Status)
			}
		}
	}
	fe.Unlock()
	changes := len(d.compute.Mutations())
	if applied == 0 || changes == 0 {
		t.Fatalf("apply: %d actions applied, %d changes at the fake (states %v)", applied, changes, states)
	}
	// The buckets went through collect and optimize: the plan tiers one.
	// Which actions the run's blast-radius cap holds depends on the
	// order of delivery, so the bucket's change is checked when applied.
	planned := 0
	for _, a := range plan.Actions {
		if a.Target.Cloud == domain.GCP && a.Kind == domain.ActionTierStorage {
			planned++
		}
	}
	if planned == 0 {
		t.Fatal("the plan tiers no Google Cloud bucket")
	}
	t.Logf("%d of %d tier_storage actions applied", tiered, planned)
	phase("apply")

	// Redelivery: the same messages twice more change nothing.
	d.requeue(t, plan)
	d.requeue(t, plan)
	d.drain(t)
	if got := len(d.compute.Mutations()); got != changes {
		t.Fatalf("redelivered actions made %d more changes", got-changes)
	}
	for _, a := range plan.Actions {
		if a.Target.Cloud == domain.GCP {
			t.Logf("%s %s %s: %s %s", a.ID, a.Kind, a.Target.ID, states[a.ID].Status, states[a.ID].Reason)
		}
	}
	t.Logf("plan %s: %d Google Cloud actions, %d applied, %d changes at the fake", plan.ID, gcpActions, applied, changes)
}
