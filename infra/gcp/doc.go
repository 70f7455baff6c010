// Package gcp holds the Google Cloud deployment of cloudtrim and the tests of its invariants.
// The deployment is files, not Go: deploy.sh (gcloud commands), the Dockerfile Cloud Build makes
// the Cloud Run image with, the actuator's custom role definitions and the lake's lifecycle
// rules. No gcloud and no Google Cloud project are available to the tests, so they run
// deploy.sh against a fake gcloud that records every command, and assert what a deployment
// must keep true: the lake's protections, one service account and one function per Cloud Run
// service, a dry run by default, secrets from Secret Manager only, least privilege for every
// identity, the actuator's tag condition, the triggers' wiring and the dead-letter policy, and
// that a second run creates nothing. The package has no code beyond its tests.
package gcp
