// Package gcpcloud is the Google Cloud provider: it reads Compute Engine
// instances, persistent disks, static addresses and snapshots across the
// projects an identity can read, their Cloud Monitoring metrics, their
// cost (the Cloud Billing export to BigQuery) and Cloud Billing Catalog
// prices, and it carries out the actuator's actions on them. It is, with
// the other cloud packages, the only user of a cloud SDK.
//
// Google API errors are mapped onto the domain's error kinds in
// errors.go only. Every call runs under a deadline (Config.CallTimeout):
// Google's clients retry some calls for as long as their context lasts.
package gcpcloud
