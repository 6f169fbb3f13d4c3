package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/dependents"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name, also its events' source.
const Name = "deployment-controller"

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records what the controller does; nil records nothing.
	Events *events.Recorder
	// Workers is how many Deployments are synced at once (default 5).
	Workers int
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller is the Deployment controller's shell around Decide.
type Controller struct {
	cfg    Config
	log    *slog.Logger
	ds     *cache.Informer[*appsv1.Deployment]
	rss    *cache.Informer[*appsv1.ReplicaSet]
	pods   *cache.Informer[*corev1.Pod]
	dAPI   *client.Typed[*appsv1.Deployment]
	rsAPI  *client.Typed[*appsv1.ReplicaSet]
	owners dependents.Owners[*appsv1.Deployment]
	claims owner.Claimer[*appsv1.Deployment, *appsv1.ReplicaSet]
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
	c := &Controller{cfg: cfg, log: cfg.Logger.With("controller", Name),
		ds: cache.Of[*appsv1.Deployment](cfg.Cache), rss: cache.Of[*appsv1.ReplicaSet](cfg.Cache), pods: cache.Of[*corev1.Pod](cfg.Cache),
		dAPI: client.For[*appsv1.Deployment](cfg.Cache.Client()), rsAPI: client.For[*appsv1.ReplicaSet](cfg.Cache.Client()),
		ev: cfg.Events.Named(Name)}
	c.owners = dependents.Owners[*appsv1.Deployment]{Cache: c.ds, Kind: deploymentKind,
		Selector: func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector }}
	c.claims = owner.Claimer[*appsv1.Deployment, *appsv1.ReplicaSet]{Kind: deploymentKind, Owners: c.dAPI, Dependents: c.rsAPI}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	cache.AddControllerIndex(c.rss)
	cache.AddControllerIndex(c.pods)
	c.ds.AddHandlers(client.Handlers[*appsv1.Deployment]{
		OnAdd:    c.enqueue,
		OnUpdate: func(_, cur *appsv1.Deployment) { c.enqueue(cur) },
		OnDelete: c.enqueue,
	})
	rsChanged := func(rs *appsv1.ReplicaSet) { c.owners.Changed(rs, c.enqueue) }
	c.rss.AddHandlers(client.Handlers[*appsv1.ReplicaSet]{OnAdd: rsChanged, OnDelete: rsChanged,
		OnUpdate: func(old, cur *appsv1.ReplicaSet) { c.owners.Updated(old, cur, c.enqueue) }})
	c.pods.AddHandlers(client.Handlers[*corev1.Pod]{OnUpdate: c.podUpdated, OnDelete: c.podDeleted})
	return c
}

// Run runs the reconcile loop until ctx ends.
func (c *Controller) Run(ctx context.Context) error { return c.loop.Run(ctx) }

func (c *Controller) enqueue(d *appsv1.Deployment) {
	c.loop.Enqueue(reconcile.Key(d.Namespace, d.Name))
}

// owning returns the Deployment that controls obj, if cached.
func (c *Controller) owning(obj metav1.Object) *appsv1.Deployment {
	d, _ := c.owners.Controller(obj)
	return d
}

// recreateOwner returns the Recreate Deployment whose ReplicaSet controls
// p: it waits for its old pods to go.
func (c *Controller) recreateOwner(p *corev1.Pod) *appsv1.Deployment {
	ref := owner.ControllerOf(p)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return nil
	}
	rs, ok := c.rss.Get(p.Namespace, ref.Name)
	if !ok || rs.UID != ref.UID {
		return nil
	}
	d := c.owning(rs)
	if d == nil || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		return nil
	}
	return d
}

func (c *Controller) podDeleted(p *corev1.Pod) {
	if d := c.recreateOwner(p); d != nil {
		c.enqueue(d)
	}
}

func (c *Controller) podUpdated(old, cur *corev1.Pod) {
	if old.Status.Phase != cur.Status.Phase {
		c.podDeleted(cur)
	}
}

// errStale means the cache is behind a write another sync (or replica)
// made; the key is retried once it caught up.
var errStale = errors.New("deployment: cache is behind; retrying")

func (c *Controller) sync(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	d, ok := c.ds.Get(ns, name)
	if !ok {
		return reconcile.Result{}, nil
	}
	owned, err := c.claim(ctx, d)
	if err != nil {
		return reconcile.Result{}, err
	}
	cache.SortByName(owned) // the same input, the same plan
	var podMap map[types.UID][]*corev1.Pod
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		// Only Recreate waits for old pods.
		podMap = map[types.UID][]*corev1.Pod{}
		for _, rs := range owned {
			podMap[rs.UID] = c.pods.ByIndex(cache.ByController, string(rs.UID))
		}
	}
	plan := Decide(Input{Deployment: d, ReplicaSets: owned, Pods: podMap, Now: c.cfg.Now()})
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, c.apply(ctx, d, plan)
}

// claim adopts matching orphan ReplicaSets and releases the ones that no
// longer match; it returns those d owns.
func (c *Controller) claim(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		// Decide reports a selector that selects everything.
		return c.rss.ByIndex(cache.ByController, string(d.UID)), nil
	}
	return c.claims.Claim(ctx, d, sel, cache.Candidates(c.rss, d))
}

func (c *Controller) record(d *appsv1.Deployment, evs []Event) {
	for _, e := range evs {
		c.ev.Event(d, e.Type, e.Reason, e.Message)
	}
}

// apply makes the plan's writes, in order, stopping at the first failure
// (the next sync plans again from what is).
func (c *Controller) apply(ctx context.Context, d *appsv1.Deployment, plan Plan) error {
	c.record(d, plan.Events)
	var rsRev, dRev uint64
	defer func() {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if rsRev > 0 {
			_ = c.rss.WaitForRevision(wctx, rsRev)
		}
		if dRev > 0 {
			_ = c.ds.WaitForRevision(wctx, dRev)
		}
	}()
	note := func(rv string, into *uint64) {
		if r, err := api.ParseRevision(rv); err == nil {
			*into = max(*into, r)
		}
	}
	for _, a := range plan.Actions {
		switch a.Op {
		case Create:
			out, err := c.rsAPI.Create(ctx, a.RS, metav1.CreateOptions{})
			if err != nil {
				return c.createFailed(ctx, d, a.RS, err)
			}
			note(out.ResourceVersion, &rsRev)
		case Update:
			out, err := c.rsAPI.Update(ctx, a.RS, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("update replica set %s: %w", a.RS.Name, err)
			}
			note(out.ResourceVersion, &rsRev)
		case Delete:
			last, _, err := c.rsAPI.Delete(ctx, a.RS.Namespace, a.RS.Name, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: &a.RS.UID, ResourceVersion: &a.RS.ResourceVersion}})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete replica set %s: %w", a.RS.Name, err)
			}
			if err == nil {
				note(last.ResourceVersion, &rsRev)
			}
		}
		c.record(d, a.Events)
	}
	cur := d
	if plan.Annotations != nil {
		up := d.DeepCopy()
		up.Annotations = plan.Annotations
		out, err := c.dAPI.Update(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update deployment annotations: %w", err)
		}
		note(out.ResourceVersion, &dRev)
		cur = out
	}
	if plan.Status != nil {
		up := cur.DeepCopy()
		up.Status = *plan.Status
		out, err := c.dAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("update deployment status: %w", err)
		}
		note(out.ResourceVersion, &dRev)
	}
	return nil
}

// createFailed handles a failed creation of the new ReplicaSet: a name
// taken by another template is a hash collision (bump collisionCount, so
// the next hash differs); one taken by this template means the cache is
// behind; anything else is reported in the Progressing condition.
func (c *Controller) createFailed(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, err error) error {
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := c.rsAPI.Get(ctx, rs.Namespace, rs.Name)
		if gerr != nil {
			return fmt.Errorf("create replica set %s: %w", rs.Name, err)
		}
		if owner.IsControlledBy(existing, d.UID) && EqualIgnoreHash(&existing.Spec.Template, &d.Spec.Template) {
			c.rss.WaitForWrite(ctx, existing)
			return fmt.Errorf("create replica set %s: %w", rs.Name, errStale)
		}
		up := d.DeepCopy()
		n := int32(1)
		if up.Status.CollisionCount != nil {
			n = *up.Status.CollisionCount + 1
		}
		up.Status.CollisionCount = &n
		if _, uerr := c.dAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{}); uerr != nil {
			return fmt.Errorf("update collision count: %w", uerr)
		}
		c.log.Info("pod template hash collision", "deployment", d.Namespace+"/"+d.Name, "replicaset", rs.Name, "collisionCount", n)
		return fmt.Errorf("create replica set %s: hash collision: %w", rs.Name, err)
	}
	msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
	c.ev.Warning(d, "FailedCreate", "%s", msg)
	if hasProgressDeadline(d) {
		up := d.DeepCopy()
		setCondition(&up.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, c.cfg.Now().Truncate(time.Second)))
		if _, uerr := c.dAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{}); uerr != nil {
			c.log.Warn("update status after failed create", "err", uerr)
		}
	}
	return fmt.Errorf("create replica set %s: %w", rs.Name, err)
}
