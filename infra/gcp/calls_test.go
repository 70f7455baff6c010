package gcp

// This file reads recorded gcloud commands: their words and flags, the environment and
// secrets of a Cloud Run deploy, and the IAM bindings they add. deploy.sh spells every flag
// with a value as --flag=value, which is all these helpers understand.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// words returns c's positional arguments: the command groups, the command and its operands.
func (c call) words() []string {
	var out []string
	for _, a := range c.Args {
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
		}
	}
	return out
}

// is reports whether c's words start with prefix ("run", "deploy").
func (c call) is(prefix ...string) bool {
	w := c.words()
	return len(w) >= len(prefix) && slices.Equal(w[:len(prefix)], prefix)
}

// after returns the word that follows word, "" if none does.
func (c call) after(word string) string {
	w := c.words()
	if i := slices.Index(w, word); i >= 0 && i+1 < len(w) {
		return w[i+1]
	}
	return ""
}

// flag returns the value of the last --name=value.
func (c call) flag(name string) (string, bool) {
	v, ok := "", false
	for _, a := range c.Args {
		if rest, found := strings.CutPrefix(a, name+"="); found {
			v, ok = rest, true
		}
	}
	return v, ok
}

// flags returns the values of every --name=value, in order.
func (c call) flags(name string) []string {
	var out []string
	for _, a := range c.Args {
		if rest, found := strings.CutPrefix(a, name+"="); found {
			out = append(out, rest)
		}
	}
	return out
}

// has reports whether c passes the boolean flag name.
func (c call) has(name string) bool { return slices.Contains(c.Args, name) }

func (c call) String() string { return "gcloud " + strings.Join(c.Args, " ") }

// find returns the calls whose words start with prefix.
func find(calls []call, prefix ...string) []call {
	var out []call
	for _, c := range calls {
		if c.is(prefix...) {
			out = append(out, c)
		}
	}
	return out
}

// env returns the environment a Cloud Run deploy sets: one --set-env-vars whose first
// characters, ^|^, make | the separator (values hold commas).
func (c call) env() (map[string]string, error) {
	all := c.flags("--set-env-vars")
	if len(all) != 1 {
		return nil, fmt.Errorf("%s: %d --set-env-vars; want 1", c.words(), len(all))
	}
	list, ok := strings.CutPrefix(all[0], "^|^")
	if !ok {
		return nil, fmt.Errorf("%s: --set-env-vars=%q does not start with ^|^", c.words(), all[0])
	}
	out := map[string]string{}
	for _, kv := range strings.Split(list, "|") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%s: --set-env-vars: %q is not KEY=VALUE", c.words(), kv)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s: --set-env-vars sets %s twice", c.words(), k)
		}
		out[k] = v
	}
	return out, nil
}

// secrets returns the Secret Manager references of a Cloud Run deploy, variable to
// secret:version; none when it passes --clear-secrets.
func (c call) secrets() (map[string]string, error) {
	all := c.flags("--set-secrets")
	switch {
	case len(all) == 0 && c.has("--clear-secrets"):
		return map[string]string{}, nil
	case len(all) != 1 || c.has("--clear-secrets"):
		return nil, fmt.Errorf("%s: %d --set-secrets, --clear-secrets %t; want one or the other", c.words(), len(all), c.has("--clear-secrets"))
	}
	out := map[string]string{}
	for _, kv := range strings.Split(all[0], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%s: --set-secrets: %q is not VARIABLE=SECRET:VERSION", c.words(), kv)
		}
		out[k] = v
	}
	return out, nil
}

// binding is one IAM binding a command adds.
type binding struct {
	kind      string // the command group: "projects", "storage buckets", "secrets", ...
	resource  string // the project, bucket, secret, ... it is added to
	member    string
	role      string
	condition string // the condition's expression, "" for none
	call      call
}

func (b binding) String() string {
	s := fmt.Sprintf("%s %s: %s %s", b.kind, b.resource, b.member, b.role)
	if b.condition != "" {
		s += " if " + b.condition
	}
	return s
}

// bindings returns the bindings the add-iam-policy-binding commands of calls add.
func bindings(calls []call) ([]binding, error) {
	var out []binding
	for _, c := range calls {
		w := c.words()
		i := slices.Index(w, "add-iam-policy-binding")
		if i < 0 {
			continue
		}
		b := binding{kind: strings.Join(w[:i], " "), resource: c.after("add-iam-policy-binding"), call: c}
		b.member, _ = c.flag("--member")
		b.role, _ = c.flag("--role")
		if text, ok := c.Files["--condition-from-file"]; ok {
			var cond struct{ Title, Expression string }
			if err := json.Unmarshal([]byte(text), &cond); err != nil {
				return nil, fmt.Errorf("%s: the condition file is not JSON: %w", c, err)
			}
			if cond.Title == "" || cond.Expression == "" {
				return nil, fmt.Errorf("%s: the condition has no title or no expression: %s", c, text)
			}
			b.condition = cond.Expression
		} else if b.kind == "projects" {
			// gcloud refuses to add a project binding without a condition choice when the
			// policy holds conditional bindings; deploy.sh always makes one.
			if v, ok := c.flag("--condition"); !ok || v != "None" {
				return nil, fmt.Errorf("%s: a project binding must pass --condition=None or --condition-from-file", c)
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// of returns the bindings whose member is the service account email.
func of(bs []binding, email string) []binding {
	var out []binding
	for _, b := range bs {
		if b.member == "serviceAccount:"+email {
			out = append(out, b)
		}
	}
	return out
}
