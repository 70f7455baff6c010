// Command gcp is cloudtrim's Google Cloud binary (cloudtrim-gcp): the
// collect, optimize and actuate CloudEvent functions and the approve
// HTTP function, registered with the Functions Framework; Cloud Run runs
// one per service, named by FUNCTION_TARGET, as infra/gcp deploys them.
// See shared/runtime/gcpfunc.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloudtrim/cloudtrim/shared/runtime/gcpfunc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := gcpfunc.Main(ctx, os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
