// Package awscloud is the AWS provider: it reads inventory (EC2
// instances, EBS volumes, Elastic IPs, snapshots) in every enabled region
// of an account, utilization from CloudWatch, cost from Cost Explorer and
// on-demand prices from the Price List API, and it changes EC2 resources
// for the actuator. It implements collect.Provider and actuate.Resources
// and is, with its sub-packages, the only user of the AWS service SDKs
// besides the lake's S3 driver.
//
// Every AWS error is mapped onto the domain's error kinds in one place
// (errors.go). Retries are the SDK's standard retryer, bounded in
// attempts and backoff and always stopped by the context's deadline.
package awscloud
