package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/cronjob"
	"github.com/skiffhq/skiff/core/controllers/daemonset"
	"github.com/skiffhq/skiff/core/controllers/deployment"
	"github.com/skiffhq/skiff/core/controllers/endpoints"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/eventttl"
	"github.com/skiffhq/skiff/core/controllers/gc"
	"github.com/skiffhq/skiff/core/controllers/job"
	"github.com/skiffhq/skiff/core/controllers/leader"
	"github.com/skiffhq/skiff/core/controllers/modulegc"
	"github.com/skiffhq/skiff/core/controllers/nodelifecycle"
	"github.com/skiffhq/skiff/core/controllers/replicaset"
	"github.com/skiffhq/skiff/core/controllers/statefulset"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	"github.com/skiffhq/skiff/sdk/client"
)

// The controllers a Manager can run, by name.
const (
	ReplicaSet       = "replicaset"
	Deployment       = "deployment"
	GarbageCollector = "garbagecollector"
	Endpoints        = "endpoints"
	Job              = "job"
	NodeLifecycle    = "nodelifecycle"
	DaemonSet        = "daemonset"
	StatefulSet      = "statefulset"
	CronJob          = "cronjob"
	// ModuleGC deletes the plugin modules no Plugin references; it needs
	// Config.PluginModules.
	ModuleGC = "modulegc"
	// EventTTL deletes Events a TTL after their last activity.
	EventTTL = "eventttl"
)

// All lists every controller, the default set.
var All = []string{ReplicaSet, Deployment, GarbageCollector, Endpoints, Job, NodeLifecycle, DaemonSet, StatefulSet, CronJob, ModuleGC, EventTTL}

// LeaseName is the default name of the election's Lease in kube-system.
const LeaseName = "skiff-controller-manager"

// Config configures a Manager. Client is required; the zero value of the
// rest runs every controller with Kubernetes-like defaults.
type Config struct {
	// Client reaches the API server.
	Client *client.Client
	// Logger receives the manager's and the controllers' log; nil
	// discards it.
	Logger *slog.Logger
	// Identity names this replica in the lease and in events (default:
	// the host name and a random suffix).
	Identity string
	// Controllers names the controllers to run (default All).
	Controllers []string
	// Workers is each controller's number of workers (default: the
	// controller's own, 5 or 10).
	Workers int
	// LeaseNamespace and LeaseName locate the election's Lease (default
	// kube-system/skiff-controller-manager). Managers that run different
	// controller sets must use different leases.
	LeaseNamespace, LeaseName string
	// Election is the election's timing (default leader.DefaultTiming).
	Election leader.Timing
	// JobBackoff is the back-off before a Job's failed pods are replaced
	// (default job.DefaultTiming).
	JobBackoff job.Timing
	// NodeLifecycle is how long a node may miss heartbeats before it is
	// lost, and how long its pods then stay (default
	// nodelifecycle.DefaultTiming: 8 s and 2 s).
	NodeLifecycle nodelifecycle.Timing
	// EventTTL is how long Events live after their last activity, and how
	// often expired ones are looked for (default eventttl.DefaultTiming:
	// 1 h and 10 s).
	EventTTL eventttl.Timing
	// Now is the controllers' clock (default time.Now); tests shift it
	// to bring CronJob schedule times near, or Events' expiry. ModuleGC
	// keeps time.Now.
	Now func() time.Time
	// PluginModules is the uploaded plugin modules' bucket
	// (registry.OpenBucket), which ModuleGC collects. RunOn opens it when
	// nil. Without it ModuleGC is left out of the default set, and naming
	// it in Controllers is an error.
	PluginModules *blobs.Store
	// ModuleGC is ModuleGC's grace period and interval (default
	// modulegc.DefaultTiming).
	ModuleGC modulegc.Timing
}

// Manager runs the controllers while it leads.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	elector *leader.Elector
}

// New checks cfg and returns a Manager. It starts nothing.
func New(cfg Config) (*Manager, error) {
	if cfg.Client == nil {
		return nil, errors.New("controllers: Config.Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.Identity = host + "_" + hex.EncodeToString(b[:])
	}
	if cfg.Controllers == nil {
		cfg.Controllers = All
		if cfg.PluginModules == nil {
			cfg.Controllers = slices.DeleteFunc(slices.Clone(All), func(n string) bool { return n == ModuleGC })
		}
	}
	for _, name := range cfg.Controllers {
		if !slices.Contains(All, name) {
			return nil, fmt.Errorf("controllers: unknown controller %q (known: %v)", name, All)
		}
		if name == ModuleGC && cfg.PluginModules == nil {
			return nil, fmt.Errorf("controllers: %s needs Config.PluginModules", ModuleGC)
		}
	}
	if cfg.EventTTL.TTL < 0 || cfg.EventTTL.Interval < 0 {
		return nil, fmt.Errorf("controllers: EventTTL %+v has a negative duration", cfg.EventTTL)
	}
	if cfg.LeaseName == "" {
		cfg.LeaseName = LeaseName
	}
	el, err := leader.New(leader.Config{Client: cfg.Client, Namespace: cfg.LeaseNamespace, Name: cfg.LeaseName,
		Identity: cfg.Identity, Timing: cfg.Election, Logger: cfg.Logger.With("component", "leader-election")})
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("component", "controller-manager", "identity", cfg.Identity), elector: el}, nil
}

// Identity is the replica's identity in the lease.
func (m *Manager) Identity() string { return m.cfg.Identity }

// Leading reports whether this replica leads (its controllers run or are
// starting).
func (m *Manager) Leading() bool { return m.elector.IsLeader() }

// Run campaigns for the lease and runs the controllers while it holds it,
// until ctx ends; it returns nil then, or the error of a controller that
// failed.
func (m *Manager) Run(ctx context.Context) error {
	m.log.Info("controller manager starting", "controllers", m.cfg.Controllers)
	return m.elector.Run(ctx, m.term)
}

// runner is what a controller is to the manager.
type runner interface {
	Run(ctx context.Context) error
}

// term is one term as leader: a fresh cache and fresh controllers.
func (m *Manager) term(ctx context.Context) error {
	start := time.Now()
	set := cache.New(m.cfg.Client)
	rec := events.New(events.Config{Client: m.cfg.Client, Host: m.cfg.Identity, Logger: m.log})
	var ctls []runner
	for _, name := range m.cfg.Controllers {
		log := m.cfg.Logger.With("component", name)
		switch name {
		case ReplicaSet:
			ctls = append(ctls, replicaset.New(replicaset.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Logger: log}))
		case Deployment:
			ctls = append(ctls, deployment.New(deployment.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Logger: log}))
		case GarbageCollector:
			ctls = append(ctls, gc.New(gc.Config{Cache: set, Workers: m.cfg.Workers, Logger: log}))
		case Endpoints:
			ctls = append(ctls, endpoints.New(endpoints.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Logger: log}))
		case Job:
			ctls = append(ctls, job.New(job.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Timing: m.cfg.JobBackoff, Logger: log}))
		case NodeLifecycle:
			ctls = append(ctls, nodelifecycle.New(nodelifecycle.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Timing: m.cfg.NodeLifecycle, Logger: log}))
		case DaemonSet:
			ctls = append(ctls, daemonset.New(daemonset.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Logger: log, Now: m.cfg.Now}))
		case StatefulSet:
			ctls = append(ctls, statefulset.New(statefulset.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Logger: log, Now: m.cfg.Now}))
		case CronJob:
			ctls = append(ctls, cronjob.New(cronjob.Config{Cache: set, Events: rec, Workers: m.cfg.Workers, Logger: log, Now: m.cfg.Now}))
		case ModuleGC:
			ctls = append(ctls, modulegc.New(modulegc.Config{Cache: set, Modules: m.cfg.PluginModules, Timing: m.cfg.ModuleGC, Logger: log}))
		case EventTTL:
			ctls = append(ctls, eventttl.New(eventttl.Config{Client: m.cfg.Client, Timing: m.cfg.EventTTL, Logger: log, Now: m.cfg.Now}))
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = set.Run(ctx) })
	wg.Go(func() { _ = rec.Run(ctx) })
	if err := set.WaitForSync(ctx); err != nil {
		return nil // the term ended before the cache filled
	}
	m.log.Info("caches synced; controllers running", "after", time.Since(start).Round(time.Millisecond))
	errs := make(chan error, len(ctls))
	for _, c := range ctls {
		wg.Go(func() { errs <- c.Run(ctx) })
	}
	<-ctx.Done()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	m.log.Info("controllers stopped")
	return nil
}

// RunOn runs a Manager on a NATS connection until ctx ends: it is the
// Run of a core/controlplane.Component. cfg.Client and cfg.PluginModules,
// if nil, are made on conn.
func RunOn(ctx context.Context, conn *bus.Conn, cfg Config) error {
	if cfg.Client == nil {
		c, err := client.New(ctx, conn)
		if err != nil {
			return fmt.Errorf("controllers: %w", err)
		}
		cfg.Client = c
	}
	if cfg.PluginModules == nil {
		b, err := registry.OpenBucket(ctx, conn)
		if err != nil {
			return fmt.Errorf("controllers: %w", err)
		}
		cfg.PluginModules = b
	}
	m, err := New(cfg)
	if err != nil {
		return err
	}
	return m.Run(ctx)
}
