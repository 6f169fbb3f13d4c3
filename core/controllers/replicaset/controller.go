package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

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
	owners dependents.Owners[*appsv1.ReplicaSet]
	claims owner.Claimer[*appsv1.ReplicaSet, *corev1.Pod]
	podCtl podcontrol.Control
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
	podAPI := client.For[*corev1.Pod](cfg.Cache.Client())
	c := &Controller{cfg: cfg, log: cfg.Logger.With("controller", Name),
		rss: cache.Of[*appsv1.ReplicaSet](cfg.Cache), pods: cache.Of[*corev1.Pod](cfg.Cache),
		rsAPI: client.For[*appsv1.ReplicaSet](cfg.Cache.Client()),
		exp:   expect.New(0, cfg.Now), ev: cfg.Events.Named(Name)}
	c.owners = dependents.Owners[*appsv1.ReplicaSet]{Cache: c.rss, Kind: rsKind,
		Selector: func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector }}
	c.claims = owner.Claimer[*appsv1.ReplicaSet, *corev1.Pod]{Kind: rsKind, Owners: c.rsAPI, Dependents: podAPI}
	c.podCtl = podcontrol.Control{Pods: podAPI, Exp: c.exp, Events: c.ev}
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
	rs, _ := c.owners.Controller(p)
	return rs
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
	for _, rs := range c.owners.Matching(p) {
		c.enqueue(rs) // so that one of them adopts it
	}
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
	c.owners.Updated(old, cur, c.enqueue)
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
	owned, err := c.claims.Claim(ctx, rs, sel, cache.Candidates(c.pods, rs))
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
		c.rss.WaitForWrite(ctx, out)
	}
	return reconcile.Result{RequeueAfter: next}, manageErr
}

// manage creates or deletes pods as Plan says.
func (c *Controller) manage(ctx context.Context, rs *appsv1.ReplicaSet, owned []*corev1.Pod) error {
	key := reconcile.Key(rs.Namespace, rs.Name)
	create, remove := Plan(rs, owned)
	if create > 0 {
		return c.podCtl.Create(ctx, key, rs, create, func(int) *corev1.Pod { return PodFromTemplate(rs) })
	}
	return c.podCtl.Delete(ctx, key, rs, remove)
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
