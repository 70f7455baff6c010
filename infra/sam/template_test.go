package sam

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/google/go-cmp/cmp"
)

// repoRoot is the repository's top, where template.yaml, the Makefile and functions/ are.
const repoRoot = "../.."

// lakeName is the lake bucket's name, spelled as every reference to it must spell it: the
// functions reach the lake by name, not by !Ref Lake, so that the bucket's notification to
// OptimizeFunction does not make a dependency cycle.
const lakeName = "${AWS::StackName}-lake-${AWS::AccountId}-${AWS::Region}"

const (
	lakeURL        = "s3://" + lakeName + "?region=${AWS::Region}"
	lakeBucketARN  = "arn:${AWS::Partition}:s3:::" + lakeName
	lakeObjectsARN = lakeBucketARN + "/*"
	actionsQueue   = "ActionsQueue"
	deadLetters    = "ActionsDeadLetterQueue"
	optInKey       = "aws:ResourceTag/${OptInTag}"
)

// fn is what the template must say about one function.
type fn struct {
	id        string // logical ID
	name      string // dist/<name>.zip and functions/<name>
	condition string // the condition that creates it, "" for always
	gate      string // the parameter that turns that condition on
	timeout   int
	memory    int
	env       map[string]string // every variable, rendered with the default parameters
}

var functions = []fn{
	{id: "CollectAwsFunction", name: "collect-aws", timeout: 900, memory: 1024, env: map[string]string{
		"CLOUDTRIM_LAKE_URL": lakeURL,
		"CLOUDTRIM_REGIONS":  "${Regions}",
		"CLOUDTRIM_ACCOUNT":  "${AWS::AccountId}",
	}},
	{id: "CollectAzureFunction", name: "collect-azure", condition: "EnableAzure", gate: "AzureSubscriptions", timeout: 900, memory: 1024, env: map[string]string{
		"CLOUDTRIM_LAKE_URL": lakeURL,
	}},
	{id: "CollectGcpFunction", name: "collect-gcp", condition: "EnableGcp", gate: "GcpProjects", timeout: 900, memory: 1024, env: map[string]string{
		"CLOUDTRIM_LAKE_URL": lakeURL,
	}},
	{id: "OptimizeFunction", name: "optimize", timeout: 900, memory: 2048, env: map[string]string{
		"CLOUDTRIM_LAKE_URL":   lakeURL,
		"CLOUDTRIM_OPTIN_TAG":  "${OptInTag}",
		"CLOUDTRIM_NOTIFY_URL": "${NotificationUrl}",
		"CLOUDTRIM_REPORT_URL": "${ReportUrl}",
	}},
	{id: "ApproveFunction", name: "approve", timeout: 30, memory: 256, env: map[string]string{
		"CLOUDTRIM_LAKE_URL":                 lakeURL,
		"CLOUDTRIM_QUEUE_URL":                "${ActionsQueue}",
		"CLOUDTRIM_WEBHOOK_SECRET_ARN":       "${ApprovalSecretArn}",
		"CLOUDTRIM_SLACK_SIGNING_SECRET_ARN": "${SlackSigningSecretArn}",
	}},
	{id: "ActuateFunction", name: "actuate", timeout: 300, memory: 512, env: map[string]string{
		"CLOUDTRIM_LAKE_URL":              lakeURL,
		"CLOUDTRIM_QUEUE_URL":             "${ActionsQueue}",
		"CLOUDTRIM_DEAD_LETTER_QUEUE_URL": "${ActionsDeadLetterQueue}",
		"CLOUDTRIM_APPLY":                 "false",
		"CLOUDTRIM_OPTIN_TAG":             "${OptInTag}",
		"CLOUDTRIM_NOTIFY_URL":            "${NotificationUrl}",
		"CLOUDTRIM_REGIONS":               "${Regions}",
		"CLOUDTRIM_ACCOUNT":               "${AWS::AccountId}",
		"CLOUDTRIM_BREAKER_THRESHOLD":     "${BreakerThreshold}",
		"CLOUDTRIM_BREAKER_COOLDOWN":      "${BreakerCoolDown}",
	}},
}

var collectors = []string{"CollectAwsFunction", "CollectAzureFunction", "CollectGcpFunction"}

// lakeGrants is the lake access every function has, and no more.
var lakeGrants = map[string][]string{
	"s3:ListBucket": {lakeBucketARN},
	"s3:GetObject":  {lakeObjectsARN},
	"s3:PutObject":  {lakeObjectsARN},
}

// grants is each function's least-privilege set of Allow grants, action to resources, outside
// the actuator's EC2 actions (TestActuatorEC2IsLimitedToOptedInResources checks those).
var grants = map[string]map[string][]string{
	"CollectAwsFunction": with(lakeGrants, map[string][]string{
		"ec2:Describe*":                   {"*"},
		"cloudwatch:GetMetricData":        {"*"},
		"cloudwatch:ListMetrics":          {"*"},
		"s3:ListAllMyBuckets":             {"*"},
		"s3:GetBucketTagging":             {"*"},
		"s3:GetLifecycleConfiguration":    {"*"},
		"ce:GetCostAndUsage":              {"*"},
		"ce:GetCostAndUsageWithResources": {"*"},
		"pricing:GetProducts":             {"*"},
		"pricing:DescribeServices":        {"*"},
		"sts:GetCallerIdentity":           {"*"},
	}),
	"CollectAzureFunction": lakeGrants,
	"CollectGcpFunction":   lakeGrants,
	"OptimizeFunction": with(lakeGrants, map[string][]string{
		"pricing:GetProducts": {"*"},
	}),
	"ApproveFunction": with(lakeGrants, map[string][]string{
		"sqs:SendMessage":               {"${ActionsQueue.Arn}"},
		"secretsmanager:GetSecretValue": {"${ApprovalSecretArn}"},
	}),
	"ActuateFunction": with(lakeGrants, map[string][]string{
		"sqs:ReceiveMessage":          {"${ActionsQueue.Arn}"},
		"sqs:DeleteMessage":           {"${ActionsQueue.Arn}"},
		"sqs:GetQueueAttributes":      {"${ActionsQueue.Arn}"},
		"sqs:ChangeMessageVisibility": {"${ActionsQueue.Arn}"},
		"sqs:SendMessage":             {"${ActionsDeadLetterQueue.Arn}"},
		// Lifecycle rules of buckets (storage class changes); the lake's
		// own lifecycle is denied.
		"s3:ListBucket":                {lakeBucketARN, "arn:${AWS::Partition}:s3:::*"},
		"s3:GetBucketTagging":          {"arn:${AWS::Partition}:s3:::*"},
		"s3:GetLifecycleConfiguration": {"arn:${AWS::Partition}:s3:::*"},
		"s3:PutLifecycleConfiguration": {"arn:${AWS::Partition}:s3:::*"},
	}),
}

// bucketReads are the bucket metadata the AWS collector reads: which
// buckets there are, their tags and their lifecycle rules.
var bucketReads = []string{"s3:ListAllMyBuckets", "s3:GetBucketTagging", "s3:GetLifecycleConfiguration"}

func with(base, more map[string][]string) map[string][]string {
	out := maps.Clone(base)
	maps.Copy(out, more)
	return out
}

// ---------------------------------------------------------------- loading

// stack is the template twice over: goformation's typed view, with intrinsic functions resolved
// against the parameters' defaults (a !GetAtt becomes empty, an !If whose condition is not
// evaluated becomes empty), and the generic view of the same document with every intrinsic
// function kept, which the tests read wherever the typed view loses something.
type stack struct {
	typed *cloudformation.Template
	raw   map[string]any
	text  string
}

// load parses the template once: goformation registers its YAML tag handlers in a package map on
// every parse, so parsing concurrently would race. goformation's typed resources reject unknown
// properties, and its AWS::Serverless::Function lacks some SAM has since added (LoggingConfig,
// RuntimeManagementConfig, SnapStart, ...): those stay in Globals, whose type ignores them.
var load = sync.OnceValues(func() (*stack, error) {
	path := filepath.Join(repoRoot, "template.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	typed, err := goformation.ParseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("goformation.ParseYAML(%s): %w", path, err)
	}
	kept, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("intrinsics.ProcessYAML(%s, NoProcess): %w", path, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(kept, &raw); err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return &stack{typed: typed, raw: raw, text: string(data)}, nil
})

func open(t *testing.T) *stack {
	t.Helper()
	s, err := load()
	if err != nil {
		t.Fatalf("parse template: %v", err)
	}
	return s
}

// props returns a resource's Properties in the generic view.
func (s *stack) props(id string) map[string]any {
	m, _ := dig(s.raw, "Resources", id, "Properties").(map[string]any)
	return m
}

func (s *stack) resourceType(id string) string {
	t, _ := dig(s.raw, "Resources", id, "Type").(string)
	return t
}

// dig follows map keys through the generic view; nil when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// ----------------------------------------------------- intrinsic functions

// symbol renders a scalar as Fn::Sub spells it: a literal as itself, {"Ref": "X"} as "${X}",
// {"Fn::GetAtt": ["X", "Y"]} (or "X.Y") as "${X.Y}", {"Fn::Sub": "s"} as s. ok is false for
// anything else, including an unresolved Fn::If (see stack.choose).
func symbol(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case map[string]any:
		if len(x) != 1 {
			return "", false
		}
		if r, ok := x["Ref"].(string); ok {
			return "${" + r + "}", true
		}
		switch a := x["Fn::GetAtt"].(type) {
		case string:
			return "${" + a + "}", true
		case []any:
			parts := make([]string, 0, len(a))
			for _, p := range a {
				ps, ok := p.(string)
				if !ok {
					return "", false
				}
				parts = append(parts, ps)
			}
			return "${" + strings.Join(parts, ".") + "}", true
		}
		switch sub := x["Fn::Sub"].(type) {
		case string:
			return sub, true
		case []any:
			if len(sub) != 2 {
				return "", false
			}
			src, ok := sub[0].(string)
			vars, ok2 := sub[1].(map[string]any)
			if !ok || !ok2 {
				return "", false
			}
			for k, val := range vars {
				vs, ok := symbol(val)
				if !ok {
					return "", false
				}
				src = strings.ReplaceAll(src, "${"+k+"}", vs)
			}
			return src, true
		}
	}
	return "", false
}

// subNames matches the names an Fn::Sub string refers to (${X}, ${X.Y}), not its ${!literals}.
var subNames = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z0-9.]+)?\}`)

// references returns the logical names (parameters, resources, pseudo parameters) that the
// intrinsic function v refers to directly; nil when v is no Ref, Fn::GetAtt or Fn::Sub.
func references(v any) []string {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil
	}
	if r, ok := m["Ref"].(string); ok {
		return []string{r}
	}
	if _, ok := m["Fn::GetAtt"]; ok {
		s, _ := symbol(m)
		return []string{strings.SplitN(strings.Trim(s, "${}"), ".", 2)[0]}
	}
	var src string
	switch sub := m["Fn::Sub"].(type) {
	case string:
		src = sub
	case []any:
		if len(sub) > 0 {
			src, _ = sub[0].(string)
		}
	}
	var names []string
	for _, match := range subNames.FindAllStringSubmatch(src, -1) {
		names = append(names, match[1])
	}
	return names
}

// walk calls visit on v and everything inside it, with a path such as
// Resources.ApproveFunction.Properties.Policies[0].Statement[3].Resource.
func walk(v any, path string, visit func(path string, v any)) {
	visit(path, v)
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			walk(val, path+"."+k, visit)
		}
	case []any:
		for i, val := range x {
			walk(val, fmt.Sprintf("%s[%d]", path, i), visit)
		}
	}
}

// param returns a parameter's value in set, or its default.
func (s *stack) param(name string, set map[string]string) (string, error) {
	if v, ok := set[name]; ok {
		return v, nil
	}
	p, ok := s.typed.Parameters[name]
	if !ok {
		return "", fmt.Errorf("no parameter %s", name)
	}
	if p.Default == nil {
		return "", fmt.Errorf("parameter %s has no default and no value was given", name)
	}
	d, ok := symbol(p.Default)
	if !ok {
		return "", fmt.Errorf("parameter %s has a default of type %T", name, p.Default)
	}
	return d, nil
}

// condition evaluates one of the template's Conditions with the parameter values in set.
func (s *stack) condition(name string, set map[string]string) (bool, error) {
	expr := dig(s.raw, "Conditions", name)
	if expr == nil {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := s.eval(expr, set)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is %v, not a boolean", name, v)
	}
	return b, nil
}

// eval evaluates the condition functions (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) over
// parameter values; Ref resolves parameters only.
func (s *stack) eval(v any, set map[string]string) (any, error) {
	switch x := v.(type) {
	case string, bool:
		return x, nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		for k, arg := range x {
			args, _ := arg.([]any)
			switch k {
			case "Ref":
				name, _ := arg.(string)
				return s.param(name, set)
			case "Condition":
				name, _ := arg.(string)
				return s.condition(name, set)
			case "Fn::Equals":
				if len(args) != 2 {
					return nil, fmt.Errorf("Fn::Equals takes two arguments, got %v", arg)
				}
				a, err := s.eval(args[0], set)
				if err != nil {
					return nil, err
				}
				b, err := s.eval(args[1], set)
				if err != nil {
					return nil, err
				}
				return fmt.Sprint(a) == fmt.Sprint(b), nil
			case "Fn::Not", "Fn::And", "Fn::Or":
				var bs []bool
				for _, a := range args {
					r, err := s.eval(a, set)
					if err != nil {
						return nil, err
					}
					b, ok := r.(bool)
					if !ok {
						return nil, fmt.Errorf("%s of a non-boolean %v", k, r)
					}
					bs = append(bs, b)
				}
				switch {
				case k == "Fn::Not" && len(bs) == 1:
					return !bs[0], nil
				case k == "Fn::And":
					return !slices.Contains(bs, false), nil
				case k == "Fn::Or":
					return slices.Contains(bs, true), nil
				}
			}
		}
	}
	return nil, fmt.Errorf("cannot evaluate %v", v)
}

// choose decides every Fn::If in v with the parameter values in set, as CloudFormation would;
// present is false when the chosen value is AWS::NoValue.
func (s *stack) choose(v any, set map[string]string) (chosen any, present bool, err error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if ref, ok := x["Ref"].(string); ok && ref == "AWS::NoValue" {
				return nil, false, nil
			}
			if arg, ok := x["Fn::If"]; ok {
				args, _ := arg.([]any)
				if len(args) != 3 {
					return nil, false, fmt.Errorf("malformed Fn::If %v", arg)
				}
				name, _ := args[0].(string)
				b, err := s.condition(name, set)
				if err != nil {
					return nil, false, err
				}
				if b {
					return s.choose(args[1], set)
				}
				return s.choose(args[2], set)
			}
		}
		out := map[string]any{}
		for k, val := range x {
			c, ok, err := s.choose(val, set)
			if err != nil {
				return nil, false, err
			}
			if ok {
				out[k] = c
			}
		}
		return out, true, nil
	case []any:
		out := []any{}
		for _, val := range x {
			c, ok, err := s.choose(val, set)
			if err != nil {
				return nil, false, err
			}
			if ok {
				out = append(out, c)
			}
		}
		return out, true, nil
	}
	return v, true, nil
}

// render decides v's Fn::Ifs and renders the result with symbol.
func (s *stack) render(v any, set map[string]string) (string, error) {
	c, present, err := s.choose(v, set)
	if err != nil {
		return "", err
	}
	if !present {
		return "", nil
	}
	r, ok := symbol(c)
	if !ok {
		return "", fmt.Errorf("cannot render %v", c)
	}
	return r, nil
}

// environment returns a function's variables as deployed with the parameter values in set: the
// Globals' under the function's own, as SAM merges them.
func (s *stack) environment(id string, set map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, vars := range []any{
		dig(s.raw, "Globals", "Function", "Environment", "Variables"),
		dig(s.props(id), "Environment", "Variables"),
	} {
		m, _ := vars.(map[string]any)
		for k, v := range m {
			r, err := s.render(v, set)
			if err != nil {
				return nil, fmt.Errorf("%s.Environment.Variables.%s: %w", id, k, err)
			}
			out[k] = r
		}
	}
	return out, nil
}

// ------------------------------------------------------------ IAM policies

// statement is one IAM policy statement with every value rendered by symbol.
type statement struct {
	where       string // where in the template, for failure messages
	Sid         string
	Effect      string
	Actions     []string
	Resources   []string
	Principal   any
	Condition   map[string]map[string][]string
	NotAction   bool
	NotResource bool
}

func (st statement) cond(op, key string) []string { return st.Condition[op][key] }

// document parses a policy document given as an object or, as the actuator's EC2 document is, as
// a JSON string built with Fn::Sub (IAM takes either): its placeholders stay as ${Name}.
func (s *stack) document(v any, where string, set map[string]string) ([]statement, error) {
	if m, ok := v.(map[string]any); ok {
		if _, ok := m["Fn::Sub"]; ok {
			src, ok := symbol(m)
			if !ok {
				return nil, fmt.Errorf("%s: cannot read Fn::Sub %v", where, m)
			}
			var doc any
			if err := json.Unmarshal([]byte(src), &doc); err != nil {
				return nil, fmt.Errorf("%s: the policy document built with Fn::Sub is not JSON: %w", where, err)
			}
			v = doc
		}
	}
	c, _, err := s.choose(v, set)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	doc, ok := c.(map[string]any)
	if !ok || doc["Statement"] == nil {
		return nil, fmt.Errorf("%s is not an inline policy document (%T); the test cannot see its permissions", where, c)
	}
	raw := doc["Statement"]
	if one, ok := raw.(map[string]any); ok {
		raw = []any{one}
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s.Statement is a %T", where, raw)
	}
	var out []statement
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.Statement[%d] is a %T", where, i, item)
		}
		st := statement{where: fmt.Sprintf("%s.Statement[%d]", where, i), Principal: m["Principal"]}
		st.Sid, _ = m["Sid"].(string)
		st.Effect, _ = m["Effect"].(string)
		if st.Actions, err = strs(m["Action"]); err != nil {
			return nil, fmt.Errorf("%s.Action: %w", st.where, err)
		}
		if st.Resources, err = strs(m["Resource"]); err != nil {
			return nil, fmt.Errorf("%s.Resource: %w", st.where, err)
		}
		_, st.NotAction = m["NotAction"]
		_, st.NotResource = m["NotResource"]
		if cm, ok := m["Condition"].(map[string]any); ok {
			st.Condition = map[string]map[string][]string{}
			for op, keys := range cm {
				km, ok := keys.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s.Condition.%s is a %T", st.where, op, keys)
				}
				st.Condition[op] = map[string][]string{}
				for k, val := range km {
					if st.Condition[op][k], err = strs(val); err != nil {
						return nil, fmt.Errorf("%s.Condition.%s.%s: %w", st.where, op, k, err)
					}
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// strs renders a string or a list of them.
func strs(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		r, ok := symbol(item)
		if !ok {
			return nil, fmt.Errorf("cannot render %v", item)
		}
		out = append(out, r)
	}
	return out, nil
}

// permissions returns every statement of the identity policies a function runs with: its SAM
// Policies, each of which must be an inline document, or the inline policies of the role its Role
// names. SAM adds AWSLambdaBasicExecutionRole (logs only) to the roles it generates; the
// actuator's role lists its managed policies itself (see TestActuatorRole).
func (s *stack) permissions(id string, set map[string]string) ([]statement, error) {
	p := s.props(id)
	if p == nil {
		return nil, fmt.Errorf("no resource %s", id)
	}
	var out []statement
	if role, ok := p["Role"]; ok {
		if _, ok := p["Policies"]; ok {
			return nil, fmt.Errorf("%s has both Role and Policies; SAM ignores Policies when Role is set", id)
		}
		r, _ := symbol(role)
		roleID, isARN := strings.CutSuffix(strings.Trim(r, "${}"), ".Arn")
		if !isARN || s.resourceType(roleID) != "AWS::IAM::Role" {
			return nil, fmt.Errorf("%s.Role = %v; want !GetAtt <a role in this template>.Arn so that its permissions can be checked", id, role)
		}
		policies, _ := s.props(roleID)["Policies"].([]any)
		for i, pol := range policies {
			where := fmt.Sprintf("%s.Policies[%d].PolicyDocument", roleID, i)
			sts, err := s.document(dig(pol, "PolicyDocument"), where, set)
			if err != nil {
				return nil, err
			}
			out = append(out, sts...)
		}
		return out, nil
	}
	policies := p["Policies"]
	if one, ok := policies.(map[string]any); ok {
		policies = []any{one}
	}
	list, ok := policies.([]any)
	if !ok {
		return nil, fmt.Errorf("%s.Policies is a %T; want a list of inline policy documents", id, policies)
	}
	for i, pol := range list {
		sts, err := s.document(pol, fmt.Sprintf("%s.Policies[%d]", id, i), set)
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	return out, nil
}

func mustPermissions(t *testing.T, s *stack, id string) []statement {
	t.Helper()
	sts, err := s.permissions(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

// ------------------------------------------------------------------- tests

func TestTemplateIsSAM(t *testing.T) {
	s := open(t)
	if tr := s.typed.Transform; tr == nil || tr.String == nil || *tr.String != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform = %v; want AWS::Serverless-2016-10-31", s.raw["Transform"])
	}
}

func TestSixFunctionsTwoOfThemConditional(t *testing.T) {
	s := open(t)
	var got, want []string
	for id := range s.typed.GetAllServerlessFunctionResources() {
		got = append(got, id)
	}
	for _, f := range functions {
		want = append(want, f.id)
	}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("AWS::Serverless::Function resources (-want +got):\n%s", diff)
	}
	for _, f := range functions {
		fun, _ := s.typed.GetServerlessFunctionWithName(f.id)
		if got := fun.AWSCloudFormationCondition; got != f.condition {
			t.Errorf("%s.Condition = %q; want %q", f.id, got, f.condition)
		}
		if f.condition == "" {
			continue
		}
		for value, want := range map[string]bool{"": false, "x-1,x-2": true} {
			if got, err := s.condition(f.condition, map[string]string{f.gate: value}); err != nil || got != want {
				t.Errorf("condition %s with %s=%q = %v, %v; want %v (%s created only when %s is set)", f.condition, f.gate, value, got, err, want, f.id, f.gate)
			}
		}
		if def, err := s.param(f.gate, nil); err != nil || def != "" {
			t.Errorf("parameter %s default = %q, %v; want \"\" so that %s is not created by default", f.gate, def, err, f.id)
		}
	}
}

func TestFunctionsRunTheirBootstrapOnArm64(t *testing.T) {
	s := open(t)
	g, err := s.typed.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatalf("Globals.Function: %v", err)
	}
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	packaged := regexp.MustCompile(`(?m)^FUNCTIONS\s*:=(.*)$`).FindSubmatch(makefile)
	if packaged == nil {
		t.Fatal("Makefile has no FUNCTIONS := line; cannot tell which archives make package builds")
	}
	if got := dig(s.raw, "Globals", "Function", "LoggingConfig", "LogFormat"); got != "JSON" {
		t.Errorf("Globals.Function.LoggingConfig.LogFormat = %v; want JSON", got)
	}
	for _, f := range functions {
		fun, _ := s.typed.GetServerlessFunctionWithName(f.id)
		runtime, handler := fun.Runtime, fun.Handler
		if runtime == nil {
			runtime = g.Runtime
		}
		if handler == nil {
			handler = g.Handler
		}
		arch := fun.Architectures
		if arch == nil && g.Architectures != nil {
			arch = *g.Architectures
		}
		if runtime == nil || *runtime != "provided.al2023" {
			t.Errorf("%s.Runtime (or Globals.Function.Runtime) = %v; want provided.al2023", f.id, deref(runtime))
		}
		if handler == nil || *handler != "bootstrap" {
			t.Errorf("%s.Handler (or Globals.Function.Handler) = %v; want bootstrap", f.id, deref(handler))
		}
		if !slices.Equal(arch, []string{"arm64"}) {
			t.Errorf("%s.Architectures (or Globals.Function.Architectures) = %v; want [arm64]", f.id, arch)
		}
		want := "dist/" + f.name + ".zip"
		if fun.CodeUri == nil || fun.CodeUri.String == nil || *fun.CodeUri.String != want {
			t.Errorf("%s.CodeUri = %v; want %s, built by make package", f.id, s.props(f.id)["CodeUri"], want)
		}
		if !slices.Contains(strings.Fields(string(packaged[1])), f.name) {
			t.Errorf("%s.CodeUri = %s, but the Makefile's FUNCTIONS (%s) does not package %s", f.id, want, strings.TrimSpace(string(packaged[1])), f.name)
		}
		if _, err := os.Stat(filepath.Join(repoRoot, "functions", f.name, "main.go")); err != nil {
			t.Errorf("%s.CodeUri = %s, but functions/%s has no main.go: %v", f.id, want, f.name, err)
		}
		timeout, memory := fun.Timeout, fun.MemorySize
		if timeout == nil {
			timeout = g.Timeout
		}
		if memory == nil {
			memory = g.MemorySize
		}
		if timeout == nil || *timeout != f.timeout {
			t.Errorf("%s.Timeout = %v; want %d", f.id, deref(timeout), f.timeout)
		}
		if memory == nil || *memory != f.memory {
			t.Errorf("%s.MemorySize = %v; want %d", f.id, deref(memory), f.memory)
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestEnvironment(t *testing.T) {
	s := open(t)
	for _, f := range functions {
		got, err := s.environment(f.id, nil)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if diff := cmp.Diff(f.env, got); diff != "" {
			t.Errorf("%s.Environment.Variables with Globals, default parameters (-want +got):\n%s", f.id, diff)
		}
	}
}

func TestDryRunByDefault(t *testing.T) {
	s := open(t)
	p, ok := s.typed.Parameters["DryRun"]
	if !ok {
		t.Fatal("no parameter DryRun")
	}
	if p.Default != "true" {
		t.Errorf("parameter DryRun Default = %#v; want \"true\"", p.Default)
	}
	if diff := cmp.Diff([]any{"true", "false"}, p.AllowedValues); diff != "" {
		t.Errorf("parameter DryRun AllowedValues (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		set  map[string]string
		want string
	}{
		{nil, "false"},
		{map[string]string{"DryRun": "true"}, "false"},
		{map[string]string{"DryRun": "false"}, "true"},
	} {
		env, err := s.environment("ActuateFunction", tc.set)
		if err != nil {
			t.Fatal(err)
		}
		if got := env["CLOUDTRIM_APPLY"]; got != tc.want {
			t.Errorf("ActuateFunction.Environment.Variables.CLOUDTRIM_APPLY with parameters %v = %q; want %q", tc.set, got, tc.want)
		}
	}
}

// credential patterns: AWS access keys, PEM blocks, long unbroken tokens.
var looksSecret = regexp.MustCompile(`(A3T|AKIA|ASIA)[A-Z0-9]{16}|-----BEGIN|^[A-Za-z0-9+/=_-]{32,}$`)

func TestNoSecretInTheTemplateOrTheEnvironment(t *testing.T) {
	s := open(t)
	if strings.Contains(s.text, "{{resolve:") {
		t.Errorf("template.yaml has a {{resolve:...}} dynamic reference; secrets are read at run time from their ARN")
	}
	for name, p := range s.typed.Parameters {
		if p.NoEcho != nil && *p.NoEcho && p.Default != nil {
			t.Errorf("parameter %s is NoEcho with a Default: a secret would sit in the template", name)
		}
	}
	for _, f := range functions {
		env, err := s.environment(f.id, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range env {
			upper := strings.ToUpper(k)
			for _, word := range []string{"SECRET", "TOKEN", "PASSWORD", "PRIVATE_KEY", "API_KEY"} {
				if strings.Contains(upper, word) && !strings.HasSuffix(upper, "_ARN") {
					t.Errorf("%s.Environment.Variables.%s: a %s in the environment must be passed by ARN (…_ARN)", f.id, k, word)
				}
			}
			if strings.HasSuffix(upper, "_ARN") && strings.Contains(upper, "SECRET") {
				name, isRef := strings.CutPrefix(v, "${")
				name, isRef2 := strings.CutSuffix(name, "}")
				p, isParam := s.typed.Parameters[name]
				// An optional secret's pattern accepts an ARN or nothing.
				if !isRef || !isRef2 || !isParam || p.AllowedPattern == nil ||
					!(strings.HasPrefix(*p.AllowedPattern, "^arn:") || strings.HasPrefix(*p.AllowedPattern, "^(arn:") && strings.HasSuffix(*p.AllowedPattern, ")?$")) {
					t.Errorf("%s.Environment.Variables.%s = %q; want !Ref of a parameter whose AllowedPattern accepts only ARNs (or nothing)", f.id, k, v)
				}
			}
			if strings.Contains(v, "{{resolve:") || looksSecret.MatchString(v) {
				t.Errorf("%s.Environment.Variables.%s = %q looks like a literal secret", f.id, k, v)
			}
		}
	}
}

func TestApprovalSecretIsOnlyUsedAsAnARN(t *testing.T) {
	s := open(t)
	p, ok := s.typed.Parameters["ApprovalSecretArn"]
	if !ok {
		t.Fatal("no parameter ApprovalSecretArn")
	}
	if p.AllowedPattern == nil || *p.AllowedPattern != "^arn:aws[a-z-]*:secretsmanager:.*" {
		t.Errorf("parameter ApprovalSecretArn AllowedPattern = %v; want ^arn:aws[a-z-]*:secretsmanager:.*", deref(p.AllowedPattern))
	}
	if p.Default != nil {
		t.Errorf("parameter ApprovalSecretArn Default = %v; want none (required)", p.Default)
	}
	const envPath = ".Resources.ApproveFunction.Properties.Environment.Variables.CLOUDTRIM_WEBHOOK_SECRET_ARN"
	statementResource := regexp.MustCompile(`^\.Resources\.ApproveFunction\.Properties\.Policies\[\d+\]\.Statement\[\d+\]\.Resource(\[\d+\])?$`)
	var uses []string
	walk(s.raw, "", func(path string, v any) {
		if slices.Contains(references(v), "ApprovalSecretArn") {
			uses = append(uses, path)
			if path != envPath && !statementResource.MatchString(path) {
				t.Errorf("%s refers to ApprovalSecretArn; it may only be ApproveFunction's CLOUDTRIM_WEBHOOK_SECRET_ARN and the Resource of its secretsmanager:GetSecretValue statement", path)
			}
		}
	})
	if !slices.Contains(uses, envPath) {
		t.Errorf("ApprovalSecretArn is not passed as ApproveFunction's CLOUDTRIM_WEBHOOK_SECRET_ARN")
	}
	for _, f := range functions {
		for _, st := range mustPermissions(t, s, f.id) {
			onSecret := slices.Contains(st.Resources, "${ApprovalSecretArn}")
			for _, a := range st.Actions {
				if strings.HasPrefix(strings.ToLower(a), "secretsmanager:") && (f.id != "ApproveFunction" || !onSecret) {
					t.Errorf("%s grants %s on %v; only ApproveFunction may read the approval secret", st.where, a, st.Resources)
				}
			}
			if onSecret && (st.Effect != "Allow" || !slices.Equal(st.Actions, []string{"secretsmanager:GetSecretValue"}) || len(st.Resources) != 1) {
				t.Errorf("%s: %s %v on %v; want exactly Allow secretsmanager:GetSecretValue on ${ApprovalSecretArn}", st.where, st.Effect, st.Actions, st.Resources)
			}
		}
	}
}

// TestFunctionsReachTheLakeByName guards against the dependency cycle between the lake's
// notification to OptimizeFunction and anything of the functions that would refer to the bucket
// resource: only the S3 event's Bucket may.
func TestFunctionsReachTheLakeByName(t *testing.T) {
	s := open(t)
	if got, _ := symbol(s.props("Lake")["BucketName"]); got != lakeName {
		t.Errorf("Lake.BucketName = %q; want !Sub %q (lowercase stack names only)", got, lakeName)
	}
	allowed := regexp.MustCompile(`^\.Resources\.OptimizeFunction\.Properties\.Events\.[A-Za-z0-9]+\.Properties\.Bucket$`)
	check := func(root string, v any) {
		walk(v, root, func(path string, v any) {
			if slices.Contains(references(v), "Lake") && !allowed.MatchString(path) {
				t.Errorf("%s refers to the Lake resource; use its name %q instead (a dependency cycle through the bucket notification otherwise)", path, lakeName)
			}
		})
	}
	check(".Globals.Function", dig(s.raw, "Globals", "Function"))
	for _, f := range functions {
		check(".Resources."+f.id+".Properties", s.props(f.id))
		if r, _ := symbol(s.props(f.id)["Role"]); r != "" {
			role := strings.TrimSuffix(strings.Trim(r, "${}"), ".Arn")
			check(".Resources."+role+".Properties", s.props(role))
		}
	}
}

func TestLakeBucket(t *testing.T) {
	s := open(t)
	b, err := s.typed.GetS3BucketWithName("Lake")
	if err != nil {
		t.Fatalf("Lake: %v", err)
	}
	if v := b.VersioningConfiguration; v == nil || v.Status != "Enabled" {
		t.Errorf("Lake.VersioningConfiguration.Status = %v; want Enabled", s.props("Lake")["VersioningConfiguration"])
	}
	if e := b.BucketEncryption; e == nil || len(e.ServerSideEncryptionConfiguration) == 0 {
		t.Errorf("Lake.BucketEncryption is missing")
	} else {
		for i, rule := range e.ServerSideEncryptionConfiguration {
			d := rule.ServerSideEncryptionByDefault
			if d == nil || !slices.Contains([]string{"AES256", "aws:kms", "aws:kms:dsse"}, d.SSEAlgorithm) {
				t.Errorf("Lake.BucketEncryption.ServerSideEncryptionConfiguration[%d].ServerSideEncryptionByDefault = %+v; want SSEAlgorithm AES256 or aws:kms", i, d)
			}
		}
	}
	pab := b.PublicAccessBlockConfiguration
	if pab == nil {
		t.Errorf("Lake.PublicAccessBlockConfiguration is missing")
	} else {
		for name, v := range map[string]*bool{
			"BlockPublicAcls":       pab.BlockPublicAcls,
			"BlockPublicPolicy":     pab.BlockPublicPolicy,
			"IgnorePublicAcls":      pab.IgnorePublicAcls,
			"RestrictPublicBuckets": pab.RestrictPublicBuckets,
		} {
			if v == nil || !*v {
				t.Errorf("Lake.PublicAccessBlockConfiguration.%s = %v; want true", name, deref(v))
			}
		}
	}
	denied := s.tlsDenials(t, "AWS::S3::BucketPolicy", "Bucket", "s3:*")["${Lake}"]
	for _, r := range []string{"${Lake.Arn}", "${Lake.Arn}/*"} {
		if !slices.Contains(denied, r) {
			t.Errorf("no AWS::S3::BucketPolicy on Lake denies s3:* without TLS (Bool aws:SecureTransport false) on %s", r)
		}
	}
}

// tlsDenials maps each target of the policies of type typ (their targetKey property, a string or
// a list) to the resources on which one of their statements denies action to any principal
// when aws:SecureTransport is false.
func (s *stack) tlsDenials(t *testing.T, typ, targetKey, action string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for id, r := range s.raw["Resources"].(map[string]any) {
		if dig(r, "Type") != typ {
			continue
		}
		targets, err := strs(s.props(id)[targetKey])
		if err != nil {
			t.Fatalf("%s.%s: %v", id, targetKey, err)
		}
		sts, err := s.document(s.props(id)["PolicyDocument"], id+".PolicyDocument", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			p, _ := symbol(st.Principal)
			if p == "" {
				p, _ = symbol(dig(st.Principal, "AWS"))
			}
			if st.Effect != "Deny" || p != "*" || !slices.Contains(st.Actions, action) ||
				!slices.Equal(st.cond("Bool", "aws:SecureTransport"), []string{"false"}) {
				continue
			}
			for _, target := range targets {
				out[target] = append(out[target], st.Resources...)
			}
		}
	}
	return out
}

func TestActionQueues(t *testing.T) {
	s := open(t)
	q, err := s.typed.GetSQSQueueWithName(actionsQueue)
	if err != nil {
		t.Fatalf("%s: %v", actionsQueue, err)
	}
	dlq, err := s.typed.GetSQSQueueWithName(deadLetters)
	if err != nil {
		t.Fatalf("%s: %v", deadLetters, err)
	}
	for id, sse := range map[string]*bool{actionsQueue: q.SqsManagedSseEnabled, deadLetters: dlq.SqsManagedSseEnabled} {
		if sse == nil || !*sse {
			t.Errorf("%s.SqsManagedSseEnabled = %v; want true", id, deref(sse))
		}
	}
	actuate, _ := s.typed.GetServerlessFunctionWithName("ActuateFunction")
	timeout := actuate.Timeout
	if timeout == nil {
		g, _ := s.typed.GetServerlessGlobalFunction()
		timeout = g.Timeout
	}
	if timeout == nil {
		t.Fatalf("ActuateFunction.Timeout is not set")
	}
	if q.VisibilityTimeout == nil || *q.VisibilityTimeout < 6**timeout {
		t.Errorf("%s.VisibilityTimeout = %v; want at least 6 x ActuateFunction.Timeout = %d", actionsQueue, deref(q.VisibilityTimeout), 6**timeout)
	}
	redrive, _ := s.props(actionsQueue)["RedrivePolicy"].(map[string]any)
	if target, _ := symbol(redrive["deadLetterTargetArn"]); target != "${"+deadLetters+".Arn}" {
		t.Errorf("%s.RedrivePolicy.deadLetterTargetArn = %v; want !GetAtt %s.Arn", actionsQueue, redrive["deadLetterTargetArn"], deadLetters)
	}
	if n, ok := redrive["maxReceiveCount"].(float64); !ok || n < 3 || n > 10 {
		t.Errorf("%s.RedrivePolicy.maxReceiveCount = %v; want 3 to 10", actionsQueue, redrive["maxReceiveCount"])
	}
	if dlq.MessageRetentionPeriod == nil || *dlq.MessageRetentionPeriod != 1209600 {
		t.Errorf("%s.MessageRetentionPeriod = %v; want 1209600 (14 days)", deadLetters, deref(dlq.MessageRetentionPeriod))
	}
	if q.MessageRetentionPeriod != nil && dlq.MessageRetentionPeriod != nil && *q.MessageRetentionPeriod > *dlq.MessageRetentionPeriod {
		t.Errorf("%s.MessageRetentionPeriod = %d exceeds %s's %d: dead letters would expire early", actionsQueue, *q.MessageRetentionPeriod, deadLetters, *dlq.MessageRetentionPeriod)
	}
	denies := s.tlsDenials(t, "AWS::SQS::QueuePolicy", "Queues", "sqs:*")
	for _, id := range []string{actionsQueue, deadLetters} {
		if !slices.Contains(denies["${"+id+"}"], "${"+id+".Arn}") {
			t.Errorf("no AWS::SQS::QueuePolicy on %s denies sqs:* without TLS (Bool aws:SecureTransport false) on ${%s.Arn}", id, id)
		}
	}
}

// event returns a function's only event, in the generic view.
// namedEvent returns the type and properties of event name of function id.
func (s *stack) namedEvent(t *testing.T, id, name string) (typ string, props map[string]any) {
	t.Helper()
	e, ok := dig(s.props(id), "Events", name).(map[string]any)
	if !ok {
		t.Fatalf("%s.Events has no event %s", id, name)
	}
	typ, _ = dig(e, "Type").(string)
	props, _ = dig(e, "Properties").(map[string]any)
	return typ, props
}

// TestOptimizerIngestsDeliveredBills checks that a billing export's
// manifest under cur/ triggers the optimizer, and that AWS billing may
// write there, for this account only, and nowhere else.
func TestOptimizerIngestsDeliveredBills(t *testing.T) {
	s := open(t)
	typ, ev := s.namedEvent(t, "OptimizeFunction", "BillingDelivered")
	if b, _ := symbol(ev["Bucket"]); typ != "S3" || b != "${Lake}" {
		t.Fatalf("OptimizeFunction.Events.BillingDelivered = %s on %v; want S3 on !Ref Lake", typ, ev["Bucket"])
	}
	got := map[string]string{}
	rules, _ := dig(ev, "Filter", "S3Key", "Rules").([]any)
	for _, r := range rules {
		name, _ := dig(r, "Name").(string)
		got[strings.ToLower(name)], _ = symbol(dig(r, "Value"))
	}
	if diff := cmp.Diff(map[string]string{"prefix": "cur/", "suffix": "Manifest.json"}, got); diff != "" {
		t.Errorf("BillingDelivered Filter.S3Key.Rules (-want +got):\n%s", diff)
	}
	sts, err := s.document(s.props("LakePolicy")["PolicyDocument"], "LakePolicy.PolicyDocument", nil)
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	for _, st := range sts {
		if st.Effect != "Allow" {
			continue
		}
		services, _ := strs(dig(st.Principal, "Service"))
		for _, svc := range services {
			if svc != "billingreports.amazonaws.com" && svc != "bcm-data-exports.amazonaws.com" {
				t.Errorf("LakePolicy allows principal %s", svc)
			}
		}
		if acct := st.cond("StringEquals", "aws:SourceAccount"); !slices.Equal(acct, []string{"${AWS::AccountId}"}) {
			t.Errorf("LakePolicy statement %v for %v lacks aws:SourceAccount = the stack's account (has %v)", st.Actions, services, acct)
		}
		for _, a := range st.Actions {
			switch a {
			case "s3:PutObject":
				writes++
				if !slices.Equal(st.Resources, []string{"${Lake.Arn}/cur/*"}) {
					t.Errorf("billing may write %v; want only ${Lake.Arn}/cur/*", st.Resources)
				}
			case "s3:GetBucketAcl", "s3:GetBucketPolicy":
			default:
				t.Errorf("LakePolicy allows billing %s", a)
			}
		}
	}
	if writes != 1 {
		t.Errorf("LakePolicy lets billing write in %d statements; want 1", writes)
	}
}

func (s *stack) event(t *testing.T, id string) (typ string, props map[string]any) {
	t.Helper()
	events, _ := s.props(id)["Events"].(map[string]any)
	if len(events) != 1 {
		t.Fatalf("%s.Events has %d events; want 1", id, len(events))
	}
	for _, e := range events {
		typ, _ = dig(e, "Type").(string)
		props, _ = dig(e, "Properties").(map[string]any)
	}
	return typ, props
}

func TestActuatorConsumesTheQueueInSmallBatches(t *testing.T) {
	s := open(t)
	typ, ev := s.namedEvent(t, "ActuateFunction", "ApprovedActions")
	if typ != "SQS" {
		t.Fatalf("ActuateFunction.Events: Type = %q; want SQS", typ)
	}
	if q, _ := symbol(ev["Queue"]); q != "${"+actionsQueue+".Arn}" {
		t.Errorf("ActuateFunction.Events SQS Queue = %v; want !GetAtt %s.Arn", ev["Queue"], actionsQueue)
	}
	if n, ok := ev["BatchSize"].(float64); !ok || n < 1 || n > 10 {
		t.Errorf("ActuateFunction.Events SQS BatchSize = %v; want 1 to 10", ev["BatchSize"])
	}
	types, _ := strs(ev["FunctionResponseTypes"])
	if !slices.Contains(types, "ReportBatchItemFailures") {
		t.Errorf("ActuateFunction.Events SQS FunctionResponseTypes = %v; want ReportBatchItemFailures", types)
	}
	fun, _ := s.typed.GetServerlessFunctionWithName("ActuateFunction")
	reserved := fun.ReservedConcurrentExecutions
	if reserved == nil || *reserved < 1 || *reserved > 5 {
		t.Errorf("ActuateFunction.ReservedConcurrentExecutions = %v; want 1 to 5 to bound the blast radius", deref(reserved))
	} else if max, ok := dig(ev, "ScalingConfig", "MaximumConcurrency").(float64); ok && int(max) > *reserved {
		t.Errorf("ActuateFunction.Events SQS ScalingConfig.MaximumConcurrency = %v exceeds ReservedConcurrentExecutions %d: the poller would be throttled into redeliveries", max, *reserved)
	}
}

// TestActuatorKeepsSchedules: the actuate function runs the scheduler on
// a timer, with the input its handler recognises.
func TestActuatorKeepsSchedules(t *testing.T) {
	s := open(t)
	typ, ev := s.namedEvent(t, "ActuateFunction", "Schedules")
	if typ != "ScheduleV2" {
		t.Fatalf("ActuateFunction.Events Schedules: Type = %q; want ScheduleV2", typ)
	}
	if e, _ := ev["ScheduleExpression"].(string); e != "rate(15 minutes)" {
		t.Errorf("ActuateFunction.Events Schedules ScheduleExpression = %v; want rate(15 minutes)", ev["ScheduleExpression"])
	}
	if in, _ := ev["Input"].(string); in != `{"cloudtrim": "schedules"}` {
		t.Errorf("ActuateFunction.Events Schedules Input = %q; want the schedules timer input", in)
	}
}

func TestOptimizerRunsWhenASnapshotCommits(t *testing.T) {
	s := open(t)
	typ, ev := s.namedEvent(t, "OptimizeFunction", "SnapshotCommitted")
	if typ != "S3" {
		t.Fatalf("OptimizeFunction.Events: Type = %q; want S3", typ)
	}
	if b, _ := symbol(ev["Bucket"]); b != "${Lake}" {
		t.Errorf("OptimizeFunction.Events S3 Bucket = %v; want !Ref Lake", ev["Bucket"])
	}
	if events, _ := strs(ev["Events"]); !slices.Equal(events, []string{"s3:ObjectCreated:*"}) {
		t.Errorf("OptimizeFunction.Events S3 Events = %v; want s3:ObjectCreated:*", events)
	}
	got := map[string]string{}
	rules, _ := dig(ev, "Filter", "S3Key", "Rules").([]any)
	for _, r := range rules {
		name, _ := dig(r, "Name").(string)
		got[strings.ToLower(name)], _ = symbol(dig(r, "Value"))
	}
	if diff := cmp.Diff(map[string]string{"prefix": "snapshots/", "suffix": "_manifest.json"}, got); diff != "" {
		t.Errorf("OptimizeFunction.Events S3 Filter.S3Key.Rules (-want +got):\n%s", diff)
	}
}

func TestCollectorsRunOnTheSchedule(t *testing.T) {
	s := open(t)
	if def, err := s.param("CollectSchedule", nil); err != nil || def != "rate(1 day)" {
		t.Errorf("parameter CollectSchedule default = %q, %v; want rate(1 day)", def, err)
	}
	for _, id := range collectors {
		typ, ev := s.event(t, id)
		if typ != "ScheduleV2" {
			t.Errorf("%s.Events: Type = %q; want ScheduleV2 (EventBridge Scheduler)", id, typ)
		}
		if e, _ := symbol(ev["ScheduleExpression"]); e != "${CollectSchedule}" {
			t.Errorf("%s.Events ScheduleExpression = %v; want !Ref CollectSchedule", id, ev["ScheduleExpression"])
		}
	}
}

func TestApprovalWebhookURL(t *testing.T) {
	s := open(t)
	fun, _ := s.typed.GetServerlessFunctionWithName("ApproveFunction")
	if c := fun.FunctionUrlConfig; c == nil || c.AuthType != "NONE" {
		t.Errorf("ApproveFunction.FunctionUrlConfig.AuthType = %v; want NONE (requests are authenticated by their HMAC signature)", s.props("ApproveFunction")["FunctionUrlConfig"])
	}
	if fun.Description == nil || !strings.Contains(*fun.Description, "HMAC") {
		t.Errorf("ApproveFunction.Description = %v; want it to say that requests are authenticated by their HMAC signature, not by the URL", deref(fun.Description))
	}
	for name, want := range map[string]string{
		"ApproveUrl":         "${ApproveFunctionUrl.FunctionUrl}",
		"LakeBucketName":     "${Lake}",
		"ActionsQueueUrl":    "${" + actionsQueue + "}",
		"DeadLetterQueueUrl": "${" + deadLetters + "}",
	} {
		if _, ok := s.typed.Outputs[name]; !ok {
			t.Errorf("no output %s", name)
			continue
		}
		if got, _ := symbol(dig(s.raw, "Outputs", name, "Value")); got != want {
			t.Errorf("Outputs.%s.Value = %q; want %q", name, got, want)
		}
	}
}

// granted maps each action a function's Allow statements grant to the resources they grant it
// on, leaving out the actions for which skip is true.
func granted(sts []statement, skip func(action string) bool) map[string][]string {
	out := map[string][]string{}
	for _, st := range sts {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Actions {
			if skip != nil && skip(a) {
				continue
			}
			for _, r := range st.Resources {
				if !slices.Contains(out[a], r) {
					out[a] = append(out[a], r)
				}
			}
		}
	}
	for _, rs := range out {
		sort.Strings(rs)
	}
	return out
}

func isEC2(action string) bool { return strings.HasPrefix(strings.ToLower(action), "ec2:") }

func TestLeastPrivilege(t *testing.T) {
	s := open(t)
	for _, f := range functions {
		sts := mustPermissions(t, s, f.id)
		for _, st := range sts {
			if st.NotAction || st.NotResource {
				t.Errorf("%s uses NotAction or NotResource; list what is allowed instead", st.where)
			}
			if st.Effect != "Allow" && st.Effect != "Deny" {
				t.Errorf("%s.Effect = %q", st.where, st.Effect)
			}
		}
		var skip func(string) bool
		if f.id == "ActuateFunction" {
			skip = isEC2
		}
		if diff := cmp.Diff(grants[f.id], granted(sts, skip)); diff != "" {
			t.Errorf("%s is granted more or less than it needs: action -> resources (-want +got):\n%s", f.id, diff)
		}
	}
}

// readVerbs are the prefixes of the actions that only read.
var readVerbs = []string{"Describe", "Get", "List"}

func TestCollectorsAreReadOnly(t *testing.T) {
	s := open(t)
	readServices := []string{"ec2", "cloudwatch", "ce", "pricing", "sts"}
	for _, id := range collectors {
		for _, st := range mustPermissions(t, s, id) {
			if st.Effect != "Allow" {
				continue
			}
			for _, a := range st.Actions {
				service, verb, _ := strings.Cut(a, ":")
				service = strings.ToLower(service)
				read := slices.ContainsFunc(readVerbs, func(p string) bool { return strings.HasPrefix(verb, p) })
				switch {
				case strings.Contains(a, "*") && !(read && slices.Contains(readServices, service) && slices.Contains([]string{"Describe*", "Get*", "List*"}, verb)):
					t.Errorf("%s grants the wildcard action %s to collector %s", st.where, a, id)
				case id != "CollectAwsFunction" && service != "s3":
					t.Errorf("%s grants %s to %s, which needs no AWS permission beyond the lake", st.where, a, id)
				case read && slices.Contains(readServices, service):
				case id == "CollectAwsFunction" && slices.Contains(bucketReads, a):
				case a == "s3:GetObject" || a == "s3:PutObject":
					if !slices.Equal(st.Resources, []string{lakeObjectsARN}) {
						t.Errorf("%s grants %s to %s on %v; want the lake's objects only (%s)", st.where, a, id, st.Resources, lakeObjectsARN)
					}
				case a == "s3:ListBucket":
					if !slices.Equal(st.Resources, []string{lakeBucketARN}) {
						t.Errorf("%s grants %s to %s on %v; want the lake only (%s)", st.where, a, id, st.Resources, lakeBucketARN)
					}
				default:
					t.Errorf("%s grants %s to collector %s: collectors only read (Describe/Get/List) and write snapshots to the lake", st.where, a, id)
				}
			}
		}
	}
}

// mutatingEC2 are the changes the actuator makes, each allowed only on opted-in resources.
var mutatingEC2 = []string{
	"ec2:StopInstances", "ec2:StartInstances", "ec2:ModifyInstanceAttribute", "ec2:ModifyVolume",
	"ec2:DeleteVolume", "ec2:ReleaseAddress", "ec2:DeleteSnapshot",
}

func TestActuatorEC2IsLimitedToOptedInResources(t *testing.T) {
	s := open(t)
	sts := mustPermissions(t, s, "ActuateFunction")
	optedIn := func(st statement) bool { return slices.Equal(st.cond("StringEquals", optInKey), []string{"true"}) }
	only := func(st statement, kind string) bool {
		for _, r := range st.Resources {
			if !strings.HasPrefix(r, "arn:${AWS::Partition}:ec2:") || !strings.HasSuffix(r, ":"+kind+"/*") {
				return false
			}
		}
		return len(st.Resources) > 0
	}
	seen := map[string]bool{}
	denied := false
	for _, st := range sts {
		if st.Effect == "Deny" {
			if slices.Contains(st.Actions, "ec2:CreateTags") && slices.Contains(st.Actions, "ec2:DeleteTags") &&
				slices.Contains(st.Resources, "*") && slices.Contains(st.cond("ForAnyValue:StringEquals", "aws:TagKeys"), "${OptInTag}") {
				denied = true
			}
			continue
		}
		for _, a := range st.Actions {
			if !isEC2(a) {
				continue
			}
			seen[a] = true
			_, verb, _ := strings.Cut(a, ":")
			switch {
			case a == "ec2:Describe*":
			case strings.Contains(a, "*"):
				t.Errorf("%s grants the wildcard action %s to the actuator", st.where, a)
			case slices.ContainsFunc(readVerbs, func(p string) bool { return strings.HasPrefix(verb, p) }):
			case slices.Contains(mutatingEC2, a):
				if !optedIn(st) {
					t.Errorf("%s grants %s without Condition StringEquals {%q: \"true\"}", st.where, a, optInKey)
				}
			case a == "ec2:CreateSnapshot":
				volume := optedIn(st) && only(st, "volume")
				snapshot := only(st, "snapshot") && slices.Equal(st.cond("Null", "aws:RequestTag/cloudtrim-action"), []string{"false"})
				if !volume && !snapshot {
					t.Errorf("%s grants %s on %v; want it on opted-in volumes (StringEquals %s) or on snapshot/* carrying a cloudtrim-action request tag (Null false)", st.where, a, st.Resources, optInKey)
				}
			case a == "ec2:CreateTags":
				newSnapshots := only(st, "snapshot") && slices.Equal(st.cond("StringEquals", "ec2:CreateAction"), []string{"CreateSnapshot"})
				keys := st.cond("ForAllValues:StringEquals", "aws:TagKeys")
				schedule := optedIn(st) && len(keys) > 0 && !slices.Contains(keys, "${OptInTag}")
				if !newSnapshots && !schedule {
					t.Errorf("%s grants %s on %v; want it only while creating snapshots (ec2:CreateAction) or on opted-in resources for listed tag keys other than the opt-in tag", st.where, a, st.Resources)
				}
			default:
				t.Errorf("%s grants %s, which the actuator does not need", st.where, a)
			}
		}
	}
	for _, a := range append(slices.Clone(mutatingEC2), "ec2:Describe*", "ec2:CreateSnapshot", "ec2:CreateTags") {
		if !seen[a] {
			t.Errorf("ActuateFunction's role does not grant %s, which the actuator needs", a)
		}
	}
	if !denied {
		t.Errorf("ActuateFunction's role has no Deny of ec2:CreateTags and ec2:DeleteTags on * when ForAnyValue:StringEquals aws:TagKeys has ${OptInTag}: the actuator could change its own opt-in tag")
	}
}

func TestOptInTagCannotRewriteThePolicy(t *testing.T) {
	s := open(t)
	p, ok := s.typed.Parameters["OptInTag"]
	if !ok {
		t.Fatal("no parameter OptInTag")
	}
	if p.Default != "cloudtrim-optin" {
		t.Errorf("parameter OptInTag Default = %#v; want cloudtrim-optin", p.Default)
	}
	if p.AllowedPattern == nil {
		t.Fatal("parameter OptInTag has no AllowedPattern; its value is substituted into the actuator's policy JSON")
	}
	re, err := regexp.Compile(*p.AllowedPattern)
	if err != nil {
		t.Fatalf("parameter OptInTag AllowedPattern %q: %v", *p.AllowedPattern, err)
	}
	for value, want := range map[string]bool{
		"cloudtrim-optin":        true,
		"team:cloudtrim/optin":   true,
		"":                       false,
		`x"}},{"Effect":"Allow`:  false,
		`back\slash`:             false,
		"${AWS::AccountId}":      false,
		"new\nline":              false,
		strings.Repeat("k", 129): false,
	} {
		if got := re.MatchString(value); got != want {
			t.Errorf("parameter OptInTag AllowedPattern %q matches %q = %v; want %v", *p.AllowedPattern, value, got, want)
		}
	}
}

func TestActuatorRole(t *testing.T) {
	s := open(t)
	if r, _ := symbol(s.props("ActuateFunction")["Role"]); r != "${ActuateRole.Arn}" {
		t.Fatalf("ActuateFunction.Role = %q; want !GetAtt ActuateRole.Arn", r)
	}
	trust, err := s.document(s.props("ActuateRole")["AssumeRolePolicyDocument"], "ActuateRole.AssumeRolePolicyDocument", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range trust {
		principal, _ := strs(dig(st.Principal, "Service"))
		if st.Effect != "Allow" || !slices.Equal(principal, []string{"lambda.amazonaws.com"}) || !slices.Equal(st.Actions, []string{"sts:AssumeRole"}) {
			t.Errorf("%s: %s %v by %v; want only Lambda to assume the actuator's role", st.where, st.Effect, st.Actions, st.Principal)
		}
	}
	const (
		basic = "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
		xray  = "arn:${AWS::Partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
	)
	for _, tc := range []struct {
		set  map[string]string
		want []string
	}{
		{nil, []string{basic}},
		{map[string]string{"Tracing": "Active"}, []string{basic, xray}},
	} {
		c, _, err := s.choose(s.props("ActuateRole")["ManagedPolicyArns"], tc.set)
		if err != nil {
			t.Fatal(err)
		}
		got, err := strs(c)
		if err != nil {
			t.Fatalf("ActuateRole.ManagedPolicyArns: %v", err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ActuateRole.ManagedPolicyArns with parameters %v (-want +got):\n%s", tc.set, diff)
		}
	}
}

// TestEveryRoleIsChecked makes sure no IAM resource grants a function something the tests above
// do not see: the only one allowed is the actuator's role.
func TestEveryRoleIsChecked(t *testing.T) {
	s := open(t)
	for id, r := range s.raw["Resources"].(map[string]any) {
		typ, _ := dig(r, "Type").(string)
		if strings.HasPrefix(typ, "AWS::IAM::") && !(id == "ActuateRole" && typ == "AWS::IAM::Role") {
			t.Errorf("resource %s is a %s; the least-privilege tests only see the functions' Policies and ActuateRole", id, typ)
		}
	}
}

// TestSlackSigningSecretIsOptionalAndNarrow: without SlackSigningSecretArn no function may read
// any secret but the approval one; with it, ApproveFunction alone gets exactly
// secretsmanager:GetSecretValue on that ARN.
func TestSlackSigningSecretIsOptionalAndNarrow(t *testing.T) {
	s := open(t)
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-AbCdEf"
	for _, set := range []map[string]string{nil, {"SlackSigningSecretArn": arn}} {
		reads := 0
		for _, f := range functions {
			sts, err := s.permissions(f.id, set)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range sts {
				if !slices.Contains(st.Resources, arn) && !slices.Contains(st.Resources, "${SlackSigningSecretArn}") {
					continue
				}
				reads++
				if f.id != "ApproveFunction" || st.Effect != "Allow" || !slices.Equal(st.Actions, []string{"secretsmanager:GetSecretValue"}) || len(st.Resources) != 1 {
					t.Errorf("with %v: %s: %s %v on %v; want only ApproveFunction, exactly Allow secretsmanager:GetSecretValue on the Slack secret", set, st.where, st.Effect, st.Actions, st.Resources)
				}
			}
		}
		if want := len(set); reads != want {
			t.Errorf("with %v: %d statements read the Slack signing secret; want %d", set, reads, want)
		}
	}
}
