package cronjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name, also its events' source.
const Name = "cronjob-controller"

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records what the controller does; nil records nothing.
	Events *events.Recorder
	// Workers is how many CronJobs are synced at once (default 5).
	Workers int
	Logger  *slog.Logger
	// Now is the clock (default time.Now). Its location is the time zone
	// of CronJobs without spec.timeZone.
	Now func() time.Time
}

// Controller is the CronJob controller's shell around Decide.
type Controller struct {
	cfg    Config
	cjs    *cache.Informer[*batchv1.CronJob]
	jobs   *cache.Informer[*batchv1.Job]
	cjAPI  *client.Typed[*batchv1.CronJob]
	jobAPI *client.Typed[*batchv1.Job]
	loop   *reconcile.Controller
	ev     *events.Recorder
}

// New registers the controller's handlers on cfg.Cache (before it runs)
// and returns it.
func New(cfg Config) *Controller {
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Controller{cfg: cfg, cjs: cache.Of[*batchv1.CronJob](cfg.Cache), jobs: cache.Of[*batchv1.Job](cfg.Cache),
		cjAPI: client.For[*batchv1.CronJob](cfg.Cache.Client()), jobAPI: client.For[*batchv1.Job](cfg.Cache.Client()),
		ev: cfg.Events.Named(Name)}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	cache.AddControllerIndex(c.jobs)
	c.cjs.AddHandlers(client.Handlers[*batchv1.CronJob]{
		OnAdd:    c.enqueue,
		OnUpdate: func(_, cur *batchv1.CronJob) { c.enqueue(cur) },
	})
	jobChanged := func(j *batchv1.Job) {
		ref := owner.ControllerOf(j)
		if ref == nil || ref.Kind != cronJobKind.Kind || ref.APIVersion != cronJobKind.GroupVersion().String() {
			return
		}
		c.loop.Enqueue(reconcile.Key(j.Namespace, ref.Name))
	}
	c.jobs.AddHandlers(client.Handlers[*batchv1.Job]{
		OnAdd:    jobChanged,
		OnUpdate: func(_, cur *batchv1.Job) { jobChanged(cur) },
		OnDelete: jobChanged,
	})
	return c
}

// Run runs the reconcile loop until ctx ends.
func (c *Controller) Run(ctx context.Context) error { return c.loop.Run(ctx) }

func (c *Controller) enqueue(cj *batchv1.CronJob) {
	c.loop.Enqueue(reconcile.Key(cj.Namespace, cj.Name))
}

func (c *Controller) sync(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	cj, ok := c.cjs.Get(ns, name)
	if !ok {
		return reconcile.Result{}, nil
	}
	jobs := c.jobs.ByIndex(cache.ByController, string(cj.UID))
	// An active Job missing from the cache may only be late: ask.
	for _, ref := range cj.Status.Active {
		if _, ok := c.jobs.Get(ref.Namespace, ref.Name); ok {
			continue
		}
		j, err := c.jobAPI.Get(ctx, ref.Namespace, ref.Name)
		switch {
		case err == nil && j.UID == ref.UID:
			jobs = append(jobs, j)
		case err != nil && !apierrors.IsNotFound(err):
			return reconcile.Result{}, err
		}
	}
	plan := Decide(Input{CronJob: cj, Jobs: jobs, Now: c.cfg.Now()})
	for _, e := range plan.Events {
		c.ev.Event(cj, e.Type, e.Reason, e.Message)
	}
	var errs []error
	bg := metav1.DeletePropagationBackground
	for _, j := range plan.Delete {
		_, _, err := c.jobAPI.Delete(ctx, j.Namespace, j.Name, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &j.UID}})
		switch {
		case err == nil:
			c.ev.Normal(cj, "SuccessfulDelete", "Deleted job %v", j.Name)
		case apierrors.IsNotFound(err):
		default:
			c.ev.Warning(cj, "FailedDelete", "Deleted job: %v", err)
			errs = append(errs, fmt.Errorf("delete job %s: %w", j.Name, err))
		}
	}
	st := plan.Status
	if plan.Create != nil {
		out, err := c.jobAPI.Create(ctx, plan.Create, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.ev.Normal(cj, "SuccessfulCreate", "Created job %v", out.Name)
			st.Active = append(st.Active, JobRef(out))
		case apierrors.IsAlreadyExists(err):
			// The cache is behind: the next sync finds it.
			st = nil
		default:
			c.ev.Warning(cj, "FailedCreate", "Error creating job: %v", err)
			errs = append(errs, fmt.Errorf("create job: %w", err))
			st = nil // lastScheduleTime stays: the next try starts it
		}
	}
	if st != nil {
		up := cj.DeepCopy()
		up.Status = *st
		out, err := c.cjAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("update status: %w", err))
		default:
			c.cjs.WaitForWrite(ctx, out)
		}
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, errors.Join(errs...)
}
