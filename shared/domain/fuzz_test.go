package domain_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// FuzzParsePolicy feeds arbitrary documents to ParsePolicy, which reads
// the --policy file and the policy kept in the lake. It must never panic;
// it either refuses a document with domain.ErrInvalid or
// domain.ErrUnsupported, or returns a policy that validates, whose
// schedule can be evaluated, and that reads back the same after being
// written out.
func FuzzParsePolicy(f *testing.F) {
	def, err := json.Marshal(domain.DefaultPolicy())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(def),
		`{}`,
		` {"version": "cloudtrim.policy/v1"} `,
		// The README's example.
		`{"version": "cloudtrim.policy/v1", "currency": "USD", "opt_in_tag": "cloudtrim-optin",
		  "protect_tags": ["cloudtrim-protect", "do-not-touch"],
		  "rightsize": {"enabled": true, "cpu_percentile": 95, "memory_percentile": 99,
		                "target_cpu_percent": 70, "target_memory_percent": 80, "min_data_hours": 30},
		  "idle": {"enabled": true, "cpu_percentile": 95, "max_cpu_percent": 5, "min_days": 7},
		  "orphans": {"enabled": true, "min_disk_age_days": 7, "snapshot_max_age_days": 90},
		  "schedules": {"enabled": true, "environment_tag": "env",
		                "non_prod_values": ["dev", "test", "qa", "staging", "sandbox"],
		                "default": {"time_zone": "UTC", "days": "Mon-Fri", "start": "08:00", "stop": "20:00"}},
		  "min_monthly_savings": 1, "caps": {"max_actions": 200, "max_percent": 20}}`,
		`{"schedules": {"default": {"time_zone": "Europe/Berlin", "days": "Sat-Sun", "start": "22:00", "stop": "06:00"}}}`,
		`{"schedules": {"default": {"time_zone": "America/New_York", "days": "Mon,Wed,Fri", "start": "00:00", "stop": "24:00"}}}`,
		`{"idle": {"max_cpu_percent": 250}}`,
		`{"caps": {"max_actions": -1, "max_percent": 1e308}}`,
		`{"version": "cloudtrim.policy/v2"}`,
		`{"unknown": true}`,
		`{} {}`,
		`[]`,
		`{"rightsize": {"cpu_percentile": NaN}}`,
		`{"schedules": {"default": {"time_zone": "../../etc/passwd"}}}`,
	} {
		f.Add([]byte(seed))
	}
	times := []time.Time{
		time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), // a DST change in Europe
		time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), // and in America
		{},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := domain.ParsePolicy("fuzz.json", bytes.NewReader(doc))
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) && !errors.Is(err, domain.ErrUnsupported) {
				t.Fatalf("ParsePolicy(%q) = %v; want an error wrapping ErrInvalid or ErrUnsupported", doc, err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePolicy(%q) returned a policy that does not validate: %v", doc, err)
		}
		for _, at := range times {
			p.Schedules.Default.Running(at)
		}
		p.Schedules.Default.RunningFraction()
		_ = p.Schedules.Default.String()
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal the parsed policy: %v", err)
		}
		p2, err := domain.ParsePolicy("again.json", bytes.NewReader(again))
		if err != nil {
			t.Fatalf("ParsePolicy of its own output %s: %v", again, err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Fatalf("policy changed when written out and read back (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseMoney feeds arbitrary amounts to ParseMoney, which reads every
// cost column of a billing export. It must never panic, and an amount it
// reads must read back the same from its exact decimal form.
func FuzzParseMoney(f *testing.F) {
	for _, seed := range []string{"0", "12.345678", "-0.0000005", "+1.9999995", "1e3", "-2.5E-7", ".5", "5.", " 42 ",
		"9223372036853.999999", "9223372036854", "1e400", "NaN", "-", "1.2.3", "0x10", "٣"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := domain.ParseMoney(s, "USD")
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("ParseMoney(%q) = %v; want an error wrapping ErrInvalid", s, err)
			}
			return
		}
		back, err := domain.ParseMoney(m.Decimal(), "USD")
		if err != nil || back != m {
			t.Fatalf("ParseMoney(%q) = %+v, whose decimal form %q reads back as %+v, %v", s, m, m.Decimal(), back, err)
		}
	})
}
