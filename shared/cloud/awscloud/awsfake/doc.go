// Package awsfake serves the AWS part of a simulated estate over the
// wire protocols the AWS SDK for Go v2 really speaks: EC2 and STS over
// the query protocol with XML replies, CloudWatch over Smithy RPC v2
// CBOR, Cost Explorer and the Price List API over AWS JSON 1.1. Requests
// are routed by the service in their SigV4 credential scope; the account
// is chosen by the access key, the region by the scope, as in AWS.
//
// It is test support: tests and the end-to-end harness point the real
// SDK clients (or real function binaries, through AWS_ENDPOINT_URL_*)
// at it, so the awscloud provider is exercised exactly as against a real
// account, including pagination, throttling, permission errors and
// asynchronous instance state changes.
package awsfake
