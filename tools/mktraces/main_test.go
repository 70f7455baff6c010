package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// dataDir is the handbook's data directory as seen from this package.
const dataDir = "../../../shared/data"

// committed is where the generated traces are committed.
const committed = "../../shared/cloud/simcloud/traces"

// TestCommittedTracesAreUpToDate re-runs the generator and checks that
// every committed file is byte-identical to its output.
func TestCommittedTracesAreUpToDate(t *testing.T) {
	if _, err := os.Stat(dataDir); err != nil {
		t.Skipf("data directory %s not present: %v", dataDir, err)
	}
	out := t.TempDir()
	if err := run(dataDir, out); err != nil {
		t.Fatalf("run(%s) = %v", dataDir, err)
	}
	generated, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) < 10 {
		t.Fatalf("generator wrote %d files, want at least 10", len(generated))
	}
	for _, f := range generated {
		want, err := os.ReadFile(filepath.Join(out, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(committed, f.Name()))
		if err != nil {
			t.Errorf("committed %s: %v (run go run ./tools/mktraces from the repository root)", f.Name(), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("committed %s differs from the generator's output (run go run ./tools/mktraces from the repository root)", f.Name())
		}
	}
	all, err := os.ReadDir(committed)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(generated) {
		t.Errorf("%s holds %d files, the generator writes %d: remove stale files", committed, len(all), len(generated))
	}
}

func TestHourlyMeansAndGaps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "1.csv")
	// Three points in hour 0 (one over 100 %, one with no memory), none in
	// hour 1, one in hour 2 with no provisioned CPU.
	rows := "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]\n" +
		"3600;\t2;\t5000.0;\t1.0;\t10.0;\t1.0E3;\t500.0;\t0;\t0;\t0;\t0\n" +
		"3900;\t2;\t5000.0;\t1.0;\t110.0;\t1000.0;\t0.0;\t0;\t0;\t0;\t0\n" +
		"4200;\t2;\t5000.0;\t1.0;\t40.0;\t1000.0;\t2.5E2;\t0;\t0;\t0;\t0\n" +
		"10800;\t0;\t0.0;\t0.0;\t0.0;\t1000.0;\t100.0;\t0;\t0;\t0;\t0\n"
	if err := os.WriteFile(path, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	pts, err := readBitbrains(path)
	if err != nil {
		t.Fatalf("readBitbrains = %v", err)
	}
	tr := hourly("x.csv", "bitbrains", "rnd/x.csv", pts, true)
	got := string(tr.csv())
	want := "hour,cpu_percent,memory_percent\n" +
		"0,50.000,37.500\n" +
		"1,,\n" +
		"2,,10.000\n"
	if got != want {
		t.Errorf("csv() =\n%s\nwant\n%s", got, want)
	}
}
