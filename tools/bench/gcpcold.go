package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
)

// gcpColdStartTable builds the Google Cloud binary (functions/gcp with
// the tag gcpfunc, as make package-gcp does but for this machine) and
// measures, runs times, the time from starting the process as the
// optimize service (FUNCTION_TARGET=optimize) to its first answer to a
// CloudEvent Eventarc sends: configuration, the lake, the Functions
// Framework's registration and server, and the event for an object that
// is not a manifest answered. The target is ≤ 150 ms.
func gcpColdStartTable(dir string, runs int) error {
	bin := filepath.Join(dir, "cloudtrim-gcp")
	build := exec.Command("go", "build", "-tags", "gcpfunc", "-trimpath", "-ldflags=-s -w", "-o", bin, "./functions/gcp")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build functions/gcp: %w", err)
	}
	info, err := os.Stat(bin)
	if err != nil {
		return err
	}
	lakeDir := filepath.Join(dir, "gcp-coldstart-lake")
	if err := os.MkdirAll(lakeDir, 0o755); err != nil {
		return err
	}
	event := []byte(`{"bucket":"cloudtrim-lake","name":"snapshots/cloud=gcp/run=x/resources/part-0.parquet","generation":"1"}`)
	times, err := measureColdStarts(bin, "PORT", []string{
		"FUNCTION_TARGET=optimize",
		"CLOUDTRIM_LAKE_URL=file://" + lakeDir,
		"GOOGLE_CLOUD_PROJECT=cloudtrim-bench",
	}, runs, func(port int) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/", port), bytes.NewReader(event))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("ce-specversion", "1.0")
		req.Header.Set("ce-type", "google.cloud.storage.object.v1.finalized")
		req.Header.Set("ce-source", "//storage.googleapis.com/projects/_/buckets/cloudtrim-lake")
		req.Header.Set("ce-id", "bench")
		return req
	})
	if err != nil {
		return err
	}
	printColdStarts("Google Cloud function (Cloud Run)", "cold start → first CloudEvent answered", info.Size(), times)
	fmt.Printf("cold start: from exec of cloudtrim-gcp (%s here; make package-gcp builds linux/amd64) as the optimize service to the first 2xx answer to a binary-mode Cloud Storage CloudEvent, polling every 0.5 ms.\n\n", hostArch())
	return nil
}
