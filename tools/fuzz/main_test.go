package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunner fuzzes a module of two targets, one of which panics on
// inputs longer than three bytes: the runner finds both, fails, names
// the crasher it kept and prints the command that re-runs it.
func TestRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and fuzzes a module")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/fz\n\ngo 1.26\n",
		"fz.go":  "// Package fz is fuzzed.\npackage fz\n\n// Len is the length of b.\nfunc Len(b []byte) int { return len(b) }\n",
		"fz_test.go": `package fz

import "testing"

func FuzzGood(f *testing.F) {
	f.Add([]byte("a"))
	f.Fuzz(func(t *testing.T, b []byte) { _ = Len(b) })
}

func FuzzBad(f *testing.F) {
	f.Add([]byte("ab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if Len(b) > 3 {
			panic("boom")
		}
	})
}
`,
		"other/other.go": "// Package other has no fuzz target.\npackage other\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	r := &runner{fuzztime: "3s", instrument: "module", minimize: 0, jobs: 2, parallel: 1, out: &out, dir: dir, cacheDir: t.TempDir()}
	ok, err := r.main(context.Background(), []string{"./..."})
	if err != nil {
		t.Fatalf("main: %v\n%s", err, out.String())
	}
	got := out.String()
	if ok {
		t.Fatalf("main reported success; want the failure of FuzzBad:\n%s", got)
	}
	for _, want := range []string{
		"fuzz: 2 targets in 1 packages",
		"ok    .  ", "FuzzGood",
		"FAIL  .  ", "FuzzBad",
		"crasher: testdata/fuzz/FuzzBad/",
		"re-run:  go test -run='^FuzzBad$/^", "$' .\n",
		"go test fuzz v1",
		"panic: boom",
		"fuzz: 1 of 2 targets FAILED",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	crashers, _ := filepath.Glob(filepath.Join(dir, "testdata", "fuzz", "FuzzBad", "*"))
	if len(crashers) != 1 {
		t.Errorf("crashers kept: %v; want one in testdata/fuzz/FuzzBad", crashers)
	}
}

func TestDeadlineRace(t *testing.T) {
	tests := []struct {
		out  string
		want bool
	}{
		{"fuzz: elapsed: 5s, execs: 10 (0/sec), new interesting: 0 (total: 3)\n--- FAIL: FuzzX (5.05s)\n    context deadline exceeded\nFAIL\n", true},
		{"--- FAIL: FuzzX (5.05s)\n    --- FAIL: FuzzX (0.00s)\n        x_test.go:3: boom\n    context deadline exceeded\nFAIL\n", false},
		{"--- FAIL: FuzzX (1.00s)\n    context deadline exceeded\n    Failing input written to testdata/fuzz/FuzzX/ab\n", false},
		{"panic: boom\ncontext deadline exceeded\n", false},
		{"--- FAIL: FuzzX (1.00s)\n    fuzzing process hung or terminated unexpectedly: exit status 2\nFAIL\n", false},
	}
	for _, tt := range tests {
		if got := deadlineRace([]byte(tt.out)); got != tt.want {
			t.Errorf("deadlineRace(%q) = %v; want %v", tt.out, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[string]string{"": "?", "7": "7", "999": "999", "1000": "1,000", "1234567": "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%q) = %q; want %q", in, got, want)
		}
	}
}
