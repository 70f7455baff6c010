package gcp

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// service is what deploy.sh must deploy for one function.
type service struct {
	target  string            // FUNCTION_TARGET; the service is cloudtrim-<target>
	account string            // its own service account, cloudtrim-<account>
	public  bool              // invocable without Google credentials
	env     map[string]string // beyond sharedEnv, in firstRun
	secrets map[string]string // variable -> secret:version, in firstRun
}

// sharedEnv is the environment of every service.
var sharedEnv = map[string]string{
	"CLOUDTRIM_LAKE_URL":   "gs://" + testBucket,
	"GOOGLE_CLOUD_PROJECT": testProject,
	"CLOUDTRIM_OPTIN_TAG":  "cloudtrim-optin",
}

const (
	actionsTopic = "projects/" + testProject + "/topics/cloudtrim-actions"
	deadTopic    = "projects/" + testProject + "/topics/cloudtrim-actions-dead"
	collectTopic = "projects/" + testProject + "/topics/cloudtrim-collect"
	// maxDeliveryAttempts is the actions subscription's dead-letter policy, which the actuator
	// reads from CLOUDTRIM_MAX_DELIVERY_ATTEMPTS to tell a last attempt.
	maxDeliveryAttempts = "5"
	// operationTimeout is, in seconds, how long the Google Cloud provider waits for one Compute
	// Engine operation (gcpcloud.DefaultOperationTimeout): one delivery to the actuator must be
	// allowed at least that long.
	operationTimeout = 600
)

var services = []service{
	{target: "collect", account: "collector", env: map[string]string{
		"CLOUDTRIM_PROJECTS":              "team-alpha-prod,team-beta-prod",
		"CLOUDTRIM_BILLING_EXPORT_TABLE":  testBillingTable,
		"CLOUDTRIM_BILLING_QUERY_PROJECT": "billing-proj",
	}, secrets: map[string]string{}},
	{target: "optimize", account: "optimizer", env: map[string]string{
		"CLOUDTRIM_REPORT_URL": testReportURL,
	}, secrets: map[string]string{
		"CLOUDTRIM_NOTIFY_URL": "cloudtrim-notify-url:latest",
	}},
	{target: "approve", account: "approver", public: true, env: map[string]string{
		"CLOUDTRIM_ACTIONS_TOPIC": actionsTopic,
	}, secrets: map[string]string{
		"CLOUDTRIM_WEBHOOK_SECRET":       "cloudtrim-webhook-secret:latest",
		"CLOUDTRIM_SLACK_SIGNING_SECRET": "cloudtrim-slack-signing-secret:latest",
	}},
	{target: "actuate", account: "actuator", env: map[string]string{
		"CLOUDTRIM_APPLY":                 "false",
		"CLOUDTRIM_PROJECTS":              "team-alpha-prod",
		"CLOUDTRIM_ACTIONS_TOPIC":         actionsTopic,
		"CLOUDTRIM_DEAD_LETTER_TOPIC":     deadTopic,
		"CLOUDTRIM_MAX_DELIVERY_ATTEMPTS": maxDeliveryAttempts,
		"CLOUDTRIM_BREAKER_THRESHOLD":     "5",
		"CLOUDTRIM_BREAKER_COOLDOWN":      "15m",
	}, secrets: map[string]string{}},
}

// deployed returns the Cloud Run deploy of each target in r, failing t unless every target is
// deployed exactly once, by its name, from the release image, and nothing else is.
func deployed(t *testing.T, r run) map[string]call {
	t.Helper()
	out := map[string]call{}
	for _, c := range find(r.calls, "run", "deploy") {
		env, err := c.env()
		if err != nil {
			t.Error(err)
			continue
		}
		target := env["FUNCTION_TARGET"]
		if !slices.ContainsFunc(services, func(s service) bool { return s.target == target }) {
			t.Errorf("%s: FUNCTION_TARGET=%q; want one of collect, optimize, actuate, approve", c.words(), target)
			continue
		}
		if _, dup := out[target]; dup {
			t.Errorf("FUNCTION_TARGET=%s is deployed twice", target)
		}
		if got, want := c.after("deploy"), "cloudtrim-"+target; got != want {
			t.Errorf("FUNCTION_TARGET=%s runs in service %s; want %s", target, got, want)
		}
		if got, _ := c.flag("--image"); got != image {
			t.Errorf("%s: --image=%s; want %s", c.words(), got, image)
		}
		if got, _ := c.flag("--region"); got != testRegion {
			t.Errorf("%s: --region=%s; want %s", c.words(), got, testRegion)
		}
		out[target] = c
	}
	if len(out) != len(services) {
		t.Fatalf("deployed functions %v; want one service per function of %d", slices.Sorted(maps.Keys(out)), len(services))
	}
	return out
}

func TestEveryFunctionHasItsServiceAndServiceAccount(t *testing.T) {
	for _, s := range []scenario{firstRun, secondRun} {
		t.Run(s.name, func(t *testing.T) {
			d := deployed(t, result(t, s))
			seen := map[string]string{}
			for _, svc := range services {
				got, _ := d[svc.target].flag("--service-account")
				if want := serviceAccount(svc.account); got != want {
					t.Errorf("cloudtrim-%s: --service-account=%s; want %s", svc.target, got, want)
				}
				if other, dup := seen[got]; dup {
					t.Errorf("cloudtrim-%s and cloudtrim-%s share the service account %s", svc.target, other, got)
				}
				seen[got] = svc.target
			}
		})
	}
}

func TestOnlyTheWebhookIsPublic(t *testing.T) {
	r := result(t, firstRun)
	d := deployed(t, r)
	for _, svc := range services {
		c := d[svc.target]
		ingress, _ := c.flag("--ingress")
		switch {
		case svc.public && (!c.has("--allow-unauthenticated") || c.has("--no-allow-unauthenticated")):
			t.Errorf("cloudtrim-%s must allow unauthenticated requests (it checks their HMAC signatures itself)", svc.target)
		case !svc.public && (!c.has("--no-allow-unauthenticated") || c.has("--allow-unauthenticated")):
			t.Errorf("cloudtrim-%s must pass --no-allow-unauthenticated", svc.target)
		case !svc.public && ingress != "internal":
			// Eventarc, Pub/Sub and Cloud Scheduler of the same project count as internal.
			t.Errorf("cloudtrim-%s: --ingress=%q; want internal", svc.target, ingress)
		}
	}
	bs, err := bindings(r.calls)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.member == "allUsers" || b.member == "allAuthenticatedUsers" {
			t.Errorf("%s: binding for %s", b.call, b.member)
		}
	}
}

func TestServiceLimits(t *testing.T) {
	d := deployed(t, result(t, firstRun))
	number := func(target, flag string) int {
		v, _ := d[target].flag(flag)
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("cloudtrim-%s: %s=%q is not a number", target, flag, v)
		}
		return n
	}
	// The blast radius: at most two deliveries change resources at once, one per instance.
	if n := number("actuate", "--max-instances"); n < 1 || n > 2 {
		t.Errorf("cloudtrim-actuate: --max-instances=%d; want 1 or 2", n)
	}
	if n := number("actuate", "--concurrency"); n != 1 {
		t.Errorf("cloudtrim-actuate: --concurrency=%d; want 1", n)
	}
	if n := number("actuate", "--timeout"); n < operationTimeout {
		t.Errorf("cloudtrim-actuate: --timeout=%d; want at least the %d s wait for one operation", n, operationTimeout)
	}
	if n := number("collect", "--timeout"); n != 3600 {
		t.Errorf("cloudtrim-collect: --timeout=%d; want 3600", n)
	}
	if n := number("approve", "--timeout"); n > 60 {
		t.Errorf("cloudtrim-approve: --timeout=%d; want a webhook's, at most 60", n)
	}
	for _, svc := range services {
		if v, ok := d[svc.target].flag("--memory"); !ok || !regexp.MustCompile(`^[0-9]+(Mi|Gi)$`).MatchString(v) {
			t.Errorf("cloudtrim-%s: --memory=%q; want a size", svc.target, v)
		}
	}
}

func TestEnvironment(t *testing.T) {
	d := deployed(t, result(t, firstRun))
	for _, svc := range services {
		env, err := d[svc.target].env()
		if err != nil {
			t.Fatal(err)
		}
		want := maps.Clone(sharedEnv)
		maps.Copy(want, svc.env)
		want["FUNCTION_TARGET"] = svc.target
		if diff := cmp.Diff(want, env); diff != "" {
			t.Errorf("cloudtrim-%s environment (-want +got):\n%s", svc.target, diff)
		}
	}
}

func TestSecretsComeFromSecretManagerOnly(t *testing.T) {
	secretValues := []string{testWebhookSecret, testSlackSecret, testNotifyURL}
	for _, s := range []scenario{firstRun, firstApply, secondRun, secondApply} {
		t.Run(s.name, func(t *testing.T) {
			r := result(t, s)
			d := deployed(t, r)
			for _, svc := range services {
				got, err := d[svc.target].secrets()
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(svc.secrets, got); diff != "" {
					t.Errorf("cloudtrim-%s secrets (-want +got):\n%s", svc.target, diff)
				}
				env, _ := d[svc.target].env()
				for k := range env {
					if strings.Contains(k, "SECRET") || k == "CLOUDTRIM_NOTIFY_URL" {
						t.Errorf("cloudtrim-%s: %s is a plain environment variable; want --set-secrets", svc.target, k)
					}
				}
			}
			for _, c := range r.calls {
				for _, a := range c.Args {
					for _, v := range secretValues {
						if strings.Contains(a, v) {
							t.Errorf("%s: a secret value is in gcloud's arguments", c.words())
						}
					}
				}
			}
			for _, v := range secretValues {
				if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
					t.Errorf("deploy.sh printed a secret value %q", v)
				}
			}
		})
	}
}

func TestSecretsAreWrittenThroughStdin(t *testing.T) {
	given := func(v string) *regexp.Regexp { return regexp.MustCompile("^" + regexp.QuoteMeta(v) + "$") }
	tests := []struct {
		s      scenario
		verb   []string
		values map[string]*regexp.Regexp
	}{
		{firstRun, []string{"secrets", "create"}, map[string]*regexp.Regexp{
			"cloudtrim-webhook-secret":       given(testWebhookSecret),
			"cloudtrim-slack-signing-secret": given(testSlackSecret),
			"cloudtrim-notify-url":           given(testNotifyURL),
		}},
		// No webhook secret given: openssl rand -hex 32, without its line end.
		{firstApply, []string{"secrets", "create"}, map[string]*regexp.Regexp{
			"cloudtrim-webhook-secret":       regexp.MustCompile("^[0-9a-f]{64}$"),
			"cloudtrim-slack-signing-secret": given(testSlackSecret),
			"cloudtrim-notify-url":           given(testNotifyURL),
		}},
		// Given again, a value becomes a new version of the existing secret.
		{secondRun, []string{"secrets", "versions", "add"}, map[string]*regexp.Regexp{
			"cloudtrim-webhook-secret":       given(testWebhookSecret),
			"cloudtrim-slack-signing-secret": given(testSlackSecret),
			"cloudtrim-notify-url":           given(testNotifyURL),
		}},
		// The webhook secret read from deploy.sh's stdin.
		{secondApply, []string{"secrets", "versions", "add"}, map[string]*regexp.Regexp{
			"cloudtrim-webhook-secret":       given(testWebhookSecret),
			"cloudtrim-slack-signing-secret": given(testSlackSecret),
			"cloudtrim-notify-url":           given(testNotifyURL),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.s.name, func(t *testing.T) {
			r := result(t, tt.s)
			writes := find(r.calls, tt.verb...)
			got := map[string]string{}
			for _, c := range writes {
				name := c.words()[len(tt.verb)]
				if v, _ := c.flag("--data-file"); v != "-" {
					t.Errorf("%s: --data-file=%q; want - (the value on stdin)", c.words(), v)
				}
				got[name] = c.Stdin
			}
			if len(got) != len(tt.values) {
				t.Errorf("%s wrote secrets %v; want %v", strings.Join(tt.verb, " "), slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tt.values)))
			}
			for name, re := range tt.values {
				if v, ok := got[name]; ok && !re.MatchString(v) {
					t.Errorf("secret %s was written a value of %d characters that does not match %s", name, len(v), re)
				}
			}
			if v := got["cloudtrim-webhook-secret"]; v != "" && strings.Contains(r.stdout+r.stderr, v) {
				t.Errorf("deploy.sh printed the webhook secret")
			}
		})
	}
}

func TestSecretAccessIsPerSecret(t *testing.T) {
	bs, err := bindings(result(t, firstRun).calls)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, b := range bs {
		if strings.HasPrefix(b.role, "roles/secretmanager.") {
			if b.kind != "secrets" {
				t.Errorf("%s: a Secret Manager role granted on %s %s; want on one secret", b, b.kind, b.resource)
				continue
			}
			got[b.resource] = append(got[b.resource], b.member+" "+b.role)
		}
	}
	want := map[string][]string{
		"cloudtrim-webhook-secret":       {"serviceAccount:" + serviceAccount("approver") + " roles/secretmanager.secretAccessor"},
		"cloudtrim-slack-signing-secret": {"serviceAccount:" + serviceAccount("approver") + " roles/secretmanager.secretAccessor"},
		"cloudtrim-notify-url":           {"serviceAccount:" + serviceAccount("optimizer") + " roles/secretmanager.secretAccessor"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secret-level bindings (-want +got):\n%s", diff)
	}
}

func TestDryRunUnlessApply(t *testing.T) {
	tests := []struct {
		s     scenario
		apply string
	}{
		{firstRun, "false"},
		{secondRun, "false"},
		{firstApply, "true"},
		{secondApply, "true"},
	}
	for _, tt := range tests {
		t.Run(tt.s.name, func(t *testing.T) {
			r := result(t, tt.s)
			env, err := deployed(t, r)["actuate"].env()
			if err != nil {
				t.Fatal(err)
			}
			if got := env["CLOUDTRIM_APPLY"]; got != tt.apply {
				t.Errorf("cloudtrim-actuate: CLOUDTRIM_APPLY=%q; want %q", got, tt.apply)
			}
			bs, err := bindings(r.calls)
			if err != nil {
				t.Fatal(err)
			}
			var writes []string
			for _, b := range of(bs, serviceAccount("actuator")) {
				if strings.HasSuffix(b.role, "/roles/cloudtrimActuator") || strings.HasSuffix(b.role, "/roles/cloudtrimActuatorSnapshot") {
					writes = append(writes, b.String())
				}
			}
			if tt.apply == "false" && len(writes) > 0 {
				t.Errorf("a dry run grants the actuator write roles: %v", writes)
			}
			if tt.apply == "true" && len(writes) != 2*len(changeProjects) {
				t.Errorf("with --apply the actuator gets %v; want its two write roles in each of %v", writes, changeProjects)
			}
		})
	}
}

func TestDryRunRemovesWriteRolesAnEarlierApplyGranted(t *testing.T) {
	var got []string
	for _, c := range find(result(t, secondRun).calls, "projects", "remove-iam-policy-binding") {
		member, _ := c.flag("--member")
		role, _ := c.flag("--role")
		if member != "serviceAccount:"+serviceAccount("actuator") || !c.has("--all") {
			t.Errorf("%s: want the actuator's bindings of the role, under any condition (--all)", c)
		}
		got = append(got, c.after("remove-iam-policy-binding")+" "+role)
	}
	var want []string
	for _, p := range changeProjects {
		want = append(want, p+" projects/"+p+"/roles/cloudtrimActuator", p+" projects/"+p+"/roles/cloudtrimActuatorSnapshot")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("write roles removed in a dry run (-want +got):\n%s", diff)
	}
	if removed := find(result(t, secondApply).calls, "projects", "remove-iam-policy-binding"); len(removed) > 0 {
		t.Errorf("with --apply deploy.sh removes %v", removed)
	}
}

func TestActuatorIsLimitedToOptedInResources(t *testing.T) {
	r := result(t, firstApply)
	bs, err := bindings(r.calls)
	if err != nil {
		t.Fatal(err)
	}
	// Every role the actuator holds, where, and under which condition.
	var got []string
	for _, b := range of(bs, serviceAccount("actuator")) {
		got = append(got, b.String())
	}
	var want []string
	for _, p := range changeProjects {
		want = append(want,
			"projects "+p+": serviceAccount:"+serviceAccount("actuator")+" projects/"+p+"/roles/cloudtrimActuatorRead",
			"projects "+p+": serviceAccount:"+serviceAccount("actuator")+" projects/"+p+"/roles/cloudtrimActuator if resource.matchTag('"+p+"/cloudtrim-optin', 'true')",
			"projects "+p+": serviceAccount:"+serviceAccount("actuator")+" projects/"+p+"/roles/cloudtrimActuatorSnapshot",
		)
	}
	want = append(want,
		"storage buckets gs://"+testBucket+": serviceAccount:"+serviceAccount("actuator")+" roles/storage.objectUser",
		"pubsub topics cloudtrim-actions: serviceAccount:"+serviceAccount("actuator")+" roles/pubsub.publisher",
		"pubsub topics cloudtrim-actions-dead: serviceAccount:"+serviceAccount("actuator")+" roles/pubsub.publisher",
	)
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("the actuator's bindings (-want +got):\n%s", diff)
	}

	// The custom roles are made from the files the tests check, in each project they are
	// granted in, and the tag the condition names exists there.
	for _, p := range changeProjects {
		for id, file := range roleFiles {
			if id == "cloudtrimCollectorStorage" {
				continue // made where the collector reads, below
			}
			var made []call
			for _, c := range r.calls {
				if c.is("iam", "roles", "create", id) || c.is("iam", "roles", "update", id) {
					if v, _ := c.flag("--project"); v == p {
						made = append(made, c)
					}
				}
			}
			if len(made) != 1 {
				t.Errorf("custom role %s in %s is made by %d commands; want 1", id, p, len(made))
				continue
			}
			if got, want := made[0].Files["--file"], readFile(t, file); got != want {
				t.Errorf("custom role %s in %s is not made from %s", id, p, file)
			}
		}
		key := find(r.calls, "resource-manager", "tags", "keys", "create", "cloudtrim-optin")
		value := find(r.calls, "resource-manager", "tags", "values", "create", "true")
		if !slices.ContainsFunc(key, func(c call) bool { v, _ := c.flag("--parent"); return v == "projects/"+p }) {
			t.Errorf("no tag key cloudtrim-optin is created in %s", p)
		}
		if !slices.ContainsFunc(value, func(c call) bool { v, _ := c.flag("--parent"); return v == p+"/cloudtrim-optin" }) {
			t.Errorf("no tag value true is created for %s/cloudtrim-optin", p)
		}
	}
	// The collector's bucket role is made in each project it reads.
	for _, p := range readProjects {
		made := 0
		for _, c := range r.calls {
			if v, _ := c.flag("--project"); v == p && (c.is("iam", "roles", "create", "cloudtrimCollectorStorage") || c.is("iam", "roles", "update", "cloudtrimCollectorStorage")) {
				made++
				if c.Files["--file"] != readFile(t, "collector-storage-role.json") {
					t.Errorf("custom role cloudtrimCollectorStorage in %s is not made from collector-storage-role.json", p)
				}
			}
		}
		if made != 1 {
			t.Errorf("custom role cloudtrimCollectorStorage in %s is made by %d commands; want 1", p, made)
		}
	}
}

// collectorRoles is everything the collector may hold, by where it is granted.
func collectorRoles() []string {
	var out []string
	for _, p := range readProjects {
		for _, r := range []string{"roles/compute.viewer", "roles/monitoring.viewer", "roles/browser", "projects/" + p + "/roles/cloudtrimCollectorStorage"} {
			out = append(out, "projects "+p+": serviceAccount:"+serviceAccount("collector")+" "+r)
		}
	}
	return append(out,
		"projects billing-proj: serviceAccount:"+serviceAccount("collector")+" roles/bigquery.jobUser",
		`projects billing-proj: serviceAccount:`+serviceAccount("collector")+` roles/bigquery.dataViewer if resource.name == "projects/billing-proj/datasets/billing_ds" || resource.name.startsWith("projects/billing-proj/datasets/billing_ds/")`,
		"storage buckets gs://"+testBucket+": serviceAccount:"+serviceAccount("collector")+" roles/storage.objectUser",
	)
}

func TestCollectorIsReadOnly(t *testing.T) {
	allowed := collectorRoles()
	for _, s := range []scenario{firstRun, firstApply} {
		t.Run(s.name, func(t *testing.T) {
			bs, err := bindings(result(t, s).calls)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range of(bs, serviceAccount("collector")) {
				if !slices.Contains(allowed, b.String()) {
					t.Errorf("the collector is granted %s, which is not in its read-only allow list", b)
				}
				got = append(got, b.String())
			}
			if diff := cmp.Diff(slices.Sorted(slices.Values(allowed)), slices.Sorted(slices.Values(got))); diff != "" {
				t.Errorf("the collector's bindings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOtherIdentitiesHoldOnlyTheirGrants(t *testing.T) {
	bs, err := bindings(result(t, firstApply).calls)
	if err != nil {
		t.Fatal(err)
	}
	sa := func(n string) string { return "serviceAccount:" + serviceAccount(n) }
	tests := []struct {
		member string
		want   []string
	}{
		{sa("optimizer"), []string{
			"secrets cloudtrim-notify-url: " + sa("optimizer") + " roles/secretmanager.secretAccessor",
			"storage buckets gs://" + testBucket + ": " + sa("optimizer") + " roles/storage.objectUser",
		}},
		{sa("approver"), []string{
			"pubsub topics cloudtrim-actions: " + sa("approver") + " roles/pubsub.publisher",
			"secrets cloudtrim-slack-signing-secret: " + sa("approver") + " roles/secretmanager.secretAccessor",
			"secrets cloudtrim-webhook-secret: " + sa("approver") + " roles/secretmanager.secretAccessor",
			"storage buckets gs://" + testBucket + ": " + sa("approver") + " roles/storage.objectUser",
		}},
		// The triggers' identity may invoke the three event-driven services and nothing else.
		{sa("invoker"), []string{
			"projects " + testProject + ": " + sa("invoker") + " roles/eventarc.eventReceiver",
			"run services cloudtrim-actuate: " + sa("invoker") + " roles/run.invoker",
			"run services cloudtrim-collect: " + sa("invoker") + " roles/run.invoker",
			"run services cloudtrim-optimize: " + sa("invoker") + " roles/run.invoker",
		}},
		{"serviceAccount:" + pubsubAgent, []string{
			"iam service-accounts " + serviceAccount("invoker") + ": serviceAccount:" + pubsubAgent + " roles/iam.serviceAccountTokenCreator",
			"pubsub subscriptions projects/" + testProject + "/subscriptions/eventarc-" + testRegion + "-cloudtrim-actuate-sub-042: serviceAccount:" + pubsubAgent + " roles/pubsub.subscriber",
			"pubsub topics cloudtrim-actions-dead: serviceAccount:" + pubsubAgent + " roles/pubsub.publisher",
		}},
		{"serviceAccount:service-" + fakeProjectNumber + "@gs-project-accounts.iam.gserviceaccount.com", []string{
			"projects " + testProject + ": serviceAccount:service-" + fakeProjectNumber + "@gs-project-accounts.iam.gserviceaccount.com roles/pubsub.publisher",
		}},
	}
	for _, tt := range tests {
		var got []string
		for _, b := range bs {
			if b.member == tt.member {
				got = append(got, b.String())
			}
		}
		if diff := cmp.Diff(tt.want, slices.Sorted(slices.Values(got))); diff != "" {
			t.Errorf("bindings of %s (-want +got):\n%s", tt.member, diff)
		}
	}
	members := []string{sa("collector"), sa("actuator")}
	for _, tt := range tests {
		members = append(members, tt.member)
	}
	for _, b := range bs {
		if !slices.Contains(members, b.member) {
			t.Errorf("%s: a binding for an identity the deployment does not own", b)
		}
	}
}

func TestNoProjectLevelStorageRole(t *testing.T) {
	for _, s := range []scenario{firstRun, firstApply, secondRun} {
		t.Run(s.name, func(t *testing.T) {
			bs, err := bindings(result(t, s).calls)
			if err != nil {
				t.Fatal(err)
			}
			lake := 0
			for _, b := range bs {
				if !strings.HasPrefix(b.role, "roles/storage.") {
					continue
				}
				if b.kind != "storage buckets" || b.resource != "gs://"+testBucket {
					t.Errorf("%s: a storage role outside the lake bucket", b)
					continue
				}
				if b.role != "roles/storage.objectUser" {
					t.Errorf("%s: want roles/storage.objectUser, the narrowest role that can overwrite pointer objects", b)
				}
				lake++
			}
			if lake != 4 {
				t.Errorf("%d storage bindings on the lake; want one for each of the 4 functions' accounts", lake)
			}
		})
	}
}

func TestLakeBucket(t *testing.T) {
	for _, s := range []scenario{firstRun, secondRun} {
		t.Run(s.name, func(t *testing.T) {
			r := result(t, s)
			created := find(r.calls, "storage", "buckets", "create", "gs://"+testBucket)
			switch {
			case s.exists && len(created) != 0:
				t.Errorf("the existing lake is created again: %v", created)
			case !s.exists && len(created) != 1:
				t.Fatalf("the lake is created %d times; want once", len(created))
			case !s.exists:
				c := created[0]
				for _, f := range []string{"--uniform-bucket-level-access", "--public-access-prevention"} {
					if !c.has(f) {
						t.Errorf("%s: the lake is created without %s", c.words(), f)
					}
				}
				if v, _ := c.flag("--location"); v != testRegion {
					t.Errorf("the lake is created in %q; want %s", v, testRegion)
				}
			}
			// Every run enforces the protections again, on a new bucket or an old one.
			updated := find(r.calls, "storage", "buckets", "update", "gs://"+testBucket)
			if len(updated) != 1 {
				t.Fatalf("the lake is updated %d times; want once", len(updated))
			}
			u := updated[0]
			for _, f := range []string{"--versioning", "--uniform-bucket-level-access", "--public-access-prevention"} {
				if !u.has(f) {
					t.Errorf("%s: the lake's update does not pass %s", u.words(), f)
				}
			}
			var lifecycle struct {
				Rule []struct {
					Action    struct{ Type string }
					Condition map[string]any
				}
			}
			if err := json.Unmarshal([]byte(u.Files["--lifecycle-file"]), &lifecycle); err != nil {
				t.Fatalf("the lake's lifecycle file: %v", err)
			}
			// The lake holds the audit trail: a Delete rule may remove noncurrent versions only.
			noncurrent := false
			for _, rule := range lifecycle.Rule {
				if rule.Action.Type != "Delete" {
					continue
				}
				_, days := rule.Condition["daysSinceNoncurrentTime"]
				_, newer := rule.Condition["numNewerVersions"]
				if !days && !newer && rule.Condition["isLive"] != false {
					t.Errorf("lifecycle rule %+v deletes live objects", rule)
				}
				noncurrent = noncurrent || days || newer
			}
			if !noncurrent {
				t.Errorf("the lake has no lifecycle rule for noncurrent versions: %s", u.Files["--lifecycle-file"])
			}
		})
	}
}

func TestActionsAreDeadLettered(t *testing.T) {
	for _, s := range []scenario{firstRun, secondRun} {
		t.Run(s.name, func(t *testing.T) {
			r := result(t, s)
			sub := "projects/" + testProject + "/subscriptions/eventarc-" + testRegion + "-cloudtrim-actuate-sub-042"
			updates := find(r.calls, "pubsub", "subscriptions", "update", sub)
			if len(updates) != 1 {
				t.Fatalf("the actuate trigger's subscription %s is updated %d times; want once", sub, len(updates))
			}
			u := updates[0]
			for flag, want := range map[string]string{
				"--dead-letter-topic":     deadTopic,
				"--max-delivery-attempts": maxDeliveryAttempts,
				"--ack-deadline":          strconv.Itoa(operationTimeout),
			} {
				if got, _ := u.flag(flag); got != want {
					t.Errorf("%s: %s=%q; want %q", u.words(), flag, got, want)
				}
			}
			for _, f := range []string{"--min-retry-delay", "--max-retry-delay"} {
				if _, ok := u.flag(f); !ok {
					t.Errorf("%s: no retry policy (%s)", u.words(), f)
				}
			}
			env, err := deployed(t, r)["actuate"].env()
			if err != nil {
				t.Fatal(err)
			}
			if got := env["CLOUDTRIM_MAX_DELIVERY_ATTEMPTS"]; got != maxDeliveryAttempts {
				t.Errorf("the actuator reads CLOUDTRIM_MAX_DELIVERY_ATTEMPTS=%q; the subscription dead-letters after %s", got, maxDeliveryAttempts)
			}

			// The dead-letter topic keeps what it gets in a subscription that does not expire.
			verb := "create"
			if s.exists {
				verb = "update"
			}
			dead := find(r.calls, "pubsub", "subscriptions", verb, "cloudtrim-actions-dead-sub")
			if len(dead) != 1 {
				t.Fatalf("cloudtrim-actions-dead-sub: %d %s commands; want 1", len(dead), verb)
			}
			want := map[string]string{"--message-retention-duration": "7d", "--expiration-period": "never"}
			if !s.exists {
				want["--topic"] = deadTopic
			}
			for flag, v := range want {
				if got, _ := dead[0].flag(flag); got != v {
					t.Errorf("%s: %s=%q; want %q", dead[0].words(), flag, got, v)
				}
			}
		})
	}
}

func TestTriggers(t *testing.T) {
	for _, s := range []scenario{firstRun, secondRun} {
		t.Run(s.name, func(t *testing.T) {
			verb := "create"
			if s.exists {
				verb = "update"
			}
			r := result(t, s)
			tests := []struct {
				name, service, transport string
				filters                  []string
			}{
				{"cloudtrim-collect", "cloudtrim-collect", collectTopic, []string{"type=google.cloud.pubsub.topic.v1.messagePublished"}},
				{"cloudtrim-optimize", "cloudtrim-optimize", "", []string{"type=google.cloud.storage.object.v1.finalized", "bucket=" + testBucket}},
				{"cloudtrim-actuate", "cloudtrim-actuate", actionsTopic, []string{"type=google.cloud.pubsub.topic.v1.messagePublished"}},
			}
			for _, tt := range tests {
				cs := find(r.calls, "eventarc", "triggers", verb, tt.name)
				if len(cs) != 1 {
					t.Errorf("trigger %s: %d %s commands; want 1", tt.name, len(cs), verb)
					continue
				}
				c := cs[0]
				if got, _ := c.flag("--destination-run-service"); got != tt.service {
					t.Errorf("trigger %s delivers to %q; want %s", tt.name, got, tt.service)
				}
				if got, _ := c.flag("--service-account"); got != serviceAccount("invoker") {
					t.Errorf("trigger %s runs as %q; want %s", tt.name, got, serviceAccount("invoker"))
				}
				if got := c.flags("--event-filters"); !cmp.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(tt.filters))) {
					t.Errorf("trigger %s filters %v; want %v", tt.name, got, tt.filters)
				}
				// The transport topic is chosen at creation and cannot change.
				if got, _ := c.flag("--transport-topic"); verb == "create" && got != tt.transport {
					t.Errorf("trigger %s: --transport-topic=%q; want %q", tt.name, got, tt.transport)
				}
			}
		})
	}
}

func TestSchedulerStartsTheCollector(t *testing.T) {
	for _, s := range []scenario{firstRun, secondRun} {
		t.Run(s.name, func(t *testing.T) {
			verb := "create"
			if s.exists {
				verb = "update"
			}
			jobs := find(result(t, s).calls, "scheduler", "jobs", verb, "pubsub", "cloudtrim-collect")
			if len(jobs) != 1 {
				t.Fatalf("%d scheduler jobs %s; want 1", len(jobs), verb)
			}
			for flag, want := range map[string]string{
				"--topic": collectTopic, "--schedule": testSchedule, "--time-zone": "UTC", "--location": testRegion,
			} {
				if got, _ := jobs[0].flag(flag); got != want {
					t.Errorf("the collection job: %s=%q; want %q", flag, got, want)
				}
			}
		})
	}
}

func TestSecondRunCreatesNothing(t *testing.T) {
	for _, s := range []scenario{secondRun, secondApply} {
		t.Run(s.name, func(t *testing.T) {
			r := result(t, s)
			for _, c := range r.calls {
				if slices.Contains(c.words(), "create") {
					t.Errorf("%s: the second run creates what exists", c.words())
				}
				if c.is("builds", "submit") {
					t.Errorf("%s: the image of this version exists; the second run builds it again", c.words())
				}
			}
			if n := len(find(r.calls, "run", "deploy")); n != len(services) {
				t.Errorf("the second run deploys %d services; want all %d again", n, len(services))
			}
		})
	}
}

func TestFirstRunBuildsTheImageOnce(t *testing.T) {
	builds := find(result(t, firstRun).calls, "builds", "submit")
	if len(builds) != 1 {
		t.Fatalf("%d builds; want 1", len(builds))
	}
	if got, _ := builds[0].flag("--tag"); got != image {
		t.Errorf("the build is tagged %q; want %s", got, image)
	}
}

func TestBadInputRunsNoGcloud(t *testing.T) {
	base := func(extra ...string) []string {
		return append([]string{"--project", testProject, "--region", testRegion, "--version", testVersion, "--dist", t.TempDir()}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want []string // what the message must name
	}{
		{"no project", []string{"--region", testRegion, "--version", testVersion, "--dist", t.TempDir()}, []string{"--project"}},
		{"bad project", append(base(), "--project", "Bad_Project"), []string{"--project", "Bad_Project"}},
		{"no region", []string{"--project", testProject, "--version", testVersion, "--dist", t.TempDir()}, []string{"--region"}},
		{"bucket with capitals", base("--bucket", "Cloudtrim_Lake"), []string{"--bucket", "Cloudtrim_Lake"}},
		{"bucket naming google", base("--bucket", "my-google-lake"), []string{"--bucket", "my-google-lake"}},
		{"bucket too short", base("--bucket", "ab"), []string{"--bucket", `"ab"`}},
		{"schedule of four fields", base("--schedule", "0 5 * *"), []string{"--schedule", "0 5 * *"}},
		{"schedule in words", base("--schedule", "every day"), []string{"--schedule", "every day"}},
		{"schedule with a bad field", base("--schedule", "0 5 * * $(x)"), []string{"--schedule", "$(x)"}},
		{"bad project in the list", base("--projects", "team-alpha-prod,BAD"), []string{"--projects", "BAD"}},
		{"change project not collected", base("--projects", "team-alpha-prod", "--change-projects", "team-gamma-prod"), []string{"--change-projects", "team-gamma-prod"}},
		{"bad billing table", base("--billing-export-table", "billing_ds.table"), []string{"--billing-export-table", "billing_ds.table"}},
		{"report URL over http", base("--report-url", "http://reports.example.com"), []string{"--report-url", "http://reports.example.com"}},
		{"breaker threshold 0", base("--breaker-threshold", "0"), []string{"--breaker-threshold", "0"}},
		{"breaker cool-down 2d", base("--breaker-cooldown", "2d"), []string{"--breaker-cooldown", "2d"}},
		{"opt-in label with capitals", base("--optin-label", "OptIn"), []string{"--optin-label", "OptIn"}},
		{"unknown flag", base("--aply"), []string{"--aply"}},
		{"dist without the binary", []string{"--project", testProject, "--region", testRegion, "--version", testVersion, "--dist", t.TempDir()}, []string{"--dist", "cloudtrim-gcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := deployScript(t, false, "", tt.args...)
			if r.err == nil {
				t.Fatalf("deploy.sh %v succeeded; want a failure", tt.args)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("deploy.sh %v says %q; want it to name %q", tt.args, strings.TrimSpace(r.stderr), w)
				}
			}
			if len(r.calls) > 0 {
				t.Errorf("deploy.sh %v ran gcloud before refusing its input: %v", tt.args, r.calls[0])
			}
		})
	}
}

func TestShortSecretIsRefused(t *testing.T) {
	short := filepath.Join(t.TempDir(), "short")
	if err := os.WriteFile(short, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args, err := firstRun.args(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := deployScript(t, false, "", append(args, "--webhook-secret-file", short)...)
	if r.err == nil || !strings.Contains(r.stderr, "--webhook-secret-file") {
		t.Errorf("a webhook secret of 8 characters: err %v, stderr %q; want a refusal naming --webhook-secret-file", r.err, r.stderr)
	}
	if strings.Contains(r.stderr, "tooshort") {
		t.Errorf("the refusal prints the secret: %q", r.stderr)
	}
	if len(r.calls) > 0 {
		t.Errorf("gcloud ran: %v", r.calls[0])
	}
}

func TestDryRunOnlyPrints(t *testing.T) {
	s := scenario{name: "dry run", extra: []string{"--dry-run", "--apply"}}
	args, err := s.args(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := deployScript(t, false, "", args...)
	if r.err != nil {
		t.Fatalf("deploy.sh --dry-run: %v\n%s", r.err, r.stderr)
	}
	if len(r.calls) > 0 {
		t.Errorf("--dry-run ran gcloud: %v", r.calls[0])
	}
	for _, want := range []string{
		"gcloud run deploy cloudtrim-actuate ",
		"gcloud storage buckets create gs://" + testBucket + " ",
		"gcloud scheduler jobs create pubsub cloudtrim-collect ",
		"resource.matchTag('team-alpha-prod/cloudtrim-optin', 'true')",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--dry-run does not print %q", want)
		}
	}
	for _, v := range []string{testWebhookSecret, testSlackSecret, testNotifyURL} {
		if strings.Contains(r.stdout+r.stderr, v) {
			t.Errorf("--dry-run prints a secret value")
		}
	}
}
