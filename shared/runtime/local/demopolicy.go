package local

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cloudtrim/cloudtrim/shared/cloud/simcloud"
	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// DemoPolicy is the policy the demo plans with: the default policy with
// the data and web teams' VMs marked movable, by the simulated estate's
// own team tag, so that the plan shows placement variants, and the
// schedules off on US public holidays. Nothing in
// the simulated estate carries the default marker (cloudtrim-movable),
// and moving is never assumed, so the demo chooses its movable VMs here
// rather than changing the estate.
func DemoPolicy() domain.Policy {
	p := domain.DefaultPolicy()
	p.Placement.Movable = []domain.TagSelector{{Key: simcloud.TagTeam, Value: "data"}, {Key: simcloud.TagTeam, Value: "web"}}
	p.Schedules.Default.Holidays = "US"
	return p
}

// writeDemoPolicy writes DemoPolicy as a policy document into dir, so
// that the demo reads its policy as any run does and a user can see,
// edit and pass it to the other commands with --policy.
func writeDemoPolicy(dir string) (string, error) {
	b, err := json.MarshalIndent(DemoPolicy(), "", "  ")
	if err != nil {
		return "", fmt.Errorf("write demo policy: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write demo policy: %w", err)
	}
	path := filepath.Join(dir, "demo-policy.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write demo policy: %w", err)
	}
	return path, nil
}
