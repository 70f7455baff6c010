package domain_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

func TestDefaultPolicyValidates(t *testing.T) {
	p := domain.DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("DefaultPolicy().Validate() = %v; want nil", err)
	}
	if p.Version != domain.PolicyVersion {
		t.Errorf("DefaultPolicy().Version = %q; want %q", p.Version, domain.PolicyVersion)
	}
	if err := p.Schedules.Default.Validate(); err != nil {
		t.Errorf("DefaultPolicy().Schedules.Default.Validate() = %v; want nil", err)
	}
}

func TestDefaultPolicyIsFresh(t *testing.T) {
	a := domain.DefaultPolicy()
	a.ProtectTags[0] = "changed"
	a.Schedules.NonProdValues[0] = "changed"
	b := domain.DefaultPolicy()
	if b.ProtectTags[0] == "changed" || b.Schedules.NonProdValues[0] == "changed" {
		t.Errorf("DefaultPolicy() shares its slices between calls")
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name   string
		doc    string
		mutate func(*domain.Policy) // applied to DefaultPolicy() to get the expected policy
	}{
		{"empty object gives the defaults", `{}`, func(*domain.Policy) {}},
		{"surrounding white space", " \n{}\n\t", func(*domain.Policy) {}},
		{"explicit version", `{"version": "cloudtrim.policy/v1"}`, func(*domain.Policy) {}},
		{
			"top-level override keeps the other defaults",
			`{"currency": "EUR", "min_monthly_savings": 5}`,
			func(p *domain.Policy) { p.Currency = "EUR"; p.MinMonthlySavings = 5 },
		},
		{
			"nested override keeps the nested defaults",
			`{"rightsize": {"cpu_percentile": 90}}`,
			func(p *domain.Policy) { p.Rightsize.CPUPercentile = 90 },
		},
		{
			"disabling a rule keeps its settings",
			`{"idle": {"enabled": false}}`,
			func(p *domain.Policy) { p.Idle.Enabled = false },
		},
		{
			"schedule override keeps the rest of the schedule",
			`{"schedules": {"default": {"stop": "18:00"}}}`,
			func(p *domain.Policy) { p.Schedules.Default.Stop = "18:00" },
		},
		{
			"lists are replaced, not merged",
			`{"protect_tags": ["keep"]}`,
			func(p *domain.Policy) { p.ProtectTags = []string{"keep"} },
		},
		{
			"disabled schedules are not validated",
			`{"schedules": {"enabled": false, "environment_tag": "", "default": {"time_zone": "Nowhere/Special"}}}`,
			func(p *domain.Policy) {
				p.Schedules.Enabled = false
				p.Schedules.EnvironmentTag = ""
				p.Schedules.Default.TimeZone = "Nowhere/Special"
			},
		},
		{
			"approvals",
			`{"approvals": {"two_person_above": 500, "rules": [
				{"approvers": ["*@example.com", "slack:T0123ABCD/*"], "accounts": ["1234*"], "kinds": ["stop", "schedule"], "max_monthly_savings": 1000},
				{"approvers": ["lead@example.com", "*"]}]}}`,
			func(p *domain.Policy) {
				p.Approvals = domain.ApprovalPolicy{TwoPersonAbove: 500, Rules: []domain.ApprovalRule{
					{Approvers: []string{"*@example.com", "slack:T0123ABCD/*"}, Accounts: []string{"1234*"},
						Kinds: []domain.ActionKind{domain.ActionStop, domain.ActionSchedule}, MaxMonthlySavings: 1000},
					{Approvers: []string{"lead@example.com", "*"}},
				}}
			},
		},
		{"empty approvals are the default", `{"approvals": {}}`, func(*domain.Policy) {}},
		{
			"boundaries are accepted",
			`{"rightsize": {"cpu_percentile": 100, "min_confidence": 0, "min_data_hours": 1}, "min_monthly_savings": 0, "caps": {"max_actions": 0}}`,
			func(p *domain.Policy) {
				p.Rightsize.CPUPercentile = 100
				p.Rightsize.MinConfidence = 0
				p.Rightsize.MinDataHours = 1
				p.MinMonthlySavings = 0
				p.Caps.MaxActions = 0
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := domain.DefaultPolicy()
			tt.mutate(&want)
			got, err := domain.ParsePolicy("policy.json", strings.NewReader(tt.doc))
			if err != nil {
				t.Fatalf("ParsePolicy(%q) error = %v; want nil", tt.doc, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParsePolicy(%q) mismatch (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		wantErr error
		field   string // the error message must name it
	}{
		{"empty document", ``, domain.ErrInvalid, ""},
		{"not JSON", `currency: USD`, domain.ErrInvalid, ""},
		{"truncated", `{"currency": "USD"`, domain.ErrInvalid, ""},
		{"unknown field", `{"colour": "red"}`, domain.ErrInvalid, "colour"},
		{"unknown nested field", `{"rightsize": {"cpu_pct": 90}}`, domain.ErrInvalid, "cpu_pct"},
		{"wrong type", `{"caps": {"max_actions": "ten"}}`, domain.ErrInvalid, "max_actions"},
		{"second document", `{} {}`, domain.ErrInvalid, "trailing"},
		{"trailing garbage", `{} x`, domain.ErrInvalid, "trailing"},
		{"trailing closing brace", `{}}`, domain.ErrInvalid, "trailing"},
		{"trailing closing bracket", `{"currency": "EUR"}]`, domain.ErrInvalid, "trailing"},
		{"wrong version", `{"version": "cloudtrim.policy/v2"}`, domain.ErrUnsupported, "cloudtrim.policy/v2"},
		{"empty version", `{"version": ""}`, domain.ErrUnsupported, "version"},
		{"lower-case currency", `{"currency": "usd"}`, domain.ErrInvalid, "currency"},
		{"short currency", `{"currency": "US"}`, domain.ErrInvalid, "currency"},
		{"empty opt-in tag", `{"opt_in_tag": ""}`, domain.ErrInvalid, "opt_in_tag"},
		{"blank opt-in tag", `{"opt_in_tag": "  "}`, domain.ErrInvalid, "opt_in_tag"},
		{"cpu percentile 0", `{"rightsize": {"cpu_percentile": 0}}`, domain.ErrInvalid, "rightsize.cpu_percentile"},
		{"cpu percentile 101", `{"rightsize": {"cpu_percentile": 101}}`, domain.ErrInvalid, "rightsize.cpu_percentile"},
		{"memory percentile 101", `{"rightsize": {"memory_percentile": 101}}`, domain.ErrInvalid, "rightsize.memory_percentile"},
		{"target cpu 0", `{"rightsize": {"target_cpu_percent": 0}}`, domain.ErrInvalid, "rightsize.target_cpu_percent"},
		{"target memory 150", `{"rightsize": {"target_memory_percent": 150}}`, domain.ErrInvalid, "rightsize.target_memory_percent"},
		{"idle percentile 0", `{"idle": {"cpu_percentile": 0}}`, domain.ErrInvalid, "idle.cpu_percentile"},
		{"idle max cpu negative", `{"idle": {"max_cpu_percent": -1}}`, domain.ErrInvalid, "idle.max_cpu_percent"},
		{"caps max percent 0", `{"caps": {"max_percent": 0}}`, domain.ErrInvalid, "caps.max_percent"},
		{"min data hours below 1", `{"rightsize": {"min_data_hours": 0.5}}`, domain.ErrInvalid, "rightsize.min_data_hours"},
		{"min confidence 1.5", `{"rightsize": {"min_confidence": 1.5}}`, domain.ErrInvalid, "rightsize.min_confidence"},
		{"min confidence negative", `{"rightsize": {"min_confidence": -0.1}}`, domain.ErrInvalid, "rightsize.min_confidence"},
		{"idle min days 0", `{"idle": {"min_days": 0}}`, domain.ErrInvalid, "idle.min_days"},
		{"negative disk age", `{"orphans": {"min_disk_age_days": -1}}`, domain.ErrInvalid, "orphans"},
		{"zero snapshot age", `{"orphans": {"snapshot_max_age_days": 0}}`, domain.ErrInvalid, "orphans"},
		{"negative min monthly savings", `{"min_monthly_savings": -1}`, domain.ErrInvalid, "min_monthly_savings"},
		{"negative max actions", `{"caps": {"max_actions": -1}}`, domain.ErrInvalid, "caps.max_actions"},
		{"empty environment tag", `{"schedules": {"environment_tag": ""}}`, domain.ErrInvalid, "schedules.environment_tag"},
		{"bad schedule time zone", `{"schedules": {"default": {"time_zone": "Mars/Olympus_Mons"}}}`, domain.ErrInvalid, "schedules.default"},
		{"bad schedule days", `{"schedules": {"default": {"days": "Mon-Funday"}}}`, domain.ErrInvalid, "schedules.default"},
		{"empty schedule days", `{"schedules": {"default": {"days": ""}}}`, domain.ErrInvalid, "schedules.default"},
		{"bad schedule start", `{"schedules": {"default": {"start": "8am"}}}`, domain.ErrInvalid, "schedules.default"},
		{"bad schedule stop", `{"schedules": {"default": {"stop": "24:00"}}}`, domain.ErrInvalid, "schedules.default"},
		{"schedule start after stop", `{"schedules": {"default": {"start": "20:00", "stop": "08:00"}}}`, domain.ErrInvalid, "schedules.default"},
		{"schedule start equals stop", `{"schedules": {"default": {"start": "08:00", "stop": "08:00"}}}`, domain.ErrInvalid, "schedules.default"},
		{"unknown approvals field", `{"approvals": {"two_people": true}}`, domain.ErrInvalid, "two_people"},
		{"negative two-person threshold", `{"approvals": {"two_person_above": -1}}`, domain.ErrInvalid, "approvals.two_person_above"},
		{"huge two-person threshold", `{"approvals": {"two_person_above": 1e300}}`, domain.ErrInvalid, "approvals.two_person_above"},
		{"rule without approvers", `{"approvals": {"rules": [{"kinds": ["stop"]}]}}`, domain.ErrInvalid, "approvals.rules[0].approvers"},
		{"empty approver", `{"approvals": {"rules": [{"approvers": [""]}]}}`, domain.ErrInvalid, "approvals.rules[0].approvers[0]"},
		{"approver with a space", `{"approvals": {"rules": [{"approvers": ["ops @example.com"]}]}}`, domain.ErrInvalid, "approvals.rules[0].approvers[0]"},
		{"wildcard in the middle", `{"approvals": {"rules": [{"approvers": ["ops*@example.com"]}]}}`, domain.ErrInvalid, "approvals.rules[0].approvers[0]"},
		{"wildcard domain", `{"approvals": {"rules": [{"approvers": ["ops@*"]}]}}`, domain.ErrInvalid, "approvals.rules[0].approvers[0]"},
		{"two wildcards", `{"approvals": {"rules": [{"approvers": ["*@example.com", "slack:*/*"]}]}}`, domain.ErrInvalid, "approvals.rules[0].approvers[1]"},
		{"bare domain wildcard", `{"approvals": {"rules": [{"approvers": ["*@"]}]}}`, domain.ErrInvalid, "approvals.rules[0].approvers[0]"},
		{"bad account glob", `{"approvals": {"rules": [{"approvers": ["*"], "accounts": ["12[34"]}]}}`, domain.ErrInvalid, "approvals.rules[0].accounts[0]"},
		{"empty account", `{"approvals": {"rules": [{"approvers": ["*"]}, {"approvers": ["*"], "accounts": [""]}]}}`, domain.ErrInvalid, "approvals.rules[1].accounts[0]"},
		{"unknown kind", `{"approvals": {"rules": [{"approvers": ["*"], "kinds": ["terminate"]}]}}`, domain.ErrInvalid, "approvals.rules[0].kinds[0]"},
		{"negative cap", `{"approvals": {"rules": [{"approvers": ["*"], "max_monthly_savings": -5}]}}`, domain.ErrInvalid, "approvals.rules[0].max_monthly_savings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParsePolicy("team.json", strings.NewReader(tt.doc))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParsePolicy(%q) error = %v; want %v", tt.doc, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("ParsePolicy(%q) error = %q; want it to name %q", tt.doc, err, tt.field)
			}
			if !strings.Contains(err.Error(), "team.json") {
				t.Errorf("ParsePolicy(%q) error = %q; want it to name the document team.json", tt.doc, err)
			}
			if diff := cmp.Diff(domain.Policy{}, got); diff != "" {
				t.Errorf("ParsePolicy(%q) returned a policy with its error (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestParsePolicyReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := domain.ParsePolicy("policy.json", iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("ParsePolicy(failing reader) error = %v; want it to wrap %v", err, boom)
	}
}

func TestPolicyProtected(t *testing.T) {
	p := domain.DefaultPolicy() // protect_tags: cloudtrim-protect, do-not-touch
	tests := []struct {
		name    string
		tags    map[string]string
		wantKey string
		want    bool
	}{
		{"nil tags", nil, "", false},
		{"unrelated tags", map[string]string{"env": "dev", "team": "a"}, "", false},
		{"exact key", map[string]string{"do-not-touch": "yes"}, "do-not-touch", true},
		{"key in another case", map[string]string{"Do-Not-Touch": ""}, "Do-Not-Touch", true},
		{"upper-case key", map[string]string{"CLOUDTRIM-PROTECT": "x"}, "CLOUDTRIM-PROTECT", true},
		{"any value, even false", map[string]string{"cloudtrim-protect": "false"}, "cloudtrim-protect", true},
		{"empty value", map[string]string{"cloudtrim-protect": ""}, "cloudtrim-protect", true},
		{"protection wins over opt-in", map[string]string{"cloudtrim-optin": "true", "do-not-touch": "1"}, "do-not-touch", true},
		{"prefix of a protect tag", map[string]string{"do-not": "x"}, "", false},
		{"protect tag as a value", map[string]string{"note": "do-not-touch"}, "", false},
		{"longer key", map[string]string{"do-not-touch-later": "x"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, ok := p.Protected(tt.tags)
			if key != tt.wantKey || ok != tt.want {
				t.Errorf("Protected(%v) = %q, %v; want %q, %v", tt.tags, key, ok, tt.wantKey, tt.want)
			}
		})
	}
}

func TestPolicyOptedIn(t *testing.T) {
	p := domain.DefaultPolicy() // opt_in_tag: cloudtrim-optin
	tests := []struct {
		name string
		tags map[string]string
		want bool
	}{
		{"nil tags", nil, false},
		{"no opt-in tag", map[string]string{"env": "dev"}, false},
		{"true", map[string]string{"cloudtrim-optin": "true"}, true},
		{"TRUE", map[string]string{"cloudtrim-optin": "TRUE"}, true},
		{"True with spaces", map[string]string{"cloudtrim-optin": " True "}, true},
		{"key in another case", map[string]string{"CloudTrim-OptIn": "true"}, true},
		{"false", map[string]string{"cloudtrim-optin": "false"}, false},
		{"FALSE", map[string]string{"cloudtrim-optin": "FALSE"}, false},
		{"empty value", map[string]string{"cloudtrim-optin": ""}, false},
		{"yes is not true", map[string]string{"cloudtrim-optin": "yes"}, false},
		{"1 is not true", map[string]string{"cloudtrim-optin": "1"}, false},
		{"true on another key", map[string]string{"optin": "true"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.OptedIn(tt.tags); got != tt.want {
				t.Errorf("OptedIn(%v) = %v; want %v", tt.tags, got, tt.want)
			}
		})
	}

	custom := domain.Policy{OptInTag: "finops/opt-in"}
	if !custom.OptedIn(map[string]string{"FinOps/Opt-In": "true"}) {
		t.Errorf("Policy{OptInTag: %q}.OptedIn(FinOps/Opt-In=true) = false; want true", custom.OptInTag)
	}
	if custom.OptedIn(map[string]string{"cloudtrim-optin": "true"}) {
		t.Errorf("Policy{OptInTag: %q}.OptedIn(cloudtrim-optin=true) = true; want false", custom.OptInTag)
	}
}

func TestPolicyHashStable(t *testing.T) {
	a := domain.DefaultPolicy()
	h := a.Hash()
	if len(h) != 16 {
		t.Errorf("Hash() = %q; want 16 hex digits", h)
	}
	if _, err := hex.DecodeString(h); err != nil {
		t.Errorf("Hash() = %q; want hex: %v", h, err)
	}
	if got := a.Hash(); got != h {
		t.Errorf("Hash() = %q, then %q; want the same value", h, got)
	}
	if got := domain.DefaultPolicy().Hash(); got != h {
		t.Errorf("DefaultPolicy().Hash() = %q and %q; want equal", h, got)
	}
	parsed, err := domain.ParsePolicy("p.json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := parsed.Hash(); got != h {
		t.Errorf("ParsePolicy({}).Hash() = %q; want the default policy's %q", got, h)
	}
}

// TestPolicyWithoutApprovalsKeepsItsHash pins the default policy's hash:
// the approvals section, left out of the JSON when empty, must not change
// the hash of policies written before it existed (plans record it).
func TestPolicyWithoutApprovalsKeepsItsHash(t *testing.T) {
	const want = "40b86f5642062b7b"
	if got := domain.DefaultPolicy().Hash(); got != want {
		t.Errorf("DefaultPolicy().Hash() = %q; want %q, the hash before approvals existed", got, want)
	}
}

func TestValidApproverPattern(t *testing.T) {
	for _, p := range []string{"*", "ops@example.com", "*@example.com", "*@sub.example.co.uk", "slack:T0123ABCD/U0456EFGH", "slack:T0123ABCD/*", "U0456EFGH"} {
		if err := domain.ValidApproverPattern(p); err != nil {
			t.Errorf("ValidApproverPattern(%q) = %v; want nil", p, err)
		}
	}
	for _, p := range []string{"", " ", "**", "*ops@example.com", "ops@*", "*@a@b", "a*b", "slack:*/U1", "/*/*", "ops\t@example.com", "*@"} {
		if err := domain.ValidApproverPattern(p); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ValidApproverPattern(%q) = %v; want ErrInvalid", p, err)
		}
	}
}

func TestPolicyHashChanges(t *testing.T) {
	base := domain.DefaultPolicy().Hash()
	tests := []struct {
		name   string
		mutate func(*domain.Policy)
	}{
		{"version", func(p *domain.Policy) { p.Version = "cloudtrim.policy/v2" }},
		{"currency", func(p *domain.Policy) { p.Currency = "EUR" }},
		{"opt-in tag", func(p *domain.Policy) { p.OptInTag = "optin" }},
		{"protect tags", func(p *domain.Policy) { p.ProtectTags = p.ProtectTags[:1] }},
		{"protect tags order", func(p *domain.Policy) { p.ProtectTags[0], p.ProtectTags[1] = p.ProtectTags[1], p.ProtectTags[0] }},
		{"rightsize enabled", func(p *domain.Policy) { p.Rightsize.Enabled = false }},
		{"rightsize cpu percentile", func(p *domain.Policy) { p.Rightsize.CPUPercentile = 99 }},
		{"rightsize min confidence", func(p *domain.Policy) { p.Rightsize.MinConfidence = 0.6 }},
		{"idle max cpu", func(p *domain.Policy) { p.Idle.MaxCPUPercent = 2 }},
		{"orphan snapshot age", func(p *domain.Policy) { p.Orphans.SnapshotMaxAgeDays = 30 }},
		{"non-prod values", func(p *domain.Policy) { p.Schedules.NonProdValues = append(p.Schedules.NonProdValues, "uat") }},
		{"schedule stop", func(p *domain.Policy) { p.Schedules.Default.Stop = "19:00" }},
		{"schedule time zone", func(p *domain.Policy) { p.Schedules.Default.TimeZone = "Europe/Berlin" }},
		{"min monthly savings", func(p *domain.Policy) { p.MinMonthlySavings = 1.01 }},
		{"caps max actions", func(p *domain.Policy) { p.Caps.MaxActions = 201 }},
		{"caps max percent", func(p *domain.Policy) { p.Caps.MaxPercent = 25 }},
		{"two-person threshold", func(p *domain.Policy) { p.Approvals.TwoPersonAbove = 500 }},
		{"approval rule", func(p *domain.Policy) {
			p.Approvals.Rules = []domain.ApprovalRule{{Approvers: []string{"ops@example.com"}}}
		}},
	}
	seen := map[string]string{base: "default"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := domain.DefaultPolicy()
			tt.mutate(&p)
			got := p.Hash()
			if got == base {
				t.Errorf("Hash() after changing %s = %q; want it to differ from the default's", tt.name, got)
			}
			if other, dup := seen[got]; dup {
				t.Errorf("Hash() after changing %s = %q, the same as after changing %s", tt.name, got, other)
			}
			seen[got] = tt.name
		})
	}
}
