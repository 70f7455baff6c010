// Package gcpfake serves a Google Cloud estate to the real Google Cloud
// clients for tests and the bench: Compute Engine over its REST
// protocol (aggregated lists, pagination, zone, region and global
// operations, errors), Cloud Monitoring over gRPC (bufconn), the Cloud
// Billing Catalog and the BigQuery billing export over REST. It is a
// wire-level fake: the clients under test are the SDK's own.
package gcpfake
