package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaries builds the real binaries and runs them as a user and a
// scheduler would: the demo end to end, then the collect-aws and
// optimize functions one invocation each against a data directory.
func TestBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries; skipped with -short")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../cloudtrim", "../collect-aws", "../optimize", "../approve")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	demoDir := t.TempDir()
	out, err := exec.Command(filepath.Join(bin, "cloudtrim"), "demo", "--dir", demoDir).CombinedOutput()
	if err != nil {
		t.Fatalf("cloudtrim demo: %v\n%s", err, out)
	}
	for _, want := range []string{"6. collect again", "committed billing aws", "committed billing azure", "committed billing gcp", "new service aws", "spend forecast", "applied", "realized", "report.html"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("cloudtrim demo output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(demoDir, "webhook-secret")); err != nil {
		t.Errorf("demo left no webhook secret: %v", err)
	}

	dir := t.TempDir()
	env := append(os.Environ(), "CLOUDTRIM_DIR="+dir)
	run := func(name string, extraEnv ...string) string {
		cmd := exec.Command(filepath.Join(bin, name))
		cmd.Env = append(append([]string(nil), env...), extraEnv...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	if out := run("collect-aws"); !strings.Contains(out, "aws") || strings.Contains(out, "azure ") {
		t.Errorf("collect-aws output:\n%s", out)
	}
	if out := run("optimize"); !strings.Contains(out, "total") {
		t.Errorf("optimize output:\n%s", out)
	}
	// approve refuses to start without a secret, and never prints one.
	cmd := exec.Command(filepath.Join(bin, "approve"))
	cmd.Env = append(append([]string(nil), env...), "CLOUDTRIM_WEBHOOK_SECRET=short")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CLOUDTRIM_WEBHOOK_SECRET") || strings.Contains(string(out), "short\"") {
		t.Errorf("approve with a short secret: err %v\n%s", err, out)
	}
	// Inside Lambda the binary is the Lambda host, which reads the
	// deployment's configuration (CLOUDTRIM_LAKE_URL, an s3:// lake) and
	// never falls back to the local simulated estate.
	cmd = exec.Command(filepath.Join(bin, "collect-aws"))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:1", "CLOUDTRIM_DIR=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "CLOUDTRIM_LAKE_URL") {
		t.Errorf("collect-aws under a Lambda environment: err %v\n%s", err, out)
	}
}
