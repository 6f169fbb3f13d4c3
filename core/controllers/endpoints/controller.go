package endpoints

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name, also its events' source.
const Name = "endpoint-controller"

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records failures; nil records nothing.
	Events *events.Recorder
	// Workers is how many Services are synced at once (default 5).
	Workers int
	Logger  *slog.Logger
}

// Controller is the Endpoints controller's shell around Desired.
//
//nolint:staticcheck // Skiff serves core/v1 Endpoints.
type Controller struct {
	cfg   Config
	svcs  *cache.Informer[*corev1.Service]
	pods  *cache.Informer[*corev1.Pod]
	eps   *cache.Informer[*corev1.Endpoints]
	epAPI *client.Typed[*corev1.Endpoints]
	loop  *reconcile.Controller
	ev    *events.Recorder
}

// New registers the controller's handlers on cfg.Cache (before it runs)
// and returns it.
//
//nolint:staticcheck // core/v1 Endpoints.
func New(cfg Config) *Controller {
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{cfg: cfg, svcs: cache.Of[*corev1.Service](cfg.Cache), pods: cache.Of[*corev1.Pod](cfg.Cache),
		eps: cache.Of[*corev1.Endpoints](cfg.Cache), epAPI: client.For[*corev1.Endpoints](cfg.Cache.Client()),
		ev: cfg.Events.Named(Name)}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	enqueue := func(s *corev1.Service) { c.loop.Enqueue(reconcile.Key(s.Namespace, s.Name)) }
	c.svcs.AddHandlers(client.Handlers[*corev1.Service]{OnAdd: enqueue, OnUpdate: func(_, s *corev1.Service) { enqueue(s) }, OnDelete: enqueue})
	c.pods.AddHandlers(client.Handlers[*corev1.Pod]{
		OnAdd: c.podChanged,
		OnUpdate: func(old, cur *corev1.Pod) {
			if old.ResourceVersion == cur.ResourceVersion {
				return
			}
			if !labels.Equals(old.Labels, cur.Labels) {
				c.podChanged(old)
			}
			c.podChanged(cur)
		},
		OnDelete: c.podChanged,
	})
	c.eps.AddHandlers(client.Handlers[*corev1.Endpoints]{
		// Someone else changed or removed an Endpoints object: put it right.
		OnUpdate: func(_, ep *corev1.Endpoints) { c.loop.Enqueue(reconcile.Key(ep.Namespace, ep.Name)) },
		OnDelete: func(ep *corev1.Endpoints) { c.loop.Enqueue(reconcile.Key(ep.Namespace, ep.Name)) },
	})
	return c
}

// Run runs the reconcile loop until ctx ends.
func (c *Controller) Run(ctx context.Context) error { return c.loop.Run(ctx) }

// podChanged queues the Services whose selector matches p.
func (c *Controller) podChanged(p *corev1.Pod) {
	for _, s := range c.svcs.List(p.Namespace) {
		if Managed(s) && labels.SelectorFromValidatedSet(s.Spec.Selector).Matches(labels.Set(p.Labels)) {
			c.loop.Enqueue(reconcile.Key(s.Namespace, s.Name))
		}
	}
}

//nolint:staticcheck // core/v1 Endpoints.
func (c *Controller) sync(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	svc, ok := c.svcs.Get(ns, name)
	cur, exists := c.eps.Get(ns, name)
	if !ok {
		if !exists {
			return reconcile.Result{}, nil
		}
		_, _, err := c.epAPI.Delete(ctx, ns, name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			err = nil
		}
		return reconcile.Result{}, err
	}
	want := Desired(svc, c.pods.List(ns))
	if want == nil {
		return reconcile.Result{}, nil
	}
	var out *corev1.Endpoints
	var err error
	switch {
	case !exists:
		out, err = c.epAPI.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return reconcile.Result{}, err // the cache is behind; retried
		}
	case Equal(cur, want):
		return reconcile.Result{}, nil
	default:
		up := cur.DeepCopy()
		up.Subsets, up.Labels = want.Subsets, want.Labels
		if want.Annotations[OverCapacityAnnotation] != "" {
			if up.Annotations == nil {
				up.Annotations = map[string]string{}
			}
			up.Annotations[OverCapacityAnnotation] = want.Annotations[OverCapacityAnnotation]
		} else {
			delete(up.Annotations, OverCapacityAnnotation)
		}
		out, err = c.epAPI.Update(ctx, up, metav1.UpdateOptions{})
	}
	if err != nil {
		if !apierrors.IsConflict(err) {
			c.ev.Warning(svc, "FailedToUpdateEndpoint", "Failed to update endpoint %s/%s: %v", ns, name, err)
		}
		return reconcile.Result{}, fmt.Errorf("write endpoints %s: %w", key, err)
	}
	c.eps.WaitForWrite(ctx, out)
	return reconcile.Result{}, nil
}
