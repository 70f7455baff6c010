//go:build !awslambda

package host

import (
	"context"
	"os"

	"github.com/cloudtrim/cloudtrim/shared/runtime/lambda"
	"github.com/cloudtrim/cloudtrim/shared/runtime/local"
)

// Run runs function name and returns the process's exit code.
func Run(ctx context.Context, name string) int {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		return lambda.Main(ctx, name, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	}
	return local.RunFunction(ctx, name, os.Getenv, os.Stdout, os.Stderr)
}
