package sqsqueue

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cloudtrim/cloudtrim/shared/domain"
)

// MaxDelay is the longest delay SQS puts on a message.
const MaxDelay = 15 * time.Minute

// SendDelayed enqueues body so that it becomes visible after delay
// (whole seconds, at most MaxDelay).
func (q *Queue) SendDelayed(ctx context.Context, body []byte, delay time.Duration) error {
	if delay < 0 || delay > MaxDelay {
		return fmt.Errorf("sqs send %s: %w: delay %s is outside 0..%s", q.opts.QueueURL, domain.ErrInvalid, delay, MaxDelay)
	}
	if err := checkBody(body, q.opts.MaxBodyBytes); err != nil {
		return fmt.Errorf("sqs send %s: %w", q.opts.QueueURL, err)
	}
	_, err := q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:     aws.String(q.opts.QueueURL),
		MessageBody:  aws.String(string(body)),
		DelaySeconds: seconds(delay),
	})
	return wrap("send delayed", q.opts.QueueURL, err)
}

// SendDeadLetter puts body on the dead-letter queue with the reason and
// the number of attempts, as Reject does, for hosts that did not receive
// the message through this Queue: a Lambda event source mapping delivers
// the batch and deletes each message whose handler succeeded, so the
// handler dead-letters a bad message with this and reports success. It
// needs Options.DeadLetterURL (or the queue's RedrivePolicy, read with
// GetQueueAttributes).
func (q *Queue) SendDeadLetter(ctx context.Context, body []byte, attempts int, reason string) error {
	s, err := q.load(ctx)
	if err != nil {
		return err
	}
	if s.deadLetterURL == "" {
		return fmt.Errorf("sqs dead-letter %s: %w: no dead-letter queue (set Options.DeadLetterURL or a RedrivePolicy)", q.opts.QueueURL, domain.ErrInvalid)
	}
	if err := checkBody(body, q.opts.MaxBodyBytes); err != nil {
		// A body SQS cannot carry came from somewhere else; keep what can
		// be kept so the reason is not lost.
		body = []byte(strconv.Quote(string(body[:min(len(body), 64<<10)])))
	}
	_, err = q.api.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(s.deadLetterURL),
		MessageBody: aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			ReasonAttribute:   {DataType: aws.String("String"), StringValue: aws.String(attributeText(reason))},
			AttemptsAttribute: {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(max(attempts, 1)))},
		},
	})
	return wrap("send to dead-letter queue", s.deadLetterURL, err)
}
