// Package azure holds the Azure deployment of cloudtrim and the tests of its invariants. The
// deployment is files, not Go: azuredeploy.json (an ARM template deployed at subscription
// scope), host.json and one function.json per function for the Go custom handler, deploy.sh
// and parameters.example.json. No Azure tooling is available to the tests, so they parse those
// files with encoding/json, evaluate the template's expressions for a few sets of parameters,
// and assert what a deployment must keep true: the resources and their protections, the app
// settings the Go host reads, least-privilege role assignments, a dry run by default, and the
// bindings the handler expects. The package has no code beyond its tests.
package azure
