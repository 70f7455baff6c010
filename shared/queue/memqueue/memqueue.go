// Package memqueue is the in-process queue driver used by the local
// runtime and by tests: visibility timeouts, redelivery counts and a
// dead-letter queue after MaxAttempts, all on an injected clock.
package memqueue

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/domain"
	"github.com/cloudtrim/cloudtrim/shared/queue"
)

// Options configures a Queue.
type Options struct {
	// Visibility is how long a received message stays hidden; default 30s.
	Visibility time.Duration
	// MaxAttempts is how many deliveries a body gets before it goes to the
	// dead-letter queue; default 5.
	MaxAttempts int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Queue is an in-process queue. The zero value is not usable; call New.
type Queue struct {
	opts Options

	mu       sync.Mutex
	seq      int
	items    []*item
	inflight map[string]*item
	dead     []queue.DeadLetter
}

type item struct {
	body      []byte
	attempts  int
	visibleAt time.Time
	sentAt    time.Time
	receipt   string
	reason    string
}

var _ queue.Queue = (*Queue)(nil)

// New returns an empty queue.
func New(opts Options) *Queue {
	if opts.Visibility <= 0 {
		opts.Visibility = 30 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Queue{opts: opts, inflight: map[string]*item{}}
}

// Send implements queue.Queue.
func (q *Queue) Send(ctx context.Context, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	q.items = append(q.items, &item{body: append([]byte(nil), body...), visibleAt: now, sentAt: now})
	return nil
}

// Receive implements queue.Queue.
func (q *Queue) Receive(ctx context.Context, max int) ([]queue.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("%w: receive max %d is not positive", domain.ErrInvalid, max)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	var out []queue.Message
	keep := q.items[:0]
	for _, it := range q.items {
		if len(out) < max && !it.visibleAt.After(now) {
			if it.receipt != "" {
				delete(q.inflight, it.receipt)
			}
			if it.attempts >= q.opts.MaxAttempts {
				reason := it.reason
				if reason == "" {
					reason = "visibility timeout expired"
				}
				q.dead = append(q.dead, queue.DeadLetter{Body: it.body, Attempts: it.attempts,
					Reason: fmt.Sprintf("gave up after %d attempts: %s", it.attempts, reason), At: now})
				continue
			}
			it.attempts++
			q.seq++
			it.receipt = "m" + strconv.Itoa(q.seq)
			it.visibleAt = now.Add(q.opts.Visibility)
			q.inflight[it.receipt] = it
			out = append(out, queue.Message{ID: it.receipt, Body: append([]byte(nil), it.body...),
				Attempt: it.attempts, SentAt: it.sentAt})
		}
		keep = append(keep, it)
	}
	q.items = keep
	return out, nil
}

// Ack implements queue.Queue.
func (q *Queue) Ack(ctx context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.inflight[id]
	if !ok {
		return nil
	}
	delete(q.inflight, id)
	q.remove(it)
	return nil
}

// Nack implements queue.Queue.
func (q *Queue) Nack(ctx context.Context, id string, delay time.Duration, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.inflight[id]
	if !ok {
		return fmt.Errorf("nack %s: %w: no such delivery in flight", id, domain.ErrNotFound)
	}
	delete(q.inflight, id)
	it.receipt = ""
	it.reason = reason
	it.visibleAt = q.opts.Now().Add(delay)
	return nil
}

// Reject implements queue.Queue.
func (q *Queue) Reject(ctx context.Context, id string, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.inflight[id]
	if !ok {
		return fmt.Errorf("reject %s: %w: no such delivery in flight", id, domain.ErrNotFound)
	}
	delete(q.inflight, id)
	q.remove(it)
	q.dead = append(q.dead, queue.DeadLetter{Body: it.body, Attempts: it.attempts, Reason: reason, At: q.opts.Now()})
	return nil
}

// DeadLetters implements queue.Queue.
func (q *Queue) DeadLetters(ctx context.Context) ([]queue.DeadLetter, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queue.DeadLetter(nil), q.dead...), nil
}

// Len returns the number of bodies not yet acked or dead-lettered.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

func (q *Queue) remove(target *item) {
	for i, it := range q.items {
		if it == target {
			q.items = append(q.items[:i], q.items[i+1:]...)
			return
		}
	}
}
