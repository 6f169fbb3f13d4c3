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
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/expect"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/api"
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
	jobAPI  *client.Typed[*batchv1.Job]
	podAPI  *client.Typed[*corev1.Pod]
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
	c.pods.AddHandlers(client.Handlers[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) {
			if j := c.owning(p); j != nil {
				key := reconcile.Key(j.Namespace, j.Name)
				if p.DeletionTimestamp != nil {
					c.exp.DeletionObserved(key, p.UID)
				} else {
					c.exp.CreationObserved(key)
				}
				c.loop.Enqueue(key)
			}
			c.checkOrphan(p)
		},
		OnUpdate: func(old, cur *corev1.Pod) {
			if j := c.owning(cur); j != nil {
				key := reconcile.Key(j.Namespace, j.Name)
				if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
					c.exp.DeletionObserved(key, cur.UID)
				}
				c.loop.Enqueue(key)
			}
			c.checkOrphan(cur)
		},
		OnDelete: func(p *corev1.Pod) {
			if j := c.owning(p); j != nil {
				key := reconcile.Key(j.Namespace, j.Name)
				c.exp.DeletionObserved(key, p.UID)
				c.loop.Enqueue(key)
			}
		},
	})
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

func (c *Controller) owning(p *corev1.Pod) *batchv1.Job {
	ref := owner.ControllerOf(p)
	if ref == nil || ref.Kind != jobKind.Kind || ref.APIVersion != jobKind.GroupVersion().String() {
		return nil
	}
	j, ok := c.jobs.Get(p.Namespace, ref.Name)
	if !ok || j.UID != ref.UID {
		return nil
	}
	return j
}

// checkOrphan queues a tracked pod whose Job is not in the cache: if the
// Job is really gone, nothing else would ever remove its finalizer.
func (c *Controller) checkOrphan(p *corev1.Pod) {
	if hasFinalizer(p) && c.owning(p) == nil {
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
	owned, err := c.claim(ctx, j, sel)
	if err != nil {
		return reconcile.Result{}, err
	}
	c.mu.Lock()
	b := c.backoffs[j.UID]
	c.mu.Unlock()
	now := c.cfg.Now()
	plan := Decide(Input{Job: j, Pods: owned, Backoff: b, Timing: c.cfg.Timing, Now: now, Hold: !satisfied})
	for _, e := range plan.Events {
		if e.Type == corev1.EventTypeWarning {
			c.ev.Warning(j, e.Reason, "%s", e.Message)
		} else {
			c.ev.Normal(j, e.Reason, "%s", e.Message)
		}
	}
	if plan.Status != nil {
		up := j.DeepCopy()
		up.Status = *plan.Status
		out, err := c.jobAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			return reconcile.Result{}, ignoreNotFound(err)
		}
		if rev, perr := api.ParseRevision(out.ResourceVersion); perr == nil {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_ = c.jobs.WaitForRevision(wctx, rev)
			cancel()
		}
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
	errs = append(errs, c.deletePods(ctx, key, j, plan.Delete), c.createPods(ctx, key, j, plan.Create))
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

// claim adopts matching orphan pods and releases those that stopped
// matching; it returns the pods j controls.
func (c *Controller) claim(ctx context.Context, j *batchv1.Job, sel labels.Selector) ([]*corev1.Pod, error) {
	mine := c.pods.ByIndex(cache.ByController, string(j.UID))
	cl := owner.Claim(j, sel, append(mine, c.pods.ByIndex(cache.ByController, cache.OrphanKey(j.Namespace))...))
	owned := cl.Owned
	if len(cl.Adopt) > 0 {
		fresh, err := c.jobAPI.Get(ctx, j.Namespace, j.Name)
		if err != nil || fresh.UID != j.UID || fresh.DeletionTimestamp != nil {
			cl.Adopt = nil
		}
	}
	ref := owner.NewControllerRef(j, jobKind)
	var errs []error
	for _, p := range cl.Adopt {
		up := p.DeepCopy()
		up.OwnerReferences = owner.WithControllerRef(p.OwnerReferences, ref)
		out, err := c.podAPI.Update(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			errs = append(errs, ignoreNotFound(err))
			continue
		}
		owned = append(owned, out)
	}
	for _, p := range cl.Release {
		up := p.DeepCopy()
		up.OwnerReferences = owner.WithoutOwner(p.OwnerReferences, j.UID)
		if _, err := c.podAPI.Update(ctx, up, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, ignoreNotFound(err))
		}
	}
	return owned, errors.Join(errs...)
}

func (c *Controller) deletePods(ctx context.Context, key string, j *batchv1.Job, ps []*corev1.Pod) error {
	if len(ps) == 0 {
		return nil
	}
	uids := make([]types.UID, len(ps))
	for i, p := range ps {
		uids[i] = p.UID
	}
	c.exp.ExpectDeletions(key, uids)
	var errs []error
	for _, p := range ps {
		_, _, err := c.podAPI.Delete(ctx, p.Namespace, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		switch {
		case err == nil:
			c.ev.Normal(j, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		case apierrors.IsNotFound(err):
			c.exp.DeletionObserved(key, p.UID)
		default:
			c.exp.DeletionObserved(key, p.UID)
			c.ev.Warning(j, "FailedDelete", "Error deleting: %v", err)
			errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) createPods(ctx context.Context, key string, j *batchv1.Job, n int) error {
	if n == 0 {
		return nil
	}
	c.exp.ExpectCreations(key, n)
	var (
		mu   sync.Mutex
		ok   int
		errs []error
	)
	// Slow start: batches of 1, 2, 4, ... stopping at the first failure.
	for batch := 1; ok < n; batch *= 2 {
		size := min(batch, n-ok)
		var wg sync.WaitGroup
		failed := false
		for range size {
			wg.Go(func() {
				out, err := c.podAPI.Create(ctx, PodFromTemplate(j), metav1.CreateOptions{})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = true
					errs = append(errs, err)
					c.ev.Warning(j, "FailedCreate", "Error creating: %v", err)
					return
				}
				ok++
				c.ev.Normal(j, "SuccessfulCreate", "Created pod: %s", out.Name)
			})
		}
		wg.Wait()
		if failed {
			break
		}
	}
	for range n - ok {
		c.exp.CreationObserved(key)
	}
	if len(errs) > 0 {
		return fmt.Errorf("create pods: %w", errs[0])
	}
	return nil
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
