package containerd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
	"github.com/skiffhq/skiff/nodes/runtime/containerd/containerdtest"
)

// TestLogsCompleteAtExit holds the runtime to the kubelet's guarantee:
// what a container wrote before it exited is in its log file when the
// runtime first reports it exited. Short-lived containers write a line to
// stdout, then end with one large write to stderr at the moment they exit
// (as a crash's last words or a panic's stack trace do); half of them run
// while busy goroutines load every CPU, and other callers list containers
// meanwhile. Each log is read the moment its container is seen exited.
// With the shim's shared log descriptor (see logIO) about half of the
// containers lost the end of stderr, idle or loaded; the test fails on
// one.
func TestLogsCompleteAtExit(t *testing.T) {
	need(t)
	cfg := containerdtest.Config(t)
	rt := open(t, cfg, true)
	img := image(t)
	const (
		pods    = 2
		perPod  = 12 // containers per pod, half of them under load
		workers = 4  // containers in flight at once
	)
	ps := make([]*pod, pods)
	for i := range ps {
		ps[i] = newPod(t, rt, fmt.Sprintf("u-logs%d", i))
		if _, err := rt.PullImage(t.Context(), ps[i].sb.ID, img); err != nil {
			t.Fatal(err)
		}
	}

	// The end of stderr is one write of 43893 bytes just before the exit:
	// 11 of the shim's 4 KiB copies, within a pipe's 64 KiB.
	const seqLines = 9000
	var b strings.Builder
	for i := 1; i <= seqLines; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	wantErr := b.String()

	type result struct {
		name, log string
		err       error
	}
	run := func(loaded bool) []result {
		if loaded {
			defer loadCPUs()()
		}
		var (
			next atomic.Int64
			mu   sync.Mutex
			res  []result
			wg   sync.WaitGroup
		)
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= pods*perPod/2 {
						return
					}
					p := ps[i%pods]
					name := fmt.Sprintf("c%d-idle", i)
					if loaded {
						name = fmt.Sprintf("c%d-loaded", i)
					}
					log, err := runExited(t.Context(), rt, p, img, name,
						fmt.Sprintf("echo out-%[1]s; echo err-%[1]s >&2; seq %[2]d >/tmp/e; exec dd if=/tmp/e bs=64k count=1 status=none >&2", name, seqLines))
					mu.Lock()
					res = append(res, result{name, log, err})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return res
	}

	// Others list the node's containers meanwhile, as the agent's sync
	// loop, its event handler and the log server do: whichever call sees
	// an exit first, none may report it before the output is in the log.
	done := make(chan struct{})
	var listers sync.WaitGroup
	for range 2 {
		listers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := rt.ListContainers(t.Context(), nil); err != nil {
					t.Errorf("ListContainers: %v", err)
					return
				}
			}
		})
	}
	t0 := time.Now()
	all := run(false)
	t1 := time.Now()
	all = append(all, run(true)...)
	close(done)
	listers.Wait()
	t.Logf("idle: %v, loaded: %v", t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	var lost []string
	lostUnderLoad := 0
	for _, r := range all {
		if r.err != nil {
			t.Fatalf("%s: %v", r.name, r.err)
		}
		var missing []string
		// The copiers of stdout and stderr run at once: the stdout line
		// lands between two of stderr's writes.
		out := "out-" + r.name + "\n"
		if !strings.Contains(r.log, out) {
			missing = append(missing, fmt.Sprintf("%s: stdout missing (log of %d bytes)", r.name, len(r.log)))
		}
		if got, want := strings.Replace(r.log, out, "", 1), "err-"+r.name+"\n"+wantErr; got != want {
			missing = append(missing, fmt.Sprintf("%s: stderr has %d of %d bytes, ends %q", r.name, len(got), len(want), got[max(0, len(got)-20):]))
		}
		if strings.HasSuffix(r.name, "-loaded") {
			lostUnderLoad += len(missing)
		}
		lost = append(lost, missing...)
	}
	t.Logf("%d containers in %v: %d of %d streams incomplete at exit (%d under load)",
		len(all), time.Since(t0).Round(time.Millisecond), len(lost), 2*len(all), lostUnderLoad)
	if len(lost) > 0 {
		t.Errorf("output missing from the log when the container was reported exited:\n%s",
			strings.Join(lost[:min(len(lost), 10)], "\n"))
		daemonLog, _ := os.ReadFile(filepath.Join(cfg.StateDir, "containerd", "containerd.log"))
		for line := range strings.Lines(string(daemonLog)) {
			if strings.Contains(line, "error copying") {
				t.Logf("containerd: %s", strings.TrimSpace(line))
			}
		}
	}
}

// runExited runs script in a new container of p, waits until the runtime
// reports it exited, and returns its log file as it is at that moment; it
// removes the container.
func runExited(ctx context.Context, rt *containerd.Runtime, p *pod, img, name, script string) (string, error) {
	logPath := filepath.Join(p.dir, name, "0.log")
	c, err := rt.CreateContainer(ctx, p.sb.ID, runtime.ContainerConfig{Name: name, Image: img, Command: sh(script), LogPath: logPath,
		Labels: map[string]string{runtime.LabelPodUID: p.uid, runtime.LabelContainerName: name}})
	if err != nil {
		return "", err
	}
	defer func() { _ = rt.RemoveContainer(context.WithoutCancel(ctx), c.ID) }()
	if err := rt.StartContainer(ctx, c.ID); err != nil {
		return "", err
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		cs, err := rt.ListContainers(ctx, map[string]string{runtime.LabelPodUID: p.uid, runtime.LabelContainerName: name})
		if err != nil {
			return "", err
		}
		if len(cs) == 1 && cs[0].State == runtime.StateExited {
			if cs[0].ExitCode != 0 {
				return "", fmt.Errorf("exit code %d, want 0", cs[0].ExitCode)
			}
			b, err := os.ReadFile(logPath)
			return string(b), err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("not exited after 20 s: %+v", cs)
		}
	}
}

// loadCPUs keeps every CPU busy until the returned function is called
// (and has stopped the spinners). The spinners yield now and then, so the
// test's own goroutines still run: the load is on the machine, for the
// daemon, shims and runc, not on the test's scheduler.
func loadCPUs() (stop func()) {
	done := make(chan struct{})
	var spin sync.WaitGroup
	for range goruntime.NumCPU() {
		spin.Go(func() {
			for n := 0; ; n++ {
				if n%4096 == 0 {
					select {
					case <-done:
						return
					default:
						goruntime.Gosched()
					}
				}
			}
		})
	}
	return func() { close(done); spin.Wait() }
}
