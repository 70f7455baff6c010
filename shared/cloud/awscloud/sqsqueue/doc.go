// Package sqsqueue is the Amazon SQS driver of queue.Queue, on the
// aws-sdk-go-v2 SQS client. It works with standard queues (not FIFO)
// that have a dead-letter queue.
//
// How the queue's contract maps onto SQS:
//
//   - Send is SendMessage. Bodies must be valid SQS text (UTF-8 without
//     most control characters) of at most Options.MaxBodyBytes, 256 KiB by
//     default; anything else is domain.ErrInvalid before any request.
//   - Receive is ReceiveMessage, ten messages a call, repeated while full
//     batches come back and max is not reached. Message.ID is the receipt
//     handle, Attempt is ApproximateReceiveCount and SentAt is
//     SentTimestamp. The driver remembers each delivery (body, attempt,
//     attributes) in memory until it is acked, nacked or rejected, or
//     until its visibility timeout has long passed: SQS cannot return a
//     message's body from its receipt handle, and Reject needs it. So
//     Reject, and Nack's last-attempt hand-over below, work only in the
//     process, and on the Queue value, that received the message.
//   - Ack is DeleteMessage. A receipt handle that is stale because the
//     message was delivered again is not an error. SQS's answer to such a
//     handle varies (fauxqs deletes nothing and says nothing; SQS says
//     nothing or InvalidParameterValue "receipt handle has expired", or
//     ReceiptHandleIsInvalid) and all of these are success here. Note
//     that real SQS standard queues may still honour an old receipt
//     handle and delete the message under a newer delivery: the body was
//     then processed at least once, which is all at-least-once promises.
//   - Nack is ChangeMessageVisibility(delay), delay rounded up to whole
//     seconds, at most 12 hours. SQS cannot attach data to a message in
//     flight, so the reason cannot travel with the message. When the
//     nacked delivery was the last attempt (its Attempt has reached the
//     queue's maxReceiveCount), SQS would move the body to the
//     dead-letter queue on the next receive without any reason; instead
//     Nack moves it there itself, as Reject does, with the reason "gave up
//     after N attempts: <reason>". The reason of an earlier Nack is not
//     kept: if the last attempt ends because its visibility timeout
//     expires (the worker died), SQS moves the body and the dead letter
//     reads "exhausted its attempts".
//   - Reject copies the body and its message attributes to the
//     dead-letter queue with the attributes cloudtrim-reason and
//     cloudtrim-attempts, then deletes the original, in that order: a
//     crash in between leaves a duplicate, never a loss. Before copying it
//     checks with ChangeMessageVisibility that the delivery is still the
//     current one (domain.ErrNotFound if not) and keeps it hidden while it
//     copies.
//   - DeadLetters receives the whole dead-letter queue with a short
//     visibility timeout and gives every message back at once with
//     ChangeMessageVisibility 0: it consumes nothing, but while it runs
//     (and for up to 30 s if giving back fails) another reader of the
//     dead-letter queue sees fewer messages. Each receive counts towards
//     the dead-letter queue's own ApproximateReceiveCount, so the
//     dead-letter queue must not have a redrive policy of its own.
//
// The dead-letter queue and maxReceiveCount come from Options or, when
// left empty, from the queue's RedrivePolicy (read once with
// GetQueueAttributes). Errors name the operation and the queue URL and
// wrap a domain kind (domain.ErrNotFound for a queue that does not exist,
// domain.ErrPermission, domain.ErrThrottled, domain.ErrInvalid, ...) with
// the SDK's error still in the chain for errors.As.
package sqsqueue
