package azure_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ------------------------------------------------------------------- tables

// builtInRoles are the Azure built-in roles the template may assign, by role definition GUID
// (Azure's "Azure built-in roles" reference).
var builtInRoles = map[string]string{
	"acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
	"72fafb9e-0641-4937-9268-a91bfd8191a3": "Cost Management Reader",
	"ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
	"2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
	"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
	"974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
	"4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
	"3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}

// forbiddenRoles may never be assigned: they grant writes everywhere in their scope or the
// right to grant roles.
var forbiddenRoles = map[string]string{
	"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
	"b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
	"18d7d88d-d35e-4fb5-a5c3-7773c4a72d9d": "User Access Administrator",
	"f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
	"17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
	"9980e02c-c2be-4d73-94e8-173b1dc7cf3c": "Virtual Machine Contributor",
}

const actuatorRole = "cloudtrim actuator (custom role)"

// actuatorActions are exactly the control-plane operations the actuator performs (Azure's
// resource provider operations for Microsoft.Compute, Microsoft.Network and Microsoft.Resources).
var actuatorActions = []string{
	"Microsoft.Compute/virtualMachines/read",              // re-read before every change
	"Microsoft.Compute/virtualMachines/instanceView/read", // its power state
	"Microsoft.Compute/virtualMachines/deallocate/action", // stop (and stop paying for compute)
	"Microsoft.Compute/virtualMachines/start/action",      // start, undo of stop
	"Microsoft.Compute/virtualMachines/write",             // resize: hardwareProfile.vmSize
	"Microsoft.Compute/virtualMachines/vmSizes/read",      // sizes the VM can be resized to
	"Microsoft.Compute/disks/read",
	"Microsoft.Compute/disks/write",  // disk type changes
	"Microsoft.Compute/disks/delete", // orphan managed disks
	"Microsoft.Compute/snapshots/read",
	"Microsoft.Compute/snapshots/write",  // snapshot a disk before deleting it
	"Microsoft.Compute/snapshots/delete", // old snapshots
	"Microsoft.Network/publicIPAddresses/read",
	"Microsoft.Network/publicIPAddresses/delete", // unattached public IP addresses
	"Microsoft.Resources/tags/write",             // cloudtrim-action, cloudtrim-schedule tags
	"Microsoft.Compute/locations/operations/read",
	"Microsoft.Compute/locations/diskOperations/read",
	"Microsoft.Network/locations/operations/read",
	"Microsoft.Network/locations/operationResults/read",
}

// functions are the function folders and their bindings: the contract with the Go custom
// handler, which routes by function name and reads the bindings by name.
var functions = map[string][]map[string]any{
	"collect": {
		{"name": "timer", "type": "timerTrigger", "direction": "in", "schedule": "%CLOUDTRIM_COLLECT_SCHEDULE%"},
	},
	"optimize": {
		{"name": "manifest", "type": "blobTrigger", "direction": "in", "path": "%CLOUDTRIM_LAKE_CONTAINER%/{name}", "connection": "CLOUDTRIM_LAKE_STORAGE", "source": "EventGrid"},
	},
	"ingest": {
		{"name": "export", "type": "blobTrigger", "direction": "in", "path": "%CLOUDTRIM_EXPORTS_CONTAINER%/{name}", "connection": "CLOUDTRIM_LAKE_STORAGE", "source": "EventGrid"},
	},
	"approve": {
		{"name": "req", "type": "httpTrigger", "direction": "in", "authLevel": "anonymous", "methods": []any{"get", "post"}, "route": "{*path}"},
		{"name": "res", "type": "http", "direction": "out"},
	},
	"actuate": {
		{"name": "message", "type": "queueTrigger", "direction": "in", "queueName": "%CLOUDTRIM_QUEUE_NAME%", "connection": "CLOUDTRIM_QUEUE_STORAGE"},
	},
}

// resourceTypes are every type the template may deploy; a new one needs a review of its
// permissions and a line here.
var resourceTypes = []string{
	"Microsoft.Authorization/locks",
	"Microsoft.Authorization/roleAssignments",
	"Microsoft.Authorization/roleDefinitions",
	"Microsoft.EventGrid/systemTopics",
	"Microsoft.Insights/components",
	"Microsoft.KeyVault/vaults",
	"Microsoft.KeyVault/vaults/secrets",
	"Microsoft.ManagedIdentity/userAssignedIdentities",
	"Microsoft.OperationalInsights/workspaces",
	"Microsoft.Resources/deployments",
	"Microsoft.Resources/resourceGroups",
	"Microsoft.Storage/storageAccounts",
	"Microsoft.Storage/storageAccounts/blobServices",
	"Microsoft.Storage/storageAccounts/blobServices/containers",
	"Microsoft.Storage/storageAccounts/managementPolicies",
	"Microsoft.Storage/storageAccounts/queueServices",
	"Microsoft.Storage/storageAccounts/queueServices/queues",
	"Microsoft.Web/serverfarms",
	"Microsoft.Web/sites",
	"Microsoft.Web/sites/basicPublishingCredentialsPolicies",
}

// flexRejected are siteConfig properties Flex Consumption refuses (ARM error 51021) or that
// belong to other plans; the runtime and scale live in functionAppConfig instead.
var flexRejected = []string{
	"alwaysOn", "ftpsState", "functionAppScaleLimit", "functionsRuntimeScaleMonitoringEnabled",
	"linuxFxVersion", "netFrameworkVersion", "preWarmedInstanceCount", "use32BitWorkerProcess",
	"windowsFxVersion",
}

// flexDeprecated are app settings Flex Consumption deprecates: functionAppConfig replaces them.
var flexDeprecated = []string{
	"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION", "FUNCTIONS_EXTENSION_VERSION",
	"WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE",
	"SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD", "WEBSITE_TIME_ZONE", "WEBSITE_NODE_DEFAULT_VERSION",
	"AzureWebJobsStorage",
}

// placeholder marks the values of parameters.example.json that must be replaced; deploy.sh
// refuses a parameters file that still holds it.
const placeholder = "REPLACE-ME"

// ------------------------------------------------------------------ helpers

// names are what the app settings say the deployment is made of; every check ties the
// resources to them, so that a setting and a resource cannot drift apart.
type names struct {
	lake, host, vault, lakeContainer, exportsContainer, queue string
	identity                                                  *resource
	clientID, principal                                       sym
}

var kvRef = regexp.MustCompile(`^@Microsoft\.KeyVault\(SecretUri=https://([a-z0-9-]+)\.vault\.azure\.net/secrets/([A-Za-z0-9-]+)/\)$`)

func (d *deployment) names(r *report) (*names, map[string]any) {
	s := d.settings(r)
	if s == nil {
		return nil, nil
	}
	n := &names{
		host:             render(s["AzureWebJobsStorage__accountName"]),
		lakeContainer:    render(s["CLOUDTRIM_LAKE_CONTAINER"]),
		exportsContainer: render(s["CLOUDTRIM_EXPORTS_CONTAINER"]),
		queue:            render(s["CLOUDTRIM_QUEUE_NAME"]),
	}
	u, err := url.Parse(render(s["CLOUDTRIM_LAKE_URL"]))
	if err != nil || u.Scheme != "azblob" {
		r.Errorf("%s: app setting CLOUDTRIM_LAKE_URL = %q; want azblob://<container>?storage_account=<account>", templateFile, render(s["CLOUDTRIM_LAKE_URL"]))
		return nil, nil
	}
	n.lake = u.Query().Get("storage_account")
	if m := kvRef.FindStringSubmatch(render(s["CLOUDTRIM_WEBHOOK_SECRET"])); m != nil {
		n.vault = m[1]
	}
	ids := d.of("Microsoft.ManagedIdentity/userAssignedIdentities")
	if len(ids) != 1 {
		r.Errorf("%s (%s): %d user-assigned identities; want 1", templateFile, d.variant.name, len(ids))
		return nil, nil
	}
	n.identity = ids[0]
	n.clientID = sym("reference(" + n.identity.id + ").clientId")
	n.principal = sym("reference(" + n.identity.id + ").principalId")
	return n, s
}

// account returns the deployed storage account with a name.
func (d *deployment) account(r *report, name, what string) *resource {
	for _, a := range d.of("Microsoft.Storage/storageAccounts") {
		if a.name == name {
			return a
		}
	}
	r.Errorf("%s (%s): no storage account %q, which %s names", templateFile, d.variant.name, name, what)
	return nil
}

// want reports prop of where unless got equals w.
func want(r *report, where, prop string, got, w any) {
	if !cmp.Equal(norm(got), norm(w)) {
		r.Errorf("%s: %s = %v; want %v", where, prop, got, w)
	}
}

// walkStrings calls f with every string in a JSON value and its path.
func walkStrings(v any, path string, f func(path, s string)) {
	switch v := v.(type) {
	case string:
		f(path, v)
	case []any:
		for i, x := range v {
			walkStrings(x, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			f(path+"{key}", k)
			walkStrings(v[k], path+"."+k, f)
		}
	}
}

// ------------------------------------------------------------------- checks

// checkStructure: the template is a subscription-scope template whose every expression parses
// and calls only ARM functions, whose nested deployments evaluate their own expressions, and
// whose every dependsOn names a resource of the same template.
func checkStructure(r *report, b *bundle) {
	if s, _ := b.template["$schema"].(string); !strings.Contains(s, "subscriptionDeploymentTemplate.json") {
		r.Errorf("%s: $schema = %q; want a subscription deployment template (the collector's roles are granted on subscriptions)", templateFile, s)
	}
	walkStrings(b.template, "", func(path, s string) {
		if !isExpr(s) {
			return
		}
		n, err := parseExpr(s[1 : len(s)-1])
		if err != nil {
			r.Errorf("%s%s: expression does not parse: %v", templateFile, path, err)
			return
		}
		var fns []string
		calls(n, &fns)
		for _, f := range fns {
			if l := strings.ToLower(f); !armFunctions[l] && !strings.HasPrefix(l, "list") {
				r.Errorf("%s%s: %s() is not an ARM template function", templateFile, path, f)
			}
		}
	})
	for _, v := range variants {
		d := deployed(r, b, v)
		if d == nil {
			continue
		}
		for _, res := range d.resources {
			if strings.EqualFold(res.typ, "Microsoft.Resources/deployments") {
				if s := dig(res.v, "properties", "expressionEvaluationOptions", "scope"); s != "inner" {
					r.Errorf("%s: properties.expressionEvaluationOptions.scope = %v; want inner (the nested template's expressions must not be evaluated in the outer template)", res, s)
				}
			}
			deps, _ := res.v["dependsOn"].([]any)
			for _, dep := range deps {
				found := false
				for _, o := range d.resources {
					if o.tmpl == res.tmpl && strings.EqualFold(o.id, render(dep)) {
						found = true
					}
				}
				if !found {
					r.Errorf("%s (%s): dependsOn %s names no resource of its template", res, v.name, render(dep))
				}
			}
		}
	}
}

// checkMetadata: the template says why it is built as it is, in particular what ABAC cannot do,
// and names every API version it uses.
func checkMetadata(r *report, b *bundle) {
	meta, _ := b.template["metadata"].(map[string]any)
	for key, words := range map[string][]string{
		"deploymentScope":    {"Subscription scope", "nested"},
		"hostingPlan":        {"Flex Consumption", "custom"},
		"eventSubscriptions": {"deploy.sh", "blobs_extension"},
		"abac":               {"Microsoft.Compute", "cannot", "opt-in tag", "in code"},
	} {
		text, _ := meta[key].(string)
		for _, w := range words {
			if !strings.Contains(text, w) {
				r.Errorf("%s: metadata.%s does not mention %q", templateFile, key, w)
			}
		}
	}
	versions, _ := meta["apiVersions"].(string)
	walkStrings(b.template, "", func(path, s string) {
		if strings.HasSuffix(path, ".apiVersion") && !strings.Contains(versions, s) {
			r.Errorf("%s%s = %s, which metadata.apiVersions does not list", templateFile, path, s)
		}
	})
}

// checkParameters: the parameters the deployment needs, with a dry run by default and secrets
// that are secure strings.
func checkParameters(r *report, b *bundle) {
	params, _ := b.template["parameters"].(map[string]any)
	type spec struct {
		typ      string
		def      any
		required bool
	}
	for name, s := range map[string]spec{
		"namePrefix":         {typ: "string", required: true},
		"location":           {typ: "string"},
		"subscriptions":      {typ: "array", required: true},
		"optInTag":           {typ: "string", def: "cloudtrim-optin"},
		"apply":              {typ: "bool", def: false},
		"collectSchedule":    {typ: "string", def: "0 0 */6 * * *"},
		"notificationUrl":    {typ: "string", def: ""},
		"webhookSecret":      {typ: "securestring", required: true},
		"slackSigningSecret": {typ: "securestring", def: ""},
	} {
		p, ok := params[name].(map[string]any)
		if !ok {
			r.Errorf("%s: no parameter %s", templateFile, name)
			continue
		}
		where := fmt.Sprintf("%s: parameters.%s", templateFile, name)
		if t, _ := p["type"].(string); !strings.EqualFold(t, s.typ) {
			r.Errorf("%s.type = %q; want %s", where, t, s.typ)
		}
		dv, has := p["defaultValue"]
		switch {
		case s.required && has:
			r.Errorf("%s has defaultValue %v; want none (the deployment must be given it)", where, dv)
		case !s.required && !has:
			r.Errorf("%s has no defaultValue", where)
		case s.def != nil && !cmp.Equal(dv, s.def):
			r.Errorf("%s.defaultValue = %#v; want %#v", where, dv, s.def)
		}
	}
	if n, _ := dig(params, "subscriptions", "minLength").(float64); n < 1 {
		r.Errorf("%s: parameters.subscriptions.minLength = %v; want at least 1", templateFile, n)
	}
	if n, _ := dig(params, "webhookSecret", "minLength").(float64); n < 32 {
		r.Errorf("%s: parameters.webhookSecret.minLength = %v; want at least 32 (an HMAC key)", templateFile, n)
	}
	if f := strings.Fields(render(dig(params, "collectSchedule", "defaultValue"))); len(f) != 6 || f[2] != "*/6" {
		r.Errorf("%s: parameters.collectSchedule.defaultValue = %v; want a six-field NCRONTAB expression running every 6 hours", templateFile, f)
	}
	// Secure parameters never leave through an output.
	var check func(tmpl map[string]any, where string)
	check = func(tmpl map[string]any, where string) {
		ps, _ := tmpl["parameters"].(map[string]any)
		for name, p := range ps {
			if t, _ := dig(p, "type").(string); !strings.HasPrefix(strings.ToLower(t), "secure") {
				continue
			}
			walkStrings(tmpl["outputs"], where+".outputs", func(path, s string) {
				if strings.Contains(strings.ToLower(s), strings.ToLower("parameters('"+name+"')")) {
					r.Errorf("%s%s exposes the secure parameter %s", templateFile, path, name)
				}
			})
		}
		rs, _ := tmpl["resources"].([]any)
		for i, x := range rs {
			if inner, ok := dig(x, "properties", "template").(map[string]any); ok {
				check(inner, fmt.Sprintf("%s.resources[%d].properties.template", where, i))
			}
		}
	}
	check(b.template, "")
}

// checkResourceTypes: every resource type the deployment needs is deployed, and nothing else.
func checkResourceTypes(r *report, b *bundle) {
	d := deployed(r, b, defaults)
	if d == nil {
		return
	}
	got := map[string]int{}
	for _, res := range d.resources {
		if res.deployed {
			got[res.typ]++
		}
	}
	for _, t := range resourceTypes {
		if got[t] == 0 {
			r.Errorf("%s (%s): deploys no %s", templateFile, d.variant.name, t)
		}
	}
	for _, t := range sortedKeys(got) {
		if !slices.Contains(resourceTypes, t) {
			r.Errorf("%s (%s): deploys %d %s, a type the tests do not know: review its permissions and add it to resourceTypes", templateFile, d.variant.name, got[t], t)
		}
	}
}

var storageName = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// checkStorage: the lake and the host storage are identity-only, TLS 1.2, HTTPS-only and
// private; the lake keeps versions and deleted blobs and containers, and cannot be deleted by
// accident.
func checkStorage(r *report, b *bundle) {
	d := deployed(r, b, defaults)
	if d == nil {
		return
	}
	n, _ := d.names(r)
	if n == nil {
		return
	}
	for _, a := range d.of("Microsoft.Storage/storageAccounts") {
		if !storageName.MatchString(a.name) {
			r.Errorf("%s: name %q with the longest namePrefix (%q) is not 3 to 24 lowercase letters and digits", a, a.name, testPrefix)
		}
		for prop, v := range map[string]any{
			"minimumTlsVersion":        "TLS1_2",
			"supportsHttpsTrafficOnly": true,
			"allowBlobPublicAccess":    false,
			"allowSharedKeyAccess":     false,
		} {
			want(r, a.String(), "properties."+prop, dig(a.v, "properties", prop), v)
		}
	}
	lake := d.account(r, n.lake, "CLOUDTRIM_LAKE_URL")
	host := d.account(r, n.host, "AzureWebJobsStorage__accountName")
	if lake == nil || host == nil {
		return
	}
	if lake == host {
		r.Errorf("%s: the lake and the Functions host share account %q; want two (host internals stay out of the lake)", lake, lake.name)
	}
	blob := d.byID(lake.id + "/blobServices/default")
	if blob == nil {
		r.Errorf("%s: the lake account has no blobServices/default", lake)
	} else {
		want(r, blob.String(), "properties.isVersioningEnabled", dig(blob.v, "properties", "isVersioningEnabled"), true)
		for _, p := range []string{"deleteRetentionPolicy", "containerDeleteRetentionPolicy"} {
			want(r, blob.String(), "properties."+p+".enabled", dig(blob.v, "properties", p, "enabled"), true)
			if days, _ := dig(blob.v, "properties", p, "days").(float64); days < 7 {
				r.Errorf("%s: properties.%s.days = %v; want at least 7", blob, p, days)
			}
		}
	}
	for _, c := range []string{n.lakeContainer, n.exportsContainer} {
		res := d.byID(lake.id + "/blobServices/default/containers/" + c)
		if res == nil {
			r.Errorf("%s: the lake account has no container %q", lake, c)
			continue
		}
		want(r, res.String(), "properties.publicAccess", dig(res.v, "properties", "publicAccess"), "None")
	}
	expires := false
	if p := d.byID(lake.id + "/managementPolicies/default"); p != nil {
		rules, _ := dig(p.v, "properties", "policy", "rules").([]any)
		for _, rule := range rules {
			if dig(rule, "enabled") == true && dig(rule, "definition", "actions", "version", "delete") != nil {
				expires = true
			}
		}
	}
	if !expires {
		r.Errorf("%s: no enabled lifecycle rule deletes previous blob versions; versioning would keep every overwritten pointer forever", lake)
	}
	locked := false
	for _, l := range d.of("Microsoft.Authorization/locks") {
		if strings.EqualFold(l.scope, lake.id) && dig(l.v, "properties", "level") == "CanNotDelete" {
			locked = true
		}
	}
	if !locked {
		r.Errorf("%s: no CanNotDelete lock on the lake account; it holds the audit trail", lake)
	}
}

// checkQueues: the action queue and its poison queue exist on the account the settings name,
// and so does the blob trigger's poison queue.
func checkQueues(r *report, b *bundle) {
	d := deployed(r, b, defaults)
	if d == nil {
		return
	}
	n, s := d.names(r)
	if n == nil {
		return
	}
	lake := d.account(r, n.lake, "CLOUDTRIM_LAKE_URL")
	if lake == nil {
		return
	}
	if n.queue != "cloudtrim-actions" {
		r.Errorf("%s: app setting CLOUDTRIM_QUEUE_NAME = %q; want cloudtrim-actions", templateFile, n.queue)
	}
	for _, q := range []string{n.queue, n.queue + "-poison", "webjobs-blobtrigger-poison"} {
		if d.byID(lake.id+"/queueServices/default/queues/"+q) == nil {
			r.Errorf("%s: the lake account has no queue %q", lake, q)
		}
	}
	queueURI := fmt.Sprintf("https://%s.queue.core.windows.net", n.lake)
	want(r, templateFile, "app setting CLOUDTRIM_QUEUE_URL", s["CLOUDTRIM_QUEUE_URL"], queueURI+"/"+n.queue)
	want(r, templateFile, "app setting CLOUDTRIM_QUEUE_STORAGE__queueServiceUri", s["CLOUDTRIM_QUEUE_STORAGE__queueServiceUri"], queueURI)
}

// checkKeyVault: the vault uses RBAC, soft delete and purge protection; the secrets reach the
// app only as Key Vault references resolved with the user-assigned identity.
func checkKeyVault(r *report, b *bundle) {
	for _, v := range variants {
		d := deployed(r, b, v)
		if d == nil {
			continue
		}
		n, s := d.names(r)
		if n == nil {
			continue
		}
		for _, name := range sortedKeys(s) {
			if value := render(s[name]); strings.Contains(value, testWebhookSecret) || strings.Contains(value, testSlackSecret) {
				r.Errorf("%s: app setting %s holds a secret in plain text; want a Key Vault reference", templateFile, name)
			}
		}
		var vault *resource
		for _, kv := range d.of("Microsoft.KeyVault/vaults") {
			if kv.name == n.vault {
				vault = kv
			}
		}
		if vault == nil {
			r.Errorf("%s (%s): app setting CLOUDTRIM_WEBHOOK_SECRET = %v; want @Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>/) naming a vault of the template", templateFile, v.name, s["CLOUDTRIM_WEBHOOK_SECRET"])
			continue
		}
		for prop, x := range map[string]any{"enableRbacAuthorization": true, "enableSoftDelete": true, "enablePurgeProtection": true} {
			want(r, vault.String(), "properties."+prop, dig(vault.v, "properties", prop), x)
		}
		if days, _ := dig(vault.v, "properties", "softDeleteRetentionInDays").(float64); days < 7 || days > 90 {
			r.Errorf("%s: properties.softDeleteRetentionInDays = %v; want 7 to 90", vault, days)
		}
		if ap, _ := dig(vault.v, "properties", "accessPolicies").([]any); len(ap) > 0 {
			r.Errorf("%s: properties.accessPolicies has %d entries; want none (RBAC only)", vault, len(ap))
		}
		site := d.site(r)
		if site != nil {
			want(r, site.String(), "properties.keyVaultReferenceIdentity", dig(site.v, "properties", "keyVaultReferenceIdentity"), n.identity.id)
		}
		for setting, value := range map[string]string{
			"CLOUDTRIM_WEBHOOK_SECRET":       testWebhookSecret,
			"CLOUDTRIM_SLACK_SIGNING_SECRET": render(v.set["slackSigningSecret"]),
		} {
			got := render(s[setting])
			if value == "" {
				if got != "" {
					r.Errorf("%s (%s): app setting %s = %q; want empty when the secret is not given", templateFile, v.name, setting, got)
				}
				continue
			}
			m := kvRef.FindStringSubmatch(got)
			if m == nil || m[1] != vault.name {
				r.Errorf("%s (%s): app setting %s = %q; want a Key Vault reference @Microsoft.KeyVault(SecretUri=https://%s.vault.azure.net/secrets/<name>/)", templateFile, v.name, setting, got, vault.name)
				continue
			}
			secret := d.byID(vault.id + "/secrets/" + m[2])
			if secret == nil {
				r.Errorf("%s (%s): app setting %s refers to secret %q, which the template does not deploy", templateFile, v.name, setting, m[2])
				continue
			}
			if dig(secret.v, "properties", "value") != value {
				r.Errorf("%s (%s): properties.value is not the parameter the secret comes from", secret, v.name)
			}
		}
		if v.set["slackSigningSecret"] == nil && d.byID(vault.id+"/secrets/slack-signing-secret") != nil {
			r.Errorf("%s (%s): deploys a Slack secret although slackSigningSecret is empty", templateFile, v.name)
		}
	}
}

// checkFunctionApp: a Linux custom-handler app on the Flex Consumption plan with one
// user-assigned identity, HTTPS only, TLS 1.2, no FTP, identity-based host and deployment
// storage, and optional Application Insights with Microsoft Entra authentication.
func checkFunctionApp(r *report, b *bundle) {
	for _, v := range variants {
		d := deployed(r, b, v)
		if d == nil {
			continue
		}
		n, s := d.names(r)
		site := d.site(r)
		if n == nil || site == nil {
			continue
		}
		if kind, _ := site.v["kind"].(string); !strings.Contains(kind, "functionapp") || !strings.Contains(kind, "linux") {
			r.Errorf("%s: kind = %q; want functionapp,linux", site, kind)
		}
		plan := d.byID(render(dig(site.v, "properties", "serverFarmId")))
		if plan == nil {
			r.Errorf("%s: properties.serverFarmId = %v names no plan of the template", site, dig(site.v, "properties", "serverFarmId"))
		} else {
			want(r, plan.String(), "sku.tier", dig(plan.v, "sku", "tier"), "FlexConsumption")
			want(r, plan.String(), "sku.name", dig(plan.v, "sku", "name"), "FC1")
			want(r, plan.String(), "properties.reserved (Linux)", dig(plan.v, "properties", "reserved"), true)
		}
		want(r, site.String(), "properties.functionAppConfig.runtime.name", dig(site.v, "properties", "functionAppConfig", "runtime", "name"), "custom")
		want(r, site.String(), "identity.type", dig(site.v, "identity", "type"), "UserAssigned")
		ids, _ := dig(site.v, "identity", "userAssignedIdentities").(map[string]any)
		if diff := cmp.Diff([]string{n.identity.id}, sortedKeys(ids)); diff != "" {
			r.Errorf("%s: identity.userAssignedIdentities (-want +got):\n%s", site, diff)
		}
		want(r, site.String(), "properties.httpsOnly", dig(site.v, "properties", "httpsOnly"), true)
		want(r, site.String(), "properties.siteConfig.minTlsVersion", dig(site.v, "properties", "siteConfig", "minTlsVersion"), "1.2")
		for _, p := range flexRejected {
			if x := dig(site.v, "properties", "siteConfig", p); x != nil {
				r.Errorf("%s: properties.siteConfig.%s = %v; Flex Consumption rejects it", site, p, x)
			}
		}
		for _, method := range []string{"ftp", "scm"} {
			pol := d.byID(site.id + "/basicPublishingCredentialsPolicies/" + method)
			if pol == nil {
				r.Errorf("%s: no basicPublishingCredentialsPolicies/%s; want %s basic-auth publishing turned off", site, method, method)
				continue
			}
			want(r, pol.String(), "properties.allow", dig(pol.v, "properties", "allow"), false)
		}
		storage := dig(site.v, "properties", "functionAppConfig", "deployment", "storage")
		want(r, site.String(), "properties.functionAppConfig.deployment.storage.authentication.type", dig(storage, "authentication", "type"), "UserAssignedIdentity")
		want(r, site.String(), "properties.functionAppConfig.deployment.storage.authentication.userAssignedIdentityResourceId", dig(storage, "authentication", "userAssignedIdentityResourceId"), n.identity.id)
		pkg := strings.TrimPrefix(render(dig(storage, "value")), fmt.Sprintf("https://%s.blob.core.windows.net/", n.host))
		if host := d.account(r, n.host, "AzureWebJobsStorage__accountName"); host != nil && d.byID(host.id+"/blobServices/default/containers/"+pkg) == nil {
			r.Errorf("%s: properties.functionAppConfig.deployment.storage.value = %v; want a container of the host storage account %s", site, dig(storage, "value"), n.host)
		}
		for _, name := range flexDeprecated {
			if x, ok := s[name]; ok {
				r.Errorf("%s: app setting %s = %v; Flex Consumption deprecates it (functionAppConfig and the identity-based settings replace it)", site, name, x)
			}
		}
		for _, name := range sortedKeys(s) {
			if x := render(s[name]); strings.Contains(x, "AccountKey=") || strings.Contains(x, "SharedAccessSignature=") {
				r.Errorf("%s: app setting %s holds a storage key or SAS; want identity-based connections only", site, name)
			}
		}
		insights := d.of("Microsoft.Insights/components")
		ai, _ := v.set["applicationInsights"].(bool)
		if _, set := v.set["applicationInsights"]; !set {
			ai = true
		}
		switch {
		case ai && len(insights) != 1:
			r.Errorf("%s (%s): %d Application Insights components; want 1", templateFile, v.name, len(insights))
		case ai:
			want(r, insights[0].String(), "properties.DisableLocalAuth", dig(insights[0].v, "properties", "DisableLocalAuth"), true)
			want(r, site.String(), "app setting APPLICATIONINSIGHTS_CONNECTION_STRING", s["APPLICATIONINSIGHTS_CONNECTION_STRING"], sym("reference("+insights[0].id+").ConnectionString"))
			want(r, site.String(), "app setting APPLICATIONINSIGHTS_AUTHENTICATION_STRING", s["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"], fmt.Sprintf("ClientId=%s;Authorization=AAD", n.clientID))
		default:
			if len(insights) != 0 || len(d.of("Microsoft.OperationalInsights/workspaces")) != 0 {
				r.Errorf("%s (%s): deploys Application Insights or Log Analytics although applicationInsights is false", templateFile, v.name)
			}
			want(r, site.String(), "app setting APPLICATIONINSIGHTS_CONNECTION_STRING", s["APPLICATIONINSIGHTS_CONNECTION_STRING"], "")
		}
	}
}

// checkAppSettings: every setting the Go host reads, with the value it must have.
func checkAppSettings(r *report, b *bundle) {
	for _, v := range variants {
		d := deployed(r, b, v)
		if d == nil {
			continue
		}
		n, s := d.names(r)
		if n == nil {
			continue
		}
		apply := "false"
		if v.set["apply"] == true {
			apply = "true"
		}
		blobURI := fmt.Sprintf("https://%s.blob.core.windows.net", n.lake)
		queueURI := fmt.Sprintf("https://%s.queue.core.windows.net", n.lake)
		wantSettings := map[string]any{
			"CLOUDTRIM_LAKE_URL":                       fmt.Sprintf("azblob://lake?storage_account=%s", n.lake),
			"CLOUDTRIM_LAKE_CONTAINER":                 "lake",
			"CLOUDTRIM_EXPORTS_CONTAINER":              "cost-exports",
			"CLOUDTRIM_QUEUE_URL":                      queueURI + "/cloudtrim-actions",
			"CLOUDTRIM_QUEUE_NAME":                     "cloudtrim-actions",
			"CLOUDTRIM_SUBSCRIPTIONS":                  strings.Join(collected, ","),
			"CLOUDTRIM_APPLY":                          apply,
			"CLOUDTRIM_OPTIN_TAG":                      testOptInTag,
			"CLOUDTRIM_NOTIFY_URL":                     testNotifyURL,
			"CLOUDTRIM_COLLECT_SCHEDULE":               "0 0 */6 * * *",
			"AZURE_CLIENT_ID":                          n.clientID,
			"AzureWebJobsStorage__accountName":         n.host,
			"AzureWebJobsStorage__credential":          "managedidentity",
			"AzureWebJobsStorage__clientId":            n.clientID,
			"CLOUDTRIM_LAKE_STORAGE__blobServiceUri":   blobURI,
			"CLOUDTRIM_LAKE_STORAGE__queueServiceUri":  queueURI,
			"CLOUDTRIM_LAKE_STORAGE__credential":       "managedidentity",
			"CLOUDTRIM_LAKE_STORAGE__clientId":         n.clientID,
			"CLOUDTRIM_QUEUE_STORAGE__blobServiceUri":  blobURI,
			"CLOUDTRIM_QUEUE_STORAGE__queueServiceUri": queueURI,
			"CLOUDTRIM_QUEUE_STORAGE__credential":      "managedidentity",
			"CLOUDTRIM_QUEUE_STORAGE__clientId":        n.clientID,
		}
		for _, name := range sortedKeys(wantSettings) {
			got, ok := s[name]
			if !ok {
				r.Errorf("%s (%s): no app setting %s, which the Go host reads", templateFile, v.name, name)
				continue
			}
			want(r, fmt.Sprintf("%s (%s)", templateFile, v.name), "app setting "+name, got, wantSettings[name])
		}
		for _, name := range []string{"CLOUDTRIM_WEBHOOK_SECRET", "CLOUDTRIM_SLACK_SIGNING_SECRET"} {
			if _, ok := s[name]; !ok {
				r.Errorf("%s (%s): no app setting %s, which the Go host reads", templateFile, v.name, name)
			}
		}
	}
}

// grant is one role assignment: a role on a scope.
type grant struct{ role, scope string }

func (g grant) String() string { return g.role + " @ " + g.scope }

// checkRoleAssignments: the identity holds exactly the roles it needs, on the narrowest scopes,
// never a role that writes everywhere or grants roles, and the actuator's role only when apply
// is true.
func checkRoleAssignments(r *report, b *bundle) {
	for _, v := range variants {
		d := deployed(r, b, v)
		if d == nil {
			continue
		}
		n, _ := d.names(r)
		if n == nil {
			continue
		}
		lake := d.account(r, n.lake, "CLOUDTRIM_LAKE_URL")
		host := d.account(r, n.host, "AzureWebJobsStorage__accountName")
		var vault *resource
		for _, kv := range d.of("Microsoft.KeyVault/vaults") {
			if kv.name == n.vault {
				vault = kv
			}
		}
		defs := d.of("Microsoft.Authorization/roleDefinitions")
		if lake == nil || host == nil || vault == nil || len(defs) != 1 {
			r.Errorf("%s (%s): cannot check the role assignments: lake %v, host storage %v, vault %v, %d custom roles (want 1)", templateFile, v.name, lake != nil, host != nil, vault != nil, len(defs))
			continue
		}
		wantGrants := []grant{
			{"Storage Blob Data Contributor", lake.id + "/blobServices/default/containers/" + n.lakeContainer},
			{"Storage Blob Data Reader", lake.id + "/blobServices/default/containers/" + n.exportsContainer},
			{"Storage Queue Data Contributor", lake.id + "/queueServices/default/queues/" + n.queue},
			{"Storage Queue Data Contributor", lake.id + "/queueServices/default/queues/" + n.queue + "-poison"},
			{"Storage Queue Data Contributor", lake.id + "/queueServices/default/queues/webjobs-blobtrigger-poison"},
			{"Storage Blob Data Owner", host.id},
			{"Storage Queue Data Contributor", host.id},
			{"Key Vault Secrets User", vault.id},
		}
		for _, c := range d.of("Microsoft.Insights/components") {
			wantGrants = append(wantGrants, grant{"Monitoring Metrics Publisher", c.id})
		}
		for _, sub := range collected {
			wantGrants = append(wantGrants, grant{"Reader", "/subscriptions/" + sub}, grant{"Cost Management Reader", "/subscriptions/" + sub})
			if v.set["apply"] == true {
				wantGrants = append(wantGrants, grant{actuatorRole, "/subscriptions/" + sub})
			}
		}
		var got []grant
		for _, a := range d.of("Microsoft.Authorization/roleAssignments") {
			def := render(dig(a.v, "properties", "roleDefinitionId"))
			guid := def[strings.LastIndex(def, "/")+1:]
			role, known := builtInRoles[guid]
			switch {
			case forbiddenRoles[guid] != "":
				r.Errorf("%s (%s): assigns %s on %s; the identity must never hold it", a, v.name, forbiddenRoles[guid], a.scope)
				role = forbiddenRoles[guid]
			case guid == defs[0].name:
				role = actuatorRole
			case !known:
				r.Errorf("%s (%s): properties.roleDefinitionId = %s, a role the tests do not know", a, v.name, def)
				role = "unknown role " + guid
			}
			got = append(got, grant{role, a.scope})
			want(r, a.String(), "properties.principalType", dig(a.v, "properties", "principalType"), "ServicePrincipal")
			if p := d.principalOf(a); p != n.principal {
				r.Errorf("%s (%s): properties.principalId evaluates to %v; want the identity's principal %s", a, v.name, p, n.principal)
			}
		}
		sortGrants := cmp.Transformer("sort", func(in []grant) []string {
			out := make([]string, len(in))
			for i, g := range in {
				out[i] = g.String()
			}
			sort.Strings(out)
			return out
		})
		if diff := cmp.Diff(wantGrants, got, sortGrants); diff != "" {
			r.Errorf("%s (%s): the identity's role assignments differ from least privilege: role @ scope (-want +got):\n%s", templateFile, v.name, diff)
		}
	}
}

// principalOf evaluates a role assignment's principal ID, following a nested deployment's
// output back to the identity when the principal was passed in as a parameter.
func (d *deployment) principalOf(a *resource) any {
	p := dig(a.v, "properties", "principalId")
	s, ok := p.(sym)
	const suffix = ").outputs.principalId.value"
	if !ok || !strings.HasPrefix(string(s), "reference(") || !strings.HasSuffix(string(s), suffix) {
		return p
	}
	dep := d.byID(strings.TrimSuffix(strings.TrimPrefix(string(s), "reference("), suffix))
	if dep == nil || dep.nested == nil {
		return p
	}
	out, err := dep.nested.evalJSON(dig(dep.nested.tmpl, "outputs", "principalId", "value"))
	if err != nil {
		return err
	}
	return out
}

// checkActuatorRole: the custom role lists exactly the actuator's operations, no wildcard and
// no data action, assignable in every collected subscription.
func checkActuatorRole(r *report, b *bundle) {
	d := deployed(r, b, applyOn)
	if d == nil {
		return
	}
	defs := d.of("Microsoft.Authorization/roleDefinitions")
	if len(defs) != 1 {
		r.Errorf("%s: %d custom role definitions; want 1 (the actuator's)", templateFile, len(defs))
		return
	}
	def := defs[0]
	perms, _ := dig(def.v, "properties", "permissions").([]any)
	if len(perms) != 1 {
		r.Errorf("%s: properties.permissions has %d entries; want 1", def, len(perms))
		return
	}
	var actions []string
	list, _ := dig(perms[0], "actions").([]any)
	for _, a := range list {
		actions = append(actions, render(a))
		if strings.Contains(render(a), "*") {
			r.Errorf("%s: properties.permissions[0].actions has the wildcard %s", def, render(a))
		}
	}
	if diff := cmp.Diff(actuatorActions, actions, sorted); diff != "" {
		r.Errorf("%s: properties.permissions[0].actions differ from the actuator's operations (-want +got):\n%s", def, diff)
	}
	for _, k := range []string{"notActions", "dataActions", "notDataActions"} {
		if x, _ := dig(perms[0], k).([]any); len(x) > 0 {
			r.Errorf("%s: properties.permissions[0].%s = %v; want empty", def, k, x)
		}
	}
	scopes, _ := dig(def.v, "properties", "assignableScopes").([]any)
	for _, sub := range collected {
		if !slices.Contains(scopes, any("/subscriptions/"+sub)) {
			r.Errorf("%s: properties.assignableScopes = %v; want it to include /subscriptions/%s", def, scopes, sub)
		}
	}
}

// sorted compares lists of strings as sets with order.
var sorted = cmp.Transformer("sorted", func(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	return out
})

// checkFunctions: the function folders and their bindings are exactly the contract with the Go
// host, and every setting a binding names exists and points where it should.
func checkFunctions(r *report, b *bundle) {
	if diff := cmp.Diff(sortedKeys(functions), sortedKeys(b.functions)); diff != "" {
		r.Errorf("function folders (-want +got):\n%s", diff)
	}
	d := deployed(r, b, defaults)
	var n *names
	var s map[string]any
	if d != nil {
		n, s = d.names(r)
	}
	percent := regexp.MustCompile(`%([A-Za-z0-9_]+)%`)
	resolve := func(v string) string {
		return percent.ReplaceAllStringFunc(v, func(m string) string { return render(s[strings.Trim(m, "%")]) })
	}
	for _, name := range sortedKeys(b.functions) {
		file := name + "/function.json"
		got, _ := b.functions[name]["bindings"].([]any)
		if contract, ok := functions[name]; ok {
			wantB := make([]any, len(contract))
			for i, x := range contract {
				wantB[i] = x
			}
			if diff := cmp.Diff(wantB, got); diff != "" {
				r.Errorf("%s: bindings differ from the contract with the Go host (-want +got):\n%s", file, diff)
			}
		}
		walkStrings(b.functions[name], "", func(path, v string) {
			for _, m := range percent.FindAllStringSubmatch(v, -1) {
				if _, ok := s[m[1]]; s != nil && !ok {
					r.Errorf("%s%s = %q refers to %%%s%%, which is not an app setting of %s", file, path, v, m[1], templateFile)
				}
			}
		})
		if n == nil {
			continue
		}
		for i, x := range got {
			conn := render(dig(x, "connection"))
			if conn == "" {
				continue
			}
			where := fmt.Sprintf("%s: bindings[%d] connection %s", file, i, conn)
			want(r, where, "app setting "+conn+"__credential", s[conn+"__credential"], "managedidentity")
			want(r, where, "app setting "+conn+"__clientId", s[conn+"__clientId"], n.clientID)
			switch dig(x, "type") {
			case "blobTrigger":
				account := strings.TrimSuffix(strings.TrimPrefix(render(s[conn+"__blobServiceUri"]), "https://"), ".blob.core.windows.net")
				container, _, _ := strings.Cut(resolve(render(dig(x, "path"))), "/")
				if a := d.account(r, account, where+"__blobServiceUri"); a != nil && d.byID(a.id+"/blobServices/default/containers/"+container) == nil {
					r.Errorf("%s: path %v resolves to container %q, which account %s does not have", where, dig(x, "path"), container, account)
				}
			case "queueTrigger":
				account := strings.TrimSuffix(strings.TrimPrefix(render(s[conn+"__queueServiceUri"]), "https://"), ".queue.core.windows.net")
				queue := resolve(render(dig(x, "queueName")))
				if a := d.account(r, account, where+"__queueServiceUri"); a != nil && d.byID(a.id+"/queueServices/default/queues/"+queue) == nil {
					r.Errorf("%s: queueName %v resolves to queue %q, which account %s does not have", where, dig(x, "queueName"), queue, account)
				}
			}
		}
	}
}

// checkHost: host.json runs the Go binary as a custom handler with the queue and timeout
// settings the actuator relies on, and logs no request content.
func checkHost(r *report, b *bundle) {
	h := b.host
	for _, c := range []struct {
		path []string
		want any
	}{
		{[]string{"version"}, "2.0"},
		{[]string{"customHandler", "description", "defaultExecutablePath"}, "cloudtrim-azure"},
		{[]string{"customHandler", "enableForwardingHttpRequest"}, true},
		{[]string{"extensionBundle", "id"}, "Microsoft.Azure.Functions.ExtensionBundle"},
		{[]string{"extensionBundle", "version"}, "[4.*, 5.0.0)"},
		{[]string{"extensions", "http", "routePrefix"}, "api"},
		{[]string{"extensions", "queues", "maxDequeueCount"}, 5.0},
		{[]string{"extensions", "queues", "visibilityTimeout"}, "00:00:30"},
		{[]string{"extensions", "queues", "batchSize"}, 16.0},
		{[]string{"extensions", "queues", "messageEncoding"}, "base64"},
		{[]string{"functionTimeout"}, "00:10:00"},
		{[]string{"logging", "applicationInsights", "httpAutoCollectionOptions", "enableHttpTriggerExtendedInfoCollection"}, false},
	} {
		want(r, hostFile, strings.Join(c.path, "."), dig(h, c.path...), c.want)
	}
	levels, _ := dig(h, "logging", "logLevel").(map[string]any)
	for _, k := range sortedKeys(levels) {
		if l := render(levels[k]); l == "Trace" || l == "Debug" {
			r.Errorf("%s: logging.logLevel.%s = %s; want Information or less verbose (request content must not be logged)", hostFile, k, l)
		}
	}
	exe := render(dig(h, "customHandler", "description", "defaultExecutablePath"))
	if !strings.Contains(b.script, "/"+exe+"\"") {
		r.Errorf("%s does not build the executable %q that %s starts", scriptFile, exe, hostFile)
	}
}

var (
	scriptFunctions = regexp.MustCompile(`(?m)^functions=\(([^)]*)\)`)
	scriptOutputs   = regexp.MustCompile(`properties\.outputs\.([A-Za-z]+)\.value`)
	scriptWebhooks  = regexp.MustCompile(`Host\.Functions\.([a-z-]+)`)
)

// checkEventGrid: the lake's system topic exists, and deploy.sh subscribes exactly the
// functions that have an Event Grid blob trigger, to BlobCreated events, through the blob
// extension's webhook.
func checkEventGrid(r *report, b *bundle) {
	d := deployed(r, b, defaults)
	if d == nil {
		return
	}
	n, _ := d.names(r)
	if n == nil {
		return
	}
	topics := d.of("Microsoft.EventGrid/systemTopics")
	lake := d.account(r, n.lake, "CLOUDTRIM_LAKE_URL")
	if len(topics) != 1 || lake == nil {
		r.Errorf("%s: %d Event Grid system topics; want 1, on the lake account", templateFile, len(topics))
		return
	}
	want(r, topics[0].String(), "properties.source", dig(topics[0].v, "properties", "source"), lake.id)
	want(r, topics[0].String(), "properties.topicType", dig(topics[0].v, "properties", "topicType"), "Microsoft.Storage.StorageAccounts")
	var blobFns []string
	for _, name := range sortedKeys(b.functions) {
		bs, _ := b.functions[name]["bindings"].([]any)
		for _, x := range bs {
			if dig(x, "type") == "blobTrigger" && dig(x, "source") == "EventGrid" {
				blobFns = append(blobFns, name)
			}
		}
	}
	var subscribed []string
	for _, m := range scriptWebhooks.FindAllStringSubmatch(b.script, -1) {
		if !slices.Contains(subscribed, m[1]) {
			subscribed = append(subscribed, m[1])
		}
	}
	sort.Strings(subscribed)
	if diff := cmp.Diff(blobFns, subscribed); diff != "" {
		r.Errorf("%s subscribes Host.Functions.<name> to the lake's events for other functions than those with an Event Grid blob trigger (-want +got):\n%s", scriptFile, diff)
	}
	for _, s := range []string{"Microsoft.Storage.BlobCreated", "--endpoint-type webhook", "/runtime/webhooks/blobs", "systemKeys.blobs_extension", "snapshots/", "_manifest.json", "manifest.json"} {
		if !strings.Contains(b.script, s) {
			r.Errorf("%s: the event subscriptions do not use %q", scriptFile, s)
		}
	}
}

// checkScript: deploy.sh is strict bash with no prompt, deploys at subscription scope (or
// previews with --what-if), builds the handler for linux/amd64 with every function folder, and
// reads only outputs the template declares.
func checkScript(r *report, b *bundle) {
	if !strings.HasPrefix(b.script, "#!/usr/bin/env bash\n") {
		r.Errorf("%s: first line is not #!/usr/bin/env bash", scriptFile)
	}
	for _, s := range []string{
		"set -euo pipefail", "exec </dev/null", "--no-prompt true", "az account show",
		"az deployment sub create", "az deployment sub what-if", "--what-if",
		"GOOS=linux", "GOARCH=amd64", "./functions/azure", "az functionapp deployment source config-zip", placeholder,
		"az role assignment delete",
	} {
		if !strings.Contains(b.script, s) {
			r.Errorf("%s does not contain %q", scriptFile, s)
		}
	}
	if m := scriptFunctions.FindStringSubmatch(b.script); m == nil {
		r.Errorf("%s: no functions=(...) list of the function folders it packages", scriptFile)
	} else {
		got := strings.Fields(m[1])
		sort.Strings(got)
		if diff := cmp.Diff(sortedKeys(b.functions), got); diff != "" {
			r.Errorf("%s: functions=(...) differs from the function folders (-want +got):\n%s", scriptFile, diff)
		}
	}
	outputs, _ := b.template["outputs"].(map[string]any)
	for _, m := range scriptOutputs.FindAllStringSubmatch(b.script, -1) {
		if _, ok := outputs[m[1]]; !ok {
			r.Errorf("%s reads output %s, which %s does not declare", scriptFile, m[1], templateFile)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", scriptFile).CombinedOutput(); err != nil {
			r.Errorf("bash -n %s: %v\n%s", scriptFile, err, out)
		}
	}
}

// checkExample: parameters.example.json sets only declared parameters, every required one, a
// dry run, and placeholders (never a usable secret) that deploy.sh refuses.
func checkExample(r *report, b *bundle) {
	if s, _ := b.example["$schema"].(string); !strings.Contains(s, "deploymentParameters.json") {
		r.Errorf("%s: $schema = %q; want a deployment parameters file", exampleFile, s)
	}
	given, _ := b.example["parameters"].(map[string]any)
	declared, _ := b.template["parameters"].(map[string]any)
	for _, k := range sortedKeys(given) {
		if _, ok := declared[k]; !ok {
			r.Errorf("%s sets parameter %s, which %s does not declare", exampleFile, k, templateFile)
		}
	}
	for _, k := range sortedKeys(declared) {
		def, _ := declared[k].(map[string]any)
		if _, hasDefault := def["defaultValue"]; hasDefault {
			continue
		}
		if _, ok := given[k]; !ok {
			r.Errorf("%s does not set the required parameter %s", exampleFile, k)
		}
	}
	if a, ok := dig(given, "apply", "value").(bool); ok && a {
		r.Errorf("%s: apply = true; the example must be a dry run", exampleFile)
	}
	if s := render(dig(given, "webhookSecret", "value")); !strings.Contains(s, placeholder) {
		r.Errorf("%s: webhookSecret = %q; want a %s placeholder, never a usable key", exampleFile, s, placeholder)
	}
}

// checkReadme: the README explains what ABAC can and cannot restrict and the dry-run default.
func checkReadme(r *report, _ *bundle) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		r.Errorf("README.md: %v", err)
		return
	}
	text := string(data)
	for _, s := range []string{"ABAC", "Microsoft.Compute", "apply", "dry run", "Flex Consumption", "what-if", "Remove"} {
		if !strings.Contains(text, s) {
			r.Errorf("README.md does not mention %q", s)
		}
	}
}

// -------------------------------------------------------------------- tests

func TestTemplateStructure(t *testing.T)    { run(t, checkStructure, checkMetadata) }
func TestParameters(t *testing.T)           { run(t, checkParameters, checkExample) }
func TestResourceTypes(t *testing.T)        { run(t, checkResourceTypes) }
func TestStorageAccounts(t *testing.T)      { run(t, checkStorage) }
func TestQueues(t *testing.T)               { run(t, checkQueues) }
func TestKeyVault(t *testing.T)             { run(t, checkKeyVault) }
func TestFunctionApp(t *testing.T)          { run(t, checkFunctionApp) }
func TestAppSettings(t *testing.T)          { run(t, checkAppSettings) }
func TestRoleAssignments(t *testing.T)      { run(t, checkRoleAssignments) }
func TestActuatorRole(t *testing.T)         { run(t, checkActuatorRole) }
func TestFunctionBindings(t *testing.T)     { run(t, checkFunctions) }
func TestHostJSON(t *testing.T)             { run(t, checkHost) }
func TestEventSubscriptions(t *testing.T)   { run(t, checkEventGrid) }
func TestDeployScript(t *testing.T)         { run(t, checkScript) }
func TestReadmeExplainsLimits(t *testing.T) { run(t, checkReadme) }

// TestApplyDefaultsToDryRun: with the template's defaults the app is told not to apply and the
// identity cannot change anything; apply=true turns both on.
func TestApplyDefaultsToDryRun(t *testing.T) {
	b, err := loadBundle()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v         variant
		setting   string
		canChange bool
	}{
		{defaults, "false", false},
		{applyOn, "true", true},
	} {
		d, err := deploy(b, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		r := &report{}
		if got := render(d.settings(r)["CLOUDTRIM_APPLY"]); got != tc.setting {
			t.Errorf("%s (%s): app setting CLOUDTRIM_APPLY = %q; want %q", templateFile, tc.v.name, got, tc.setting)
		}
		defs := d.of("Microsoft.Authorization/roleDefinitions")
		changes := false
		for _, a := range d.of("Microsoft.Authorization/roleAssignments") {
			def := render(dig(a.v, "properties", "roleDefinitionId"))
			if len(defs) == 1 && strings.HasSuffix(def, "/"+defs[0].name) {
				changes = true
			}
		}
		if changes != tc.canChange {
			t.Errorf("%s (%s): the actuator's role is assigned = %v; want %v", templateFile, tc.v.name, changes, tc.canChange)
		}
		for _, e := range r.errs {
			t.Error(e)
		}
	}
}

// TestChecksCatchBrokenInvariants breaks one invariant at a time in a copy of the files and
// requires the check that guards it to report it, so that no check passes by asserting nothing.
func TestChecksCatchBrokenInvariants(t *testing.T) {
	orig, err := loadBundle()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, b *bundle)
		check   check
		want    string
	}{
		{"shared keys on the lake", setProp(storageAccount("lakeAccountName"), true, "properties", "allowSharedKeyAccess"), checkStorage, "allowSharedKeyAccess"},
		{"public blobs on the host storage", setProp(storageAccount("hostAccountName"), true, "properties", "allowBlobPublicAccess"), checkStorage, "allowBlobPublicAccess"},
		{"TLS 1.0 on the lake", setProp(storageAccount("lakeAccountName"), "TLS1_0", "properties", "minimumTlsVersion"), checkStorage, "minimumTlsVersion"},
		{"no blob versioning", setProp(resourceNamed("Microsoft.Storage/storageAccounts/blobServices", "lakeAccountName"), false, "properties", "isVersioningEnabled"), checkStorage, "isVersioningEnabled"},
		{"no container soft delete", setProp(resourceNamed("Microsoft.Storage/storageAccounts/blobServices", "lakeAccountName"), false, "properties", "containerDeleteRetentionPolicy", "enabled"), checkStorage, "containerDeleteRetentionPolicy"},
		{"no poison queue", removeResource(resourceNamed("Microsoft.Storage/storageAccounts/queueServices/queues", "actionsPoisonQueue")), checkQueues, "cloudtrim-actions-poison"},
		{"no purge protection", setProp(resourceNamed("Microsoft.KeyVault/vaults", "keyVaultName"), false, "properties", "enablePurgeProtection"), checkKeyVault, "enablePurgeProtection"},
		{"webhook secret in plain text", setSetting("CLOUDTRIM_WEBHOOK_SECRET", "[parameters('webhookSecret')]"), checkKeyVault, "plain text"},
		{"Contributor instead of Reader", setInnerVar("reader", "b24988ac-6180-42a0-ab88-20f7382dd24c"), checkRoleAssignments, "Contributor"},
		{"lake grant on the whole account", setProp(roleAssignment("storageBlobDataContributor"), "[format('Microsoft.Storage/storageAccounts/{0}', parameters('lakeAccountName'))]", "scope"), checkRoleAssignments, "Storage Blob Data Contributor"},
		{"actuator role in a dry run", deleteProp(roleAssignment("actuatorRoleName"), "condition"), checkRoleAssignments, actuatorRole},
		{"wildcard in the actuator role", appendAction("Microsoft.Compute/*"), checkActuatorRole, "Microsoft.Compute/*"},
		{"actuator cannot deallocate", removeAction("Microsoft.Compute/virtualMachines/deallocate/action"), checkActuatorRole, "deallocate"},
		{"apply by default", setParamDefault("apply", true), checkParameters, "apply"},
		{"FUNCTIONS_WORKER_RUNTIME on Flex", addSetting("FUNCTIONS_WORKER_RUNTIME", "custom"), checkFunctionApp, "FUNCTIONS_WORKER_RUNTIME"},
		{"FTP publishing on", setProp(resourceNamed("Microsoft.Web/sites/basicPublishingCredentialsPolicies", "'ftp'"), true, "properties", "allow"), checkFunctionApp, "allow"},
		{"Consumption plan", setProp(resourceNamed("Microsoft.Web/serverfarms", "planName"), "Y1", "sku", "name"), checkFunctionApp, "sku.name"},
		{"app setting missing", removeSetting("CLOUDTRIM_QUEUE_URL"), checkAppSettings, "CLOUDTRIM_QUEUE_URL"},
		{"queue trigger binding renamed", setBinding("actuate", "name", "msg"), checkFunctions, "actuate/function.json"},
		{"unknown setting in a binding", setBinding("optimize", "path", "%CLOUDTRIM_LAKE_BUCKET%/{name}"), checkFunctions, "CLOUDTRIM_LAKE_BUCKET"},
		{"host.json batch size", setHost(32.0, "extensions", "queues", "batchSize"), checkHost, "batchSize"},
		{"host.json handler path", setHost("handler", "customHandler", "description", "defaultExecutablePath"), checkHost, "defaultExecutablePath"},
		{"expression typo", setProp(storageAccount("lakeAccountName"), "[toLower(parameters('lakeSku')]", "sku", "name"), checkStructure, "does not parse"},
		{"dependsOn a missing resource", appendDependsOn(resourceNamed("Microsoft.Web/sites", "functionAppName"), "[resourceId('Microsoft.Web/serverfarms', 'other')]"), checkStructure, "dependsOn"},
		{"event subscription for another function", editScript("Host.Functions.ingest", "Host.Functions.collect"), checkEventGrid, "Host.Functions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := orig.clone(t)
			tc.breakIt(t, b)
			r := &report{}
			tc.check(r, b)
			for _, e := range r.errs {
				if strings.Contains(e, tc.want) {
					return
				}
			}
			t.Errorf("after breaking %q the check reported %d errors, none mentioning %q: %v", tc.name, len(r.errs), tc.want, r.errs)
		})
	}
}

// ------------------------------------------------ breaking a template on purpose

// rawResources returns every resource object of a template, nested templates included.
func rawResources(tmpl map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := tmpl["resources"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		out = append(out, m)
		if inner, ok := dig(m, "properties", "template").(map[string]any); ok {
			out = append(out, rawResources(inner)...)
		}
	}
	return out
}

type matcher func(m map[string]any) bool

func resourceNamed(typ, nameHas string) matcher {
	return func(m map[string]any) bool {
		return m["type"] == typ && strings.Contains(render(m["name"]), nameHas)
	}
}

func storageAccount(param string) matcher {
	return func(m map[string]any) bool {
		return m["type"] == "Microsoft.Storage/storageAccounts" && m["name"] == "[parameters('"+param+"')]"
	}
}

func roleAssignment(roleHas string) matcher {
	return func(m map[string]any) bool {
		return m["type"] == "Microsoft.Authorization/roleAssignments" && strings.Contains(render(dig(m, "properties", "roleDefinitionId")), roleHas)
	}
}

func one(t *testing.T, b *bundle, match matcher) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, m := range rawResources(b.template) {
		if match(m) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the mutation matches %d resources of %s; want 1", len(found), templateFile)
	}
	return found[0]
}

func setIn(t *testing.T, m map[string]any, value any, path ...string) {
	t.Helper()
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("no object at %s", k)
		}
		m = next
	}
	m[path[len(path)-1]] = value
}

func setProp(match matcher, value any, path ...string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) { setIn(t, one(t, b, match), value, path...) }
}

func deleteProp(match matcher, key string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) { delete(one(t, b, match), key) }
}

func appendDependsOn(match matcher, id string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		m := one(t, b, match)
		deps, _ := m["dependsOn"].([]any)
		m["dependsOn"] = append(deps, id)
	}
}

func removeResource(match matcher) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		target := one(t, b, match)
		var prune func(tmpl map[string]any)
		prune = func(tmpl map[string]any) {
			list, _ := tmpl["resources"].([]any)
			var keep []any
			for _, x := range list {
				m, _ := x.(map[string]any)
				if fmt.Sprint(m) == fmt.Sprint(target) {
					continue
				}
				if inner, ok := dig(m, "properties", "template").(map[string]any); ok {
					prune(inner)
				}
				keep = append(keep, x)
			}
			tmpl["resources"] = keep
		}
		prune(b.template)
	}
}

func appSettings(t *testing.T, b *bundle) (map[string]any, []any) {
	site := one(t, b, resourceNamed("Microsoft.Web/sites", "functionAppName"))
	cfg, _ := dig(site, "properties", "siteConfig").(map[string]any)
	list, _ := cfg["appSettings"].([]any)
	return cfg, list
}

func setSetting(name, value string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		_, list := appSettings(t, b)
		for _, x := range list {
			if dig(x, "name") == name {
				x.(map[string]any)["value"] = value
				return
			}
		}
		t.Fatalf("no app setting %s to break", name)
	}
}

func addSetting(name, value string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		cfg, list := appSettings(t, b)
		cfg["appSettings"] = append(list, map[string]any{"name": name, "value": value})
	}
}

func removeSetting(name string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		cfg, list := appSettings(t, b)
		var keep []any
		for _, x := range list {
			if dig(x, "name") != name {
				keep = append(keep, x)
			}
		}
		if len(keep) == len(list) {
			t.Fatalf("no app setting %s to remove", name)
		}
		cfg["appSettings"] = keep
	}
}

func setInnerVar(role, guid string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		for _, m := range rawResources(b.template) {
			if roles, ok := dig(m, "properties", "template", "variables", "roles").(map[string]any); ok {
				if _, has := roles[role]; has {
					roles[role] = guid
					return
				}
			}
		}
		t.Fatalf("no nested template with variables.roles.%s", role)
	}
}

func actuatorPermissions(t *testing.T, b *bundle) map[string]any {
	def := one(t, b, func(m map[string]any) bool { return m["type"] == "Microsoft.Authorization/roleDefinitions" })
	perms, _ := dig(def, "properties", "permissions").([]any)
	return perms[0].(map[string]any)
}

func appendAction(action string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		p := actuatorPermissions(t, b)
		p["actions"] = append(p["actions"].([]any), action)
	}
}

func removeAction(action string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		p := actuatorPermissions(t, b)
		var keep []any
		for _, a := range p["actions"].([]any) {
			if a != action {
				keep = append(keep, a)
			}
		}
		p["actions"] = keep
	}
}

func setParamDefault(name string, value any) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		setIn(t, b.template, value, "parameters", name, "defaultValue")
	}
}

func setBinding(fn, key string, value any) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		bs, _ := b.functions[fn]["bindings"].([]any)
		if len(bs) == 0 {
			t.Fatalf("%s/function.json has no bindings", fn)
		}
		bs[0].(map[string]any)[key] = value
	}
}

func setHost(value any, path ...string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) { setIn(t, b.host, value, path...) }
}

func editScript(old, replacement string) func(*testing.T, *bundle) {
	return func(t *testing.T, b *bundle) {
		if !strings.Contains(b.script, old) {
			t.Fatalf("%s does not contain %q", scriptFile, old)
		}
		b.script = strings.ReplaceAll(b.script, old, replacement)
	}
}
