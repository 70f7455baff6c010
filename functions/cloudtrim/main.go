// Command cloudtrim runs the cloudtrim pipeline locally: the demo, and
// each step (collect, plan, approve, actuate, report, serve) on its own.
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
	code := local.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
