// Package gcpfunc hosts cloudtrim's functions on Google Cloud: one
// binary registers the collect, optimize and actuate CloudEvent
// functions and the approve HTTP function with the Functions Framework,
// and Cloud Run runs each as its own service (FUNCTION_TARGET), as
// infra/gcp deploys them from one container image.
//
// Triggers: Cloud Scheduler publishes to a topic whose Eventarc trigger
// calls collect; Eventarc calls optimize when an object is finalized in
// the lake's bucket (only snapshot manifests are acted on); Eventarc
// calls actuate for each message of the actions topic, whose
// subscription dead-letters after its maximum delivery attempts. An
// event is acknowledged (the function returns nil) only once its
// outcome is recorded; a failure a redelivery cannot mend (a malformed
// event) is logged and acknowledged rather than retried forever, and an
// action message that cannot be read is put on the dead-letter topic
// with its reason.
package gcpfunc
