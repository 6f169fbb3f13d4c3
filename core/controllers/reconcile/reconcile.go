package reconcile

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/skiffhq/skiff/core/controllers/queue"
)

// Result is what a successful reconcile asks for.
type Result struct {
	// RequeueAfter, if positive, calls the Func again for the key after
	// this long (unless an event does it sooner).
	RequeueAfter time.Duration
}

// Func reconciles the object named by key ("namespace/name", or "name"
// for cluster-scoped objects).
type Func func(ctx context.Context, key string) (Result, error)

// Config configures a Controller. Name and Reconcile are required.
type Config struct {
	Name      string
	Reconcile Func
	// Workers is how many keys are reconciled at once (default 1).
	Workers int
	// Queue configures the back-off.
	Queue queue.Config
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
}

// Controller is one reconcile loop.
type Controller struct {
	cfg Config
	q   *queue.Queue[string]
	log *slog.Logger
}

// New returns a Controller; it starts nothing.
func New(cfg Config) *Controller {
	if cfg.Name == "" || cfg.Reconcile == nil {
		panic("bug: reconcile.New: Name and Reconcile are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, q: queue.New[string](cfg.Queue), log: cfg.Logger.With("controller", cfg.Name)}
}

// Name is the controller's name.
func (c *Controller) Name() string { return c.cfg.Name }

// Enqueue asks for key to be reconciled.
func (c *Controller) Enqueue(key string) { c.q.Add(key) }

// EnqueueAfter asks for key to be reconciled after d.
func (c *Controller) EnqueueAfter(key string, d time.Duration) { c.q.AddAfter(key, d) }

// Run runs the workers until ctx ends, then stops the queue and waits for
// the workers to finish the keys they hold. It returns nil.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() { c.work(ctx) })
	}
	<-ctx.Done()
	c.q.ShutDown()
	wg.Wait()
	return nil
}

func (c *Controller) work(ctx context.Context) {
	for {
		key, down := c.q.Get()
		if down {
			return
		}
		c.process(ctx, key)
		c.q.Done(key)
	}
}

func (c *Controller) process(ctx context.Context, key string) {
	res, err := c.cfg.Reconcile(ctx, key)
	switch {
	case ctx.Err() != nil:
		// Shutting down: the key is dropped with the queue.
	case err != nil:
		n := c.q.Failures(key)
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// Lost a race with another writer: the cache is catching up.
			c.log.Debug("reconcile", "key", key, "err", err, "failures", n)
		} else {
			c.log.Warn("reconcile", "key", key, "err", err, "failures", n)
		}
		c.q.AddRateLimited(key)
	default:
		c.q.Forget(key)
		if res.RequeueAfter > 0 {
			c.q.AddAfter(key, res.RequeueAfter)
		}
	}
}

// Key is the key of the object ns/name ("name" when ns is empty).
func Key(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// SplitKey splits a key made by Key.
func SplitKey(key string) (ns, name string) {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}
