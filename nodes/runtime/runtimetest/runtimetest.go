package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Behaviour is how a test container behaves.
type Behaviour struct {
	// ExitAfter, when > 0, makes the container exit with ExitCode this
	// long after it starts; 0 runs it until it is killed.
	ExitAfter time.Duration
	ExitCode  int
	// IgnoreTerm makes the container ignore SIGTERM.
	IgnoreTerm bool
}

// Harness adapts a runtime to the suite.
type Harness struct {
	// New returns a fresh, empty runtime; the harness cleans it up.
	New func(t *testing.T) runtime.Runtime
	// Image is a reference the runtime can pull.
	Image string
	// Configure returns the pod annotations and the container command
	// that make a container behave as b (a runtime uses one or the other).
	Configure func(b Behaviour) (annotations map[string]string, command []string)
	// Timeout bounds each wait for a state (default 10 s).
	Timeout time.Duration
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	if h.Timeout == 0 {
		h.Timeout = 10 * time.Second
	}
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, h) })
	t.Run("ExitCode", func(t *testing.T) { testExitCode(t, h) })
	t.Run("Signals", func(t *testing.T) { testSignals(t, h) })
	t.Run("StopSandbox", func(t *testing.T) { testStopSandbox(t, h) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, h) })
	t.Run("ConcurrentPods", func(t *testing.T) { testConcurrent(t, h) })
}

// pod is a sandbox with one container named "main".
type pod struct {
	rt      runtime.Runtime
	sandbox runtime.Sandbox
	ctr     runtime.Container
	labels  map[string]string
}

func newPod(t *testing.T, h Harness, rt runtime.Runtime, uid string, b Behaviour) *pod {
	t.Helper()
	ctx := t.Context()
	ann, cmd := h.Configure(b)
	labels := map[string]string{runtime.LabelPodUID: uid, runtime.LabelPodName: "p-" + uid, runtime.LabelPodNamespace: "ns"}
	sb, err := rt.RunSandbox(ctx, runtime.SandboxConfig{Name: "p-" + uid, Namespace: "ns", UID: uid, Hostname: "p-" + uid,
		Labels: labels, Annotations: ann})
	if err != nil {
		t.Fatalf("RunSandbox: %v", err)
	}
	if sb.State != runtime.SandboxReady || sb.ID == "" {
		t.Fatalf("RunSandbox returned %+v, want a ready sandbox", sb)
	}
	if _, err := rt.PullImage(ctx, sb.ID, h.Image); err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	if _, ok, err := rt.ImageStatus(ctx, h.Image); err != nil || !ok {
		t.Fatalf("ImageStatus after a pull: %v %v", ok, err)
	}
	cl := maps.Clone(labels)
	cl[runtime.LabelContainerName] = "main"
	cl[runtime.LabelContainerKind] = runtime.KindApp
	ctr, err := rt.CreateContainer(ctx, sb.ID, runtime.ContainerConfig{Name: "main", Image: h.Image, Command: cmd, Labels: cl})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if ctr.State != runtime.StateCreated || ctr.SandboxID != sb.ID || ctr.Name != "main" {
		t.Fatalf("CreateContainer returned %+v", ctr)
	}
	return &pod{rt: rt, sandbox: sb, ctr: ctr, labels: labels}
}

// state waits until the pod's container satisfies ok and returns it.
func (p *pod) wait(t *testing.T, h Harness, what string, ok func(runtime.Container) bool) runtime.Container {
	t.Helper()
	deadline := time.Now().Add(h.Timeout)
	var last runtime.Container
	for time.Now().Before(deadline) {
		cs, err := p.rt.ListContainers(t.Context(), map[string]string{runtime.LabelPodUID: p.labels[runtime.LabelPodUID]})
		if err != nil {
			t.Fatalf("ListContainers: %v", err)
		}
		for _, c := range cs {
			if c.ID == p.ctr.ID {
				last = c
				if ok(c) {
					return c
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("container never %s; last seen %+v", what, last)
	return last
}

// waitFor polls the pod's container for up to d until ok holds, and
// returns its last state (ok may not hold).
func (p *pod) waitFor(t *testing.T, d time.Duration, ok func(runtime.Container) bool) runtime.Container {
	t.Helper()
	var last runtime.Container
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		cs, err := p.rt.ListContainers(t.Context(), map[string]string{runtime.LabelPodUID: p.labels[runtime.LabelPodUID]})
		if err != nil {
			t.Fatalf("ListContainers: %v", err)
		}
		for _, c := range cs {
			if c.ID == p.ctr.ID {
				if last = c; ok(c) {
					return c
				}
			}
		}
	}
	return last
}

func running(c runtime.Container) bool { return c.State == runtime.StateRunning }
func exited(c runtime.Container) bool  { return c.State == runtime.StateExited }

func testLifecycle(t *testing.T, h Harness) {
	rt := h.New(t)
	ctx := t.Context()
	var mu sync.Mutex
	events := map[runtime.EventType]int{}
	evCtx, stopEvents := context.WithCancel(ctx)
	evDone := make(chan error, 1)
	go func() {
		evDone <- rt.Events(evCtx, func(ev runtime.Event) {
			mu.Lock()
			events[ev.Type]++
			mu.Unlock()
		})
	}()
	defer func() {
		stopEvents()
		if err := <-evDone; err != nil {
			t.Errorf("Events: %v", err)
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the subscription settle

	p := newPod(t, h, rt, "u-life", Behaviour{})
	if err := rt.StartContainer(ctx, p.ctr.ID); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	c := p.wait(t, h, "running", running)
	if c.StartedAt.IsZero() || c.Labels[runtime.LabelContainerName] != "main" || c.ImageID == "" {
		t.Errorf("running container %+v: want a start time, its labels and an image ID", c)
	}
	sbs, err := rt.ListSandboxes(ctx, map[string]string{runtime.LabelPodUID: "u-life"})
	if err != nil || len(sbs) != 1 || sbs[0].ID != p.sandbox.ID || sbs[0].Labels[runtime.LabelPodName] != "p-u-life" {
		t.Errorf("ListSandboxes by label = %+v, %v", sbs, err)
	}
	if other, _ := rt.ListSandboxes(ctx, map[string]string{runtime.LabelPodUID: "someone-else"}); len(other) != 0 {
		t.Errorf("ListSandboxes matched another pod's label: %+v", other)
	}
	if err := rt.RemoveContainer(ctx, p.ctr.ID); err == nil {
		t.Error("RemoveContainer removed a running container")
	}
	if err := rt.KillContainer(ctx, p.ctr.ID, runtime.SIGKILL); err != nil {
		t.Fatalf("KillContainer: %v", err)
	}
	c = p.wait(t, h, "exited", exited)
	if c.ExitCode != 137 || c.FinishedAt.Before(c.StartedAt) {
		t.Errorf("after SIGKILL: %+v, want exit code 137", c)
	}
	if err := rt.KillContainer(ctx, p.ctr.ID, runtime.SIGKILL); err != nil {
		t.Errorf("killing an exited container: %v, want a no-op", err)
	}
	if err := rt.RemoveContainer(ctx, p.ctr.ID); err != nil {
		t.Fatalf("RemoveContainer: %v", err)
	}
	if cs, _ := rt.ListContainers(ctx, map[string]string{runtime.LabelPodUID: "u-life"}); len(cs) != 0 {
		t.Errorf("containers after removal: %+v", cs)
	}
	if err := rt.RemoveSandbox(ctx, p.sandbox.ID); err != nil {
		t.Fatalf("RemoveSandbox: %v", err)
	}
	if sbs, _ := rt.ListSandboxes(ctx, map[string]string{runtime.LabelPodUID: "u-life"}); len(sbs) != 0 {
		t.Errorf("sandboxes after removal: %+v", sbs)
	}
	deadline := time.Now().Add(h.Timeout)
	for {
		mu.Lock()
		n := events[runtime.ContainerExited]
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("no %s event (events: %v)", runtime.ContainerExited, events)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testExitCode(t *testing.T, h Harness) {
	rt := h.New(t)
	for _, code := range []int{0, 3} {
		p := newPod(t, h, rt, fmt.Sprintf("u-exit-%d", code), Behaviour{ExitAfter: 100 * time.Millisecond, ExitCode: code})
		if err := rt.StartContainer(t.Context(), p.ctr.ID); err != nil {
			t.Fatal(err)
		}
		c := p.wait(t, h, "exited", exited)
		if c.ExitCode != code || c.Reason != "" {
			t.Errorf("exit: code %d reason %q, want %d and no reason", c.ExitCode, c.Reason, code)
		}
	}
}

func testSignals(t *testing.T, h Harness) {
	rt := h.New(t)
	p := newPod(t, h, rt, "u-term", Behaviour{})
	if err := rt.StartContainer(t.Context(), p.ctr.ID); err != nil {
		t.Fatal(err)
	}
	p.wait(t, h, "running", running)
	// A container is running before its process has set up its signal
	// handlers (a shell's trap, say): SIGTERM again until it exits.
	var c runtime.Container
	for deadline := time.Now().Add(h.Timeout); ; {
		if err := rt.KillContainer(t.Context(), p.ctr.ID, runtime.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if c = p.waitFor(t, 200*time.Millisecond, exited); c.State == runtime.StateExited || time.Now().After(deadline) {
			break
		}
	}
	if c.State != runtime.StateExited {
		t.Fatalf("still running %v after SIGTERM: %+v", h.Timeout, c)
	}
	if c.ExitCode == 0 || c.ExitCode == 137 {
		t.Errorf("exit code after SIGTERM %d, want the process's own (143 for the default handler)", c.ExitCode)
	}

	q := newPod(t, h, rt, "u-stubborn", Behaviour{IgnoreTerm: true})
	if err := rt.StartContainer(t.Context(), q.ctr.ID); err != nil {
		t.Fatal(err)
	}
	q.wait(t, h, "running", running)
	if err := rt.KillContainer(t.Context(), q.ctr.ID, runtime.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	q.wait(t, h, "still running after an ignored SIGTERM", running)
	if err := rt.KillContainer(t.Context(), q.ctr.ID, runtime.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if c := q.wait(t, h, "exited on SIGKILL", exited); c.ExitCode != 137 {
		t.Errorf("exit code after SIGKILL %d, want 137", c.ExitCode)
	}
}

func testStopSandbox(t *testing.T, h Harness) {
	rt := h.New(t)
	p := newPod(t, h, rt, "u-stop", Behaviour{})
	if err := rt.StartContainer(t.Context(), p.ctr.ID); err != nil {
		t.Fatal(err)
	}
	p.wait(t, h, "running", running)
	if err := rt.StopSandbox(t.Context(), p.sandbox.ID); err != nil {
		t.Fatal(err)
	}
	p.wait(t, h, "exited after StopSandbox", exited)
	sbs, err := rt.ListSandboxes(t.Context(), map[string]string{runtime.LabelPodUID: "u-stop"})
	if err != nil || len(sbs) != 1 || sbs[0].State != runtime.SandboxNotReady {
		t.Errorf("stopped sandbox: %+v %v, want listed and not ready", sbs, err)
	}
	if err := rt.StopSandbox(t.Context(), p.sandbox.ID); err != nil {
		t.Errorf("stopping a stopped sandbox: %v", err)
	}
	if err := rt.RemoveSandbox(t.Context(), p.sandbox.ID); err != nil {
		t.Fatal(err)
	}
	if cs, _ := rt.ListContainers(t.Context(), map[string]string{runtime.LabelPodUID: "u-stop"}); len(cs) != 0 {
		t.Errorf("RemoveSandbox left containers: %+v", cs)
	}
}

func testNotFound(t *testing.T, h Harness) {
	rt := h.New(t)
	ctx := t.Context()
	for name, err := range map[string]error{
		"StartContainer":  rt.StartContainer(ctx, "nope"),
		"KillContainer":   rt.KillContainer(ctx, "nope", runtime.SIGKILL),
		"RemoveContainer": rt.RemoveContainer(ctx, "nope"),
		"StopSandbox":     rt.StopSandbox(ctx, "nope"),
		"RemoveSandbox":   rt.RemoveSandbox(ctx, "nope"),
	} {
		if !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s of an unknown ID: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := rt.CreateContainer(ctx, "nope", runtime.ContainerConfig{Name: "x", Image: h.Image}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("CreateContainer in an unknown sandbox: %v, want ErrNotFound", err)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	rt := h.New(t)
	const n = 8
	pods := make([]*pod, n)
	for i := range pods {
		pods[i] = newPod(t, h, rt, fmt.Sprintf("u-par-%d", i), Behaviour{ExitAfter: 50 * time.Millisecond})
	}
	// Start, wait for and remove the pods concurrently, as the agent's
	// workers do.
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Go(func() {
			ctx := t.Context()
			if err := rt.StartContainer(ctx, p.ctr.ID); err != nil {
				t.Error(err)
				return
			}
			for deadline := time.Now().Add(h.Timeout); ; time.Sleep(10 * time.Millisecond) {
				cs, err := rt.ListContainers(ctx, map[string]string{runtime.LabelPodUID: p.labels[runtime.LabelPodUID]})
				if err != nil {
					t.Error(err)
					return
				}
				if len(cs) == 1 && cs[0].State == runtime.StateExited {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("pod %s: container never exited: %+v", p.labels[runtime.LabelPodUID], cs)
					return
				}
			}
			if err := rt.RemoveSandbox(ctx, p.sandbox.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if sbs, _ := rt.ListSandboxes(t.Context(), nil); len(sbs) != 0 {
		t.Errorf("%d sandboxes left", len(sbs))
	}
}
