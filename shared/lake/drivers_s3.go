//go:build !azurefunc && !gcpfunc

package lake

// The S3 driver. The Azure Functions (tag azurefunc) and Google Cloud
// (tag gcpfunc) builds leave it out: a function deployed there keeps its
// lake in its own cloud's storage, and the AWS SDK would add megabytes
// and start-up time to its one binary.
import _ "gocloud.dev/blob/s3blob"
