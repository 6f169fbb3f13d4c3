package containerd_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
)

// TestStartWhileLastTaskIsDeleted starts short-lived containers into two
// pods from four workers at once, while busy goroutines load every CPU:
// a pod's tasks come and go, and a start often meets the deletion of the
// pod's last task, as in a pod in CrashLoopBackOff or an init container
// followed by the app. The runc shim serving a pod exits with its last
// task; with nothing to hold it, a start into a shim that was exiting
// failed ("failed to start shim: … dial unix …: no such file or
// directory", or "failed to create shim task: ttrpc: closed") once in
// every few dozen starts. Bounded by a count and a time.
func TestStartWhileLastTaskIsDeleted(t *testing.T) {
	rt := newRuntime(t)
	img := image(t)
	const (
		pods    = 2
		workers = 4
		total   = 40
		budget  = 10 * time.Second
	)
	ps := make([]*pod, pods)
	for i := range ps {
		ps[i] = newPod(t, rt, fmt.Sprintf("u-churn%d", i))
		if _, err := rt.PullImage(t.Context(), ps[i].sb.ID, img); err != nil {
			t.Fatal(err)
		}
	}

	defer loadCPUs()()

	var (
		next, done atomic.Int64
		mu         sync.Mutex
		failures   []string
		wg         sync.WaitGroup
	)
	deadline := time.Now().Add(budget)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				name := fmt.Sprintf("c%d", i)
				if _, err := runExited(t.Context(), rt, ps[i%pods], img, name, "echo "+name); err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %v", name, err))
					mu.Unlock()
					continue
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%d containers ran, %d failed", done.Load(), len(failures))
	if len(failures) > 0 {
		t.Errorf("%d of %d containers failed; the first: %s", len(failures), int(done.Load())+len(failures), failures[0])
		for _, f := range failures[1:min(len(failures), 5)] {
			t.Log(f)
		}
	}
	if done.Load() < workers {
		t.Errorf("only %d containers ran in %v", done.Load(), budget)
	}
}

// TestSandboxTask: a sandbox gets a task, created and never started, at
// its first container start, which holds the pod's shim until
// StopSandbox; a sandbox that lost it, or never had one (a sandbox of an
// earlier Skiff), gets one again at its next container start.
func TestSandboxTask(t *testing.T) {
	rt := newRuntime(t)
	img := image(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		legacy bool
	}{{"killed", false}, {"legacy", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t, rt, "u-sbtask-"+tc.name)
			if st, err := containerd.SandboxTaskStatus(ctx, rt, p.sb.ID); err != nil || st != "" {
				t.Fatalf("sandbox task of a new sandbox: %q %v, want none before the first start", st, err)
			}
			c, _ := p.run(t, runtime.ContainerConfig{Name: "first", Image: img, Command: sh("true")})
			p.wait(t, c.ID, 10*time.Second, exited)
			if st, err := containerd.SandboxTaskStatus(ctx, rt, p.sb.ID); err != nil || st != "CREATED" {
				t.Fatalf("sandbox task after the first start: %q %v, want CREATED", st, err)
			}
			if err := containerd.DropSandboxTask(ctx, rt, p.sb.ID, tc.legacy); err != nil {
				t.Fatal(err)
			}
			c, _ = p.run(t, runtime.ContainerConfig{Name: "again", Image: img, Command: sh("true")})
			p.wait(t, c.ID, 10*time.Second, exited)
			if st, err := containerd.SandboxTaskStatus(ctx, rt, p.sb.ID); err != nil || st != "CREATED" {
				t.Fatalf("sandbox task after a start: %q %v, want CREATED", st, err)
			}
			if err := rt.StopSandbox(ctx, p.sb.ID); err != nil {
				t.Fatal(err)
			}
			if st, err := containerd.SandboxTaskStatus(ctx, rt, p.sb.ID); err != nil || st != "" {
				t.Fatalf("sandbox task after StopSandbox: %q %v, want none", st, err)
			}
		})
	}
}
