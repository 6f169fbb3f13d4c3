package containerd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
	"github.com/skiffhq/skiff/nodes/runtime/containerd/containerdtest"
	"github.com/skiffhq/skiff/nodes/runtime/runtimetest"
)

func need(t *testing.T) { t.Helper(); containerdtest.Need(t) }

// open starts a runtime on cfg; cleanup removes all it runs (if
// removeAll) and stops its daemon.
func open(t *testing.T, cfg containerd.Config, removeAll bool) *containerd.Runtime {
	t.Helper()
	rt, err := containerd.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if removeAll {
			ctx := context.Background()
			sbs, err := rt.ListSandboxes(ctx, nil)
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			for _, sb := range sbs {
				if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
		_ = rt.Close()
	})
	return rt
}

func newRuntime(t *testing.T) *containerd.Runtime {
	need(t)
	return open(t, containerdtest.Config(t), true)
}

// testImage is a busybox image in an in-process registry on loopback.
var testImage = sync.OnceValues(func() (string, error) {
	img, err := busyboxImage()
	if err != nil {
		return "", err
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	// The server lives as long as the test binary.
	u, _ := url.Parse(srv.URL)
	ref := u.Host + "/skiff/busybox:1"
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img); err != nil {
		return "", err
	}
	return ref, nil
})

func image(t *testing.T) string {
	t.Helper()
	ref, err := testImage()
	if err != nil {
		t.Fatalf("test image: %v", err)
	}
	return ref
}

func busyboxImage() (v1.Image, error) { return containerdtest.BusyboxImage() }

func sh(script string) []string { return []string{"sh", "-c", script} }

func TestConformance(t *testing.T) {
	need(t)
	runtimetest.Run(t, runtimetest.Harness{
		New:   func(t *testing.T) runtime.Runtime { return newRuntime(t) },
		Image: image(t),
		Configure: func(b runtimetest.Behaviour) (map[string]string, []string) {
			switch {
			case b.ExitAfter > 0:
				return nil, sh(fmt.Sprintf("sleep %g; exit %d", b.ExitAfter.Seconds(), b.ExitCode))
			case b.IgnoreTerm:
				return nil, sh(`trap "" TERM; while true; do sleep 1; done`)
			}
			// PID 1 gets no default signal actions: trap SIGTERM to exit 143.
			return nil, sh(`trap "exit 143" TERM; sleep 3600 & wait`)
		},
		Timeout: 15 * time.Second,
	})
}

// pod is a sandbox of the test image's containers.
type pod struct {
	rt  *containerd.Runtime
	sb  runtime.Sandbox
	uid string
	dir string // log dir
}

func newPod(t *testing.T, rt *containerd.Runtime, uid string) *pod {
	t.Helper()
	labels := map[string]string{runtime.LabelPodUID: uid}
	sb, err := rt.RunSandbox(t.Context(), runtime.SandboxConfig{Name: uid, Namespace: "ns", UID: uid, Hostname: uid, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	return &pod{rt: rt, sb: sb, uid: uid, dir: t.TempDir()}
}

// run creates and starts a container and returns it and the time from
// the create call until it was seen running (0 if it was not).
func (p *pod) run(t *testing.T, cfg runtime.ContainerConfig) (runtime.Container, time.Duration) {
	t.Helper()
	ctx := t.Context()
	if _, ok, _ := p.rt.ImageStatus(ctx, cfg.Image); !ok {
		if _, err := p.rt.PullImage(ctx, p.sb.ID, cfg.Image); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Labels = map[string]string{runtime.LabelPodUID: p.uid, runtime.LabelContainerName: cfg.Name}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(p.dir, cfg.Name, "0.log")
	}
	t0 := time.Now()
	c, err := p.rt.CreateContainer(ctx, p.sb.ID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.rt.StartContainer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	c = p.wait(t, c.ID, 15*time.Second, func(c runtime.Container) bool { return c.State != runtime.StateCreated })
	if c.State != runtime.StateRunning {
		return c, 0
	}
	return c, time.Since(t0)
}

func (p *pod) wait(t *testing.T, id string, timeout time.Duration, ok func(runtime.Container) bool) runtime.Container {
	t.Helper()
	var last runtime.Container
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		cs, err := p.rt.ListContainers(t.Context(), map[string]string{runtime.LabelPodUID: p.uid})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.ID == id {
				if last = c; ok(c) {
					return c
				}
			}
		}
	}
	t.Fatalf("container %s: condition not met in %v; last %+v", id, timeout, last)
	return last
}

func exited(c runtime.Container) bool { return c.State == runtime.StateExited }

// stop stops a container as the agent does: SIGTERM, the grace period,
// then SIGKILL.
func (p *pod) stop(t *testing.T, id string, grace time.Duration) runtime.Container {
	t.Helper()
	if err := p.rt.KillContainer(t.Context(), id, runtime.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(grace); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		cs, _ := p.rt.ListContainers(t.Context(), map[string]string{runtime.LabelPodUID: p.uid})
		for _, c := range cs {
			if c.ID == id && exited(c) {
				return c
			}
		}
	}
	if err := p.rt.KillContainer(t.Context(), id, runtime.SIGKILL); err != nil {
		t.Fatal(err)
	}
	return p.wait(t, id, 10*time.Second, exited)
}

// TestWebserver builds examples/webserver's image with its build program,
// imports the archive, runs it, and reaches it from a second container of
// the pod (they share the pod's network namespace).
func TestWebserver(t *testing.T) {
	need(t)
	cfg := containerdtest.Config(t)
	rt := open(t, cfg, true)
	ctx := t.Context()
	archive := containerdtest.WebserverArchive(t, "../../..")
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imgs, err := rt.Import(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Ref != "skiff.local/examples/webserver:latest" {
		t.Fatalf("imported %+v", imgs)
	}
	if _, ok, err := rt.ImageStatus(ctx, "skiff.local/examples/webserver:latest"); !ok || err != nil {
		t.Fatalf("ImageStatus of the imported image: %v %v", ok, err)
	}

	p := newPod(t, rt, "u-web")
	web, took := p.run(t, runtime.ContainerConfig{Name: "web", Image: imgs[0].Ref,
		Env: []runtime.EnvVar{{Name: "PORT", Value: "8080"}}, Resources: runtime.Resources{MemoryLimit: 64 << 20, CPUShares: 512}})
	if took == 0 {
		t.Fatalf("web container not running: %+v", web)
	}
	t.Logf("webserver: create → running %v", took)
	tools, _ := p.run(t, runtime.ContainerConfig{Name: "tools", Image: image(t), Command: sh("sleep 3600")})

	var out bytes.Buffer
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out.Reset()
		code, err := rt.Exec(ctx, tools.ID, runtime.ExecRequest{Cmd: []string{"wget", "-qO-", "http://127.0.0.1:8080/"}, Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wget in the pod: exit %d", code)
		}
	}
	if !strings.Contains(out.String(), "hello from skiff webserver on u-web") {
		t.Errorf("answer %q, want the greeting with the pod's host name", out.String())
	}
	if code, err := rt.Exec(ctx, tools.ID, runtime.ExecRequest{Cmd: []string{"/no/such/binary"}}); err != nil || code != 127 {
		t.Errorf("exec of a missing binary: %d %v, want 127", code, err)
	}

	// Graceful stop: the server exits 0 on SIGTERM, well within its grace.
	t0 := time.Now()
	c := p.stop(t, web.ID, 5*time.Second)
	if c.ExitCode != 0 || time.Since(t0) > 2*time.Second {
		t.Errorf("SIGTERM: exit %d after %v, want 0 well within the grace period", c.ExitCode, time.Since(t0))
	}
	// What the server wrote before it exited (its last line, on stderr,
	// just before the exit) is in the log once the exit is reported.
	logs, _ := os.ReadFile(filepath.Join(p.dir, "web", "0.log"))
	if !strings.Contains(string(logs), "listening on :8080") || !strings.Contains(string(logs), "stopped") {
		t.Errorf("log file: %q", logs)
		daemonLog, _ := os.ReadFile(filepath.Join(cfg.StateDir, "containerd", "containerd.log"))
		for line := range strings.Lines(string(daemonLog)) {
			if strings.Contains(line, "level=error") || strings.Contains(line, "level=warn") || strings.Contains(line, web.ID) {
				t.Logf("containerd: %s", strings.TrimSpace(line))
			}
		}
	}
}

func TestCrash(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "u-crash")
	c, _ := p.run(t, runtime.ContainerConfig{Name: "crash", Image: image(t), Command: sh("echo boom in $(pwd) as $X; exit 42"),
		Env: []runtime.EnvVar{{Name: "X", Value: "x1"}}, WorkingDir: "/tmp"})
	c = p.wait(t, c.ID, 10*time.Second, exited)
	if c.ExitCode != 42 || c.Reason != "" || c.FinishedAt.Before(c.StartedAt) {
		t.Errorf("crash: %+v, want exit 42 and no reason", c)
	}
	if log, _ := os.ReadFile(filepath.Join(p.dir, "crash", "0.log")); string(log) != "boom in /tmp as x1\n" {
		t.Errorf("log %q", log)
	}
}

func TestOOMKilled(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "u-oom")
	// dd allocates its block: 128 MiB against a 32 MiB limit.
	c, _ := p.run(t, runtime.ContainerConfig{Name: "hog", Image: image(t), Command: sh("dd if=/dev/zero of=/dev/null bs=128M count=4"),
		Resources: runtime.Resources{MemoryLimit: 32 << 20}})
	c = p.wait(t, c.ID, 10*time.Second, exited)
	if c.ExitCode != 137 || c.Reason != runtime.OOMKilled {
		t.Errorf("memory hog: exit %d reason %q, want 137 OOMKilled", c.ExitCode, c.Reason)
	}
}

// TestGracePeriod: a container ignoring SIGTERM is killed when its grace
// period ends, not before and not much after.
func TestGracePeriod(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "u-grace")
	c, _ := p.run(t, runtime.ContainerConfig{Name: "stubborn", Image: image(t), Command: sh(`trap "" TERM; echo trapped; while true; do sleep 1; done`)})
	// Running is not enough: a SIGTERM that arrives before the shell has
	// set its trap ends it at once.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if log, _ := os.ReadFile(filepath.Join(p.dir, "stubborn", "0.log")); strings.Contains(string(log), "trapped") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell never set its trap")
		}
	}
	t0 := time.Now()
	const grace = 500 * time.Millisecond
	c = p.stop(t, c.ID, grace)
	if took := time.Since(t0); c.ExitCode != 137 || took < grace || took > grace+2*time.Second {
		t.Errorf("stop: exit %d after %v, want 137 just after %v", c.ExitCode, took, grace)
	}
}

// TestReadopt: a runtime (and daemon) restarted on the same state dir finds
// the same sandbox and containers by label, running or exited meanwhile,
// and nothing more.
func TestReadopt(t *testing.T) {
	need(t)
	cfg := containerdtest.Config(t)
	t.Cleanup(func() { // whatever a failure left behind
		rt, err := containerd.New(context.Background(), cfg)
		if err != nil {
			t.Errorf("sweep: %v", err)
			return
		}
		defer rt.Close()
		sbs, _ := rt.ListSandboxes(context.Background(), nil)
		for _, sb := range sbs {
			_ = rt.RemoveSandbox(context.Background(), sb.ID)
		}
	})
	first := open(t, cfg, false)
	p := newPod(t, first, "u-adopt")
	runner, _ := p.run(t, runtime.ContainerConfig{Name: "runner", Image: image(t), Command: sh(`trap "exit 143" TERM; sleep 3600 & wait`)})
	quitter, _ := p.run(t, runtime.ContainerConfig{Name: "quitter", Image: image(t), Command: sh("sleep 0.3; exit 7")})
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := open(t, cfg, true)
	p.rt = second
	sbs, err := second.ListSandboxes(t.Context(), nil)
	if err != nil || len(sbs) != 1 || sbs[0].ID != p.sb.ID || sbs[0].State != runtime.SandboxReady {
		t.Fatalf("sandboxes after a restart: %+v %v, want the one sandbox", sbs, err)
	}
	cs, err := second.ListContainers(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	want := []string{runner.ID, quitter.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("containers after a restart: %v, want %v", ids, want)
	}
	r := p.wait(t, runner.ID, time.Second, func(c runtime.Container) bool { return c.State == runtime.StateRunning })
	if !r.StartedAt.Equal(runner.StartedAt) || !maps.Equal(r.Labels, runner.Labels) {
		t.Errorf("re-adopted %+v, want %+v", r, runner)
	}
	if q := p.wait(t, quitter.ID, 10*time.Second, exited); q.ExitCode != 7 {
		t.Errorf("container that exited across the restart: %+v, want exit 7", q)
	}
	if c := p.stop(t, runner.ID, 5*time.Second); c.ExitCode != 143 {
		t.Errorf("re-adopted container after SIGTERM: exit %d, want 143", c.ExitCode)
	}
}

// TestStartLatency measures create → running with the image present.
func TestStartLatency(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "u-lat")
	var ds []time.Duration
	for i := range 10 {
		c, took := p.run(t, runtime.ContainerConfig{Name: fmt.Sprintf("c%d", i), Image: image(t), Command: sh("sleep 3600")})
		if took == 0 {
			t.Fatalf("not running: %+v", c)
		}
		if i > 0 { // the first warms up
			ds = append(ds, took)
		}
	}
	slices.Sort(ds)
	t.Logf("create → running over %d containers: median %v, max %v", len(ds), ds[len(ds)/2], ds[len(ds)-1])
}

func TestNewErrors(t *testing.T) {
	_, err := containerd.New(t.Context(), containerd.Config{StateDir: t.TempDir(), Binary: "/no/such/containerd"})
	if !errors.Is(err, containerd.ErrUnavailable) {
		t.Errorf("New with a missing binary: %v, want ErrUnavailable", err)
	}
}
