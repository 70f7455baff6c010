// Command azure is cloudtrim's Azure Functions custom handler
// (cloudtrim-azure): one process serving the function app's collect,
// optimize, ingest, approve and actuate functions, as infra/azure
// deploys it. See shared/runtime/azfunc.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloudtrim/cloudtrim/shared/runtime/azfunc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := azfunc.Main(ctx, os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
