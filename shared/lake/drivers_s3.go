//go:build !azurefunc

package lake

// The S3 driver. The Azure Functions build (tag azurefunc) leaves it out:
// a function app on Azure keeps its lake in Blob storage, and the AWS SDK
// would add megabytes and start-up time to its one binary.
import _ "gocloud.dev/blob/s3blob"
