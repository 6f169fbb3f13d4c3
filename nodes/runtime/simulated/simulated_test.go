package simulated_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/runtimetest"
	"github.com/skiffhq/skiff/nodes/runtime/simulated"
)

func newRuntime(t *testing.T, cfg simulated.Config) *simulated.Runtime {
	t.Helper()
	rt, err := simulated.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	return rt
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, runtimetest.Harness{
		New:   func(t *testing.T) runtime.Runtime { return newRuntime(t, simulated.Config{}) },
		Image: "example.com/app:1",
		Configure: func(b runtimetest.Behaviour) (map[string]string, []string) {
			ann := map[string]string{}
			if b.ExitAfter > 0 {
				ann[simulated.AnnotationExitAfter] = b.ExitAfter.String()
				ann[simulated.AnnotationExitCode] = strconv.Itoa(b.ExitCode)
			}
			if b.IgnoreTerm {
				ann[simulated.AnnotationTermAfter] = "never"
			}
			return ann, nil
		},
	})
}

// pod creates a sandbox with the given annotations and one started
// container of the given kind.
func pod(t *testing.T, rt *simulated.Runtime, uid string, ann map[string]string, kind string, attempt int) (runtime.Sandbox, runtime.Container) {
	t.Helper()
	ctx := t.Context()
	labels := map[string]string{runtime.LabelPodUID: uid}
	sb, err := rt.RunSandbox(ctx, runtime.SandboxConfig{UID: uid, Labels: labels, Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.PullImage(ctx, sb.ID, "img"); err != nil {
		t.Fatal(err)
	}
	c, err := rt.CreateContainer(ctx, sb.ID, runtime.ContainerConfig{Name: "app", Attempt: attempt, Image: "img",
		Labels: map[string]string{runtime.LabelPodUID: uid, runtime.LabelContainerKind: kind}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	return sb, c
}

func state(t *testing.T, rt *simulated.Runtime, id string) runtime.Container {
	t.Helper()
	cs, err := rt.ListContainers(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no container %s", id)
	return runtime.Container{}
}

func TestScripts(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		kind    string
		attempt int
		after   time.Duration
		want    runtime.ContainerState
		code    int
		reason  string
	}{
		{"app runs forever", nil, runtime.KindApp, 0, time.Hour, runtime.StateRunning, 0, ""},
		{"init exits at once", nil, runtime.KindInit, 0, 0, runtime.StateExited, 0, ""},
		{"exit after", map[string]string{simulated.AnnotationExitAfter: "2s", simulated.AnnotationExitCode: "4"}, runtime.KindApp, 0, 2 * time.Second, runtime.StateExited, 4, ""},
		{"not yet", map[string]string{simulated.AnnotationExitAfter: "2s"}, runtime.KindApp, 0, time.Second, runtime.StateRunning, 0, ""},
		{"per container wins", map[string]string{simulated.AnnotationExitAfter: "1s", simulated.AnnotationExitAfter + ".app": "never"}, runtime.KindApp, 0, time.Hour, runtime.StateRunning, 0, ""},
		{"oom", map[string]string{simulated.AnnotationOOMAfter: "3s"}, runtime.KindApp, 0, 3 * time.Second, runtime.StateExited, 137, runtime.OOMKilled},
		{"exit attempts: scripted run", map[string]string{simulated.AnnotationExitAfter: "1s", simulated.AnnotationExitAttempts: "2"}, runtime.KindApp, 1, time.Second, runtime.StateExited, 0, ""},
		{"exit attempts: later runs live", map[string]string{simulated.AnnotationExitAfter: "1s", simulated.AnnotationExitAttempts: "2"}, runtime.KindApp, 2, time.Hour, runtime.StateRunning, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rt := newRuntime(t, simulated.Config{})
				_, c := pod(t, rt, "u1", tt.ann, tt.kind, tt.attempt)
				time.Sleep(tt.after)
				got := state(t, rt, c.ID)
				if got.State != tt.want || got.ExitCode != tt.code || got.Reason != tt.reason {
					t.Errorf("after %s: %s code=%d reason=%q, want %s code=%d reason=%q", tt.after, got.State, got.ExitCode, got.Reason, tt.want, tt.code, tt.reason)
				}
				if got.State == runtime.StateExited && got.FinishedAt.Sub(got.StartedAt) != tt.after {
					t.Errorf("ran %s, want %s", got.FinishedAt.Sub(got.StartedAt), tt.after)
				}
			})
		})
	}
}

func TestTermAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newRuntime(t, simulated.Config{})
		_, c := pod(t, rt, "u1", map[string]string{simulated.AnnotationTermAfter: "5s"}, runtime.KindApp, 0)
		if err := rt.KillContainer(t.Context(), c.ID, runtime.SIGTERM); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		if got := state(t, rt, c.ID); got.State != runtime.StateRunning {
			t.Fatalf("exited %s after SIGTERM, want 5s", 4*time.Second)
		}
		time.Sleep(time.Second)
		if got := state(t, rt, c.ID); got.State != runtime.StateExited || got.ExitCode != 143 {
			t.Fatalf("5s after SIGTERM: %+v", got)
		}
	})
}

func TestProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := newRuntime(t, simulated.Config{})
		_, c := pod(t, rt, "u1", map[string]string{simulated.AnnotationReadyAfter: "2s", simulated.AnnotationLivenessFailAfter: "5s",
			simulated.AnnotationStartupAfter: "1s"}, runtime.KindApp, 0)
		probe := func(k runtime.ProbeKind) bool {
			ok, err := rt.Probe(t.Context(), c.ID, k)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		var got []bool
		for range 6 {
			got = append(got, probe(runtime.ProbeStartup), probe(runtime.ProbeReadiness), probe(runtime.ProbeLiveness))
			time.Sleep(time.Second)
		}
		want := []bool{
			false, false, true, // 0s
			true, false, true, // 1s
			true, true, true, // 2s
			true, true, true,
			true, true, true,
			true, true, false, // 5s
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("probe results (-want +got):\n%s", diff)
		}
	})
}

func TestPullScripts(t *testing.T) {
	rt := newRuntime(t, simulated.Config{})
	ctx := t.Context()
	sb, err := rt.RunSandbox(ctx, runtime.SandboxConfig{Annotations: map[string]string{simulated.AnnotationPullError: "manifest unknown"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.PullImage(ctx, sb.ID, "img"); !errors.Is(err, runtime.ErrImagePull) {
		t.Errorf("pull with a scripted error: %v, want ErrImagePull", err)
	}
	if _, ok, _ := rt.ImageStatus(ctx, "img"); ok {
		t.Error("a failed pull left the image present")
	}
	if _, err := rt.CreateContainer(ctx, sb.ID, runtime.ContainerConfig{Name: "app", Image: "img"}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("create from an absent image: %v, want ErrNotFound", err)
	}
	synctest.Test(t, func(t *testing.T) {
		rt := newRuntime(t, simulated.Config{})
		sb, _ := rt.RunSandbox(t.Context(), runtime.SandboxConfig{Annotations: map[string]string{simulated.AnnotationPullDelay: "3s"}})
		begin := time.Now()
		if _, err := rt.PullImage(t.Context(), sb.ID, "img"); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(begin); took != 3*time.Second {
			t.Errorf("pull took %s, want 3s", took)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := rt.PullImage(ctx, sb.ID, "img2"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("pull past its context: %v", err)
		}
	})
}

func TestPodIPs(t *testing.T) {
	rt := newRuntime(t, simulated.Config{PodCIDR: "10.9.0.0/30"})
	ctx := t.Context()
	a, err := rt.RunSandbox(ctx, runtime.SandboxConfig{})
	if err != nil || a.IP != "10.9.0.2" {
		t.Fatalf("first sandbox IP %q, %v; want 10.9.0.2 (after the gateway)", a.IP, err)
	}
	if _, err := rt.RunSandbox(ctx, runtime.SandboxConfig{}); err == nil {
		t.Fatal("a /30 holds one pod address; the second sandbox got one")
	}
	if h, err := rt.RunSandbox(ctx, runtime.SandboxConfig{HostNetwork: true}); err != nil || h.IP != "" {
		t.Errorf("host-network sandbox: %q, %v", h.IP, err)
	}
	if err := rt.StopSandbox(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if b, err := rt.RunSandbox(ctx, runtime.SandboxConfig{}); err != nil || b.IP != "10.9.0.2" {
		t.Errorf("address not reused after stop: %q, %v", b.IP, err)
	}
}

func TestStateFileSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "state.json")
		rt1, err := simulated.New(simulated.Config{StateFile: file})
		if err != nil {
			t.Fatal(err)
		}
		_, long := pod(t, rt1, "u1", nil, runtime.KindApp, 0)
		_, short := pod(t, rt1, "u2", map[string]string{simulated.AnnotationExitAfter: "10s", simulated.AnnotationExitCode: "7"}, runtime.KindApp, 0)
		rt1.Close() // the process goes away
		time.Sleep(15 * time.Second)

		rt2 := newRuntime(t, simulated.Config{StateFile: file})
		got := state(t, rt2, long.ID)
		if got.State != runtime.StateRunning || !got.StartedAt.Equal(state(t, rt2, long.ID).StartedAt) || got.Labels[runtime.LabelPodUID] != "u1" {
			t.Errorf("long-running container after reload: %+v", got)
		}
		if got := state(t, rt2, short.ID); got.State != runtime.StateExited || got.ExitCode != 7 || got.FinishedAt.Sub(got.StartedAt) != 10*time.Second {
			t.Errorf("container that exited while nobody watched: %+v", got)
		}
		sbs, _ := rt2.ListSandboxes(t.Context(), map[string]string{runtime.LabelPodUID: "u1"})
		if len(sbs) != 1 || sbs[0].IP == "" {
			t.Errorf("sandbox after reload: %+v", sbs)
		}
		// New IDs do not collide with reloaded ones; addresses neither.
		sb3, c3 := pod(t, rt2, "u3", nil, runtime.KindApp, 0)
		if c3.ID == long.ID || c3.ID == short.ID || sb3.IP == sbs[0].IP {
			t.Errorf("new objects collide with reloaded ones: %s %s", c3.ID, sb3.IP)
		}
	})
}

func TestBadScript(t *testing.T) {
	rt := newRuntime(t, simulated.Config{})
	ctx := t.Context()
	sb, _ := rt.RunSandbox(ctx, runtime.SandboxConfig{Annotations: map[string]string{simulated.AnnotationExitAfter: "soon"}})
	if _, err := rt.PullImage(ctx, sb.ID, "img"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.CreateContainer(ctx, sb.ID, runtime.ContainerConfig{Name: "app", Image: "img"}); err == nil {
		t.Error("a malformed script annotation was accepted")
	}
}
