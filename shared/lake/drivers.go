//go:build !awslambda

package lake

// The Google Cloud Storage and Azure Blob drivers. Builds for AWS Lambda
// (tag awslambda) leave them out: a function deployed on AWS keeps its
// lake in S3, and the two SDKs would add megabytes to every package.
import (
	"errors"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
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
