// Package host picks the runtime a function binary runs under. Builds
// tagged awslambda (what make package builds for AWS Lambda) contain the
// Lambda host only: inside Lambda they serve invocations, and from a
// shell they run one invocation with the event on stdin against the
// configured lake and the ambient AWS credentials. Untagged builds (make
// build, the demo) run on the local host against the simulated estate,
// and serve Lambda invocations too when started inside Lambda.
package host
