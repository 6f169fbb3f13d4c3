package queue

import (
	"sync"
	"time"
)

// Config configures a Queue. The zero value works.
type Config struct {
	// BaseDelay is the back-off of a key's first failure (default 5ms); it
	// doubles with each further failure up to MaxDelay (default 30s).
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// Queue is a deduplicating work queue of keys; see the package doc.
type Queue[K comparable] struct {
	cfg Config

	mu       sync.Mutex
	cond     *sync.Cond
	order    []K            // queued keys, first in first out
	queued   map[K]struct{} // keys in order
	active   map[K]struct{} // keys handed out and not yet Done
	dirty    map[K]struct{} // keys added while active: queued again on Done
	timers   map[K]delayed  // keys held back
	failures map[K]int
	shutdown bool
}

type delayed struct {
	at    time.Time
	timer *time.Timer
}

// New returns an empty queue.
func New[K comparable](cfg Config) *Queue[K] {
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = 5 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 30 * time.Second
	}
	q := &Queue[K]{cfg: cfg, queued: map[K]struct{}{}, active: map[K]struct{}{}, dirty: map[K]struct{}{},
		timers: map[K]delayed{}, failures: map[K]int{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues k now, unless it is already queued. A pending delayed add of
// k is cancelled: k is queued now instead.
func (q *Queue[K]) Add(k K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d, ok := q.timers[k]; ok {
		d.timer.Stop()
		delete(q.timers, k)
	}
	q.addLocked(k)
}

func (q *Queue[K]) addLocked(k K) {
	if q.shutdown {
		return
	}
	if _, ok := q.active[k]; ok {
		q.dirty[k] = struct{}{}
		return
	}
	if _, ok := q.queued[k]; ok {
		return
	}
	q.queued[k] = struct{}{}
	q.order = append(q.order, k)
	q.cond.Signal()
}

// AddAfter queues k after d (at once if d <= 0). If k is already held back
// until an earlier time, that time stands; a later one is brought forward.
func (q *Queue[K]) AddAfter(k K, d time.Duration) {
	if d <= 0 {
		q.Add(k)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := time.Now().Add(d)
	if prev, ok := q.timers[k]; ok {
		if !prev.at.After(at) {
			return
		}
		prev.timer.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		// A later AddAfter may have replaced this timer; only the current
		// one adds.
		if cur, ok := q.timers[k]; ok && cur.timer == t {
			delete(q.timers, k)
			q.addLocked(k)
		}
	})
	q.timers[k] = delayed{at: at, timer: t}
}

// AddRateLimited queues k after its back-off: BaseDelay·2^n for its n-th
// failure since it was last forgotten, at most MaxDelay.
func (q *Queue[K]) AddRateLimited(k K) {
	q.mu.Lock()
	n := q.failures[k]
	q.failures[k] = n + 1
	q.mu.Unlock()
	q.AddAfter(k, q.backoff(n))
}

func (q *Queue[K]) backoff(n int) time.Duration {
	d := q.cfg.BaseDelay
	for range n {
		d *= 2
		if d >= q.cfg.MaxDelay {
			return q.cfg.MaxDelay
		}
	}
	return d
}

// Forget resets k's failure count; call it when k was processed
// successfully. It does not remove k from the queue.
func (q *Queue[K]) Forget(k K) {
	q.mu.Lock()
	delete(q.failures, k)
	q.mu.Unlock()
}

// Failures is how many times k was added rate-limited since it was last
// forgotten.
func (q *Queue[K]) Failures(k K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[k]
}

// Get blocks until a key is queued and hands it out; the caller must call
// Done with it when it is finished. shutdown is true once ShutDown was
// called; the key is then the zero value.
func (q *Queue[K]) Get() (k K, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return k, true
	}
	k = q.order[0]
	var zero K
	q.order[0] = zero
	q.order = q.order[1:]
	delete(q.queued, k)
	q.active[k] = struct{}{}
	return k, false
}

// Done marks k as processed. If k was added while it was being processed,
// it is queued again now.
func (q *Queue[K]) Done(k K) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, k)
	if _, ok := q.dirty[k]; ok {
		delete(q.dirty, k)
		q.addLocked(k)
	}
}

// Len is the number of keys queued now (not counting held-back or active
// ones).
func (q *Queue[K]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order)
}

// ShutDown stops the queue: blocked and later Gets return shutdown=true,
// pending delayed adds are cancelled, and later adds are ignored. It is
// idempotent.
func (q *Queue[K]) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	q.shutdown = true
	for k, d := range q.timers {
		d.timer.Stop()
		delete(q.timers, k)
	}
	q.cond.Broadcast()
}

// ShuttingDown reports whether ShutDown was called.
func (q *Queue[K]) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shutdown
}
