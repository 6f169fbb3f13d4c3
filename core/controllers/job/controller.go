package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/dependents"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/expect"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/podcontrol"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name, also its events' source.
const Name = "job-controller"

// managedBy is the spec.managedBy value of Jobs this controller runs (the
// default when unset).
const managedBy = "kubernetes.io/job-controller"

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records what the controller does; nil records nothing.
	Events *events.Recorder
	// Workers is how many Jobs are synced at once (default 5).
	Workers int
	// Timing is the back-off before failed pods are replaced (default
	// DefaultTiming).
	Timing Timing
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller is the Job controller's shell around Decide.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	jobs    *cache.Informer[*batchv1.Job]
	pods    *cache.Informer[*corev1.Pod]
	owners  dependents.Owners[*batchv1.Job]
	claims  owner.Claimer[*batchv1.Job, *corev1.Pod]
	jobAPI  *client.Typed[*batchv1.Job]
	podAPI  *client.Typed[*corev1.Pod]
	podCtl  podcontrol.Control
	exp     *expect.Expectations
	loop    *reconcile.Controller // Job keys
	orphans *reconcile.Controller // keys of pods whose Job is gone, to untrack
	ev      *events.Recorder

	mu       sync.Mutex
	backoffs map[types.UID]Backoff
}

// New registers the controller's handlers on cfg.Cache (before it runs)
// and returns it.
func New(cfg Config) *Controller {
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = DefaultTiming
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Controller{cfg: cfg, log: cfg.Logger.With("controller", Name),
		jobs: cache.Of[*batchv1.Job](cfg.Cache), pods: cache.Of[*corev1.Pod](cfg.Cache),
		jobAPI: client.For[*batchv1.Job](cfg.Cache.Client()), podAPI: client.For[*corev1.Pod](cfg.Cache.Client()),
		exp: expect.New(0, cfg.Now), ev: cfg.Events.Named(Name), backoffs: map[types.UID]Backoff{}}
	c.owners = dependents.Owners[*batchv1.Job]{Cache: c.jobs, Kind: jobKind,
		Selector: func(j *batchv1.Job) *metav1.LabelSelector { return j.Spec.Selector }}
	c.claims = owner.Claimer[*batchv1.Job, *corev1.Pod]{Kind: jobKind, Owners: c.jobAPI, Dependents: c.podAPI}
	c.podCtl = podcontrol.Control{Pods: c.podAPI, Exp: c.exp, Events: c.ev}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	c.orphans = reconcile.New(reconcile.Config{Name: Name + "-orphans", Workers: 2, Reconcile: c.untrackOrphan, Logger: cfg.Logger})
	cache.AddControllerIndex(c.pods)
	c.jobs.AddHandlers(client.Handlers[*batchv1.Job]{
		OnAdd:    c.enqueue,
		OnUpdate: func(_, cur *batchv1.Job) { c.enqueue(cur) },
		OnDelete: func(j *batchv1.Job) {
			c.exp.Forget(reconcile.Key(j.Namespace, j.Name))
			c.mu.Lock()
			delete(c.backoffs, j.UID)
			c.mu.Unlock()
			for _, p := range c.pods.ByIndex(cache.ByController, string(j.UID)) {
				c.orphans.Enqueue(reconcile.Key(p.Namespace, p.Name))
			}
		},
	})
	c.pods.AddHandlers(dependents.Expecting(c.owners, c.exp, c.loop.Enqueue, func(_, cur *corev1.Pod) { c.checkOrphan(cur) }))
	return c
}

// Run runs the reconcile loops until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.loop.Run(ctx) })
	wg.Go(func() { _ = c.orphans.Run(ctx) })
	wg.Wait()
	return nil
}

func (c *Controller) enqueue(j *batchv1.Job) { c.loop.Enqueue(reconcile.Key(j.Namespace, j.Name)) }

// checkOrphan queues a tracked pod whose Job is not in the cache: if the
// Job is really gone, nothing else would ever remove its finalizer.
func (c *Controller) checkOrphan(p *corev1.Pod) {
	if _, owned := c.owners.Controller(p); hasFinalizer(p) && !owned {
		c.orphans.Enqueue(reconcile.Key(p.Namespace, p.Name))
	}
}

// untrackOrphan removes the tracking finalizer of a pod whose Job is gone
// (read from the API server to be sure).
func (c *Controller) untrackOrphan(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	p, ok := c.pods.Get(ns, name)
	if !ok || !hasFinalizer(p) {
		return reconcile.Result{}, nil
	}
	if ref := owner.ControllerOf(p); ref != nil && ref.Kind == jobKind.Kind {
		j, err := c.jobAPI.Get(ctx, ns, ref.Name)
		switch {
		case err == nil && j.UID == ref.UID:
			return reconcile.Result{}, nil // the Job exists: it counts the pod
		case err != nil && !apierrors.IsNotFound(err):
			return reconcile.Result{}, err
		}
	}
	return reconcile.Result{}, c.untrack(ctx, p)
}

// untrack removes the tracking finalizer from p.
func (c *Controller) untrack(ctx context.Context, p *corev1.Pod) error {
	for attempt := 0; ; attempt++ {
		up := p.DeepCopy()
		up.Finalizers = slices.DeleteFunc(up.Finalizers, func(f string) bool { return f == TrackingFinalizer })
		_, err := c.podAPI.Update(ctx, up, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && attempt < 3 {
			fresh, gerr := c.podAPI.Get(ctx, p.Namespace, p.Name)
			if gerr != nil {
				return ignoreNotFound(gerr)
			}
			if fresh.UID != p.UID || !hasFinalizer(fresh) {
				return nil
			}
			p = fresh
			continue
		}
		return ignoreNotFound(err)
	}
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Controller) sync(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	j, ok := c.jobs.Get(ns, name)
	if !ok {
		c.exp.Forget(key)
		return reconcile.Result{}, nil
	}
	if j.Spec.ManagedBy != nil && *j.Spec.ManagedBy != managedBy {
		return reconcile.Result{}, nil // another controller's
	}
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
		c.ev.Warning(j, "UnsupportedCompletionMode", "Indexed Jobs are not supported yet")
		return reconcile.Result{}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil || sel.Empty() {
		return reconcile.Result{}, nil
	}
	satisfied := c.exp.Satisfied(key)
	owned, err := c.claims.Claim(ctx, j, sel, cache.Candidates(c.pods, j))
	if err != nil {
		return reconcile.Result{}, err
	}
	c.mu.Lock()
	b := c.backoffs[j.UID]
	c.mu.Unlock()
	now := c.cfg.Now()
	plan := Decide(Input{Job: j, Pods: owned, Backoff: b, Timing: c.cfg.Timing, Now: now, Hold: !satisfied})
	for _, e := range plan.Events {
		c.ev.Event(j, e.Type, e.Reason, e.Message)
	}
	if plan.Status != nil {
		up := j.DeepCopy()
		up.Status = *plan.Status
		out, err := c.jobAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			return reconcile.Result{}, ignoreNotFound(err)
		}
		c.jobs.WaitForWrite(ctx, out)
		j = out
	}
	// The finished pods are recorded as uncounted: their finalizer may go.
	var errs []error
	for _, p := range plan.Untrack {
		if err := c.untrack(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("untrack pod %s: %w", p.Name, err))
		}
	}
	c.mu.Lock()
	c.backoffs[j.UID] = b.Next(&plan, now)
	c.mu.Unlock()
	errs = append(errs, c.podCtl.Delete(ctx, key, j, plan.Delete),
		c.podCtl.Create(ctx, key, j, plan.Create, func(int) *corev1.Pod { return PodFromTemplate(j) }))
	if plan.DeleteJob {
		fg := metav1.DeletePropagationForeground
		rv := j.ResourceVersion
		_, _, err := c.jobAPI.Delete(ctx, ns, name, metav1.DeleteOptions{PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete finished job: %w", err))
		}
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, errors.Join(errs...)
}

// PodFromTemplate is a pod of j: its template, named after it, controlled
// and tracked by it.
func PodFromTemplate(j *batchv1.Job) *corev1.Pod {
	t := j.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    j.Name + "-",
			Namespace:       j.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      append(t.Finalizers, TrackingFinalizer),
			OwnerReferences: []metav1.OwnerReference{owner.NewControllerRef(j, jobKind)},
		},
		Spec: t.Spec,
	}
}
