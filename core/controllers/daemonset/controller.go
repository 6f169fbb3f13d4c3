package daemonset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/expect"
	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name, also its events' source.
const Name = "daemonset-controller"

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records what the controller does; nil records nothing.
	Events *events.Recorder
	// Workers is how many DaemonSets are synced at once (default 2).
	Workers int
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller is the DaemonSet controller's shell around Decide.
type Controller struct {
	cfg    Config
	dss    *cache.Informer[*appsv1.DaemonSet]
	nodes  *cache.Informer[*corev1.Node]
	pods   *cache.Informer[*corev1.Pod]
	hist   *history.Store
	dsAPI  *client.Typed[*appsv1.DaemonSet]
	podAPI *client.Typed[*corev1.Pod]
	exp    *expect.Expectations
	loop   *reconcile.Controller
	ev     *events.Recorder

	mu       sync.Mutex
	backoffs map[types.UID]map[string]Backoff // per DaemonSet, per node
}

// New registers the controller's handlers on cfg.Cache (before it runs)
// and returns it.
func New(cfg Config) *Controller {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Controller{cfg: cfg,
		dss: cache.Of[*appsv1.DaemonSet](cfg.Cache), nodes: cache.Of[*corev1.Node](cfg.Cache),
		pods: cache.Of[*corev1.Pod](cfg.Cache), hist: history.NewStore(cfg.Cache),
		dsAPI: client.For[*appsv1.DaemonSet](cfg.Cache.Client()), podAPI: client.For[*corev1.Pod](cfg.Cache.Client()),
		exp: expect.New(0, cfg.Now), ev: cfg.Events.Named(Name), backoffs: map[types.UID]map[string]Backoff{}}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	cache.AddControllerIndex(c.pods)
	c.dss.AddHandlers(client.Handlers[*appsv1.DaemonSet]{
		OnAdd:    c.enqueue,
		OnUpdate: func(_, cur *appsv1.DaemonSet) { c.enqueue(cur) },
		OnDelete: func(ds *appsv1.DaemonSet) {
			c.exp.Forget(reconcile.Key(ds.Namespace, ds.Name))
			c.mu.Lock()
			delete(c.backoffs, ds.UID)
			c.mu.Unlock()
		},
	})
	c.nodes.AddHandlers(client.Handlers[*corev1.Node]{
		OnAdd: func(*corev1.Node) { c.enqueueAll() },
		OnUpdate: func(old, cur *corev1.Node) {
			// Heartbeats change conditions only; what ShouldRun reads is
			// labels, taints and the name.
			if !labels.Equals(old.Labels, cur.Labels) || !apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) {
				c.enqueueAll()
			}
		},
		OnDelete: func(*corev1.Node) { c.enqueueAll() },
	})
	c.pods.AddHandlers(client.Handlers[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) {
			if ds := c.owning(p); ds != nil {
				key := reconcile.Key(ds.Namespace, ds.Name)
				if p.DeletionTimestamp != nil {
					c.exp.DeletionObserved(key, p.UID)
				} else {
					c.exp.CreationObserved(key)
				}
				c.loop.Enqueue(key)
			} else if owner.ControllerOf(p) == nil {
				c.enqueueMatching(p)
			}
		},
		OnUpdate: func(old, cur *corev1.Pod) {
			if ds := c.owning(cur); ds != nil {
				key := reconcile.Key(ds.Namespace, ds.Name)
				if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
					c.exp.DeletionObserved(key, cur.UID)
				}
				c.loop.Enqueue(key)
			} else if owner.ControllerOf(cur) == nil {
				if ds := c.owning(old); ds != nil {
					c.enqueue(ds)
				}
				c.enqueueMatching(cur)
			}
		},
		OnDelete: func(p *corev1.Pod) {
			if ds := c.owning(p); ds != nil {
				key := reconcile.Key(ds.Namespace, ds.Name)
				c.exp.DeletionObserved(key, p.UID)
				c.loop.Enqueue(key)
			}
		},
	})
	return c
}

// Run runs the reconcile loop until ctx ends.
func (c *Controller) Run(ctx context.Context) error { return c.loop.Run(ctx) }

func (c *Controller) enqueue(ds *appsv1.DaemonSet) {
	c.loop.Enqueue(reconcile.Key(ds.Namespace, ds.Name))
}

func (c *Controller) enqueueAll() {
	for _, ds := range c.dss.List("") {
		c.enqueue(ds)
	}
}

func (c *Controller) enqueueMatching(p *corev1.Pod) {
	for _, ds := range c.dss.List(p.Namespace) {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(p.Labels)) {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) owning(p *corev1.Pod) *appsv1.DaemonSet {
	ref := owner.ControllerOf(p)
	if ref == nil || ref.Kind != dsKind.Kind || ref.APIVersion != dsKind.GroupVersion().String() {
		return nil
	}
	ds, ok := c.dss.Get(p.Namespace, ref.Name)
	if !ok || ds.UID != ref.UID {
		return nil
	}
	return ds
}

func (c *Controller) sync(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	ds, ok := c.dss.Get(ns, name)
	if !ok {
		c.exp.Forget(key)
		return reconcile.Result{}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		return reconcile.Result{}, nil // validation forbids it
	}
	satisfied := c.exp.Satisfied(key)
	owned, err := c.claim(ctx, ds, sel)
	if err != nil {
		return reconcile.Result{}, err
	}
	inUse := map[string]bool{}
	for _, p := range owned {
		inUse[p.Labels[history.HashLabel]] = true
	}
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	cur, collisions, err := c.hist.Sync(ctx, history.Input{Owner: ds, Kind: dsKind, Template: &ds.Spec.Template,
		CollisionCount: ds.Status.CollisionCount, Limit: limit, InUse: inUse})
	if cur == nil {
		return reconcile.Result{}, err
	}
	histErr := err
	view := ds
	if !ptrEqual(collisions, ds.Status.CollisionCount) {
		view = ds.DeepCopy()
		view.Status.CollisionCount = collisions
	}
	now := c.cfg.Now()
	c.mu.Lock()
	backoff := maps.Clone(c.backoffs[ds.UID])
	c.mu.Unlock()
	plan := Decide(Input{DaemonSet: view, Nodes: c.nodes.List(""), Pods: owned, Hash: cur.Labels[history.HashLabel],
		Hold: !satisfied, Backoff: backoff, Now: now})
	if len(plan.BackedOff) > 0 {
		c.mu.Lock()
		m := c.backoffs[ds.UID]
		if m == nil {
			m = map[string]Backoff{}
			c.backoffs[ds.UID] = m
		}
		for _, n := range plan.BackedOff {
			m[n] = m[n].Next(now)
		}
		c.mu.Unlock()
	}
	for _, e := range plan.Events {
		if e.Type == corev1.EventTypeWarning {
			c.ev.Warning(ds, e.Reason, "%s", e.Message)
		} else {
			c.ev.Normal(ds, e.Reason, "%s", e.Message)
		}
	}
	errs := []error{histErr, c.deletePods(ctx, key, ds, plan.Delete), c.createPods(ctx, key, ds, cur.Labels[history.HashLabel], plan.Create)}
	if plan.Status != nil {
		up := view.DeepCopy()
		up.Status = *plan.Status
		out, err := c.dsAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("update status: %w", err))
		default:
			if rev, perr := api.ParseRevision(out.ResourceVersion); perr == nil {
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_ = c.dss.WaitForRevision(wctx, rev)
				cancel()
			}
		}
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, errors.Join(errs...)
}

// claim adopts matching orphans and releases pods that stopped matching.
func (c *Controller) claim(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) ([]*corev1.Pod, error) {
	candidates := append(c.pods.ByIndex(cache.ByController, string(ds.UID)), c.pods.ByIndex(cache.ByController, cache.OrphanKey(ds.Namespace))...)
	cl := owner.Claim(ds, sel, candidates)
	owned := cl.Owned
	if len(cl.Adopt) > 0 {
		fresh, err := c.dsAPI.Get(ctx, ds.Namespace, ds.Name)
		if err != nil || fresh.UID != ds.UID || fresh.DeletionTimestamp != nil {
			cl.Adopt = nil
		}
	}
	ref := owner.NewControllerRef(ds, dsKind)
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
		up.OwnerReferences = owner.WithoutOwner(p.OwnerReferences, ds.UID)
		if _, err := c.podAPI.Update(ctx, up, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, ignoreNotFound(err))
		}
	}
	return owned, errors.Join(errs...)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Controller) deletePods(ctx context.Context, key string, ds *appsv1.DaemonSet, ps []*corev1.Pod) error {
	if len(ps) == 0 {
		return nil
	}
	uids := make([]types.UID, len(ps))
	for i, p := range ps {
		uids[i] = p.UID
	}
	c.exp.ExpectDeletions(key, uids)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range ps {
		wg.Go(func() {
			_, _, err := c.podAPI.Delete(ctx, p.Namespace, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			switch {
			case err == nil:
				c.ev.Normal(ds, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			case apierrors.IsNotFound(err):
				c.exp.DeletionObserved(key, p.UID)
			default:
				c.exp.DeletionObserved(key, p.UID)
				c.ev.Warning(ds, "FailedDelete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("delete pod %s: %w", p.Name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// createPods creates a daemon pod for each node, in slow-start batches
// (1, 2, 4, ...) that stop at the first failure.
func (c *Controller) createPods(ctx context.Context, key string, ds *appsv1.DaemonSet, hash string, nodes []string) error {
	if len(nodes) == 0 {
		return nil
	}
	c.exp.ExpectCreations(key, len(nodes))
	done := 0
	var first error
	for batch := 1; done < len(nodes) && first == nil; batch *= 2 {
		part := nodes[done:min(done+batch, len(nodes))]
		errs := make([]error, len(part))
		var wg sync.WaitGroup
		for i, n := range part {
			wg.Go(func() {
				out, err := c.podAPI.Create(ctx, NewPod(ds, hash, n), metav1.CreateOptions{})
				if err != nil {
					c.ev.Warning(ds, "FailedCreate", "Error creating: %v", err)
					errs[i] = err
					return
				}
				c.ev.Normal(ds, "SuccessfulCreate", "Created pod: %s", out.Name)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				c.exp.CreationObserved(key)
				if first == nil {
					first = fmt.Errorf("create pod: %w", err)
				}
			}
		}
		done += len(part)
	}
	for range len(nodes) - done {
		c.exp.CreationObserved(key)
	}
	return first
}

// NewPod is the daemon pod of ds for node: its template, labelled with the
// revision hash, with the default DaemonSet tolerations, and pinned to the
// node by node affinity for the scheduler to bind.
func NewPod(ds *appsv1.DaemonSet, hash, node string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	lbls := maps.Clone(t.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[history.HashLabel] = hash
	prefix := ds.Name + "-"
	if len(apivalidation.NameIsDNSSubdomain(prefix, true)) != 0 {
		prefix = ds.Name
	}
	spec := t.Spec
	spec.Tolerations = DefaultTolerations(&t.Spec)
	spec.Affinity = PinToNode(t.Spec.Affinity, node)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: prefix, Namespace: ds.Namespace, Labels: lbls, Annotations: t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{owner.NewControllerRef(ds, dsKind)},
		},
		Spec: spec,
	}
}
