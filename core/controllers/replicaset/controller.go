package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
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
const Name = "replicaset-controller"

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records what the controller does; nil records nothing.
	Events *events.Recorder
	// Workers is how many ReplicaSets are synced at once (default 5).
	Workers int
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller is the ReplicaSet controller's shell around Plan and Status.
type Controller struct {
	cfg    Config
	log    *slog.Logger
	rss    *cache.Informer[*appsv1.ReplicaSet]
	pods   *cache.Informer[*corev1.Pod]
	rsAPI  *client.Typed[*appsv1.ReplicaSet]
	podAPI *client.Typed[*corev1.Pod]
	exp    *expect.Expectations
	loop   *reconcile.Controller
	ev     *events.Recorder
}

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

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
	c := &Controller{cfg: cfg, log: cfg.Logger.With("controller", Name),
		rss: cache.Of[*appsv1.ReplicaSet](cfg.Cache), pods: cache.Of[*corev1.Pod](cfg.Cache),
		rsAPI: client.For[*appsv1.ReplicaSet](cfg.Cache.Client()), podAPI: client.For[*corev1.Pod](cfg.Cache.Client()),
		exp: expect.New(0, cfg.Now), ev: cfg.Events.Named(Name)}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	cache.AddControllerIndex(c.pods)
	c.rss.AddHandlers(client.Handlers[*appsv1.ReplicaSet]{
		OnAdd:    c.enqueue,
		OnUpdate: func(_, cur *appsv1.ReplicaSet) { c.enqueue(cur) },
		OnDelete: func(rs *appsv1.ReplicaSet) {
			c.exp.Forget(reconcile.Key(rs.Namespace, rs.Name))
			c.enqueue(rs)
		},
	})
	c.pods.AddHandlers(client.Handlers[*corev1.Pod]{OnAdd: c.podAdded, OnUpdate: c.podUpdated, OnDelete: c.podDeleted})
	return c
}

// Run runs the reconcile loop until ctx ends.
func (c *Controller) Run(ctx context.Context) error { return c.loop.Run(ctx) }

func (c *Controller) enqueue(rs *appsv1.ReplicaSet) {
	c.loop.Enqueue(reconcile.Key(rs.Namespace, rs.Name))
}

// owningRS returns the ReplicaSet that controls p, if any is cached.
func (c *Controller) owningRS(p *corev1.Pod) *appsv1.ReplicaSet {
	ref := owner.ControllerOf(p)
	if ref == nil || ref.Kind != rsKind.Kind || ref.APIVersion != rsKind.GroupVersion().String() {
		return nil
	}
	rs, ok := c.rss.Get(p.Namespace, ref.Name)
	if !ok || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// enqueueMatching queues every ReplicaSet whose selector matches the
// orphan p, so that one of them adopts it.
func (c *Controller) enqueueMatching(p *corev1.Pod) {
	for _, rs := range c.rss.List(p.Namespace) {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labels.Set(p.Labels)) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) podAdded(p *corev1.Pod) {
	if p.DeletionTimestamp != nil {
		c.podDeleted(p) // seen for the first time already terminating
		return
	}
	if owner.ControllerOf(p) != nil {
		if rs := c.owningRS(p); rs != nil {
			key := reconcile.Key(rs.Namespace, rs.Name)
			c.exp.CreationObserved(key)
			c.loop.Enqueue(key)
		}
		return
	}
	c.enqueueMatching(p)
}

func (c *Controller) podUpdated(old, cur *corev1.Pod) {
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
		c.podDeleted(cur)
		if labelsChanged {
			c.podDeleted(old)
		}
		return
	}
	oldRef, curRef := owner.ControllerOf(old), owner.ControllerOf(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if rs := c.owningRS(old); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		if rs := c.owningRS(cur); rs != nil {
			c.enqueue(rs)
		}
		return
	}
	if labelsChanged || oldRef != nil {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) podDeleted(p *corev1.Pod) {
	rs := c.owningRS(p)
	if rs == nil {
		return
	}
	key := reconcile.Key(rs.Namespace, rs.Name)
	c.exp.DeletionObserved(key, p.UID)
	c.loop.Enqueue(key)
}

// sync is the reconcile of one ReplicaSet.
func (c *Controller) sync(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	rs, ok := c.rss.Get(ns, name)
	if !ok {
		c.exp.Forget(key)
		return reconcile.Result{}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || sel.Empty() {
		return reconcile.Result{}, nil // validation forbids it; nothing sensible to do
	}
	// Read the expectations before the cache: a pod event between the two
	// then errs on the side of waiting.
	satisfied := c.exp.Satisfied(key)
	candidates := append(c.pods.ByIndex(cache.ByController, string(rs.UID)), c.pods.ByIndex(cache.ByController, cache.OrphanKey(ns))...)
	owned, err := c.claim(ctx, rs, sel, candidates)
	if err != nil {
		return reconcile.Result{}, err
	}
	var failure *Failure
	var manageErr error
	if satisfied && rs.DeletionTimestamp == nil {
		if manageErr = c.manage(ctx, rs, owned); manageErr != nil {
			failure = &Failure{Message: manageErr.Error()}
		}
	}
	st, next := Status(rs, owned, c.cfg.Now(), failure)
	if !StatusEqual(&st, &rs.Status) {
		up := rs.DeepCopy()
		up.Status = st
		out, err := c.rsAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return reconcile.Result{}, nil
			}
			return reconcile.Result{}, errors.Join(manageErr, fmt.Errorf("update status: %w", err))
		}
		c.waitFor(ctx, out)
	}
	return reconcile.Result{RequeueAfter: next}, manageErr
}

// waitFor waits (briefly) until the ReplicaSet cache shows the write that
// returned out, so that the next sync of this key reads its own write.
func (c *Controller) waitFor(ctx context.Context, out *appsv1.ReplicaSet) {
	rev, err := api.ParseRevision(out.ResourceVersion)
	if err != nil || rev == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = c.rss.WaitForRevision(wctx, rev)
}

// claim adopts the matching orphans and releases the owned pods that no
// longer match, and returns the pods rs owns afterwards.
func (c *Controller) claim(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, candidates []*corev1.Pod) ([]*corev1.Pod, error) {
	cl := owner.Claim(rs, sel, candidates)
	owned := cl.Owned
	if len(cl.Adopt) > 0 {
		// Adopt only if rs is still the object the cache shows: a deleted
		// and re-created ReplicaSet of the same name must not take its
		// predecessor's pods.
		fresh, err := c.rsAPI.Get(ctx, rs.Namespace, rs.Name)
		switch {
		case apierrors.IsNotFound(err):
			cl.Adopt = nil
		case err != nil:
			return nil, fmt.Errorf("recheck before adoption: %w", err)
		case fresh.UID != rs.UID || fresh.DeletionTimestamp != nil:
			cl.Adopt = nil
		}
	}
	ref := owner.NewControllerRef(rs, rsKind)
	var errs []error
	for _, p := range cl.Adopt {
		up := p.DeepCopy()
		up.OwnerReferences = owner.WithControllerRef(p.OwnerReferences, ref)
		out, err := c.podAPI.Update(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("adopt pod %s: %w", p.Name, err))
			}
			continue
		}
		owned = append(owned, out)
	}
	for _, p := range cl.Release {
		up := p.DeepCopy()
		up.OwnerReferences = owner.WithoutOwner(p.OwnerReferences, rs.UID)
		if _, err := c.podAPI.Update(ctx, up, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("release pod %s: %w", p.Name, err))
		}
	}
	return owned, errors.Join(errs...)
}

// manage creates or deletes pods as Plan says.
func (c *Controller) manage(ctx context.Context, rs *appsv1.ReplicaSet, owned []*corev1.Pod) error {
	key := reconcile.Key(rs.Namespace, rs.Name)
	create, remove := Plan(rs, owned)
	if create > 0 {
		c.exp.ExpectCreations(key, create)
		ok, err := slowStart(create, func() error { return c.createPod(ctx, rs) })
		// Creations that failed or were not tried will not be observed.
		for range create - ok {
			c.exp.CreationObserved(key)
		}
		return err
	}
	if len(remove) == 0 {
		return nil
	}
	uids := make([]types.UID, len(remove))
	for i, p := range remove {
		uids[i] = p.UID
	}
	c.exp.ExpectDeletions(key, uids)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range remove {
		wg.Go(func() {
			_, _, err := c.podAPI.Delete(ctx, p.Namespace, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			switch {
			case err == nil:
				c.ev.Normal(rs, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			case apierrors.IsNotFound(err):
				c.exp.DeletionObserved(key, p.UID)
			default:
				c.exp.DeletionObserved(key, p.UID)
				c.ev.Warning(rs, "FailedDelete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createPod creates one pod from rs's template.
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	p := PodFromTemplate(rs)
	out, err := c.podAPI.Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		c.ev.Warning(rs, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("create pod: %w", err)
	}
	c.ev.Normal(rs, "SuccessfulCreate", "Created pod: %s", out.Name)
	return nil
}

// PodFromTemplate is the pod rs creates: its template, named after it,
// controlled by it.
func PodFromTemplate(rs *appsv1.ReplicaSet) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	prefix := rs.Name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = rs.Name
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{owner.NewControllerRef(rs, rsKind)},
		},
		Spec: t.Spec,
	}
}

// slowStart calls fn count times, in batches of 1, 2, 4, ... run at once,
// and stops after the first batch with a failure, so that a controller
// whose creates all fail (quota, a bad template) sends one request, not
// hundreds. It returns how many calls succeeded and the first error.
func slowStart(count int, fn func() error) (int, error) {
	done := 0
	for batch := 1; done < count; batch *= 2 {
		n := min(batch, count-done)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { errs <- fn() })
		}
		wg.Wait()
		close(errs)
		var first error
		for err := range errs {
			if err == nil {
				done++
			} else if first == nil {
				first = err
			}
		}
		if first != nil {
			return done, first
		}
	}
	return done, nil
}
