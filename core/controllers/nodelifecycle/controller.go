package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name, also its events' source.
const Name = "node-controller"

const byNode = "node"

// Config configures the controller. Cache is required.
type Config struct {
	Cache *cache.Set
	// Events records what the controller does; nil records nothing.
	Events *events.Recorder
	// Timing defaults to DefaultTiming; a zero field takes its default.
	Timing Timing
	// Workers is how many nodes are handled at once (default 5).
	Workers int
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Controller is the node lifecycle controller's shell.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	nodes   *cache.Informer[*corev1.Node]
	pods    *cache.Informer[*corev1.Pod]
	nodeAPI *client.Typed[*corev1.Node]
	podAPI  *client.Typed[*corev1.Pod]
	loop    *reconcile.Controller
	ev      *events.Recorder

	mu   sync.Mutex
	seen map[string]heartbeat // by node name
}

// heartbeat is the last heartbeat seen of a node and when it was seen.
type heartbeat struct {
	lease, status time.Time // the heartbeat's own times, to tell a new one
	at            time.Time // when the controller saw the last new one
}

// New registers the controller's handlers on cfg.Cache (before it runs)
// and returns it.
func New(cfg Config) *Controller {
	if cfg.Timing.GracePeriod <= 0 {
		cfg.Timing.GracePeriod = DefaultTiming.GracePeriod
	}
	if cfg.Timing.DefaultToleration <= 0 {
		cfg.Timing.DefaultToleration = DefaultTiming.DefaultToleration
	}
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
		nodes: cache.Of[*corev1.Node](cfg.Cache), pods: cache.Of[*corev1.Pod](cfg.Cache),
		nodeAPI: client.For[*corev1.Node](cfg.Cache.Client()), podAPI: client.For[*corev1.Pod](cfg.Cache.Client()),
		ev: cfg.Events.Named(Name), seen: map[string]heartbeat{}}
	c.loop = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: c.sync, Logger: cfg.Logger})
	c.pods.AddIndex(byNode, func(p *corev1.Pod) []string {
		if p.Spec.NodeName == "" {
			return nil
		}
		return []string{p.Spec.NodeName}
	})
	c.nodes.AddHandlers(client.Handlers[*corev1.Node]{
		OnAdd:    func(n *corev1.Node) { c.statusHeartbeat(n); c.loop.Enqueue(n.Name) },
		OnUpdate: func(_, n *corev1.Node) { c.statusHeartbeat(n); c.loop.Enqueue(n.Name) },
		OnDelete: func(n *corev1.Node) {
			c.mu.Lock()
			delete(c.seen, n.Name)
			c.mu.Unlock()
		},
	})
	leases := cache.Of[*coordinationv1.Lease](cfg.Cache)
	leases.AddHandlers(client.Handlers[*coordinationv1.Lease]{
		OnAdd:    c.leaseHeartbeat,
		OnUpdate: func(_, l *coordinationv1.Lease) { c.leaseHeartbeat(l) },
	})
	enqueuePod := func(p *corev1.Pod) {
		if p.Spec.NodeName != "" {
			if n, ok := c.nodes.Get("", p.Spec.NodeName); ok && len(n.Spec.Taints) > 0 {
				c.loop.Enqueue(n.Name)
			}
		}
	}
	c.pods.AddHandlers(client.Handlers[*corev1.Pod]{OnAdd: enqueuePod, OnUpdate: func(_, p *corev1.Pod) { enqueuePod(p) }})
	return c
}

// Run runs the reconcile loop until ctx ends.
func (c *Controller) Run(ctx context.Context) error { return c.loop.Run(ctx) }

// observe records a heartbeat of node if it is new.
func (c *Controller) observe(node string, update func(h *heartbeat) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, known := c.seen[node]
	if update(&h) || !known {
		h.at = c.cfg.Now()
	}
	c.seen[node] = h
}

func (c *Controller) statusHeartbeat(n *corev1.Node) {
	var t time.Time
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			t = cond.LastHeartbeatTime.Time
		}
	}
	c.observe(n.Name, func(h *heartbeat) bool {
		if t.Equal(h.status) {
			return false
		}
		h.status = t
		return true
	})
}

func (c *Controller) leaseHeartbeat(l *coordinationv1.Lease) {
	if l.Namespace != corev1.NamespaceNodeLease || l.Spec.RenewTime == nil {
		return
	}
	t := l.Spec.RenewTime.Time
	c.observe(l.Name, func(h *heartbeat) bool {
		if t.Equal(h.lease) {
			return false
		}
		h.lease = t
		return true
	})
	c.loop.Enqueue(l.Name)
}

func (c *Controller) sync(ctx context.Context, name string) (reconcile.Result, error) {
	node, ok := c.nodes.Get("", name)
	if !ok {
		return reconcile.Result{}, nil
	}
	c.mu.Lock()
	h, known := c.seen[name]
	c.mu.Unlock()
	if !known {
		c.statusHeartbeat(node)
		c.mu.Lock()
		h = c.seen[name]
		c.mu.Unlock()
	}
	now := c.cfg.Now()
	conds, changed, recheck := Health(node, h.at, now, c.cfg.Timing.GracePeriod)
	if changed {
		up := node.DeepCopy()
		up.Status.Conditions = conds
		out, err := c.nodeAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			return reconcile.Result{}, ignoreNotFound(err)
		}
		c.log.Warn("node lost: no heartbeat", "node", name, "for", now.Sub(h.at).Round(time.Millisecond))
		c.ev.Normal(out, "NodeNotReady", "Node %s status is now: NodeNotReady", name)
		node = out
	}
	if taints, changed := Taints(node, now); changed {
		up := node.DeepCopy()
		up.Spec.Taints = taints
		out, err := c.nodeAPI.Update(ctx, up, metav1.UpdateOptions{})
		if err != nil {
			return reconcile.Result{}, ignoreNotFound(err)
		}
		node = out
	}
	onNode := c.pods.ByIndex(byNode, name)
	var errs []error
	for _, p := range NotReady(node, onNode) {
		if err := c.markNotReady(ctx, p, now); err != nil {
			errs = append(errs, err)
		}
	}
	evict, next := Evictions(node, onNode, now, c.cfg.Timing.DefaultToleration)
	for _, p := range evict {
		_, _, err := c.podAPI.Delete(ctx, p.Namespace, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err))
			continue
		}
		c.ev.Normal(p, "TaintManagerEviction", "Marking for deletion Pod %s/%s", p.Namespace, p.Name)
	}
	after := recheck
	if next > 0 && (after == 0 || next < after) {
		after = next
	}
	return reconcile.Result{RequeueAfter: after}, errors.Join(errs...)
}

// markNotReady sets p's Ready condition False.
func (c *Controller) markNotReady(ctx context.Context, p *corev1.Pod, now time.Time) error {
	up := p.DeepCopy()
	for i := range up.Status.Conditions {
		if up.Status.Conditions[i].Type == corev1.PodReady {
			up.Status.Conditions[i].Status = corev1.ConditionFalse
			up.Status.Conditions[i].LastTransitionTime = metav1.NewTime(now)
		}
	}
	_, err := c.podAPI.UpdateStatus(ctx, up, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or changed: the next event brings it back
	}
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
