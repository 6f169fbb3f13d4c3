package agent_test

import (
	"context"
	"encoding/json"
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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/nodes/lifecycle"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/simulated"
	"github.com/skiffhq/skiff/sdk/client"
)

// env is a real NATS server with a real API server (node index on), and
// the client and index binding agents use.
type env struct {
	nats  *bustest.Server
	conn  *bus.Conn
	c     *client.Client
	index *store.Store
}

func start(t testing.TB) *env {
	t.Helper()
	e := apiservertest.Start(t, apiservertest.Config{NodePods: true})
	index, err := store.Bind(t.Context(), e.ClientConn, store.Config{Bucket: subjects.NodePodsBucket})
	if err != nil {
		t.Fatal(err)
	}
	return &env{nats: e.NATS, conn: e.ClientConn, c: e.Client, index: index}
}

// running is an agent running in the background.
type running struct {
	a    *agent.Agent
	rt   runtime.Runtime
	stop func()
}

// fast are timings that keep tests short.
func fast(cfg agent.Config) agent.Config {
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 200 * time.Millisecond
	}
	if cfg.StatusInterval == 0 {
		cfg.StatusInterval = 200 * time.Millisecond
	}
	if cfg.Backoff == (lifecycle.Backoff{}) {
		cfg.Backoff = lifecycle.Backoff{Initial: 200 * time.Millisecond, Max: 800 * time.Millisecond}
	}
	if cfg.PullBackoff == (lifecycle.Backoff{}) {
		cfg.PullBackoff = lifecycle.Backoff{Initial: 200 * time.Millisecond, Max: 800 * time.Millisecond}
	}
	return cfg
}

// runAgent starts an agent for node name on cfg.Runtime (a new simulated
// runtime if nil) and waits until it is ready.
func (e *env) runAgent(t *testing.T, name string, cfg agent.Config) *running {
	t.Helper()
	if cfg.Runtime == nil {
		rt, err := simulated.New(simulated.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rt.Close)
		cfg.Runtime = rt
	}
	rt := cfg.Runtime
	cfg.Name, cfg.Client, cfg.NodePods = name, e.c, e.index
	if os.Getenv("SKIFF_AGENT_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	a, err := agent.New(fast(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once bool
	stop := func() {
		if once {
			return
		}
		once = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent %s: %v", name, err)
		}
	}
	t.Cleanup(stop)
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("agent %s ended: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("agent %s not ready", name)
	}
	return &running{a: a, rt: rt, stop: stop}
}

// eventually polls cond until it returns "" or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if last = cond(); last == "" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("after %s: %s", timeout, last)
}

func (e *env) createPod(t *testing.T, pod *corev1.Pod, node string) *corev1.Pod {
	t.Helper()
	pods := client.For[*corev1.Pod](e.c)
	p, err := pods.Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node != "" {
		if err := e.c.Bind(t.Context(), p.Namespace, p.Name, node); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (e *env) getPod(t *testing.T, name string) (*corev1.Pod, error) {
	t.Helper()
	return client.For[*corev1.Pod](e.c).Get(t.Context(), "default", name)
}

func podSpec(name string, ann map[string]string, containers ...string) *corev1.Pod {
	if len(containers) == 0 {
		containers = []string{"app"}
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "example.com/app:1"})
	}
	return p
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func describe(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase=%s", p.Status.Phase)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s", c.Type, c.Status)
	}
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, " [%s restarts=%d ready=%v", cs.Name, cs.RestartCount, cs.Ready)
		switch s := cs.State; {
		case s.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s", s.Waiting.Reason)
		case s.Running != nil:
			fmt.Fprintf(&b, " running")
		case s.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s(%d)", s.Terminated.Reason, s.Terminated.ExitCode)
		}
		b.WriteString("]")
	}
	return b.String()
}

func TestNodeRegistersAndHeartbeats(t *testing.T) {
	e := start(t)
	e.runAgent(t, "n1", agent.Config{
		Labels: map[string]string{"zone": "a"},
		Taints: []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}},
	})
	node, err := client.For[*corev1.Node](e.c).Get(t.Context(), "", "n1")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"kubernetes.io/hostname": "n1", "kubernetes.io/os": "linux", "zone": "a"} {
		if node.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, node.Labels[k], v)
		}
	}
	if len(node.Spec.Taints) != 1 || node.Spec.Taints[0].Key != "dedicated" {
		t.Errorf("taints = %v", node.Spec.Taints)
	}
	if node.Status.Capacity.Cpu().IsZero() || node.Status.Allocatable.Memory().IsZero() || node.Status.Capacity.Pods().Value() != 110 {
		t.Errorf("capacity = %v, allocatable = %v", node.Status.Capacity, node.Status.Allocatable)
	}
	var ready *corev1.NodeCondition
	for i, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = &node.Status.Conditions[i]
		}
	}
	if ready == nil || ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" {
		t.Errorf("Ready condition = %+v", ready)
	}
	if got := node.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(got, "simulated://") {
		t.Errorf("containerRuntimeVersion = %q", got)
	}

	leases := client.For[*coordinationv1.Lease](e.c)
	var first time.Time
	eventually(t, 5*time.Second, func() string {
		l, err := leases.Get(t.Context(), corev1.NamespaceNodeLease, "n1")
		if err != nil {
			return err.Error()
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "n1" || l.Spec.RenewTime == nil {
			return fmt.Sprintf("lease spec %+v", l.Spec)
		}
		if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].UID != node.UID {
			return fmt.Sprintf("lease owner %+v", l.OwnerReferences)
		}
		first = l.Spec.RenewTime.Time
		return ""
	})
	eventually(t, 5*time.Second, func() string {
		l, err := leases.Get(t.Context(), corev1.NamespaceNodeLease, "n1")
		if err != nil {
			return err.Error()
		}
		if !l.Spec.RenewTime.After(first) {
			return fmt.Sprintf("renewTime %s did not advance past %s", l.Spec.RenewTime, first)
		}
		return ""
	})
}

func TestPodReachesRunning(t *testing.T) {
	e := start(t)
	e.runAgent(t, "n1", agent.Config{})
	pod := podSpec("web", nil, "a", "b")
	pod.Spec.InitContainers = []corev1.Container{{Name: "init1", Image: "example.com/init:1"}, {Name: "init2", Image: "example.com/init:1"}}
	e.createPod(t, pod, "n1")
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "web")
		if err != nil {
			return err.Error()
		}
		want := map[corev1.PodConditionType]corev1.ConditionStatus{
			corev1.PodScheduled: corev1.ConditionTrue, corev1.PodInitialized: corev1.ConditionTrue,
			corev1.ContainersReady: corev1.ConditionTrue, corev1.PodReady: corev1.ConditionTrue,
			corev1.PodReadyToStartContainers: corev1.ConditionTrue,
		}
		for typ, st := range want {
			if condition(p, typ) != st {
				return describe(p)
			}
		}
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.Status.HostIP == "" || p.Status.StartTime == nil {
			return describe(p) + " ip=" + p.Status.PodIP
		}
		for _, cs := range p.Status.InitContainerStatuses {
			if cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" || !cs.Ready {
				return describe(p)
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || !strings.HasPrefix(cs.ContainerID, "simulated://") || cs.ImageID == "" {
				return describe(p)
			}
		}
		return ""
	})
}

// containersOf lists the runtime's containers of a pod, oldest first.
func containersOf(t *testing.T, rt runtime.Runtime, p *corev1.Pod) []runtime.Container {
	t.Helper()
	cs, err := rt.ListContainers(t.Context(), map[string]string{runtime.LabelPodUID: string(p.UID)})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(cs, func(a, b runtime.Container) int { return a.Attempt - b.Attempt })
	return cs
}

func TestRestartPolicies(t *testing.T) {
	e := start(t)
	e.runAgent(t, "n1", agent.Config{})
	tests := []struct {
		name     string
		policy   corev1.RestartPolicy
		ann      map[string]string
		phase    corev1.PodPhase
		restarts int32
		reason   string
	}{
		{"never-succeeds", corev1.RestartPolicyNever, map[string]string{simulated.AnnotationExitAfter: "100ms"}, corev1.PodSucceeded, 0, "Completed"},
		{"never-fails", corev1.RestartPolicyNever, map[string]string{simulated.AnnotationExitAfter: "100ms", simulated.AnnotationExitCode: "3"}, corev1.PodFailed, 0, "Error"},
		{"onfailure-succeeds", corev1.RestartPolicyOnFailure, map[string]string{simulated.AnnotationExitAfter: "100ms"}, corev1.PodSucceeded, 0, "Completed"},
		{"onfailure-retries-then-succeeds", corev1.RestartPolicyOnFailure, map[string]string{
			simulated.AnnotationExitAfter: "50ms", simulated.AnnotationExitCode: "1", simulated.AnnotationExitAttempts: "2"}, corev1.PodRunning, 2, ""},
		{"oom-killed", corev1.RestartPolicyNever, map[string]string{simulated.AnnotationOOMAfter: "100ms"}, corev1.PodFailed, 0, "OOMKilled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := podSpec(tt.name, tt.ann)
			pod.Spec.RestartPolicy = tt.policy
			e.createPod(t, pod, "n1")
			eventually(t, 10*time.Second, func() string {
				p, err := e.getPod(t, tt.name)
				if err != nil {
					return err.Error()
				}
				if p.Status.Phase != tt.phase || len(p.Status.ContainerStatuses) != 1 {
					return describe(p)
				}
				cs := p.Status.ContainerStatuses[0]
				if cs.RestartCount != tt.restarts {
					return describe(p)
				}
				switch {
				case tt.reason == "" && cs.State.Running == nil:
					return describe(p)
				case tt.reason != "" && (cs.State.Terminated == nil || cs.State.Terminated.Reason != tt.reason):
					return describe(p)
				}
				if tt.phase == corev1.PodSucceeded || tt.phase == corev1.PodFailed {
					if condition(p, corev1.PodReady) != corev1.ConditionFalse {
						return "terminal pod still ready: " + describe(p)
					}
				}
				return ""
			})
		})
	}
}

func TestCrashLoopBackOffGrows(t *testing.T) {
	e := start(t)
	r := e.runAgent(t, "n1", agent.Config{Backoff: lifecycle.Backoff{Initial: 400 * time.Millisecond, Max: 1600 * time.Millisecond}})
	pod := e.createPod(t, podSpec("crash", map[string]string{simulated.AnnotationExitAfter: "0s", simulated.AnnotationExitCode: "1"}), "n1")
	sawBackOff := false
	eventually(t, 15*time.Second, func() string {
		p, err := e.getPod(t, "crash")
		if err != nil {
			return err.Error()
		}
		if len(p.Status.ContainerStatuses) == 1 {
			cs := p.Status.ContainerStatuses[0]
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				sawBackOff = true
				if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
					return "CrashLoopBackOff without the last termination: " + describe(p)
				}
			}
		}
		if n := len(containersOf(t, r.rt, pod)); n < 2 || containersOf(t, r.rt, pod)[n-1].Attempt < 5 {
			return describe(p)
		}
		return ""
	})
	if !sawBackOff {
		t.Error("never saw CrashLoopBackOff")
	}
	// The runtime keeps the two newest attempts; their gap is the current
	// delay, which by attempt 5 has reached the maximum.
	cs := containersOf(t, r.rt, pod)
	prev, last := cs[len(cs)-2], cs[len(cs)-1]
	gap := last.StartedAt.Sub(prev.FinishedAt)
	if gap < 1500*time.Millisecond || gap > 2500*time.Millisecond {
		t.Errorf("restart %d came %s after the exit, want about the 1.6s maximum", last.Attempt, gap)
	}
}

func TestImagePullBackOff(t *testing.T) {
	e := start(t)
	e.runAgent(t, "n1", agent.Config{PullBackoff: lifecycle.Backoff{Initial: 5 * time.Second, Max: 10 * time.Second}})
	e.createPod(t, podSpec("pull", map[string]string{simulated.AnnotationPullError: "manifest unknown"}), "n1")
	seen := map[string]bool{}
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "pull")
		if err != nil {
			return err.Error()
		}
		if len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil {
			w := p.Status.ContainerStatuses[0].State.Waiting
			seen[w.Reason] = true
			if !strings.Contains(w.Message, "manifest unknown") {
				return "message " + w.Message
			}
		}
		if !seen["ImagePullBackOff"] || p.Status.Phase != corev1.PodPending {
			return fmt.Sprintf("%s, seen %v", describe(p), seen)
		}
		return ""
	})
}

func TestReadinessAndLivenessProbes(t *testing.T) {
	e := start(t)
	r := e.runAgent(t, "n1", agent.Config{Backoff: lifecycle.Backoff{Initial: 100 * time.Millisecond, Max: 100 * time.Millisecond}})
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
		PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 1}
	pod := podSpec("ready", map[string]string{simulated.AnnotationReadyAfter: "1500ms"})
	pod.Spec.Containers[0].ReadinessProbe = probe
	created := e.createPod(t, pod, "n1")
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "ready")
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodReady) != corev1.ConditionFalse {
			return "not running and unready first: " + describe(p)
		}
		return ""
	})
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "ready")
		if err != nil {
			return err.Error()
		}
		if condition(p, corev1.PodReady) != corev1.ConditionTrue || !p.Status.ContainerStatuses[0].Ready {
			return describe(p)
		}
		return ""
	})
	if n := len(containersOf(t, r.rt, created)); n != 1 {
		t.Errorf("%d containers for a readiness change, want 1", n)
	}

	live := podSpec("live", map[string]string{simulated.AnnotationLivenessFailAfter: "1s"})
	live.Spec.Containers[0].LivenessProbe = probe
	e.createPod(t, live, "n1")
	eventually(t, 10*time.Second, func() string {
		p, err := e.getPod(t, "live")
		if err != nil {
			return err.Error()
		}
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].RestartCount < 2 {
			return describe(p)
		}
		if lt := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 143 {
			return "killed container's last state: " + describe(p)
		}
		return ""
	})
}

func TestInitContainers(t *testing.T) {
	e := start(t)
	e.runAgent(t, "n1", agent.Config{})
	pod := podSpec("init-fails", map[string]string{simulated.AnnotationExitCode + ".setup": "2"})
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "example.com/init:1"}}
	e.createPod(t, pod, "n1")
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "init-fails")
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.PodFailed || condition(p, corev1.PodInitialized) != corev1.ConditionFalse {
			return describe(p)
		}
		if cs := p.Status.ContainerStatuses[0]; cs.State.Waiting == nil || cs.State.Waiting.Reason != "PodInitializing" {
			return "app container should never have started: " + describe(p)
		}
		return ""
	})
	// An init container that runs for a while holds the app containers.
	slow := podSpec("init-slow", map[string]string{simulated.AnnotationExitAfter + ".wait": "700ms"})
	slow.Spec.InitContainers = []corev1.Container{{Name: "wait", Image: "example.com/init:1"}}
	e.createPod(t, slow, "n1")
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "init-slow")
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.PodPending || condition(p, corev1.PodInitialized) != corev1.ConditionFalse ||
			p.Status.InitContainerStatuses[0].State.Running == nil {
			return describe(p)
		}
		return ""
	})
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "init-slow")
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodInitialized) != corev1.ConditionTrue {
			return describe(p)
		}
		return ""
	})
}

func TestActiveDeadline(t *testing.T) {
	e := start(t)
	e.runAgent(t, "n1", agent.Config{})
	pod := podSpec("deadline", nil)
	pod.Spec.ActiveDeadlineSeconds = new(int64(1))
	pod.Spec.TerminationGracePeriodSeconds = new(int64(1))
	e.createPod(t, pod, "n1")
	eventually(t, 6*time.Second, func() string {
		p, err := e.getPod(t, "deadline")
		if err != nil {
			return err.Error()
		}
		if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "DeadlineExceeded" {
			return describe(p)
		}
		return ""
	})
}

// signals records the signals an agent sends through a simulated runtime.
type signals struct {
	*simulated.Runtime
	mu   sync.Mutex
	sent map[string][]sent
}

type sent struct {
	sig runtime.Signal
	at  time.Time
}

func (s *signals) KillContainer(ctx context.Context, id string, sig runtime.Signal) error {
	s.mu.Lock()
	s.sent[id] = append(s.sent[id], sent{sig, time.Now()})
	s.mu.Unlock()
	return s.Runtime.KillContainer(ctx, id, sig)
}

func (s *signals) of(id string) []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent[id])
}

func TestGracefulDeletion(t *testing.T) {
	e := start(t)
	sim, err := simulated.New(simulated.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	rec := &signals{Runtime: sim, sent: map[string][]sent{}}
	r := e.runAgent(t, "n1", agent.Config{Runtime: rec})
	pods := client.For[*corev1.Pod](e.c)
	tests := []struct {
		name     string
		ann      map[string]string
		grace    int64
		min, max time.Duration
		signals  []runtime.Signal
	}{
		// Exits on SIGTERM at once: gone quickly, well within its grace.
		{"prompt", nil, 30, 0, 3 * time.Second, []runtime.Signal{runtime.SIGTERM}},
		// Ignores SIGTERM: SIGKILL at the end of the grace period.
		{"stubborn", map[string]string{simulated.AnnotationTermAfter: "never"}, 2, 2 * time.Second, 4 * time.Second,
			[]runtime.Signal{runtime.SIGTERM, runtime.SIGKILL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := podSpec(tt.name, tt.ann)
			p.Spec.TerminationGracePeriodSeconds = &tt.grace
			created := e.createPod(t, p, "n1")
			eventually(t, 5*time.Second, func() string {
				p, err := e.getPod(t, tt.name)
				if err != nil || p.Status.Phase != corev1.PodRunning {
					return fmt.Sprint(p, err)
				}
				return ""
			})
			begin := time.Now()
			last, gone, err := pods.Delete(t.Context(), "default", tt.name, metav1.DeleteOptions{})
			if err != nil || gone || last.DeletionTimestamp == nil {
				t.Fatalf("delete: gone=%v err=%v (a bound pod is deleted gracefully)", gone, err)
			}
			id := containersOf(t, r.rt, created)[0].ID
			eventually(t, 10*time.Second, func() string {
				_, err := e.getPod(t, tt.name)
				if !apierrors.IsNotFound(err) {
					return fmt.Sprintf("pod still there (%v)", err)
				}
				return ""
			})
			took := time.Since(begin)
			if took < tt.min || took > tt.max {
				t.Errorf("pod removed after %s, want between %s and %s", took, tt.min, tt.max)
			}
			got := rec.of(id)
			var sigs []runtime.Signal
			for _, s := range got {
				sigs = append(sigs, s.sig)
			}
			if !slices.Equal(sigs, tt.signals) {
				t.Errorf("signals sent: %v, want %v", sigs, tt.signals)
			}
			if len(got) == 2 {
				if gap := got[1].at.Sub(got[0].at); gap < time.Duration(tt.grace)*time.Second || gap > time.Duration(tt.grace)*time.Second+time.Second {
					t.Errorf("SIGKILL came %s after SIGTERM, want the %ds grace period", gap, tt.grace)
				}
			}
			eventually(t, 5*time.Second, func() string {
				if cs := containersOf(t, r.rt, created); len(cs) > 0 {
					return fmt.Sprintf("%d containers left in the runtime", len(cs))
				}
				return ""
			})
		})
	}
}

func TestAgentRestartReadopts(t *testing.T) {
	e := start(t)
	rt, err := simulated.New(simulated.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	first := e.runAgent(t, "n1", agent.Config{Runtime: rt})
	keep := e.createPod(t, podSpec("keep", nil), "n1")
	doomed := e.createPod(t, podSpec("doomed", nil), "n1")
	for _, name := range []string{"keep", "doomed"} {
		eventually(t, 5*time.Second, func() string {
			p, err := e.getPod(t, name)
			if err != nil || p.Status.Phase != corev1.PodRunning {
				return fmt.Sprint(name, " ", err)
			}
			return ""
		})
	}
	before := containersOf(t, rt, keep)
	first.stop()

	// While the agent is down: one pod is force-deleted, one is created.
	pods := client.For[*corev1.Pod](e.c)
	if _, _, err := pods.Delete(t.Context(), "default", "doomed", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	e.createPod(t, podSpec("newcomer", nil), "n1")

	second := e.runAgent(t, "n1", agent.Config{Runtime: rt})
	eventually(t, 5*time.Second, func() string {
		p, err := e.getPod(t, "newcomer")
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return fmt.Sprint("newcomer ", err)
		}
		if cs := containersOf(t, rt, doomed); len(cs) > 0 {
			return "the force-deleted pod's containers are still there"
		}
		if sbs, _ := rt.ListSandboxes(t.Context(), map[string]string{runtime.LabelPodUID: string(doomed.UID)}); len(sbs) > 0 {
			return "the force-deleted pod's sandbox is still there"
		}
		return ""
	})
	after := containersOf(t, rt, keep)
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].State != runtime.StateRunning {
		t.Errorf("containers of the kept pod: before %v, after %v", before, after)
	}
	p, err := e.getPod(t, "keep")
	if err != nil {
		t.Fatal(err)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.ContainerID != "simulated://"+before[0].ID {
		t.Errorf("kept pod's status after the restart: %s %s", describe(p), cs.ContainerID)
	}
	if n := second.a.PodCount(); n != 2 {
		t.Errorf("agent has %d pod workers, want 2", n)
	}
}

// consumers lists the JetStream consumers of a stream with their filter
// subjects, through the JetStream API.
func consumers(t *testing.T, conn *bus.Conn, stream string) [][]string {
	t.Helper()
	var out [][]string
	for offset := 0; ; {
		m, err := conn.Request(t.Context(), &bus.Msg{Subject: "$JS.API.CONSUMER.LIST." + stream, Data: fmt.Appendf(nil, `{"offset":%d}`, offset)})
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Total     int `json:"total"`
			Consumers []struct {
				Config struct {
					FilterSubject  string   `json:"filter_subject"`
					FilterSubjects []string `json:"filter_subjects"`
				} `json:"config"`
			} `json:"consumers"`
		}
		if err := json.Unmarshal(m.Data, &resp); err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Consumers {
			f := c.Config.FilterSubjects
			if c.Config.FilterSubject != "" {
				f = append(f, c.Config.FilterSubject)
			}
			out = append(out, f)
		}
		offset += len(resp.Consumers)
		if len(resp.Consumers) == 0 || offset >= resp.Total {
			return out
		}
	}
}

func TestNodeReadsOnlyItsOwnPods(t *testing.T) {
	e := start(t)
	r1 := e.runAgent(t, "n1", agent.Config{})
	r2 := e.runAgent(t, "n10", agent.Config{}) // "n1" is a prefix of its name
	for i := range 3 {
		e.createPod(t, podSpec(fmt.Sprintf("a%d", i), nil), "n1")
		e.createPod(t, podSpec(fmt.Sprintf("b%d", i), nil), "n10")
	}
	e.createPod(t, podSpec("unbound", nil), "")
	eventually(t, 5*time.Second, func() string {
		if r1.a.PodCount() != 3 || r2.a.PodCount() != 3 {
			return fmt.Sprintf("pods: n1 %d, n10 %d", r1.a.PodCount(), r2.a.PodCount())
		}
		return ""
	})
	for _, r := range []*running{r1, r2} {
		sbs, err := r.rt.ListSandboxes(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, sb := range sbs {
			if want := map[string]string{"n1": "a", "n10": "b"}[r.a.Name()]; !strings.HasPrefix(sb.Labels[runtime.LabelPodName], want) {
				t.Errorf("node %s runs pod %s", r.a.Name(), sb.Labels[runtime.LabelPodName])
			}
		}
	}
	// One consumer per node on the node index, filtered to the node's
	// prefix; none of the agents' on the objects bucket.
	idx := consumers(t, e.conn, "KV_"+subjects.NodePodsBucket)
	if len(idx) != 2 {
		t.Errorf("node index consumers: %v, want one per node", idx)
	}
	for _, f := range idx {
		if !slices.Contains(f, "$KV.nodepods.n1.>") && !slices.Contains(f, "$KV.nodepods.n10.>") {
			t.Errorf("node index consumer filters %v, want one node's prefix", f)
		}
	}
	for _, f := range consumers(t, e.conn, "KV_"+subjects.ObjectsBucket) {
		for _, s := range f {
			if s == "$KV.objects.>" || strings.HasPrefix(s, "$KV.objects._.pods") {
				t.Errorf("a consumer reads pods from the objects bucket: %v", f)
			}
		}
	}
}
func TestPodCreatedWithNodeName(t *testing.T) {
	e := start(t)
	e.runAgent(t, "n1", agent.Config{})
	p := podSpec("direct", nil)
	p.Spec.NodeName = "n1" // as DaemonSet pods and static manifests are
	e.createPod(t, p, "")
	eventually(t, 5*time.Second, func() string {
		got, err := e.getPod(t, "direct")
		if err != nil {
			return err.Error()
		}
		if got.Status.Phase != corev1.PodRunning {
			return describe(got)
		}
		return ""
	})
}
