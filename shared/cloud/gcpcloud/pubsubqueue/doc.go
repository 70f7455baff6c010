// Package pubsubqueue is the Google Cloud Pub/Sub driver of queue.Queue,
// on the cloud.google.com/go/pubsub/v2 client's admin (gRPC) API and
// synchronous pull. The queue is a topic with one pull subscription; dead
// letters go to a second topic with its own subscription, which
// DeadLetters reads. Ensure creates all four.
//
// How the queue's contract maps onto Pub/Sub:
//
//   - Send is one Publish of the body as the message data (any bytes,
//     non-empty, at most MaxBodyBytes), returning once Pub/Sub has stored
//     it.
//   - Receive is Pull with max_messages of at most what is left to
//     return, so it never takes more than it hands out and the rest stay
//     for other receivers; it waits up to Config.PullWait for a first
//     message (rather than the deprecated return_immediately) and pulls
//     again while full batches come back. A failed Pull is not retried,
//     lest the wait hide a failure: the error (domain.ErrThrottled for
//     Unavailable) goes to the caller, who polls again anyway. The
//     emulator (pstest) answers an empty Pull after half a second, so a
//     PullWait beyond that makes no result depend on timing. Message.ID
//     is the ack ID, Attempt the message's delivery_attempt, SentAt its
//     publish time. Pub/Sub counts delivery attempts only on a
//     subscription with a dead-letter policy; without one every Attempt
//     is 1.
//   - Ack is Acknowledge. Pub/Sub ignores an ack ID whose deadline passed,
//     so acknowledging a delivery that was delivered again since is no
//     error and leaves the newer delivery alone (subscriptions with
//     exactly-once delivery, which Ensure does not enable, would answer
//     otherwise).
//   - Nack is ModifyAckDeadline to the delay, at most 600 s (Pub/Sub's
//     limit; a longer delay is cut to it). Pub/Sub carries no reason with
//     a nack and keeps nothing with a message in flight, so the driver
//     remembers the reason in memory, by message ID: if the body comes
//     back and its last attempt times out, the dead letter reports it. A
//     process that restarts, or another process, does not know it: its
//     dead letter then reads ExhaustedReason. A Nack of the last attempt
//     dead-letters the body itself, with the reason.
//   - Reject publishes the body to the dead-letter topic with the
//     attributes cloudtrim-reason, cloudtrim-attempts and
//     cloudtrim-first-sent, then acknowledges the delivery: a crash in
//     between leaves a duplicate, never a loss. Reject and the Nack of a
//     last attempt need the body, which Pub/Sub returns only on receipt:
//     they work on the Queue value that received the delivery.
//     SendDeadLetter does the same for a body a host received from Pub/Sub
//     by push.
//   - DeadLetters pulls the whole dead-letter subscription and gives
//     every message back at once (ModifyAckDeadline 0): Pub/Sub cannot
//     peek. It consumes nothing, but while it runs another reader of the
//     dead-letter subscription sees fewer messages.
//
// Attempts and the dead-letter policy. Config.MaxAttempts is how many
// deliveries the caller sees. Ensure gives the subscription a dead-letter
// policy of MaxAttempts+1 deliveries, so the extra delivery is the
// driver's: Receive does not return a message delivered for the
// (MaxAttempts+1)th time (its last attempt timed out: the worker died or
// hung) but dead-letters it, with the remembered reason. Only if that
// delivery too goes unanswered (the receiving process died as well) does
// Pub/Sub move the message itself, without a reason; its dead letter
// reads ExhaustedReason. Pub/Sub takes max_delivery_attempts from 5 to
// 100, so MaxAttempts from 4 (the default, Pub/Sub's own default of 5
// deliveries) to 99. Pub/Sub counts attempts approximately, on a best
// effort basis.
//
// Delayed messages. Pub/Sub has no delayed delivery. SendDelayed
// publishes at once with the attribute cloudtrim-not-before (the due
// time, RFC 3339, by the sender's clock, which Receive compares with its
// own), and Receive keeps such a message from the caller:
//
//   - pulled before it is due, it is hidden with ModifyAckDeadline until
//     it is, at most 600 s at a time; so a delay of d costs about
//     ceil(d / 600 s) pulls, each of which Pub/Sub counts as a delivery
//     attempt. Before those pulls reach the dead-letter policy's limit
//     (at MaxAttempts of them) Receive re-publishes the message afresh,
//     its count at zero, and acknowledges the old one: a delay of any
//     length up to MaxDelay (the subscriptions' 7-day retention) never
//     dead-letters a message, at the cost of a publish every
//     (MaxAttempts-1) × 10 minutes (every 10 minutes when MaxAttempts is
//     1).
//   - pulled once due, it is re-published without cloudtrim-not-before
//     and with cloudtrim-first-sent, and acknowledged; the caller receives
//     that copy, at attempt 1, with SentAt the first publish time. So a
//     delay costs the caller no attempt, at the cost of one more publish
//     and pull per delayed body. A crash between the re-publish and the
//     acknowledgement delivers the body twice, which at-least-once allows.
//
// Hidden pulls are not deliveries the caller sees, and each Receive
// pulls again after them (at most ten Pulls a call). A push subscription
// delivers delayed messages early to its endpoint: a push host must check
// NotBefore and answer early messages with a failure, which Pub/Sub's
// push backoff (10 s to 600 s) retries, each retry a delivery attempt,
// so there long delays can reach the dead-letter policy's limit.
//
// Every call runs under Config.CallTimeout, a Pull under Config.PullWait
// (the client retries some codes for as long as its context lasts). Errors name the operation and the
// topic or subscription and wrap a domain kind by gRPC code:
// domain.ErrNotFound (NotFound), domain.ErrPermission (PermissionDenied,
// Unauthenticated), domain.ErrThrottled (ResourceExhausted, Unavailable),
// domain.ErrConflict (AlreadyExists, Aborted, FailedPrecondition),
// domain.ErrInvalid (InvalidArgument, OutOfRange), domain.ErrUnsupported
// (Unimplemented), with the client's error, and so its status, still in
// the chain. When the call's deadline ended it, context.DeadlineExceeded
// is in the chain too.
package pubsubqueue
