package modulegc

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name.
const Name = "module-gc"

// key is the one thing the controller reconciles: the modules' bucket.
const key = "modules"

// Config configures a Controller. Cache and Modules are required.
type Config struct {
	Cache *cache.Set
	// Modules is the modules' bucket (registry.OpenBucket).
	Modules *blobs.Store
	// Timing defaults field by field to DefaultTiming.
	Timing Timing
	// Logger receives each deletion and failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller deletes from the Object Store the modules no Plugin
// references, per Plan.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	plugins *cache.Informer[*skiffv1alpha1.Plugin]
	loop    *reconcile.Controller
}

// New registers the controller's handlers on cfg.Cache (before it runs)
// and returns it. It panics without Cache or Modules, a wiring bug.
func New(cfg Config) *Controller {
	if cfg.Cache == nil || cfg.Modules == nil {
		panic("bug: modulegc.New: Cache and Modules are required")
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Controller{cfg: cfg, log: cfg.Logger, plugins: cache.Of[*skiffv1alpha1.Plugin](cfg.Cache)}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Reconcile: c.sync, Logger: cfg.Logger})
	c.plugins.AddHandlers(client.Handlers[*skiffv1alpha1.Plugin]{
		OnUpdate: func(old, cur *skiffv1alpha1.Plugin) {
			if dropsReferences(old, cur) {
				c.loop.Enqueue(key)
			}
		},
		OnDelete: func(*skiffv1alpha1.Plugin) { c.loop.Enqueue(key) },
	})
	return c
}

// Run looks at once, then as the package doc says, until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.loop.Enqueue(key)
	return c.loop.Run(ctx)
}

// sync is one look: list the bucket, plan, delete.
func (c *Controller) sync(ctx context.Context, _ string) (reconcile.Result, error) {
	now := c.cfg.Now()
	stored, err := registry.ListModules(ctx, c.cfg.Modules)
	if err != nil {
		return reconcile.Result{}, err
	}
	next, err := collect(stored, func() []*skiffv1alpha1.Plugin { return c.plugins.List("") }, now, c.cfg.Timing,
		func(d string, cutoff time.Time) error {
			deleted, err := registry.DeleteModule(ctx, c.cfg.Modules, d, cutoff)
			if err != nil {
				return fmt.Errorf("module %s: %w", d, err)
			}
			if deleted {
				c.log.Info("deleted plugin module no Plugin references", "digest", d)
			}
			return nil
		})
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: next}, nil
}

// collect deletes the copies of stored that Plan names, each unless a
// Plugin names it by then (plugins is read again before every deletion: a
// push may have named it since the plan), and returns when to look next.
func collect(stored []registry.Stored, plugins func() []*skiffv1alpha1.Plugin, now time.Time, t Timing,
	del func(digest string, cutoff time.Time) error) (time.Duration, error) {
	remove, wait := Plan(stored, plugins(), now, t.Grace)
	cutoff := now.Add(-t.Grace)
	next := t.Interval
	for _, d := range remove {
		if Referenced(plugins())[d] {
			continue
		}
		if err := del(d, cutoff); err != nil {
			return next, err
		}
	}
	if wait > 0 {
		next = min(next, wait)
	}
	return next, nil
}
