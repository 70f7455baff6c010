package lake_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudtrim/cloudtrim/shared/lake"
	"github.com/cloudtrim/cloudtrim/shared/lake/lakestest"
)

func TestConformanceMem(t *testing.T) {
	lakestest.RunConformance(t, func(t *testing.T) *lake.Lake {
		l, err := lake.Open(context.Background(), "mem://")
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestConformanceFile(t *testing.T) {
	lakestest.RunConformance(t, func(t *testing.T) *lake.Lake {
		// A directory that does not exist yet: Open creates it.
		dir := filepath.Join(t.TempDir(), "lake")
		l, err := lake.Open(context.Background(), "file://"+dir)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

func TestConformancePrefixed(t *testing.T) {
	dir := t.TempDir()
	lakestest.RunConformance(t, func(t *testing.T) *lake.Lake {
		l, err := lake.Open(context.Background(), "file://"+dir+"?prefix="+t.Name()+"/")
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
	// Everything landed under the prefix.
	entries, err := os.ReadDir(filepath.Join(dir, "TestConformancePrefixed"))
	if err != nil || len(entries) == 0 {
		t.Errorf("prefix directory: %v entries, err %v; want the suite's lakes under it", len(entries), err)
	}
}
