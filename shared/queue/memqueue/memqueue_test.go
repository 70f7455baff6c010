package memqueue_test

import (
	"sync"
	"testing"
	"time"

	"github.com/cloudtrim/cloudtrim/shared/queue"
	"github.com/cloudtrim/cloudtrim/shared/queue/memqueue"
	"github.com/cloudtrim/cloudtrim/shared/queue/queuetest"
)

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	queuetest.Run(t, queuetest.Harness{
		New: func(t *testing.T) queue.Queue {
			return memqueue.New(memqueue.Options{Visibility: time.Minute, MaxAttempts: 3, Now: clock})
		},
		Advance:    func(t *testing.T, d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() },
		Visibility: time.Minute,
	})
}
