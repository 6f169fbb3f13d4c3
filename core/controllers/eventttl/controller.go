package eventttl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"golang.org/x/time/rate"

	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name in logs.
const Name = "eventttl"

// Timing is how long Events live and how often they are checked.
type Timing struct {
	// TTL is how long an Event lives after its last activity
	// (kube-apiserver's --event-ttl).
	TTL time.Duration
	// Interval is the time between passes while no expired Event is left
	// over: an Event is deleted between TTL and TTL+Interval after its
	// last activity, unless a backlog delays it.
	Interval time.Duration
}

// DefaultTiming is Kubernetes' TTL, checked every 10 s.
var DefaultTiming = Timing{TTL: time.Hour, Interval: 10 * time.Second}

// Defaults for Config's limits.
const (
	DefaultBatch = 500
	DefaultRate  = 200
)

// Config configures the controller. Client is required; the zero value
// of the rest takes the defaults.
type Config struct {
	Client *client.Client
	// Timing defaults to DefaultTiming; a zero field takes its default.
	Timing Timing
	// Batch is the most deletions one pass makes (default DefaultBatch).
	Batch int
	// Rate is the most deletions per second, across passes (default
	// DefaultRate).
	Rate float64
	// Logger receives a line per pass that found expired Events (the
	// others at debug level); nil discards it.
	Logger *slog.Logger
	// Now is the clock Events' ages are judged by (default time.Now). The
	// pacing of deletions and the interval between passes are real time.
	Now func() time.Time
}

// Result counts what one pass did.
type Result struct {
	// Expired is how many expired Events the pass found.
	Expired int
	// Deleted were deleted by this pass.
	Deleted int
	// Changed were updated or re-created since the index saw them (their
	// deletion's precondition failed): they stay, and are judged again
	// once the index has their new version.
	Changed int
	// Gone were deleted by someone else first.
	Gone int
	// Left are expired Events left for the next pass: those beyond Batch,
	// and those not attempted after a failure.
	Left int
	// Tracked is how many Events the index held.
	Tracked int
}

// Controller deletes expired Events.
type Controller struct {
	cfg    Config
	log    *slog.Logger
	events *client.Typed[*corev1.Event]
	limit  *rate.Limiter // deletions at Rate, no burst

	passMu sync.Mutex // serializes passes; taken before mu

	mu    sync.Mutex // guards index
	index map[types.NamespacedName]Entry
}

// New returns a controller; nothing happens until Run. It panics without
// cfg.Client.
func New(cfg Config) *Controller {
	if cfg.Client == nil {
		panic("bug: eventttl.New without a client")
	}
	if cfg.Timing.TTL <= 0 {
		cfg.Timing.TTL = DefaultTiming.TTL
	}
	if cfg.Timing.Interval <= 0 {
		cfg.Timing.Interval = DefaultTiming.Interval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Controller{cfg: cfg, log: cfg.Logger.With("controller", Name), events: client.For[*corev1.Event](cfg.Client),
		limit: newLimiter(cfg.Rate), index: map[types.NamespacedName]Entry{}}
}

// Run keeps the index current and runs a pass every Interval (at once
// after a pass that left expired Events) until ctx ends; it returns nil
// then. A failed pass is logged and retried after Interval.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { c.track(ctx) })
	c.log.Info("event expiry running", "ttl", c.cfg.Timing.TTL, "interval", c.cfg.Timing.Interval,
		"batch", c.cfg.Batch, "rate", c.cfg.Rate)
	t := time.NewTimer(c.cfg.Timing.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := time.Now()
		res, err := c.Pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		level := slog.LevelDebug
		if res.Expired > 0 || err != nil {
			level = slog.LevelInfo
		}
		attrs := []any{"expired", res.Expired, "deleted", res.Deleted, "changed", res.Changed, "gone", res.Gone,
			"left", res.Left, "tracked", res.Tracked, "took", time.Since(start).Round(time.Millisecond)}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		c.log.Log(ctx, level, "event expiry pass", attrs...)
		wait := c.cfg.Timing.Interval
		if err == nil && res.Left > 0 {
			wait = 0 // Pass paces its deletions: the backlog drains at Rate
		}
		t.Reset(wait)
	}
}

// Pass deletes the Events the index holds that have expired by Now, at
// most Batch of them, oldest first, paced at Rate, each only if its uid
// and resourceVersion are still those the index holds. It stops at the
// first deletion that fails for another reason than a failed
// precondition or an Event already gone, and returns that error with the
// counts so far. Passes are serialized; Pass is safe to call while Run
// runs.
func (c *Controller) Pass(ctx context.Context) (Result, error) {
	c.passMu.Lock()
	defer c.passMu.Unlock()
	now := c.cfg.Now()
	var expired []Entry
	c.mu.Lock()
	tracked := len(c.index)
	for _, e := range c.index {
		if Expired(e.Active, now, c.cfg.Timing.TTL) {
			expired = append(expired, e)
		}
	}
	c.mu.Unlock()
	due, left := Due(expired, now, c.cfg.Timing.TTL, c.cfg.Batch)
	res := Result{Expired: len(expired), Left: left, Tracked: tracked}
	for i, e := range due {
		if err := c.pace(ctx); err != nil {
			res.Left += len(due) - i
			return res, err
		}
		uid, rv := e.UID, e.ResourceVersion
		_, _, err := c.events.Delete(ctx, e.Namespace, e.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
		switch {
		case err == nil:
			res.Deleted++
			c.forget(e)
		case apierrors.IsNotFound(err):
			res.Gone++
			c.forget(e)
		case apierrors.IsConflict(err):
			res.Changed++
		default:
			res.Left += len(due) - i
			return res, fmt.Errorf("delete event %s/%s: %w", e.Namespace, e.Name, err)
		}
	}
	return res, nil
}

// newLimiter allows perSecond deletions a second with no burst: time
// idle earns no credit beyond the next deletion.
func newLimiter(perSecond float64) *rate.Limiter { return rate.NewLimiter(rate.Limit(perSecond), 1) }

// pace waits until the next deletion may start, at Rate.
func (c *Controller) pace(ctx context.Context) error { return c.limit.Wait(ctx) }

// Tracked is how many Events the index holds.
func (c *Controller) Tracked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}

// forget removes e from the index if the index still holds that version
// (the watch may already have brought a newer object of that name).
func (c *Controller) forget(e Entry) {
	k := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.index[k]; ok && cur.UID == e.UID && cur.ResourceVersion == e.ResourceVersion {
		delete(c.index, k)
	}
}

// observe records ev's current version in the index.
func (c *Controller) observe(ev *corev1.Event) {
	e := EntryOf(ev)
	c.mu.Lock()
	c.index[types.NamespacedName{Namespace: e.Namespace, Name: e.Name}] = e
	c.mu.Unlock()
}

// track keeps the index current from a watch of every Event until ctx
// ends: from scratch at first and after the watch expired (the index is
// rebuilt), else from the last revision it saw, backing off up to 5 s
// between failed attempts.
func (c *Controller) track(ctx context.Context) {
	var from uint64
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		w, err := c.events.Watch(ctx, "", from)
		if err == nil {
			if from == 0 {
				c.mu.Lock()
				clear(c.index)
				c.mu.Unlock()
			}
			for ev := range w.Events() {
				c.apply(ev)
				from = ev.Revision
				backoff = 100 * time.Millisecond
			}
			err = w.Err()
			w.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, client.ErrExpired) && from != 0 {
			from = 0 // fell behind a compaction: rebuild from a list
			continue
		}
		c.log.Warn("event watch ended; resuming", "from", from, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (c *Controller) apply(ev client.Event[*corev1.Event]) {
	if ev.Type != client.Deleted {
		c.observe(ev.Object)
		return
	}
	c.mu.Lock()
	delete(c.index, types.NamespacedName{Namespace: ev.Object.Namespace, Name: ev.Object.Name})
	c.mu.Unlock()
}
