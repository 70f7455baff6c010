//go:build awslambda

package host

import (
	"context"
	"os"

	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda"
)

// Run runs function name and returns the process's exit code.
func Run(ctx context.Context, name string) int {
	return lambda.Main(ctx, name, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
}
