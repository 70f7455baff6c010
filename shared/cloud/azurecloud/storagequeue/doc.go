// Package storagequeue is the Azure Storage Queue driver of queue.Queue,
// on the SDK's azqueue client. It keeps to what the Azure Functions queue
// trigger expects, so that what Send enqueues can be consumed by the
// Functions host and what the host dead-letters is listed by DeadLetters:
// bodies are base64 text, and a body that fails too often goes to the
// queue's poison queue, named "<queue>-poison".
//
// How the queue's contract maps onto the Queue service:
//
//   - Send is Put Message of the body in standard base64 (the trigger's
//     default messageEncoding), never expiring. The service takes 64 KiB
//     of message text, so a body over MaxBodyBytes (48 KiB) is
//     domain.ErrInvalid before any request.
//   - Receive is Get Messages, 32 at a time, with the visibility timeout
//     of Options. Message.ID is "<message ID>:<pop receipt>", Attempt the
//     DequeueCount and SentAt the insertion time. A message whose
//     DequeueCount exceeds Options.MaxAttempts is moved to the poison
//     queue instead of being returned, as the Functions host does with
//     maxDequeueCount; so is, at once, a message whose text is not base64.
//     The driver remembers each delivery (its text, body and attempt) in
//     memory until it is acked, nacked or rejected, or its visibility
//     timeout has long passed: the service returns a body only on
//     receipt, and Nack and Reject need it. So they work only in the
//     process, and on the Queue value, that received the message.
//   - Ack is Delete Message with the pop receipt. A stale pop receipt
//     (404 MessageNotFound, 400 PopReceiptMismatch: the message was
//     delivered again, or is gone) is success, and the service leaves the
//     newer delivery alone.
//   - Nack is Update Message: the message text becomes a JSON envelope
//     (see EnvelopeType) of the body, the attempt count and the reason,
//     visible again after the delay. Receive unwraps it, and if that body
//     is later dead-lettered because its last attempt timed out, the dead
//     letter reports the reason. A Nack of the last attempt moves the body
//     to the poison queue itself, with its reason. An envelope is not
//     base64, so the Functions queue trigger cannot decode a nacked
//     message: a queue is consumed either by the Functions host or by
//     Receive, not by both.
//   - Reject checks with Update Message that the delivery is current
//     (domain.ErrNotFound if not) and holds it hidden, writes an envelope
//     with the reason to the poison queue, then deletes the message: a
//     crash in between leaves a duplicate, never a loss.
//   - Poison messages are JSON envelopes {"type", "body" (base64),
//     "attempts", "reason", "at"} that never expire. DeadLetters lists
//     them, and the raw messages the Functions host moves there (reason
//     HostMovedReason). Peek Messages sees at most 32 messages, so a larger
//     poison queue is read with Get Messages and given back (see
//     DeadLetters). SendPoison dead-letters a body that a host received
//     from the Functions host rather than through Receive.
//
// The poison queue is created when the first dead letter needs it, as the
// Functions host does; Options.CreateIfMissing creates both queues on
// first use. Errors name the operation and the queue URL (never a SAS
// token) and wrap a domain kind (domain.ErrNotFound for a missing queue,
// domain.ErrPermission for 401/403 or an identity without a token,
// domain.ErrThrottled for 429 and 503 ServerBusy, domain.ErrInvalid,
// domain.ErrConflict, domain.ErrUnsupported), with the SDK's
// *azcore.ResponseError still in the chain for errors.As.
package storagequeue
