// Package queue defines the action queue: at-least-once delivery of
// approved actions from the approval webhook to the actuator, with
// redelivery after a visibility timeout and a dead-letter queue after a
// bounded number of attempts. Drivers (in-process here; SQS, Pub/Sub and
// Azure Storage Queue in the cloud packages) pass the conformance suite
// in queuetest.
package queue

import (
	"context"
	"time"
)

// Message is one delivery of a queued body.
type Message struct {
	// ID identifies this delivery for Ack and Nack.
	ID string
	// Body is the payload as sent.
	Body []byte
	// Attempt counts deliveries of the body, starting at 1.
	Attempt int
	// SentAt is when the body was first sent.
	SentAt time.Time
}

// DeadLetter is a body that exhausted its attempts or was rejected,
// with the reason.
type DeadLetter struct {
	Body     []byte
	Attempts int
	Reason   string
	At       time.Time
}

// Queue is an at-least-once queue.
type Queue interface {
	// Send enqueues body. A nil error means the body will be delivered
	// at least once.
	Send(ctx context.Context, body []byte) error
	// Receive returns up to max messages that are visible now, hiding
	// them for the visibility timeout. It returns an empty slice, not an
	// error, when none are visible.
	Receive(ctx context.Context, max int) ([]Message, error)
	// Ack deletes a delivered message. Acking a message whose visibility
	// expired and which was delivered again is not an error but has no
	// effect on the newer delivery.
	Ack(ctx context.Context, id string) error
	// Nack makes a delivered message visible again after delay; reason
	// is kept and reported if the message ends in the dead-letter queue.
	Nack(ctx context.Context, id string, delay time.Duration, reason string) error
	// Reject moves a delivered message to the dead-letter queue at once.
	Reject(ctx context.Context, id string, reason string) error
	// DeadLetters lists the dead-letter queue.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
}
