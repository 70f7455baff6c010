package azfunc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/cloudtrim/cloudtrim/shared/approve"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/azurefake"
	"github.com/cloudtrim/cloudtrim/shared/cloud/azurecloud/storagequeue"
	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/collect"
	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/internal/standin"
	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/pricing"
	"github.com/cloudtrim/cloudtrim/shared/runtime/azfunc"
	"github.com/cloudtrim/cloudtrim/shared/runtime/funcapp"
)

// azureDeployment is the function app of infra/azure as a test sees it:
// the custom handler over HTTP, its lake in an Azurite container, its
// actions queue on Azurite, and Resource Manager served by the SDK's
// fake servers holding the simulated estate's Azure part.
type azureDeployment struct {
	est     *simcloud.Estate
	fake    *azurefake.Server
	changes *azurefake.Actions
	lake    *lake.Lake
	lakeURL string
	queue   *storagequeue.Queue
	qURL    string
	secret  []byte
	subs    []string
	handler *httptest.Server
	prices  *httptest.Server
	app     *azfunc.App
}

func newAzureDeployment(t *testing.T) *azureDeployment {
	t.Helper()
	ctx := context.Background()
	prices, err := pricing.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	est, err := simcloud.New(simcloud.Demo(time.Now().UTC().Truncate(time.Hour)), prices)
	if err != nil {
		t.Fatal(err)
	}
	fe, err := azurefake.FromSim(ctx, est, prices)
	if err != nil {
		t.Fatal(err)
	}
	d := &azureDeployment{est: est, secret: []byte("azure-e2e-approval-secret-0123456789"), subs: est.Accounts(domain.Azure)}
	d.fake = azurefake.New(fe, azurefake.Options{Register: []func(*azurefake.Server){func(s *azurefake.Server) {
		d.changes = azurefake.ServeActions(s)
		// Changes complete at once: the provider's polling is covered by its own tests.
		d.changes.Steps = 0
	}}})

	az := standin.Azurite(t)
	container := az.Container(t)
	u, _ := url.Parse(az.BlobEndpoint)
	t.Setenv("AZURE_STORAGE_ACCOUNT", az.AccountName)
	t.Setenv("AZURE_STORAGE_KEY", az.AccountKey)
	d.lakeURL = fmt.Sprintf("azblob://%s?storage_account=%s&protocol=http&domain=%s", container, az.AccountName, u.Host)
	if d.lake, err = lake.Open(ctx, d.lakeURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.lake.Close() })
	key, err := azqueue.NewSharedKeyCredential(az.AccountName, az.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	d.queue, err = storagequeue.New(storagequeue.Options{ServiceURL: az.QueueEndpoint, QueueName: "cloudtrim-actions", SharedKey: key,
		CreateIfMissing: true, Visibility: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d.qURL = az.QueueEndpoint + "/cloudtrim-actions"
	// The Retail Prices API, answering no prices (the provider's tests
	// cover its paging and mapping): the refresh is then logged as failed
	// and the optimizer keeps the embedded prices.
	d.prices = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"BillingCurrency":"USD","CustomerEntityId":"Default","Items":[],"NextPageLink":null,"Count":0}`))
	}))
	t.Cleanup(d.prices.Close)
	d.start(t, false)
	return d
}

// start (re)starts the custom handler with CLOUDTRIM_APPLY=apply, as a
// changed app setting restarts the function app.
func (d *azureDeployment) start(t *testing.T, apply bool) {
	t.Helper()
	if d.handler != nil {
		d.handler.Close()
		d.app.Close()
	}
	cfg := azfunc.Config{LakeURL: d.lakeURL, QueueURL: d.qURL, ExportsContainer: "cost-exports", Subscriptions: d.subs,
		Apply: apply, OptInTag: "cloudtrim-optin", WebhookSecrets: [][]byte{d.secret}}
	app, err := azfunc.NewApp(context.Background(), cfg, azfunc.Deps{Credential: azurefake.Credential(), ARM: d.fake.ClientOptions(),
		Queue: d.queue, PollFrequency: 10 * time.Millisecond, RetailPricesURL: d.prices.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.app = app
	d.handler = httptest.NewServer(azfunc.NewServer(app.Handlers(), nil))
	t.Cleanup(func() { d.handler.Close(); app.Close() })
}

// invoke posts an invocation as the Functions host does and decodes the
// ReturnValue into out.
func (d *azureDeployment) invoke(t *testing.T, function string, payload any, out any) int {
	t.Helper()
	b, _ := json.Marshal(payload)
	resp, err := http.Post(d.handler.URL+"/"+function, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ir struct {
		Logs        []string        `json:"Logs"`
		ReturnValue json.RawMessage `json:"ReturnValue"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ir); err != nil {
		t.Fatalf("%s: answer is not the host's JSON: %v", function, err)
	}
	if resp.StatusCode != 200 && out != nil {
		t.Fatalf("%s: status %d: %v", function, resp.StatusCode, ir.Logs)
	}
	if out != nil {
		if err := json.Unmarshal(ir.ReturnValue, out); err != nil {
			t.Fatalf("%s: ReturnValue %s: %v", function, ir.ReturnValue, err)
		}
	}
	return resp.StatusCode
}

// drain plays the Functions host's queue trigger: it dequeues the
// actions queue, invokes actuate with each message and deletes those
// whose invocation succeeded. It returns the messages handled.
func (d *azureDeployment) drain(t *testing.T) (handled, failed int) {
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
			status := d.invoke(t, "actuate", map[string]any{
				"Data":     map[string]any{"message": string(m.Body)},
				"Metadata": map[string]any{"DequeueCount": m.Attempt, "Id": strings.SplitN(m.ID, ":", 2)[0]},
			}, nil)
			if status != 200 {
				failed++
				if err := d.queue.Nack(ctx, m.ID, 0, "invocation failed"); err != nil {
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
	t.Fatal("the actions queue did not drain")
	return
}

func (d *azureDeployment) requeue(t *testing.T, plan domain.Plan) {
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

func (d *azureDeployment) mutations() int {
	n := 0
	for _, c := range d.changes.Changes() {
		if c.Status == 200 {
			n++
		}
	}
	return n
}

// TestEndToEndOnAzure runs collect → optimize → approve → actuate
// through the custom handler and the azurecloud provider against the
// simulated estate's Azure part, exactly as against a subscription:
// dry run first (the default), then applied, then redelivered.
func TestEndToEndOnAzure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	d := newAzureDeployment(t)
	ctx := context.Background()
	start := time.Now()
	phase := func(name string) { t.Logf("%-8s done at %s", name, time.Since(start).Round(time.Millisecond)) }

	// collect: the timer trigger.
	var col collect.Result
	d.invoke(t, "collect", map[string]any{"Data": map[string]any{"timer": map[string]any{"IsPastDue": false}}, "Metadata": map[string]any{}}, &col)
	want := 0
	for _, sub := range d.subs {
		scopes, _ := d.est.Cloud(domain.Azure).Scopes(ctx)
		for _, s := range scopes {
			if s.Account == sub {
				_ = d.est.Cloud(domain.Azure).Resources(ctx, s, func(rs []domain.Resource) error { want += len(rs); return nil })
			}
		}
	}
	if col.Cloud != domain.Azure || col.Resources != want || col.Series == 0 || col.CostRows == 0 {
		t.Fatalf("collect = %d resources, %d series, %d cost rows of %s; want the %d simulated Azure resources with series and costs",
			col.Resources, col.Series, col.CostRows, col.Cloud, want)
	}
	for _, s := range col.Scopes {
		if s.Error != "" {
			t.Fatalf("scope %+v read with an error", s)
		}
	}

	phase("collect")
	// optimize: the blob trigger of the manifest just committed, twice
	// (Event Grid delivers at least once): the second reuses the plan.
	manifest := map[string]any{"Data": map[string]any{"manifest": ""}, "Metadata": map[string]any{"BlobTrigger": "lake/" + col.Manifest}}
	var opt funcapp.PlanResponse
	d.invoke(t, "optimize", manifest, &opt)
	plan, err := d.lake.GetPlan(ctx, opt.PlanID)
	if err != nil {
		t.Fatalf("plan %q: %v", opt.PlanID, err)
	}
	if len(plan.Actions) == 0 {
		t.Fatal("the plan has no actions")
	}
	var again funcapp.PlanResponse
	d.invoke(t, "optimize", manifest, &again)
	if again.PlanID != plan.ID || !again.Reused {
		t.Fatalf("a redelivered manifest event made plan %s (reused %v); want %s reused", again.PlanID, again.Reused, plan.ID)
	}

	// approve: the signed webhook, forwarded raw under /api.
	body, err := approve.NewBody(&plan, "ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	post := func(key []byte) int {
		ts, sig := approve.Sign(key, time.Now(), body)
		req, _ := http.NewRequest(http.MethodPost, d.handler.URL+"/api/approve", bytes.NewReader(body))
		req.Header.Set(approve.HeaderTimestamp, ts)
		req.Header.Set(approve.HeaderSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post([]byte("not-the-approval-secret-0123456789")); s != 401 {
		t.Fatalf("approval with a wrong secret: %d; want 401", s)
	}
	if s := post(d.secret); s != 200 {
		t.Fatalf("approval: %d", s)
	}

	// A message for a subscription this deployment does not own.
	other := domain.QueuedAction{Version: domain.QueueMessageVersion, DecisionID: "dec-x", Action: plan.Actions[0]}
	other.Action.Target.Account = "99999999-9999-9999-9999-999999999999"
	ob, _ := json.Marshal(other)
	if err := d.queue.Send(ctx, ob); err != nil {
		t.Fatal(err)
	}

	phase("approve")
	// actuate, dry run: nothing changes.
	if handled, failed := d.drain(t); handled != len(plan.Actions)+1 || failed != 0 {
		t.Fatalf("dry run: handled %d, %d failed; want %d, none", handled, failed, len(plan.Actions)+1)
	}
	if n := d.mutations(); n != 0 {
		t.Fatalf("dry run made %d changes at the fake", n)
	}
	dls, err := d.queue.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "99999999-9999-9999-9999-999999999999") {
		t.Fatalf("dead letters %+v; want the foreign subscription's action, refused naming it", dls)
	}
	states, err := d.lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range plan.Actions {
		if st := states[a.ID]; st.Status != domain.StatusDryRun && st.Status != domain.StatusSkipped {
			t.Fatalf("dry run: action %s is %s (%s)", a.ID, st.Status, st.Reason)
		}
	}

	phase("dry run")
	// actuate, applied.
	d.start(t, true)
	d.requeue(t, plan)
	if _, failed := d.drain(t); failed != 0 {
		t.Fatalf("apply: %d failed invocations", failed)
	}
	states, err = d.lake.ActionStates(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	est := d.fake.Estate
	for _, a := range plan.Actions {
		if states[a.ID].Status != domain.StatusApplied {
			continue
		}
		applied++
		// The change is there, at the fake estate.
		switch {
		case a.After.State == domain.StateDeleted:
			if est.FindDisk(a.Target.ID) != nil || est.FindSnapshot(a.Target.ID) != nil {
				t.Errorf("action %s applied but %s still exists", a.ID, a.Target.ID)
			}
		case a.After.State == domain.StateReleased:
			if est.FindPublicIP(a.Target.ID) != nil {
				t.Errorf("action %s applied but %s still exists", a.ID, a.Target.ID)
			}
		case a.Target.Kind == domain.KindVM:
			vm := est.FindVM(a.Target.ID)
			switch {
			case vm == nil:
				t.Errorf("action %s: VM %s is gone", a.ID, a.Target.ID)
			case a.After.SKU != "" && !strings.EqualFold(vm.Size, a.After.SKU):
				t.Errorf("action %s applied but %s is %s, want %s", a.ID, a.Target.ID, vm.Size, a.After.SKU)
			case a.After.State == domain.StateStopped && vm.PowerState != azurefake.PowerDeallocated:
				t.Errorf("action %s applied but %s is %q, want deallocated", a.ID, a.Target.ID, vm.PowerState)
			}
		}
	}
	changes := d.mutations()
	if applied == 0 || changes == 0 {
		t.Fatalf("apply: %d actions applied, %d changes at the fake (states %v)", applied, changes, states)
	}
	for _, c := range d.changes.Changes() {
		if c.API == "VirtualMachinesClient.BeginPowerOff" {
			t.Fatalf("a VM was powered off without deallocation: %+v", c)
		}
	}

	phase("apply")
	// Redelivery: the same messages twice more change nothing.
	d.requeue(t, plan)
	d.requeue(t, plan)
	d.drain(t)
	if got := d.mutations(); got != changes {
		t.Fatalf("redelivered actions made %d more changes", got-changes)
	}
	t.Logf("plan %s: %d actions, %d applied, %d changes at the fake", plan.ID, len(plan.Actions), applied, changes)
}
