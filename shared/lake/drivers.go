//go:build !awslambda

package lake

// The Google Cloud Storage and Azure Blob drivers. Builds for AWS Lambda
// (tag awslambda) leave them out: a function deployed on AWS keeps its
// lake in S3, and the two SDKs would add megabytes to every package.
import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
)
