package azure_test

// This file loads the deployment files (azuredeploy.json, parameters.example.json, host.json,
// every function.json and deploy.sh) and evaluates the template with a set of parameters into
// the list of resources Azure Resource Manager would deploy, nested deployments included.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

const (
	templateFile = "azuredeploy.json"
	exampleFile  = "parameters.example.json"
	hostFile     = "host.json"
	scriptFile   = "deploy.sh"
)

// bundle is every file of the Azure deployment, parsed.
type bundle struct {
	template  map[string]any
	example   map[string]any
	host      map[string]any
	functions map[string]map[string]any // folder name -> function.json
	script    string
}

func readJSON(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return m, nil
}

var loadBundle = sync.OnceValues(func() (*bundle, error) {
	b := &bundle{functions: map[string]map[string]any{}}
	var err error
	if b.template, err = readJSON(templateFile); err != nil {
		return nil, err
	}
	if b.example, err = readJSON(exampleFile); err != nil {
		return nil, err
	}
	if b.host, err = readJSON(hostFile); err != nil {
		return nil, err
	}
	paths, err := filepath.Glob(filepath.Join("*", "function.json"))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if b.functions[filepath.Dir(p)], err = readJSON(p); err != nil {
			return nil, err
		}
	}
	script, err := os.ReadFile(scriptFile)
	if err != nil {
		return nil, err
	}
	b.script = string(script)
	return b, nil
})

// clone returns a deep copy that a test may break on purpose.
func (b *bundle) clone(t *testing.T) *bundle {
	t.Helper()
	c := &bundle{functions: map[string]map[string]any{}, script: b.script}
	c.template = deepCopy(t, b.template)
	c.example = deepCopy(t, b.example)
	c.host = deepCopy(t, b.host)
	for k, v := range b.functions {
		c.functions[k] = deepCopy(t, v)
	}
	return c
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("copy the deployment files: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("copy the deployment files: %v", err)
	}
	return out
}

// report collects what a check finds wrong, so the same check can fail a test or be run on a
// template broken on purpose.
type report struct{ errs []string }

func (r *report) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// check asserts one group of invariants over the deployment files.
type check func(r *report, b *bundle)

// run runs checks against the files on disk and fails t with every error they report.
func run(t *testing.T, checks ...check) {
	t.Helper()
	b, err := loadBundle()
	if err != nil {
		t.Fatalf("load the Azure deployment files: %v", err)
	}
	r := &report{}
	for _, c := range checks {
		c(r, b)
	}
	for _, e := range r.errs {
		t.Error(e)
	}
}

// --------------------------------------------------------------- parameters

const (
	testWebhookSecret = "test-webhook-secret-0123456789abcdefghijklmnop"
	testSlackSecret   = "test-slack-signing-secret-0123456789"
	testPrefix        = "ctdemo0001" // as long as namePrefix allows
	testOptInTag      = "team-optin"
	testNotifyURL     = "https://hooks.example.com/cloudtrim"
)

var collected = []string{"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"}

// variant is one set of deployment parameters the tests evaluate the template with, on top of
// baseParams; the other parameters keep their defaults.
type variant struct {
	name string
	set  map[string]any
}

var (
	defaults = variant{"defaults", map[string]any{}}
	applyOn  = variant{"apply=true, slackSigningSecret set, applicationInsights=false", map[string]any{
		"apply": true, "slackSigningSecret": testSlackSecret, "applicationInsights": false,
	}}
	variants = []variant{defaults, applyOn}
)

func baseParams() map[string]any {
	subs := make([]any, len(collected))
	for i, s := range collected {
		subs[i] = s
	}
	return map[string]any{
		"namePrefix":      testPrefix,
		"subscriptions":   subs,
		"optInTag":        testOptInTag,
		"notificationUrl": testNotifyURL,
		"webhookSecret":   testWebhookSecret,
	}
}

// ---------------------------------------------------------------- deployment

// resource is one resource of an evaluated deployment.
type resource struct {
	where    string // file and JSON path, for messages
	tmpl     string // JSON path of the template that declares it ("" for the top one)
	typ      string
	name     string
	id       string
	scope    string // full ID of what an extension resource (a role assignment, a lock) applies to
	deployed bool   // its condition, and those of the deployments around it, are true
	raw      map[string]any
	v        map[string]any // evaluated; a nested deployment's template is left out
	env      *env
	nested   *env // for a nested deployment: the environment of its template
}

func (r *resource) String() string {
	return fmt.Sprintf("%s %s %q", r.where, r.typ, r.name)
}

// deployment is the template evaluated with one variant of parameters.
type deployment struct {
	variant   variant
	top       *env
	resources []*resource
}

// deploy evaluates the template of b with baseParams and v.
func deploy(b *bundle, v variant) (*deployment, error) {
	params := map[string]any{}
	for k, x := range baseParams() {
		params[strings.ToLower(k)] = x
	}
	for k, x := range v.set {
		params[strings.ToLower(k)] = x
	}
	declared, _ := b.template["parameters"].(map[string]any)
	for k := range params {
		if _, ok := lookup(declared, k); !ok {
			return nil, fmt.Errorf("the tests set parameter %q, which %s does not declare", k, templateFile)
		}
	}
	top := &env{tmpl: b.template, params: params, subscription: testSubscription, busy: map[string]bool{}}
	d := &deployment{variant: v, top: top}
	if err := d.expand(b.template, top, templateFile, "", true); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *deployment) expand(tmpl map[string]any, e *env, where, key string, deployed bool) error {
	list, _ := tmpl["resources"].([]any)
	for i, x := range list {
		raw, ok := x.(map[string]any)
		if !ok {
			return fmt.Errorf("%s.resources[%d] is not an object", where, i)
		}
		path := fmt.Sprintf("%s.resources[%d]", where, i)
		count, looped := 1, false
		if c, ok := raw["copy"].(map[string]any); ok {
			n, err := e.evalJSON(c["count"])
			if err != nil {
				return fmt.Errorf("%s.copy.count: %w", path, err)
			}
			f, ok := n.(float64)
			if !ok {
				return fmt.Errorf("%s.copy.count = %v; want a number", path, n)
			}
			count, looped = int(f), true
		}
		for k := range count {
			re := e
			if looped {
				re = e.with(func(c *env) { c.copyIndex = k })
			}
			p := path
			if looped {
				p = fmt.Sprintf("%s[copy %d]", path, k)
			}
			if err := d.add(raw, re, p, key, deployed); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *deployment) add(raw map[string]any, e *env, where, key string, deployed bool) error {
	typ, _ := raw["type"].(string)
	body := map[string]any{}
	for k, x := range raw {
		body[k] = x
	}
	var inner map[string]any
	if props, ok := raw["properties"].(map[string]any); ok && strings.EqualFold(typ, "Microsoft.Resources/deployments") {
		inner, _ = props["template"].(map[string]any)
		p := map[string]any{}
		for k, x := range props {
			if k != "template" {
				p[k] = x
			}
		}
		body["properties"] = p
	}
	delete(body, "condition")
	delete(body, "copy")
	ev, err := e.evalJSON(body)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	v := ev.(map[string]any)
	cond := true
	if c, ok := raw["condition"]; ok {
		cv, err := e.evalJSON(c)
		if err != nil {
			return fmt.Errorf("%s.condition: %w", where, err)
		}
		if cond, err = truthy(cv); err != nil {
			return fmt.Errorf("%s.condition: %w", where, err)
		}
	}
	r := &resource{
		where: where, tmpl: key, typ: typ, name: render(v["name"]),
		deployed: deployed && cond, raw: raw, v: v, env: e,
	}
	if r.id, r.scope, err = resourceIDOf(e, r.typ, r.name, v); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	d.resources = append(d.resources, r)
	if inner == nil {
		return nil
	}
	props, _ := v["properties"].(map[string]any)
	params := map[string]any{}
	given, _ := props["parameters"].(map[string]any)
	for k, x := range given {
		pv, _ := x.(map[string]any)
		params[strings.ToLower(k)] = pv["value"]
	}
	ne := &env{tmpl: inner, params: params, subscription: e.subscription, resourceGroup: e.resourceGroup, busy: map[string]bool{}}
	if s, ok := v["subscriptionId"]; ok {
		ne.subscription = render(s)
	}
	if g, ok := v["resourceGroup"]; ok {
		ne.resourceGroup = render(g)
	}
	if schema, _ := inner["$schema"].(string); strings.Contains(schema, "subscriptionDeploymentTemplate") {
		ne.resourceGroup = ""
	}
	r.nested = ne
	return d.expand(inner, ne, where+".properties.template", where, r.deployed)
}

// base is the ID of a template's deployment scope.
func (e *env) base() string {
	if e.resourceGroup == "" {
		return "/subscriptions/" + e.subscription
	}
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", e.subscription, e.resourceGroup)
}

// resourceIDOf returns a resource's ID and, for an extension resource, the ID of its scope; a
// resource without a scope property applies to (and is scoped by) its deployment.
func resourceIDOf(e *env, typ, name string, v map[string]any) (id, scope string, err error) {
	switch {
	case strings.EqualFold(typ, "Microsoft.Resources/resourceGroups"):
		return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", e.subscription, name), e.base(), nil
	case strings.EqualFold(typ, "Microsoft.Resources/deployments"):
		if g, ok := v["resourceGroup"]; ok {
			return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", e.subscription, render(g), typ, name), e.base(), nil
		}
		if s, ok := v["subscriptionId"]; ok {
			return fmt.Sprintf("/subscriptions/%s/providers/%s/%s", render(s), typ, name), e.base(), nil
		}
	}
	if s, ok := v["scope"]; ok {
		scope = render(s)
		if !strings.HasPrefix(scope, "/") {
			scope = e.base() + "/providers/" + scope
		}
		return scope + "/providers/" + typ + "/" + name, scope, nil
	}
	p, err := typedPath(typ, []any{name})
	if err != nil {
		return "", "", err
	}
	return e.base() + "/providers/" + p, e.base(), nil
}

// of returns the deployed resources of a type.
func (d *deployment) of(typ string) []*resource {
	var out []*resource
	for _, r := range d.resources {
		if r.deployed && strings.EqualFold(r.typ, typ) {
			out = append(out, r)
		}
	}
	return out
}

// byID returns the deployed resource with an ID.
func (d *deployment) byID(id string) *resource {
	for _, r := range d.resources {
		if r.deployed && strings.EqualFold(r.id, id) {
			return r
		}
	}
	return nil
}

// site returns the Function App, reporting an error unless there is exactly one.
func (d *deployment) site(r *report) *resource {
	sites := d.of("Microsoft.Web/sites")
	if len(sites) != 1 {
		r.Errorf("%s (%s): %d Microsoft.Web/sites resources; want 1", templateFile, d.variant.name, len(sites))
		return nil
	}
	return sites[0]
}

// settings returns the Function App's app settings, evaluated, reporting duplicates.
func (d *deployment) settings(r *report) map[string]any {
	site := d.site(r)
	if site == nil {
		return nil
	}
	list, _ := dig(site.v, "properties", "siteConfig", "appSettings").([]any)
	out := map[string]any{}
	for i, x := range list {
		name := render(dig(x, "name"))
		if _, dup := out[name]; dup {
			r.Errorf("%s: properties.siteConfig.appSettings[%d] sets %s a second time", site, i, name)
		}
		out[name] = dig(x, "value")
	}
	return out
}

// dig follows keys (case-insensitively, as ARM does) through decoded JSON; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v, _ = lookup(m, k)
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// deployed evaluates b with a variant, reporting (and returning nil on) failure.
func deployed(r *report, b *bundle, v variant) *deployment {
	d, err := deploy(b, v)
	if err != nil {
		r.Errorf("%s: evaluate with parameters %q: %v", templateFile, v.name, err)
		return nil
	}
	return d
}
