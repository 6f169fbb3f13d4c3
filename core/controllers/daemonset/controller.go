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
	"github.com/skiffhq/skiff/core/controllers/dependents"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/expect"
	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/podcontrol"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
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
	owners dependents.Owners[*appsv1.DaemonSet]
	claims owner.Claimer[*appsv1.DaemonSet, *corev1.Pod]
	dsAPI  *client.Typed[*appsv1.DaemonSet]
	podCtl podcontrol.Control
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
	podAPI := client.For[*corev1.Pod](cfg.Cache.Client())
	c := &Controller{cfg: cfg,
		dss: cache.Of[*appsv1.DaemonSet](cfg.Cache), nodes: cache.Of[*corev1.Node](cfg.Cache),
		pods: cache.Of[*corev1.Pod](cfg.Cache), hist: history.NewStore(cfg.Cache),
		dsAPI: client.For[*appsv1.DaemonSet](cfg.Cache.Client()),
		exp:   expect.New(0, cfg.Now), ev: cfg.Events.Named(Name), backoffs: map[types.UID]map[string]Backoff{}}
	c.owners = dependents.Owners[*appsv1.DaemonSet]{Cache: c.dss, Kind: dsKind,
		Selector: func(ds *appsv1.DaemonSet) *metav1.LabelSelector { return ds.Spec.Selector }}
	c.claims = owner.Claimer[*appsv1.DaemonSet, *corev1.Pod]{Kind: dsKind, Owners: c.dsAPI, Dependents: podAPI}
	c.podCtl = podcontrol.Control{Pods: podAPI, Exp: c.exp, Events: c.ev}
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
	c.pods.AddHandlers(dependents.Expecting(c.owners, c.exp, c.loop.Enqueue, func(old, cur *corev1.Pod) {
		if owner.ControllerOf(cur) != nil {
			return // another kind's, or its DaemonSet is gone
		}
		if old != nil {
			if ds, ok := c.owners.Controller(old); ok {
				c.enqueue(ds) // released
			}
		}
		for _, ds := range c.owners.Matching(cur) {
			c.enqueue(ds)
		}
	}))
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
	owned, err := c.claims.Claim(ctx, ds, sel, cache.Candidates(c.pods, ds))
	if err != nil {
		return reconcile.Result{}, err
	}
	cur, collisions, err := c.hist.Sync(ctx, history.Input{Owner: ds, Kind: dsKind, Template: &ds.Spec.Template,
		CollisionCount: ds.Status.CollisionCount, Limit: history.Limit(ds.Spec.RevisionHistoryLimit), InUse: history.InUse(owned)})
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
		c.ev.Event(ds, e.Type, e.Reason, e.Message)
	}
	hash := cur.Labels[history.HashLabel]
	errs := []error{histErr, c.podCtl.Delete(ctx, key, ds, plan.Delete),
		c.podCtl.Create(ctx, key, ds, len(plan.Create), func(i int) *corev1.Pod { return NewPod(ds, hash, plan.Create[i]) })}
	if plan.Status != nil {
		up := view.DeepCopy()
		up.Status = *plan.Status
		out, err := c.dsAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("update status: %w", err))
		default:
			c.dss.WaitForWrite(ctx, out)
		}
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, errors.Join(errs...)
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
