//go:build !awslambda && !gcpfunc

package lake

// The Azure Blob driver. Builds for AWS Lambda (tag awslambda) and Google
// Cloud (tag gcpfunc) leave it out: a function deployed there keeps its
// lake in its own cloud's storage, and the SDK would add megabytes to
// every package. See drivers_s3.go and drivers_gcs.go
// for the others.
import (
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	_ "gocloud.dev/blob/azureblob"
)

// Azure's response error has a StatusCode field, not the HTTPStatusCode
// method of AWS's: read it for kindOf.
func init() {
	statusOf = append(statusOf, func(err error) int {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			return re.StatusCode
		}
		return 0
	})
}
