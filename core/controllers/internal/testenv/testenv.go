package testenv

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/core/controllers/pods"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/client"
)

// Env is a running NATS server, store and API server, with a client on
// its own connection (see apiservertest.Env).
type Env struct {
	*apiservertest.Env
}

// Start starts an environment that stops in t.Cleanup.
func Start(t testing.TB) *Env {
	t.Helper()
	return &Env{apiservertest.Start(t, apiservertest.Config{})}
}

// Eventually polls cond every 10ms until it returns nil or timeout
// passes, then fails the test with cond's last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// KubeletConfig configures the stand-in node agents.
type KubeletConfig struct {
	// Nodes are the node names pods are bound to, round robin (default
	// node-1..node-3). They are created as Ready nodes.
	Nodes []string
	// ReadyAfter is how long a bound pod takes to become ready.
	ReadyAfter time.Duration
	// Ready, if set, decides whether a pod ever becomes ready.
	Ready func(p *corev1.Pod) bool
	// TerminateAfter is how long a terminating pod takes to go away.
	TerminateAfter time.Duration
	// RunFor is how long a pod that does not restart always (a Job's)
	// runs once ready before it finishes (default 100ms), and Outcome its
	// final phase (default Succeeded).
	RunFor  time.Duration
	Outcome func(p *corev1.Pod) corev1.PodPhase
}

// Kubelet plays the scheduler and the node agents.
type Kubelet struct {
	cfg     KubeletConfig
	c       *client.Client
	inf     *client.Informer[*corev1.Pod]
	loop    *reconcile.Controller
	next    atomic.Int64 // round robin and pod IPs
	bound   sync.Map     // pod key → time bound
	unready sync.Map     // pod key → true: reported not ready
	readyAt sync.Map     // pod key → when reported ready (full precision)
	dead    sync.Map     // node name → true: its agent was killed
}

// Kill stops the agent of node: no more heartbeats (Lease renewals), no
// more status reports or deletions of its pods, and no new pods bound to
// it, as when a machine is lost.
func (k *Kubelet) Kill(node string) { k.dead.Store(node, true) }

func (k *Kubelet) isDead(node string) bool {
	_, ok := k.dead.Load(node)
	return ok
}

// heartbeat renews the Lease of every live node every 500ms until ctx
// ends, as node agents do.
func (k *Kubelet) heartbeat(ctx context.Context) {
	leases := client.For[*coordinationv1.Lease](k.c)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		for _, n := range k.cfg.Nodes {
			if k.isDead(n) {
				continue
			}
			now := metav1.NewMicroTime(time.Now())
			l, err := leases.Get(ctx, corev1.NamespaceNodeLease, n)
			if err != nil {
				continue
			}
			l.Spec.RenewTime = &now
			_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SetReady makes the pod ns/name report ready (the default) or not, as a
// failing readiness probe would.
func (k *Kubelet) SetReady(ns, name string, ready bool) {
	key := reconcile.Key(ns, name)
	if ready {
		k.unready.Delete(key)
	} else {
		k.unready.Store(key, true)
	}
	k.loop.Enqueue(key)
}

// StartKubelet runs a Kubelet on its own connection until the test ends.
func (e *Env) StartKubelet(t testing.TB, cfg KubeletConfig) *Kubelet {
	t.Helper()
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []string{"node-1", "node-2", "node-3"}
	}
	c, _ := e.Connect(t)
	k := &Kubelet{cfg: cfg, c: c}
	nodes := client.For[*corev1.Node](c)
	for _, n := range cfg.Nodes {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{corev1.LabelHostname: n}},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
				LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}}
		created, err := nodes.Create(t.Context(), node, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		holder, secs, now := n, int32(40), metav1.NewMicroTime(time.Now())
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: corev1.NamespaceNodeLease,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n, UID: created.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs, RenewTime: &now}}
		if _, err := client.For[*coordinationv1.Lease](c).Create(t.Context(), lease, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	k.loop = reconcile.New(reconcile.Config{Name: "kubelet", Workers: 8, Reconcile: k.reconcile})
	enqueue := func(p *corev1.Pod) { k.loop.Enqueue(reconcile.Key(p.Namespace, p.Name)) }
	k.inf = client.NewInformer[*corev1.Pod](c, "", client.Handlers[*corev1.Pod]{
		OnAdd: enqueue, OnUpdate: func(_, p *corev1.Pod) { enqueue(p) }})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = k.inf.Run(ctx) })
	wg.Go(func() { _ = k.loop.Run(ctx) })
	wg.Go(func() { k.heartbeat(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	if err := k.inf.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *Kubelet) reconcile(ctx context.Context, key string) (reconcile.Result, error) {
	ns, name := reconcile.SplitKey(key)
	p, ok := k.inf.Get(ns, name)
	if !ok {
		k.bound.Delete(key)
		return reconcile.Result{}, nil
	}
	podsAPI := client.For[*corev1.Pod](k.c)
	if p.Spec.NodeName != "" && k.isDead(p.Spec.NodeName) {
		return reconcile.Result{}, nil // its node is gone: nobody acts on it
	}
	switch {
	case p.DeletionTimestamp != nil:
		if wait := time.Until(p.DeletionTimestamp.Add(-time.Duration(*p.DeletionGracePeriodSeconds) * time.Second).Add(k.cfg.TerminateAfter)); wait > 0 {
			return reconcile.Result{RequeueAfter: wait}, nil
		}
		zero := int64(0)
		_, _, err := podsAPI.Delete(ctx, ns, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	case p.Spec.NodeName == "":
		var live []string
		for _, n := range k.cfg.Nodes {
			if !k.isDead(n) {
				live = append(live, n)
			}
		}
		if len(live) == 0 {
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		n := k.next.Add(1)
		target := live[int(n)%len(live)]
		if pinned := pinnedNode(p); pinned != "" {
			// A daemon pod: the scheduler binds it to the node its
			// affinity names, or nowhere.
			if !slices.Contains(live, pinned) {
				return reconcile.Result{}, nil
			}
			target = pinned
		}
		err := k.c.Bind(ctx, ns, name, target)
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return reconcile.Result{}, nil
		}
		if err == nil {
			k.bound.Store(key, time.Now())
		}
		return reconcile.Result{}, err
	case pods.Terminal(p):
		return reconcile.Result{}, nil
	}
	_, unready := k.unready.Load(key)
	if unready || (k.cfg.Ready != nil && !k.cfg.Ready(p)) {
		if p.Status.Phase == corev1.PodRunning && !pods.Ready(p) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, k.setStatus(ctx, p, false)
	}
	if pods.Ready(p) {
		if p.Spec.RestartPolicy == corev1.RestartPolicyAlways {
			return reconcile.Result{}, nil
		}
		run := k.cfg.RunFor
		if run == 0 {
			run = 100 * time.Millisecond
		}
		since := pods.ReadySince(p)
		if at, ok := k.readyAt.Load(key); ok {
			since = at.(time.Time)
		}
		if wait := time.Until(since.Add(run)); wait > 0 {
			return reconcile.Result{RequeueAfter: wait}, nil
		}
		phase := corev1.PodSucceeded
		if k.cfg.Outcome != nil {
			phase = k.cfg.Outcome(p)
		}
		return reconcile.Result{}, k.finish(ctx, p, phase)
	}
	at, _ := k.bound.LoadOrStore(key, time.Now())
	if wait := time.Until(at.(time.Time).Add(k.cfg.ReadyAfter)); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	k.readyAt.Store(key, time.Now())
	return reconcile.Result{}, k.setStatus(ctx, p, true)
}

// pinnedNode is the node a pod's required node affinity names by
// "metadata.name In [node]", as DaemonSet pods' does; "" if none.
func pinnedNode(p *corev1.Pod) string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// setStatus reports p running, ready or not.
func (k *Kubelet) setStatus(ctx context.Context, p *corev1.Pod, ready bool) error {
	next := p.DeepCopy()
	now := metav1.Now()
	n := k.next.Add(1)
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	next.Status.Phase = corev1.PodRunning
	if next.Status.PodIP == "" {
		ip := fmt.Sprintf("10.%d.%d.%d", (n>>16)&255, (n>>8)&255, n&255)
		next.Status.PodIP = ip
		next.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	if next.Status.StartTime == nil {
		next.Status.StartTime = &now
	}
	setCond := func(t corev1.PodConditionType, s corev1.ConditionStatus) {
		for i := range next.Status.Conditions {
			if next.Status.Conditions[i].Type == t {
				if next.Status.Conditions[i].Status != s {
					next.Status.Conditions[i].Status = s
					next.Status.Conditions[i].LastTransitionTime = now
				}
				return
			}
		}
		next.Status.Conditions = append(next.Status.Conditions, corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now})
	}
	setCond(corev1.PodInitialized, corev1.ConditionTrue)
	setCond(corev1.ContainersReady, cond)
	setCond(corev1.PodReady, cond)
	next.Status.ContainerStatuses = nil
	for _, c := range next.Spec.Containers {
		next.Status.ContainerStatuses = append(next.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image,
			Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}})
	}
	_, err := client.For[*corev1.Pod](k.c).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // deleted or changed: a later event brings it back
	}
	return err
}

// finish reports p's containers exited, the pod ending in phase.
func (k *Kubelet) finish(ctx context.Context, p *corev1.Pod, phase corev1.PodPhase) error {
	next := p.DeepCopy()
	now := metav1.Now()
	code := int32(0)
	if phase == corev1.PodFailed {
		code = 1
	}
	next.Status.Phase = phase
	for i := range next.Status.Conditions {
		switch next.Status.Conditions[i].Type {
		case corev1.PodReady, corev1.ContainersReady:
			next.Status.Conditions[i].Status = corev1.ConditionFalse
			next.Status.Conditions[i].LastTransitionTime = now
		}
	}
	for i := range next.Status.ContainerStatuses {
		cs := &next.Status.ContainerStatuses[i]
		cs.Ready = false
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, StartedAt: started, FinishedAt: now}}
	}
	_, err := client.For[*corev1.Pod](k.c).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
