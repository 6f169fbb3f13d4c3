package modulegc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

// DirConfig configures a Dir. Client and Dir are required.
type DirConfig struct {
	Client *client.Client
	// Dir is the module cache directory (registry.Modules.Dir).
	Dir string
	// Timing defaults field by field to DefaultTiming.
	Timing Timing
	// Logger receives each deletion and failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Dir deletes from one module cache directory the modules no Plugin
// references, per Plan. Every scheduler replica runs one on its own
// directory; it is not elected.
type Dir struct {
	cfg     DirConfig
	mods    *registry.Modules
	plugins *client.Informer[*skiffv1alpha1.Plugin]
	kick    chan struct{}
}

// NewDir checks cfg and returns a Dir. It starts nothing.
func NewDir(cfg DirConfig) (*Dir, error) {
	if cfg.Client == nil || cfg.Dir == "" {
		return nil, errors.New("modulegc: DirConfig.Client and Dir are required")
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Dir{cfg: cfg, mods: &registry.Modules{Dir: cfg.Dir}, kick: make(chan struct{}, 1)}
	poke := func() {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
	d.plugins = client.NewInformer(cfg.Client, "", client.Handlers[*skiffv1alpha1.Plugin]{
		OnUpdate: func(old, cur *skiffv1alpha1.Plugin) {
			if dropsReferences(old, cur) {
				poke()
			}
		},
		OnDelete: func(*skiffv1alpha1.Plugin) { poke() },
	})
	return d, nil
}

// Run watches Plugins and looks once they are listed, then as the
// package doc says, until ctx ends; it returns nil then. A look that
// fails is logged and tried again after Timing.Interval: a cache that
// cannot be cleaned only costs disk space.
func (d *Dir) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = d.plugins.Run(ctx) })
	if d.plugins.WaitForSync(ctx) != nil {
		return nil
	}
	for {
		next, err := d.look()
		if err != nil {
			d.cfg.Logger.Warn("module cache", "dir", d.cfg.Dir, "err", err)
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// look deletes what Plan says and returns when to look next.
func (d *Dir) look() (time.Duration, error) {
	cached, err := d.mods.Cached()
	if err != nil {
		return d.cfg.Timing.Interval, err
	}
	return collect(cached, d.plugins.List, d.cfg.Now(), d.cfg.Timing, func(dg string, cutoff time.Time) error {
		removed, err := d.mods.Uncache(dg, cutoff)
		if removed {
			d.cfg.Logger.Info("deleted cached plugin module no Plugin references", "dir", d.cfg.Dir, "digest", dg)
		}
		return err
	})
}

// ServeDir runs a Dir on a NATS connection until ctx ends: the Run of a
// core/controlplane.Component. cfg.Client, if nil, is made on conn.
func ServeDir(ctx context.Context, conn *bus.Conn, cfg DirConfig) error {
	if cfg.Client == nil {
		c, err := client.New(ctx, conn)
		if err != nil {
			return fmt.Errorf("modulegc: %w", err)
		}
		cfg.Client = c
	}
	d, err := NewDir(cfg)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}
