package azure_test

// This file is a small evaluator of ARM template expressions ("[format('{0}', parameters('x'))]"),
// enough for the invariant tests to read what azuredeploy.json deploys with a given set of
// parameters: the values of app settings, resource names and role-assignment scopes, evaluated
// the way Azure Resource Manager would, rather than the expression strings that produce them.
//
// Values ARM computes from the live deployment (reference(), a resource's principal ID, a host
// name) cannot be known here: they evaluate to a sym, a string naming the call that produces it,
// so that two expressions naming the same thing evaluate to the same value. uniqueString() and
// guid() are deterministic stand-ins with the shape of the real functions (13 lowercase
// characters, a GUID), not their real output.

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// sym is a value only the live deployment knows, spelled as the expression that produces it.
type sym string

// lambdaVal is a lambda() of map() and its friends: parameter names and an unevaluated body.
type lambdaVal struct {
	names []string
	body  node
	env   *env
}

// ------------------------------------------------------------------ parsing

type node interface{}

type (
	litNode  struct{ v any }
	callNode struct {
		name string
		args []node
	}
	propNode struct {
		x    node
		name string
	}
	indexNode struct{ x, i node }
)

// isExpr reports whether a template string is an expression: "[...]" but not the escaped "[[...".
func isExpr(s string) bool {
	return len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' && !strings.HasPrefix(s, "[[")
}

// parseExpr parses the inside of an expression string, without its brackets.
func parseExpr(s string) (node, error) {
	p := &parser{s: s}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected %q at %d in %q", p.s[p.pos:], p.pos, s)
	}
	return n, nil
}

type parser struct {
	s   string
	pos int
}

func (p *parser) ws() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n') {
		p.pos++
	}
}

func (p *parser) eat(c byte) bool {
	p.ws()
	if p.pos < len(p.s) && p.s[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func isIdent(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

func (p *parser) ident() string {
	start := p.pos
	for p.pos < len(p.s) && isIdent(p.s[p.pos], p.pos == start) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *parser) expr() (node, error) {
	p.ws()
	if p.pos >= len(p.s) {
		return nil, fmt.Errorf("expression %q ends too early", p.s)
	}
	var n node
	switch c := p.s[p.pos]; {
	case c == '\'':
		var b strings.Builder
		p.pos++
		for {
			if p.pos >= len(p.s) {
				return nil, fmt.Errorf("unterminated string in %q", p.s)
			}
			if p.s[p.pos] == '\'' {
				if p.pos+1 < len(p.s) && p.s[p.pos+1] == '\'' {
					b.WriteByte('\'')
					p.pos += 2
					continue
				}
				p.pos++
				break
			}
			b.WriteByte(p.s[p.pos])
			p.pos++
		}
		n = litNode{b.String()}
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		p.pos++
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		v, err := strconv.ParseFloat(p.s[start:p.pos], 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q in %q", p.s[start:p.pos], p.s)
		}
		n = litNode{v}
	case isIdent(c, true):
		name := p.ident()
		if !p.eat('(') {
			return nil, fmt.Errorf("%s is not followed by ( in %q", name, p.s)
		}
		call := callNode{name: name}
		if !p.eat(')') {
			for {
				a, err := p.expr()
				if err != nil {
					return nil, err
				}
				call.args = append(call.args, a)
				if p.eat(')') {
					break
				}
				if !p.eat(',') {
					return nil, fmt.Errorf("want , or ) after argument %d of %s in %q", len(call.args), name, p.s)
				}
			}
		}
		n = call
	default:
		return nil, fmt.Errorf("unexpected %q at %d in %q", c, p.pos, p.s)
	}
	for {
		switch {
		case p.eat('.'):
			name := p.ident()
			if name == "" {
				return nil, fmt.Errorf("property name missing after . in %q", p.s)
			}
			n = propNode{n, name}
		case p.eat('['):
			i, err := p.expr()
			if err != nil {
				return nil, err
			}
			if !p.eat(']') {
				return nil, fmt.Errorf("missing ] in %q", p.s)
			}
			n = indexNode{n, i}
		default:
			return n, nil
		}
	}
}

// calls lists every function an expression calls, for the syntax check.
func calls(n node, out *[]string) {
	switch n := n.(type) {
	case callNode:
		*out = append(*out, n.name)
		for _, a := range n.args {
			calls(a, out)
		}
	case propNode:
		calls(n.x, out)
	case indexNode:
		calls(n.x, out)
		calls(n.i, out)
	}
}

// armFunctions are the template functions Azure Resource Manager knows (lower case); list*
// functions are recognised by their prefix.
var armFunctions = setOf(
	"add", "and", "array", "base64", "base64tojson", "base64tostring", "bool", "cidrhost", "cidrsubnet",
	"coalesce", "concat", "contains", "copyindex", "createarray", "createobject", "datauri",
	"datauritostring", "datetimeadd", "datetimefromepoch", "datetimetoepoch", "deployment", "div",
	"empty", "endswith", "environment", "equals", "extensionresourceid", "false", "filter", "first",
	"float", "format", "greater", "greaterorequals", "guid", "if", "indexof", "int", "intersection",
	"items", "join", "json", "lambda", "lambdavariables", "last", "lastindexof", "length", "less",
	"lessorequals", "managementgroup", "managementgroupresourceid", "map", "max", "min", "mod", "mul",
	"newguid", "not", "null", "objectkeys", "or", "padleft", "parameters", "parsecidr", "pickzones",
	"providers", "range", "reduce", "reference", "references", "replace", "resourcegroup", "resourceid",
	"shallowmerge", "skip", "sort", "split", "startswith", "string", "sub", "subscription",
	"subscriptionresourceid", "substring", "take", "tenant", "tenantresourceid", "toobject", "tolower",
	"toupper", "trim", "true", "tryget", "union", "uniquestring", "uri", "uricomponent",
	"uricomponenttostring", "utcnow", "variables",
)

func setOf(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// --------------------------------------------------------------- evaluation

// env is what an expression is evaluated against: one template, its parameter values and the
// deployment's scope.
type env struct {
	tmpl          map[string]any
	params        map[string]any // lower-case name -> value given to the deployment
	lambdas       map[string]any
	copyIndex     int
	subscription  string
	resourceGroup string // "" for a subscription-scope template
	busy          map[string]bool
}

const (
	testSubscription = "00000000-0000-0000-0000-00000000d0d0"
	testTenant       = "00000000-0000-0000-0000-00000000abcd"
	testDeployRegion = "westeurope"
)

func (e *env) with(f func(*env)) *env {
	c := *e
	c.busy = map[string]bool{}
	f(&c)
	return &c
}

// evalString evaluates one template string: an expression, or a literal (with "[[" unescaped).
func (e *env) evalString(s string) (any, error) {
	if !isExpr(s) {
		if strings.HasPrefix(s, "[[") {
			return s[1:], nil
		}
		return s, nil
	}
	n, err := parseExpr(s[1 : len(s)-1])
	if err != nil {
		return nil, err
	}
	v, err := e.eval(n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return v, nil
}

// evalJSON evaluates every expression in a JSON value, keys included.
func (e *env) evalJSON(v any) (any, error) {
	switch v := v.(type) {
	case string:
		return e.evalString(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := e.evalJSON(x)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			key := k
			if isExpr(k) {
				kv, err := e.evalString(k)
				if err != nil {
					return nil, err
				}
				key = render(kv)
			}
			y, err := e.evalJSON(x)
			if err != nil {
				return nil, err
			}
			out[key] = y
		}
		return out, nil
	default:
		return v, nil
	}
}

func (e *env) eval(n node) (any, error) {
	switch n := n.(type) {
	case litNode:
		return n.v, nil
	case propNode:
		x, err := e.eval(n.x)
		if err != nil {
			return nil, err
		}
		return property(x, n.name)
	case indexNode:
		x, err := e.eval(n.x)
		if err != nil {
			return nil, err
		}
		i, err := e.eval(n.i)
		if err != nil {
			return nil, err
		}
		return index(x, i)
	case callNode:
		return e.call(n)
	}
	return nil, fmt.Errorf("unknown node %T", n)
}

func property(x any, name string) (any, error) {
	switch x := x.(type) {
	case sym:
		return sym(string(x) + "." + name), nil
	case map[string]any:
		if v, ok := lookup(x, name); ok {
			return v, nil
		}
		return nil, fmt.Errorf("no property %q in %v", name, keys(x))
	}
	return nil, fmt.Errorf("property %q of %T %v", name, x, x)
}

func index(x, i any) (any, error) {
	switch x := x.(type) {
	case sym:
		return sym(fmt.Sprintf("%s[%s]", x, render(i))), nil
	case []any:
		f, ok := i.(float64)
		if !ok || f < 0 || int(f) >= len(x) || f != math.Trunc(f) {
			return nil, fmt.Errorf("index %v out of range of %d elements", i, len(x))
		}
		return x[int(f)], nil
	case map[string]any:
		return property(x, render(i))
	}
	return nil, fmt.Errorf("index %v of %T", i, x)
}

// lookup finds a key the way ARM does, ignoring case.
func lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// render turns a value into the string ARM's format() and string() would make of it.
func render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case sym:
		return string(v)
	case float64:
		if v == math.Trunc(v) {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "True"
		}
		return "False"
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func truthy(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%v (%T) is not a bool", v, v)
	}
	return b, nil
}

func (e *env) args(n callNode, want int) ([]any, error) {
	if want >= 0 && len(n.args) != want {
		return nil, fmt.Errorf("%s takes %d arguments, got %d", n.name, want, len(n.args))
	}
	out := make([]any, len(n.args))
	for i, a := range n.args {
		v, err := e.eval(a)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func digest(args []any) []byte {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = render(a)
	}
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return h[:]
}

func (e *env) call(n callNode) (any, error) {
	name := strings.ToLower(n.name)
	// Functions whose arguments are not all evaluated first.
	switch name {
	case "if":
		if len(n.args) != 3 {
			return nil, fmt.Errorf("if takes 3 arguments, got %d", len(n.args))
		}
		c, err := e.eval(n.args[0])
		if err != nil {
			return nil, err
		}
		b, err := truthy(c)
		if err != nil {
			return nil, fmt.Errorf("if: %w", err)
		}
		if b {
			return e.eval(n.args[1])
		}
		return e.eval(n.args[2])
	case "lambda":
		if len(n.args) < 2 {
			return nil, fmt.Errorf("lambda needs parameter names and a body")
		}
		l := lambdaVal{body: n.args[len(n.args)-1], env: e}
		for _, a := range n.args[:len(n.args)-1] {
			lit, ok := a.(litNode)
			s, isStr := lit.v.(string)
			if !ok || !isStr {
				return nil, fmt.Errorf("lambda parameter names must be string literals")
			}
			l.names = append(l.names, s)
		}
		return l, nil
	}
	a, err := e.args(n, -1)
	if err != nil {
		return nil, err
	}
	need := func(k int) error {
		if len(a) != k {
			return fmt.Errorf("%s takes %d arguments, got %d", n.name, k, len(a))
		}
		return nil
	}
	switch name {
	case "parameters":
		if err := need(1); err != nil {
			return nil, err
		}
		return e.parameter(render(a[0]))
	case "variables":
		if err := need(1); err != nil {
			return nil, err
		}
		return e.variable(render(a[0]))
	case "lambdavariables":
		if err := need(1); err != nil {
			return nil, err
		}
		v, ok := e.lambdas[render(a[0])]
		if !ok {
			return nil, fmt.Errorf("no lambda variable %q", render(a[0]))
		}
		return v, nil
	case "copyindex":
		off := 0
		if len(a) > 0 {
			if f, ok := a[len(a)-1].(float64); ok {
				off = int(f)
			}
		}
		return float64(e.copyIndex + off), nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	case "format":
		if len(a) == 0 {
			return nil, fmt.Errorf("format needs a format string")
		}
		s := render(a[0])
		for i := len(a) - 1; i >= 1; i-- {
			s = strings.ReplaceAll(s, "{"+strconv.Itoa(i-1)+"}", render(a[i]))
		}
		return s, nil
	case "concat":
		if len(a) > 0 {
			if _, ok := a[0].([]any); ok {
				var out []any
				for _, x := range a {
					arr, ok := x.([]any)
					if !ok {
						return nil, fmt.Errorf("concat mixes arrays and %T", x)
					}
					out = append(out, arr...)
				}
				return out, nil
			}
		}
		var b strings.Builder
		for _, x := range a {
			b.WriteString(render(x))
		}
		return b.String(), nil
	case "string":
		if err := need(1); err != nil {
			return nil, err
		}
		return render(a[0]), nil
	case "tolower", "toupper":
		if err := need(1); err != nil {
			return nil, err
		}
		if s, ok := a[0].(sym); ok {
			return sym(fmt.Sprintf("%s(%s)", n.name, s)), nil
		}
		if name == "tolower" {
			return strings.ToLower(render(a[0])), nil
		}
		return strings.ToUpper(render(a[0])), nil
	case "take":
		if err := need(2); err != nil {
			return nil, err
		}
		k, ok := a[1].(float64)
		if !ok {
			return nil, fmt.Errorf("take count %v is not a number", a[1])
		}
		switch x := a[0].(type) {
		case string:
			return x[:min(int(k), len(x))], nil
		case []any:
			return x[:min(int(k), len(x))], nil
		case sym:
			return sym(fmt.Sprintf("take(%s,%d)", x, int(k))), nil
		}
		return nil, fmt.Errorf("take of %T", a[0])
	case "length":
		if err := need(1); err != nil {
			return nil, err
		}
		switch x := a[0].(type) {
		case string:
			return float64(len(x)), nil
		case []any:
			return float64(len(x)), nil
		case map[string]any:
			return float64(len(x)), nil
		}
		return nil, fmt.Errorf("length of %T", a[0])
	case "empty":
		if err := need(1); err != nil {
			return nil, err
		}
		switch x := a[0].(type) {
		case nil:
			return true, nil
		case string:
			return x == "", nil
		case []any:
			return len(x) == 0, nil
		case map[string]any:
			return len(x) == 0, nil
		case sym:
			return nil, fmt.Errorf("empty(%s): unknown before deployment", x)
		}
		return false, nil
	case "equals":
		if err := need(2); err != nil {
			return nil, err
		}
		if isScalar(a[0]) && isScalar(a[1]) {
			return render(a[0]) == render(a[1]) && reflect.TypeOf(norm(a[0])) == reflect.TypeOf(norm(a[1])), nil
		}
		return reflect.DeepEqual(a[0], a[1]), nil
	case "not":
		if err := need(1); err != nil {
			return nil, err
		}
		b, err := truthy(a[0])
		return !b, err
	case "and", "or":
		acc := name == "and"
		for _, x := range a {
			b, err := truthy(x)
			if err != nil {
				return nil, err
			}
			if name == "and" {
				acc = acc && b
			} else {
				acc = acc || b
			}
		}
		return acc, nil
	case "contains":
		if err := need(2); err != nil {
			return nil, err
		}
		switch x := a[0].(type) {
		case string:
			return strings.Contains(x, render(a[1])), nil
		case []any:
			for _, y := range x {
				if reflect.DeepEqual(y, a[1]) {
					return true, nil
				}
			}
			return false, nil
		case map[string]any:
			_, ok := lookup(x, render(a[1]))
			return ok, nil
		}
		return nil, fmt.Errorf("contains on %T", a[0])
	case "createarray":
		return append([]any{}, a...), nil
	case "union":
		if len(a) > 0 {
			if _, ok := a[0].(map[string]any); ok {
				out := map[string]any{}
				for _, x := range a {
					m, ok := x.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("union mixes objects and %T", x)
					}
					for k, v := range m {
						out[k] = v
					}
				}
				return out, nil
			}
		}
		var out []any
		for _, x := range a {
			arr, ok := x.([]any)
			if !ok {
				return nil, fmt.Errorf("union of %T", x)
			}
		next:
			for _, y := range arr {
				for _, z := range out {
					if reflect.DeepEqual(y, z) {
						continue next
					}
				}
				out = append(out, y)
			}
		}
		return out, nil
	case "join":
		if err := need(2); err != nil {
			return nil, err
		}
		arr, ok := a[0].([]any)
		if !ok {
			return nil, fmt.Errorf("join of %T", a[0])
		}
		parts := make([]string, len(arr))
		for i, x := range arr {
			parts[i] = render(x)
		}
		return strings.Join(parts, render(a[1])), nil
	case "map":
		if err := need(2); err != nil {
			return nil, err
		}
		arr, ok := a[0].([]any)
		l, isLambda := a[1].(lambdaVal)
		if !ok || !isLambda || len(l.names) != 1 {
			return nil, fmt.Errorf("map needs an array and a one-parameter lambda")
		}
		out := make([]any, len(arr))
		for i, x := range arr {
			le := l.env.with(func(c *env) {
				c.lambdas = map[string]any{}
				for k, v := range l.env.lambdas {
					c.lambdas[k] = v
				}
				c.lambdas[l.names[0]] = x
			})
			y, err := le.eval(l.body)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	case "uniquestring":
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
		d := digest(a)
		b := make([]byte, 13)
		for i := range b {
			b[i] = alphabet[int(d[i])%len(alphabet)]
		}
		return string(b), nil
	case "guid":
		d := fmt.Sprintf("%x", digest(a))
		return fmt.Sprintf("%s-%s-%s-%s-%s", d[0:8], d[8:12], d[12:16], d[16:20], d[20:32]), nil
	case "subscription":
		return map[string]any{
			"id":             "/subscriptions/" + e.subscription,
			"subscriptionId": e.subscription,
			"tenantId":       testTenant,
		}, nil
	case "resourcegroup":
		if e.resourceGroup == "" {
			return nil, fmt.Errorf("resourceGroup() in a subscription-scope template")
		}
		return map[string]any{
			"name":     e.resourceGroup,
			"id":       fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", e.subscription, e.resourceGroup),
			"location": sym("resourceGroup().location"),
		}, nil
	case "deployment":
		return map[string]any{"location": testDeployRegion, "name": sym("deployment().name")}, nil
	case "environment":
		return map[string]any{
			"name": "AzureCloud",
			"suffixes": map[string]any{
				"storage":     "core.windows.net",
				"keyvaultDns": ".vault.azure.net",
			},
		}, nil
	case "resourceid":
		return e.resourceID(a)
	case "subscriptionresourceid":
		return e.subscriptionResourceID(a)
	case "extensionresourceid":
		if len(a) < 3 {
			return nil, fmt.Errorf("extensionResourceId needs a scope, a type and a name")
		}
		p, err := typedPath(render(a[1]), a[2:])
		if err != nil {
			return nil, err
		}
		return render(a[0]) + "/providers/" + p, nil
	case "reference":
		if len(a) < 1 {
			return nil, fmt.Errorf("reference needs a resource")
		}
		return sym("reference(" + render(a[0]) + ")"), nil
	}
	return nil, fmt.Errorf("the test evaluator does not implement %s()", n.name)
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, sym, float64, bool, nil:
		return true
	}
	return false
}

func norm(v any) any {
	if s, ok := v.(sym); ok {
		return string(s)
	}
	return v
}

// typedPath spells "Ns/t1/t2" with names n1, n2 as "Ns/t1/n1/t2/n2".
func typedPath(typ string, names []any) (string, error) {
	segs := strings.Split(typ, "/")
	if len(segs) < 2 {
		return "", fmt.Errorf("%q is not a resource type", typ)
	}
	var flat []string
	for _, n := range names {
		flat = append(flat, strings.Split(render(n), "/")...)
	}
	if len(flat) != len(segs)-1 {
		return "", fmt.Errorf("type %s needs %d names, got %v", typ, len(segs)-1, flat)
	}
	out := []string{segs[0]}
	for i, t := range segs[1:] {
		out = append(out, t, flat[i])
	}
	return strings.Join(out, "/"), nil
}

func isType(s string) bool {
	first, _, ok := strings.Cut(s, "/")
	return ok && strings.Contains(first, ".")
}

func (e *env) resourceID(a []any) (any, error) {
	k := -1
	for i, x := range a {
		if isType(render(x)) {
			k = i
			break
		}
	}
	if k < 0 || k > 2 {
		return nil, fmt.Errorf("resourceId(%v): no resource type", a)
	}
	sub, rg := e.subscription, e.resourceGroup
	switch k {
	case 1:
		rg = render(a[0])
	case 2:
		sub, rg = render(a[0]), render(a[1])
	}
	p, err := typedPath(render(a[k]), a[k+1:])
	if err != nil {
		return nil, err
	}
	if rg == "" {
		return fmt.Sprintf("/subscriptions/%s/providers/%s", sub, p), nil
	}
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s", sub, rg, p), nil
}

func (e *env) subscriptionResourceID(a []any) (any, error) {
	sub := e.subscription
	if len(a) > 0 && !isType(render(a[0])) {
		sub, a = render(a[0]), a[1:]
	}
	if len(a) == 0 {
		return nil, fmt.Errorf("subscriptionResourceId needs a type")
	}
	if strings.EqualFold(render(a[0]), "Microsoft.Resources/resourceGroups") && len(a) == 2 {
		return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", sub, render(a[1])), nil
	}
	p, err := typedPath(render(a[0]), a[1:])
	if err != nil {
		return nil, err
	}
	return fmt.Sprintf("/subscriptions/%s/providers/%s", sub, p), nil
}

func (e *env) parameter(name string) (any, error) {
	if v, ok := e.params[strings.ToLower(name)]; ok {
		return v, nil
	}
	defs, _ := e.tmpl["parameters"].(map[string]any)
	def, ok := lookup(defs, name)
	if !ok {
		return nil, fmt.Errorf("parameters(%q): not declared", name)
	}
	dv, ok := lookup(def.(map[string]any), "defaultValue")
	if !ok {
		return nil, fmt.Errorf("parameters(%q): no value and no defaultValue", name)
	}
	key := "param:" + strings.ToLower(name)
	if e.busy[key] {
		return nil, fmt.Errorf("parameters(%q) refers to itself", name)
	}
	e.busy[key] = true
	defer delete(e.busy, key)
	return e.evalJSON(dv)
}

func (e *env) variable(name string) (any, error) {
	vars, _ := e.tmpl["variables"].(map[string]any)
	v, ok := lookup(vars, name)
	if !ok {
		return nil, fmt.Errorf("variables(%q): not declared", name)
	}
	key := "var:" + strings.ToLower(name)
	if e.busy[key] {
		return nil, fmt.Errorf("variables(%q) refers to itself", name)
	}
	e.busy[key] = true
	defer delete(e.busy, key)
	return e.evalJSON(v)
}

// TestEvaluator checks the evaluator against what Azure Resource Manager returns for the
// functions the template uses, so that the invariant tests read the template as ARM does.
func TestEvaluator(t *testing.T) {
	tmpl := map[string]any{
		"parameters": map[string]any{
			"prefix": map[string]any{"type": "string", "defaultValue": "CT"},
			"subs":   map[string]any{"type": "array"},
			"on":     map[string]any{"type": "bool", "defaultValue": false},
		},
		"variables": map[string]any{
			"lower": "[toLower(parameters('prefix'))]",
			"names": map[string]any{"lake": "[format('{0}lake', variables('lower'))]"},
		},
	}
	e := &env{
		tmpl:          tmpl,
		params:        map[string]any{"subs": []any{"a", "b"}},
		subscription:  "S",
		resourceGroup: "RG",
		busy:          map[string]bool{},
	}
	for _, tc := range []struct {
		expr string
		want any
	}{
		{"plain text", "plain text"},
		{"[[not an expression]", "[not an expression]"},
		{"['it''s']", "it's"},
		{"[parameters('prefix')]", "CT"},
		{"[variables('names').lake]", "ctlake"},
		{"[variables('NAMES').Lake]", "ctlake"},
		{"[format('{0}-{1}-{0}', 'a', 2)]", "a-2-a"},
		{"[concat('a', 'b', 'c')]", "abc"},
		{"[concat(createArray('a'), createArray('b'))]", []any{"a", "b"}},
		{"[union(createArray('a', 'b'), createArray('b', 'c'))]", []any{"a", "b", "c"}},
		{"[join(parameters('subs'), ',')]", "a,b"},
		{"[map(parameters('subs'), lambda('s', format('/subscriptions/{0}', lambdaVariables('s'))))]", []any{"/subscriptions/a", "/subscriptions/b"}},
		{"[if(parameters('on'), reference('never evaluated').x, 'off')]", "off"},
		{"[if(not(parameters('on')), 'dry', 'apply')]", "dry"},
		{"[empty('')]", true},
		{"[equals(length(parameters('subs')), 2)]", true},
		{"[take('abcdef', 3)]", "abc"},
		{"[parameters('subs')[1]]", "b"},
		{"[resourceId('Microsoft.Storage/storageAccounts/blobServices', 'acct', 'default')]", "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/acct/blobServices/default"},
		{"[resourceId('other', 'Microsoft.Resources/deployments', 'd')]", "/subscriptions/S/resourceGroups/other/providers/Microsoft.Resources/deployments/d"},
		{"[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'g')]", "/subscriptions/S/providers/Microsoft.Authorization/roleDefinitions/g"},
		{"[subscriptionResourceId('Microsoft.Resources/resourceGroups', 'rg1')]", "/subscriptions/S/resourceGroups/rg1"},
		{"[extensionResourceId('/x', 'Microsoft.Authorization/roleAssignments', 'n')]", "/x/providers/Microsoft.Authorization/roleAssignments/n"},
		{"[reference('/id', '2023-01-31').principalId]", sym("reference(/id).principalId")},
		{"[environment().suffixes.storage]", "core.windows.net"},
		{"[subscription().subscriptionId]", "S"},
		{"[length(uniqueString('x'))]", 13.0},
	} {
		got, err := e.evalString(tc.expr)
		if err != nil {
			t.Errorf("eval %s: %v", tc.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("eval %s = %#v; want %#v", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{"[format('{0}', 'a']", "[parameters('missing')]", "[variables('nope')]", "[noSuchFunction()]", "['unterminated]"} {
		if got, err := e.evalString(bad); err == nil {
			t.Errorf("eval %s = %#v; want an error", bad, got)
		}
	}
	g1, err1 := e.evalString("[guid('a', 'b')]")
	g2, err2 := e.evalString("[guid('a', 'b')]")
	if err1 != nil || err2 != nil || g1 != g2 || len(render(g1)) != 36 {
		t.Errorf("guid('a', 'b') = %q (%v) then %q (%v); want the same GUID twice", g1, err1, g2, err2)
	}
}
