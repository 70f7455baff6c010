// Command collect-aws is the collect-aws function of cloudtrim. On the local host it runs
// one invocation against the lake named by CLOUDTRIM_LAKE_URL (or the
// directory CLOUDTRIM_DIR); see the README for its configuration.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cloudtrim/cloudtrim/shared/runtime/local"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := local.RunFunction(ctx, "collect-aws", os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
