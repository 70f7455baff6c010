// Package standin starts the local stand-ins for cloud services that the
// tests run against: fauxqs for Amazon SQS and versitygw (posix backend)
// for Amazon S3. It is used only by tests.
//
// The stand-ins are installed by tools/standins/install.sh into the
// directory named by the environment variable CLOUDTRIM_STANDINS (by
// default $HOME/.cache/cloudtrim/standins, which is also where this
// package looks when the variable is unset). Each test gets its own
// process on a free loopback port, stopped when the test ends; its
// output is logged when the test fails.
//
// When a stand-in is not installed the test is skipped with a message
// saying how to install it, unless CI is "true" or
// CLOUDTRIM_REQUIRE_STANDINS is "1" (as under make test): then it fails.
package standin
