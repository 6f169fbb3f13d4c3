package statefulset

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/dependents"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name, also its events' source.
const Name = "statefulset-controller"

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records what the controller does; nil records nothing.
	Events *events.Recorder
	// Workers is how many StatefulSets are synced at once (default 5).
	Workers int
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller is the StatefulSet controller's shell around Decide.
type Controller struct {
	cfg    Config
	sets   *cache.Informer[*appsv1.StatefulSet]
	pods   *cache.Informer[*corev1.Pod]
	hist   *history.Store
	owners dependents.Owners[*appsv1.StatefulSet]
	claims owner.Claimer[*appsv1.StatefulSet, *corev1.Pod]
	setAPI *client.Typed[*appsv1.StatefulSet]
	podAPI *client.Typed[*corev1.Pod]
	loop   *reconcile.Controller
	ev     *events.Recorder

	mu     sync.Mutex
	warned map[types.UID]bool // sets told their volumeClaimTemplates are not provisioned
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
	c := &Controller{cfg: cfg, sets: cache.Of[*appsv1.StatefulSet](cfg.Cache), pods: cache.Of[*corev1.Pod](cfg.Cache),
		hist: history.NewStore(cfg.Cache), setAPI: client.For[*appsv1.StatefulSet](cfg.Cache.Client()),
		podAPI: client.For[*corev1.Pod](cfg.Cache.Client()), ev: cfg.Events.Named(Name), warned: map[types.UID]bool{}}
	c.owners = dependents.Owners[*appsv1.StatefulSet]{Cache: c.sets, Kind: stsKind,
		Selector: func(s *appsv1.StatefulSet) *metav1.LabelSelector { return s.Spec.Selector }}
	c.claims = owner.Claimer[*appsv1.StatefulSet, *corev1.Pod]{Kind: stsKind, Owners: c.setAPI, Dependents: c.podAPI}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	cache.AddControllerIndex(c.pods)
	c.sets.AddHandlers(client.Handlers[*appsv1.StatefulSet]{
		OnAdd:    c.enqueue,
		OnUpdate: func(_, cur *appsv1.StatefulSet) { c.enqueue(cur) },
		OnDelete: func(s *appsv1.StatefulSet) {
			c.mu.Lock()
			delete(c.warned, s.UID)
			c.mu.Unlock()
		},
	})
	podChanged := func(p *corev1.Pod) { c.owners.Changed(p, c.enqueue) }
	c.pods.AddHandlers(client.Handlers[*corev1.Pod]{
		OnAdd: podChanged,
		OnUpdate: func(old, cur *corev1.Pod) {
			if s, ok := c.owners.Controller(old); ok && owner.ControllerOf(cur) == nil {
				c.enqueue(s)
			}
			podChanged(cur)
		},
		OnDelete: podChanged,
	})
	return c
}

// Run runs the reconcile loop until ctx ends.
func (c *Controller) Run(ctx context.Context) error { return c.loop.Run(ctx) }

func (c *Controller) enqueue(s *appsv1.StatefulSet) {
	c.loop.Enqueue(reconcile.Key(s.Namespace, s.Name))
}

// sync is the reconcile of one StatefulSet. It needs no expectations:
// pod names are stable, so a create the cache has not shown yet fails
// with AlreadyExists, and deletions carry a UID precondition.
func (c *Controller) sync(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	set, ok := c.sets.Get(ns, name)
	if !ok {
		return reconcile.Result{}, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		return reconcile.Result{}, nil // validation forbids it
	}
	owned, err := c.claims.Claim(ctx, set, sel, cache.Candidates(c.pods, set))
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(set.Spec.VolumeClaimTemplates) > 0 {
		c.mu.Lock()
		first := !c.warned[set.UID]
		c.warned[set.UID] = true
		c.mu.Unlock()
		if first {
			c.ev.Warning(set, "VolumeClaimTemplatesIgnored",
				"volumeClaimTemplates are not provisioned by Skiff: each pod gets an emptyDir in their place, whose data does not outlive the pod")
		}
	}
	inUse := history.InUse(owned)
	inUse[set.Status.CurrentRevision] = true
	upd, collisions, err := c.hist.Sync(ctx, history.Input{Owner: set, Kind: stsKind, Template: &set.Spec.Template,
		CollisionCount: set.Status.CollisionCount, Limit: history.Limit(set.Spec.RevisionHistoryLimit), InUse: inUse})
	if upd == nil {
		return reconcile.Result{}, err
	}
	histErr := err
	update := Revision{Name: upd.Name, Template: &set.Spec.Template}
	current := update
	if set.Status.CurrentRevision != "" && set.Status.CurrentRevision != upd.Name {
		for _, r := range c.hist.Owned(string(set.UID)) {
			if r.Name != set.Status.CurrentRevision {
				continue
			}
			if t, err := history.Template(r); err == nil {
				current = Revision{Name: r.Name, Template: t}
			}
		}
	}
	plan := Decide(Input{Set: set, Pods: owned, Current: current, Update: update, CollisionCount: collisions, Now: c.cfg.Now()})
	for _, e := range plan.Events {
		c.ev.Event(set, e.Type, e.Reason, e.Message)
	}
	errs := []error{histErr, c.apply(ctx, set, plan)}
	if plan.Status != nil {
		up := set.DeepCopy()
		up.Status = *plan.Status
		out, err := c.setAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("update status: %w", err))
		default:
			c.sets.WaitForWrite(ctx, out)
		}
	}
	return reconcile.Result{RequeueAfter: plan.RequeueAfter}, errors.Join(errs...)
}

// apply deletes and creates what plan says, all at once (Parallel plans
// several; OrderedReady plans one).
func (c *Controller) apply(ctx context.Context, set *appsv1.StatefulSet, plan Plan) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, p := range plan.Delete {
		wg.Go(func() {
			_, _, err := c.podAPI.Delete(ctx, p.Namespace, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
			switch {
			case err == nil:
				c.ev.Normal(set, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", p.Name, set.Name)
			case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			default:
				c.ev.Warning(set, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", p.Name, set.Name, err)
				fail(fmt.Errorf("delete pod %s: %w", p.Name, err))
			}
		})
	}
	wg.Wait()
	for _, p := range plan.Create {
		wg.Go(func() {
			_, err := c.podAPI.Create(ctx, p, metav1.CreateOptions{})
			switch {
			case err == nil:
				c.ev.Normal(set, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", p.Name, set.Name)
			case apierrors.IsAlreadyExists(err):
				// The cache is behind, or the old pod is still going.
			default:
				c.ev.Warning(set, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", p.Name, set.Name, err)
				fail(fmt.Errorf("create pod %s: %w", p.Name, err))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
