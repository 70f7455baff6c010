// Command collect-aws is the collect-aws function of cloudtrim. Built with the tag
// awslambda (make package) it is the AWS Lambda bootstrap; otherwise it
// runs one invocation on the local host against the simulated estate,
// with the lake named by CLOUDTRIM_LAKE_URL (or the directory
// CLOUDTRIM_DIR). See the README for its configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloudtrim/cloudtrim/shared/runtime/host"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := host.Run(ctx, "collect-aws")
	stop()
	os.Exit(code)
}
