package gcp

import (
	"slices"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/runtime/gcpfunc"
)

// What deploy.sh gives each service is what the binary needs: every
// target the host registers is deployed, and each service's environment
// (its secrets filled in as Secret Manager would) passes the host's own
// configuration check for its FUNCTION_TARGET, with and without --apply.
func TestEachServiceEnvironmentStartsTheHost(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			d := deployed(t, result(t, s))
			for _, target := range gcpfunc.Targets {
				c, ok := d[target]
				if !ok {
					t.Errorf("the host's function %s is not deployed", target)
					continue
				}
				env, err := c.env()
				if err != nil {
					t.Fatal(err)
				}
				secrets, err := c.secrets()
				if err != nil {
					t.Fatal(err)
				}
				// A value of each secret, as Cloud Run injects it.
				for name := range secrets {
					env[name] = "0123456789abcdef0123456789abcdef"
					if name == "CLOUDTRIM_NOTIFY_URL" {
						env[name] = "https://hooks.slack.com/services/T000/B000/XXXX"
					}
				}
				env["PORT"] = "8080" // set by Cloud Run
				cfg, err := gcpfunc.ConfigFromEnv(func(k string) string { return env[k] })
				if err != nil {
					t.Errorf("cloudtrim-%s: the host refuses its environment: %v", target, err)
					continue
				}
				if cfg.Target != target {
					t.Errorf("cloudtrim-%s runs %q", target, cfg.Target)
				}
				if wantApply := slices.Contains(s.extra, "--apply") && target == gcpfunc.TargetActuate; cfg.Apply != wantApply {
					t.Errorf("cloudtrim-%s: apply %v, want %v", target, cfg.Apply, wantApply)
				}
			}
			for target := range d {
				if !slices.Contains(gcpfunc.Targets, target) {
					t.Errorf("service cloudtrim-%s runs a function the host does not register", target)
				}
			}
		})
	}
}
