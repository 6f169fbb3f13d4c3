package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/leader"
	"github.com/skiffhq/skiff/sdk/client"
)

// env is a real NATS server, the objects store, an API server on it and
// a client on its own connection.
type env struct {
	ns *bustest.Server
	c  *client.Client
}

func start(t testing.TB) *env {
	t.Helper()
	e := apiservertest.Start(t, apiservertest.Config{})
	return &env{ns: e.NATS, c: e.Client}
}

// eventually polls f until it returns nil, failing with its last error
// after timeout.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SCHEDULER_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// replica is a running scheduler.
type replica struct {
	s      *scheduler.Scheduler
	cancel context.CancelFunc
	done   chan error
}

var fastElection = leader.Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 100 * time.Millisecond}

func runScheduler(t *testing.T, e *env, id string) *replica {
	t.Helper()
	return runSchedulerWith(t, e, id, func(*scheduler.Config) {})
}

// runSchedulerWith is runScheduler with the test's changes to the config.
func runSchedulerWith(t *testing.T, e *env, id string, change func(*scheduler.Config)) *replica {
	t.Helper()
	cfg := scheduler.Config{Client: e.c, Identity: id, Logger: testLogger(t),
		PodInitialBackoff: 100 * time.Millisecond, PodMaxBackoff: time.Second,
		// Keep the lease on cancel: stopping a replica is a crash.
		LeaderElection: scheduler.LeaderElection{Timing: fastElection, KeepOnCancel: true}}
	change(&cfg)
	s, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			panic(fmt.Sprintf("scheduler %s: Run: %v", r.s.Identity(), err))
		}
	case <-time.After(30 * time.Second):
		panic("scheduler did not stop")
	}
}

func node(name, cpu string, taints ...corev1.Taint) *corev1.Node {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name, corev1.LabelTopologyZone: "z1"}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}},
	}
}

func pod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
}

func boundTo(t *testing.T, e *env, name string, within time.Duration) string {
	t.Helper()
	var got string
	eventually(t, within, func() error {
		p, err := client.For[*corev1.Pod](e.c).Get(t.Context(), "default", name)
		if err != nil {
			return err
		}
		if p.Spec.NodeName == "" {
			return fmt.Errorf("pod %s is not bound (conditions %v)", name, p.Status.Conditions)
		}
		got = p.Spec.NodeName
		return nil
	})
	return got
}

func events(t *testing.T, e *env, podName, reason string) []*corev1.Event {
	t.Helper()
	evs, _, err := client.For[*corev1.Event](e.c).List(t.Context(), "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*corev1.Event
	for _, ev := range evs {
		if ev.InvolvedObject.Name == podName && ev.Reason == reason {
			out = append(out, ev)
		}
	}
	return out
}

// TestEndToEnd runs two scheduler replicas against a real API server:
// one leads and binds pods where the policy says, an unschedulable pod
// gets the condition and the event and is bound once a node that fits
// appears, and the other replica takes over when the leader dies.
func TestEndToEnd(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	nodes := client.For[*corev1.Node](e.c)
	pods := client.For[*corev1.Pod](e.c)
	taint := corev1.Taint{Key: "key", Value: "value", Effect: corev1.TaintEffectNoSchedule}
	for _, n := range []*corev1.Node{node("n1", "2"), node("n2", "2"), node("n3", "2"), node("t1", "8", taint), node("t2", "8", taint)} {
		if _, err := nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a := runScheduler(t, e, "replica-a")
	eventually(t, 10*time.Second, func() error {
		if !a.s.Leading() {
			return fmt.Errorf("replica-a is not leading")
		}
		return nil
	})
	b := runScheduler(t, e, "replica-b")

	// Placement follows the policy: untainted nodes, spread by
	// LeastAllocated; a tolerating pod may use the tainted ones.
	for i := range 3 {
		if _, err := pods.Create(ctx, pod(fmt.Sprint("web-", i), "1"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var placed []string
	for i := range 3 {
		placed = append(placed, boundTo(t, e, fmt.Sprint("web-", i), 10*time.Second))
	}
	slices.Sort(placed)
	if !slices.Equal(placed, []string{"n1", "n2", "n3"}) {
		t.Errorf("web pods on %v, want one on each of n1, n2, n3 (LeastAllocated, untainted)", placed)
	}
	tol := pod("tolerant", "4")
	tol.Spec.Tolerations = []corev1.Toleration{{Key: "key", Operator: corev1.TolerationOpEqual, Value: "value", Effect: corev1.TaintEffectNoSchedule}}
	if _, err := pods.Create(ctx, tol, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := boundTo(t, e, "tolerant", 10*time.Second); n != "t1" && n != "t2" {
		t.Errorf("tolerant pod on %s, want a tainted node", n)
	}
	got, err := pods.Get(ctx, "default", "web-0")
	if err != nil {
		t.Fatal(err)
	}
	if c := scheduledCondition(got); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("bound pod's PodScheduled condition: %+v", c)
	}
	eventually(t, 5*time.Second, func() error {
		evs := events(t, e, "web-0", "Scheduled")
		if len(evs) != 1 {
			return fmt.Errorf("%d Scheduled events for web-0", len(evs))
		}
		if want := "Successfully assigned default/web-0 to " + got.Spec.NodeName; evs[0].Message != want || evs[0].Type != corev1.EventTypeNormal {
			return fmt.Errorf("Scheduled event %q (%s), want %q", evs[0].Message, evs[0].Type, want)
		}
		if evs[0].ReportingInstance != "default-scheduler-replica-a" {
			return fmt.Errorf("bound by %s, want the leader", evs[0].ReportingInstance)
		}
		return nil
	})

	// No node fits: 1 cpu left on each small node, taints on the big ones.
	if _, err := pods.Create(ctx, pod("big", "3"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const msg = "0/5 nodes are available: 2 node(s) had untolerated taint {key: value}, 3 Insufficient cpu. " +
		"preemption: 0/5 nodes are available: 2 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod."
	eventually(t, 10*time.Second, func() error {
		p, err := pods.Get(ctx, "default", "big")
		if err != nil {
			return err
		}
		c := scheduledCondition(p)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable || c.Message != msg {
			return fmt.Errorf("PodScheduled condition %+v, want False/Unschedulable/%q", c, msg)
		}
		return nil
	})
	eventually(t, 5*time.Second, func() error {
		evs := events(t, e, "big", "FailedScheduling")
		if len(evs) == 0 {
			return fmt.Errorf("no FailedScheduling event")
		}
		if evs[0].Message != msg || evs[0].Type != corev1.EventTypeWarning {
			return fmt.Errorf("FailedScheduling event %q (%s)", evs[0].Message, evs[0].Type)
		}
		return nil
	})
	// A pod that is being deleted is not scheduled, even once it fits.
	held := pod("held", "3")
	held.Finalizers = []string{"example.com/hold"}
	if _, err := pods.Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if len(events(t, e, "held", "FailedScheduling")) == 0 {
			return fmt.Errorf("held was not tried")
		}
		return nil
	})
	if _, _, err := pods.Delete(ctx, "default", "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A node that fits appears: big is retried at once (no periodic
	// flush needed) and bound there; held is not.
	if _, err := nodes.Create(ctx, node("n4", "4"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := boundTo(t, e, "big", 10*time.Second); n != "n4" {
		t.Errorf("big bound to %s, want n4", n)
	}
	// A bound pod goes away: the room it leaves lets a waiting pod in.
	if _, err := pods.Create(ctx, pod("needs-room", "2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if len(events(t, e, "needs-room", "FailedScheduling")) == 0 {
			return fmt.Errorf("needs-room was not tried")
		}
		return nil
	})
	if _, _, err := pods.Delete(ctx, "default", "web-0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	if n := boundTo(t, e, "needs-room", 10*time.Second); n != got.Spec.NodeName {
		t.Errorf("needs-room bound to %s, want %s where web-0 was", n, got.Spec.NodeName)
	}
	// A node gets the label a waiting pod selects.
	ssd := pod("ssd", "1")
	ssd.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	if _, err := pods.Create(ctx, ssd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if len(events(t, e, "ssd", "FailedScheduling")) == 0 {
			return fmt.Errorf("ssd was not tried")
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		n4, err := nodes.Get(ctx, "", "n4")
		if err != nil {
			return err
		}
		n4.Labels["disk"] = "ssd"
		_, err = nodes.Update(ctx, n4, metav1.UpdateOptions{})
		return err
	})
	if n := boundTo(t, e, "ssd", 10*time.Second); n != "n4" {
		t.Errorf("ssd bound to %s, want n4", n)
	}
	// Pods for another scheduler are left alone.
	other := pod("other", "1")
	other.Spec.SchedulerName = "someone-else"
	if _, err := pods.Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The passive replica bound nothing.
	if st := b.s.Stats(); st.Attempts != 0 || b.s.Leading() {
		t.Errorf("passive replica: leading %v, stats %+v", b.s.Leading(), st)
	}
	// The leader dies (keeping its lease): b takes over once the lease
	// lapses and schedules the next pod.
	a.stop()
	died := time.Now()
	if _, err := pods.Create(ctx, pod("after", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	boundTo(t, e, "after", 20*time.Second)
	if took := time.Since(died); took < fastElection.LeaseDuration/2 {
		t.Errorf("the next pod was bound %v after the leader died, before its lease (%v) could lapse", took, fastElection.LeaseDuration)
	}
	if !b.s.Leading() {
		t.Error("replica-b is not leading")
	}
	l, err := client.For[*coordinationv1.Lease](e.c).Get(ctx, scheduler.DefaultLeaseNamespace, scheduler.DefaultLeaseName)
	if err != nil {
		t.Fatal(err)
	}
	if h := *l.Spec.HolderIdentity; h != "replica-b" || *l.Spec.LeaseTransitions != 1 {
		t.Errorf("lease holder %s, transitions %d; want replica-b, 1", h, *l.Spec.LeaseTransitions)
	}
	evs := events(t, e, "after", "Scheduled")
	if len(evs) != 1 || !strings.HasSuffix(evs[0].ReportingInstance, "replica-b") {
		t.Errorf("after's Scheduled events: %v", evs)
	}
	p, err := pods.Get(ctx, "default", "held")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" {
		t.Errorf("a pod being deleted was bound to %s", p.Spec.NodeName)
	}
	p, err = pods.Get(ctx, "default", "other")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" || scheduledCondition(p) != nil {
		t.Errorf("another scheduler's pod was touched: node %q, condition %+v", p.Spec.NodeName, scheduledCondition(p))
	}
	if st := b.s.Stats(); st.Errors != 0 {
		t.Errorf("replica-b stats: %+v", st)
	}
}

func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// TestServeAsComponent runs the scheduler the way skiff up does: as a
// component of the control plane, on the control plane's connection.
func TestServeAsComponent(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan controlplane.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- controlplane.Run(ctx, controlplane.Config{
			DataDir: t.TempDir(), NATSListen: "127.0.0.1:0",
			Components: []controlplane.Component{{Name: "scheduler", Run: func(ctx context.Context, conn *bus.Conn) error {
				return scheduler.Serve(ctx, conn, scheduler.Config{Logger: testLogger(t)})
			}}},
			Ready: func(in controlplane.Info) { ready <- in },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("control plane: %v", err)
		}
	})
	var info controlplane.Info
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("control plane: %v", err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	conn, err := bus.Connect(cctx, bus.ConnConfig{URL: info.NATSURL, Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	c, err := client.New(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{c: c}
	if _, err := client.For[*corev1.Node](c).Create(ctx, node("only", "4"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*corev1.Pod](c).Create(ctx, pod("p", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := boundTo(t, e, "p", 20*time.Second); n != "only" {
		t.Errorf("bound to %s", n)
	}
}

// BenchmarkEndToEnd creates b.N pods through the API (16 clients) on a
// cluster of 500 nodes and times until the scheduler has bound them all:
// informer, queue, cycle, binding and events included, with the API
// server and NATS in the same process (and on the same cores).
func BenchmarkEndToEnd(b *testing.B) {
	e := start(b)
	ctx := b.Context()
	nodes := client.For[*corev1.Node](e.c)
	for i := range 500 {
		n := node(fmt.Sprintf("node-%03d", i), "64")
		n.Status.Allocatable[corev1.ResourcePods] = resource.MustParse("1000")
		if _, err := nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	s, err := scheduler.New(scheduler.Config{Client: e.c, LeaderElection: scheduler.LeaderElection{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	b.Cleanup(func() { cancel(); <-done })
	pods := client.For[*corev1.Pod](e.c)
	b.ReportAllocs()
	b.ResetTimer()
	const clients = 16
	errs := make(chan error, clients)
	for w := range clients {
		go func() {
			for i := w; i < b.N; i += clients {
				if _, err := pods.Create(ctx, pod(fmt.Sprint("p-", i), "10m"), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for s.Stats().Scheduled < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("bound %d of %d pods", s.Stats().Scheduled, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}

// gang is a co-scheduling Permit plugin, as users would write one: pods
// labelled gang=NAME wait until gangSize of them are reserved, then all
// are allowed at once.
type gang struct {
	h        framework.Handle
	mu       sync.Mutex
	reserved map[string]int
}

const gangSize = 3

func (g *gang) Name() string { return "Gang" }

func (g *gang) Permit(_ context.Context, _ *framework.CycleState, p *framework.PodInfo, _ string) (*framework.Status, time.Duration) {
	name, ok := p.Pod.Labels["gang"]
	if !ok {
		return nil, 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reserved[name]++
	if g.reserved[name] < gangSize {
		return framework.NewStatus(framework.Wait), 30 * time.Second
	}
	g.h.WaitingPods().Each(func(wp *framework.WaitingPod) {
		if wp.Pod.Pod.Labels["gang"] == name {
			wp.Allow("Gang")
		}
	})
	return nil, 0
}

// TestPermitWaitsWithoutBlocking runs a profile with a Permit plugin:
// members of a gang wait, unbound, until the last one is reserved, while
// other pods are scheduled meanwhile.
func TestPermitWaitsWithoutBlocking(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	for _, n := range []string{"n1", "n2"} {
		if _, err := client.For[*corev1.Node](e.c).Create(ctx, node(n, "8"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	reg := builtin.Registry()
	reg["Gang"] = func(_ any, h framework.Handle) (framework.Plugin, error) {
		return &gang{h: h, reserved: map[string]int{}}, nil
	}
	prof := builtin.DefaultProfile()
	prof.Plugins = append(prof.Plugins, framework.PluginConfig{Name: "Gang"})
	s, err := scheduler.New(scheduler.Config{Client: e.c, Registry: reg, Profiles: []framework.Profile{prof},
		Logger: testLogger(t), LeaderElection: scheduler.LeaderElection{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	pods := client.For[*corev1.Pod](e.c)
	member := func(name string) {
		p := pod(name, "1")
		p.Labels["gang"] = "g"
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	member("g1")
	member("g2")
	if _, err := pods.Create(ctx, pod("solo", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	boundTo(t, e, "solo", 10*time.Second)
	for _, name := range []string{"g1", "g2"} {
		if p, err := pods.Get(ctx, "default", name); err != nil || p.Spec.NodeName != "" {
			t.Fatalf("gang member %s bound before the gang was complete (%v)", name, err)
		}
	}
	member("g3")
	for _, name := range []string{"g1", "g2", "g3"} {
		boundTo(t, e, name, 10*time.Second)
	}
}

// flakyPreBind fails the first PreBind of each pod, as a volume that is
// not ready yet would.
type flakyPreBind struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (f *flakyPreBind) Name() string { return "Flaky" }

func (f *flakyPreBind) PreBind(_ context.Context, _ *framework.CycleState, p *framework.PodInfo, _ string) *framework.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.seen[p.Pod.Name] {
		f.seen[p.Pod.Name] = true
		return framework.AsStatus(fmt.Errorf("volume not ready"))
	}
	return nil
}

// TestFailedBindingIsUndone: a pod whose binding cycle fails is forgotten
// (its room is free again), retried after its back-off, and bound.
func TestFailedBindingIsUndone(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	// Room for exactly one pod: a leaked reservation would leave the
	// retry without a node.
	if _, err := client.For[*corev1.Node](e.c).Create(ctx, node("only", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	reg := builtin.Registry()
	reg["Flaky"] = func(any, framework.Handle) (framework.Plugin, error) {
		return &flakyPreBind{seen: map[string]bool{}}, nil
	}
	prof := builtin.DefaultProfile()
	prof.Plugins = append(prof.Plugins, framework.PluginConfig{Name: "Flaky"})
	s, err := scheduler.New(scheduler.Config{Client: e.c, Registry: reg, Profiles: []framework.Profile{prof},
		PodInitialBackoff: 50 * time.Millisecond, Logger: testLogger(t), LeaderElection: scheduler.LeaderElection{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if _, err := client.For[*corev1.Pod](e.c).Create(ctx, pod("p", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	boundTo(t, e, "p", 10*time.Second)
	st := s.Stats()
	if st.BindFailures != 1 || st.Scheduled != 1 || st.Attempts != 2 {
		t.Errorf("stats %+v, want 2 attempts, 1 bind failure, 1 scheduled", st)
	}
	eventually(t, 5*time.Second, func() error {
		evs := events(t, e, "p", "FailedScheduling")
		if len(evs) != 1 || !strings.Contains(evs[0].Message, "volume not ready") {
			return fmt.Errorf("FailedScheduling events: %v", evs)
		}
		return nil
	})
}
