//go:build !awslambda && !azurefunc

package lake

// The Google Cloud Storage driver, left out of the AWS Lambda (tag
// awslambda) and Azure Functions (tag azurefunc) builds, whose lakes are
// in their own cloud's storage: the Google Cloud SDK would add megabytes
// and start-up time to every package.
//
// gcsblob sends a create-if-absent write as the generation precondition
// DoesNotExist (ifGenerationMatch=0), which GCS refuses with 412 when the
// object exists; the lake needs no other condition, and makes no
// conditional delete.
import (
	"errors"

	_ "gocloud.dev/blob/gcsblob"
	"google.golang.org/api/googleapi"
)

// GCS's JSON API errors carry their status in a Code field, and gcsblob
// classifies only some (404, 412, 429; 403 as not found): read the status
// for kindOf, so that a 503 backendError or a 401 is still a kind.
func init() {
	statusOf = append(statusOf, func(err error) int {
		var ge *googleapi.Error
		if errors.As(err, &ge) {
			return ge.Code
		}
		return 0
	})
}
