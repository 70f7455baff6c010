//go:build !awslambda && !azurefunc

package lake

// The Google Cloud Storage driver, left out of the AWS Lambda (tag
// awslambda) and Azure Functions (tag azurefunc) builds, whose lakes are
// in their own cloud's storage: the Google Cloud SDK would add megabytes
// and start-up time to every package.
import _ "gocloud.dev/blob/gcsblob"
