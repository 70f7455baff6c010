// Package lambda hosts cloudtrim's functions on AWS Lambda: it turns each
// trigger's event (EventBridge Scheduler for the collectors, S3 object
// created for optimize, a Function URL request for approve, an SQS batch
// for actuate) into a call of the function given in Handlers, and the
// result back into what Lambda expects. It knows nothing of the cores,
// the cloud providers or the queue: the composition that builds them
// fills Handlers.
//
// Serve runs the aws-lambda-go runtime loop; NewHandler returns the same
// handler for tests and other runtimes of the Lambda Runtime API.
package lambda
