package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
)

// azureColdStartTable builds the Azure Functions custom handler
// (functions/azure, as infra/azure/deploy.sh does but for this machine)
// and measures, runs times, the time from starting the process to its
// first answer to an invocation the Functions host sends: configuration,
// the lake, the managed identity credential and the queue client built,
// the port open, an optimize invocation for a blob that is not a
// manifest answered. The target is ≤ 150 ms.
func azureColdStartTable(dir string, runs int) error {
	bin := filepath.Join(dir, "cloudtrim-azure")
	build := exec.Command("go", "build", "-tags", "azurefunc", "-trimpath", "-ldflags=-s -w", "-o", bin, "./functions/azure")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build functions/azure: %w", err)
	}
	info, err := os.Stat(bin)
	if err != nil {
		return err
	}
	lakeDir := filepath.Join(dir, "azure-coldstart-lake")
	if err := os.MkdirAll(lakeDir, 0o755); err != nil {
		return err
	}
	invocation := []byte(`{"Data":{"manifest":""},"Metadata":{"BlobTrigger":"lake/snapshots/cloud=azure/run=x/resources/part-0.parquet"}}`)
	times, err := measureColdStarts(bin, "FUNCTIONS_CUSTOMHANDLER_PORT", []string{
		"CLOUDTRIM_LAKE_URL=file://" + lakeDir,
		"CLOUDTRIM_QUEUE_URL=https://ctbench.queue.core.windows.net/cloudtrim-actions",
		"CLOUDTRIM_SUBSCRIPTIONS=6f2c1e0a-1b2c-4d5e-8f90-1a2b3c4d5e6f",
		"CLOUDTRIM_WEBHOOK_SECRET=bench-approval-secret-0123456789",
		"AZURE_CLIENT_ID=5b7d1a2e-9c3f-4e1a-8b2d-0f9e8d7c6b5a",
	}, runs, func(port int) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/optimize", port), bytes.NewReader(invocation))
		req.Header.Set("Content-Type", "application/json")
		return req
	})
	if err != nil {
		return err
	}
	printColdStarts("Azure custom handler", "cold start → first invocation answered", info.Size(), times)
	fmt.Printf("cold start: from exec of cloudtrim-azure (%s here; make package-azure builds linux/amd64) to the first 200 answer to an optimize invocation, polling every 0.5 ms.\n\n", hostArch())
	return nil
}
