// Package sam holds the invariant tests of the AWS SAM template at the top of the repository
// (template.yaml). SAM CLI and cfn-lint are not available to the tests, so they parse the template
// with goformation and assert what a deployment must keep true: the six functions and how they
// are built and triggered, the environment each function reads, a dry run by default, the
// lake bucket's and the action queues' protections, and least privilege for every function's
// role, including the actuator's tag conditions. The package has no code beyond its tests.
package sam
