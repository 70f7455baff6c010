// Package azfunc is cloudtrim's host on Azure Functions: a custom
// handler, an HTTP server on FUNCTIONS_CUSTOMHANDLER_PORT that the
// Functions host calls for every invocation of the function app's five
// functions (infra/azure/<function>/function.json):
//
//	POST /collect   timer trigger "timer"        → collect the subscriptions into a snapshot
//	POST /optimize  blob trigger "manifest"      → plan after a snapshot manifest was committed
//	POST /ingest    blob trigger "export"        → ingest a delivered cost export, plan again
//	POST /actuate   queue trigger "message"      → carry one approved action to its outcome
//	     /api/…     HTTP trigger "approve"       → the approval channels, forwarded as is
//
// Invocations arrive as the host's request payload, {"Data": {<binding>:
// value}, "Metadata": {...}}, and are answered with {"Outputs",
// "Logs", "ReturnValue"}: a status other than 2xx fails the invocation,
// which for the queue trigger means redelivery and, after the host's
// maxDequeueCount, its poison queue. The approve function's requests
// are forwarded raw (enableForwardingHttpRequest) under the route
// prefix /api, so the signatures are checked over the bytes the caller
// sent; an external request can never reach the invocation paths, which
// lie outside /api.
package azfunc
