package podbench

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
	"github.com/skiffhq/skiff/sdk/client"
)

// Defaults of Config.
const (
	DefaultSequential = 30
	DefaultBurst      = 20
	DefaultPodCIDR    = "10.89.0.0/24"
	DefaultBridge     = "skiffbench0"
	DefaultNode       = "bench-node"
	// image is the busybox image the bench builds and imports.
	image = "skiff.local/bench/busybox:1"
)

// Config configures a run. The zero value measures 30 sequential pods
// and a burst of 20 in a temporary state dir.
type Config struct {
	// Sequential pods are created one after the other, each once the
	// previous one runs; Burst pods are created at once.
	Sequential, Burst int
	// StateDir holds the containerd daemon, pod logs and volumes; "" is a
	// temporary directory removed at the end.
	StateDir string
	// PodCIDR and Bridge are the bench node's pod network (defaults
	// DefaultPodCIDR, DefaultBridge), apart from a local node's.
	PodCIDR, Bridge string
	// Node is the bench node's name (default DefaultNode).
	Node string
	// Out receives the figures; nil discards them.
	Out io.Writer
	// Logger receives the agent's and runtime's log; nil discards it.
	Logger *slog.Logger
}

// Result holds the figures of a run.
type Result struct {
	Sequential []time.Duration // create → Running of each sequential pod
	P50, P99   time.Duration
	BurstAll   time.Duration // first create → last pod Running
}

// Line is the RESULT line of r.
func (r Result) Line(burst int) string {
	return fmt.Sprintf("RESULT start_p50_ms=%.1f start_p99_ms=%.1f burst%d_all_running_ms=%.1f",
		ms(r.P50), ms(r.P99), burst, ms(r.BurstAll))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Run measures on the control plane conn reaches. It needs root and
// containerd (containerd.CanRun).
func Run(ctx context.Context, conn *bus.Conn, cfg Config) (Result, error) {
	if cfg.Sequential <= 0 {
		cfg.Sequential = DefaultSequential
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = DefaultPodCIDR
	}
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if cfg.Node == "" {
		cfg.Node = DefaultNode
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := containerd.CanRun(""); err != nil {
		return Result{}, fmt.Errorf("podbench: %w", err)
	}
	if cfg.StateDir == "" {
		dir, err := os.MkdirTemp("", "skiff-bench-")
		if err != nil {
			return Result{}, fmt.Errorf("podbench: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.StateDir = dir
	}
	b := &bench{cfg: cfg, out: cfg.Out}
	defer b.close()
	if err := b.start(ctx, conn); err != nil {
		return Result{}, err
	}
	return b.measure(ctx)
}

type bench struct {
	cfg    Config
	out    io.Writer
	rt     *containerd.Runtime
	tr     *tracer // rt, traced: the agent's runtime
	pods   *client.Typed[*corev1.Pod]
	nodes  *client.Typed[*corev1.Node]
	stopAg func()
	ns     string

	mu      sync.Mutex
	running map[string]time.Time // pod name → first seen Running
	changed chan struct{}
}

func (b *bench) start(ctx context.Context, conn *bus.Conn) error {
	var err error
	b.rt, err = containerd.New(ctx, containerd.Config{StateDir: filepath.Join(b.cfg.StateDir, "containerd"),
		PodCIDR: b.cfg.PodCIDR, Bridge: b.cfg.Bridge, Logger: b.cfg.Logger})
	if err != nil {
		return fmt.Errorf("podbench: %w", err)
	}
	t0 := time.Now()
	if err := importBusybox(ctx, b.rt); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "image %s imported in %v\n", image, time.Since(t0).Round(time.Millisecond))
	c, err := client.New(ctx, conn)
	if err != nil {
		return fmt.Errorf("podbench: %w", err)
	}
	idx, err := store.Bind(ctx, conn, store.Config{Bucket: subjects.NodePodsBucket})
	if err != nil {
		return fmt.Errorf("podbench: node index: %w", err)
	}
	ready := make(chan struct{})
	b.tr = newTracer(b.rt)
	a, err := agent.New(agent.Config{Name: b.cfg.Node, Runtime: b.tr, Client: c, NodePods: idx,
		LogDir: filepath.Join(b.cfg.StateDir, "pods"), VolumeDir: filepath.Join(b.cfg.StateDir, "volumes"),
		PodCIDR: b.cfg.PodCIDR, Logger: b.cfg.Logger, Ready: func() { close(ready) }})
	if err != nil {
		return fmt.Errorf("podbench: %w", err)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { _ = a.Run(actx); close(done) }()
	b.stopAg = func() { cancel(); <-done }
	select {
	case <-ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.pods = client.For[*corev1.Pod](c)
	b.nodes = client.For[*corev1.Node](c)
	b.ns = "default"
	b.running = map[string]time.Time{}
	b.changed = make(chan struct{}, 1)
	w, err := b.pods.Watch(ctx, b.ns, 0)
	if err != nil {
		return fmt.Errorf("podbench: watch pods: %w", err)
	}
	go func() {
		for ev := range w.Events() {
			p := ev.Object
			if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName != b.cfg.Node {
				continue
			}
			at := time.Now()
			b.tr.stamp(p.UID, phaseRunning, at)
			b.mu.Lock()
			if _, ok := b.running[p.Name]; !ok {
				b.running[p.Name] = at
			}
			b.mu.Unlock()
			select {
			case b.changed <- struct{}{}:
			default:
			}
		}
	}()
	return nil
}

// pod is a bench pod: busybox sleeping, on the bench node.
func (b *bench) pod(name string) *corev1.Pod {
	grace := int64(0)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.ns, Labels: map[string]string{"app": "skiff-bench"}},
		Spec: corev1.PodSpec{NodeName: b.cfg.Node, TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{{
			Name: "main", Image: image, ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"}}}}}
}

// waitRunning waits until every pod of names has been seen Running and
// returns when each was.
func (b *bench) waitRunning(ctx context.Context, names []string, timeout time.Duration) ([]time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		out := make([]time.Time, 0, len(names))
		for _, n := range names {
			if at, ok := b.running[n]; ok {
				out = append(out, at)
			}
		}
		b.mu.Unlock()
		if len(out) == len(names) {
			return out, nil
		}
		select {
		case <-b.changed:
		case <-deadline.C:
			return nil, fmt.Errorf("podbench: %d of %d pods Running after %v", len(out), len(names), timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// create creates pod name and returns its UID.
func (b *bench) create(ctx context.Context, name string) (types.UID, error) {
	p, err := b.pods.Create(ctx, b.pod(name), metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("podbench: create %s: %w", name, err)
	}
	return p.UID, nil
}

func (b *bench) measure(ctx context.Context) (Result, error) {
	var r Result
	run := fmt.Sprintf("%d", time.Now().UnixNano()%1e6)
	var created []string
	defer func() { b.deleteAll(created) }()
	// One warm-up pod (first container of the image: snapshot caches).
	warm := "bench-warm-" + run
	created = append(created, warm)
	if _, err := b.create(ctx, warm); err != nil {
		return r, err
	}
	if _, err := b.waitRunning(ctx, []string{warm}, time.Minute); err != nil {
		return r, err
	}
	var seqT0 []time.Time
	var seqUIDs []types.UID
	for i := range b.cfg.Sequential {
		name := fmt.Sprintf("bench-seq-%s-%02d", run, i)
		created = append(created, name)
		t0 := time.Now()
		uid, err := b.create(ctx, name)
		if err != nil {
			return r, err
		}
		seqT0, seqUIDs = append(seqT0, t0), append(seqUIDs, uid)
		at, err := b.waitRunning(ctx, []string{name}, time.Minute)
		if err != nil {
			return r, err
		}
		r.Sequential = append(r.Sequential, at[0].Sub(t0))
	}
	sorted := slices.Clone(r.Sequential)
	slices.Sort(sorted)
	r.P50 = percentile(sorted, 50)
	r.P99 = percentile(sorted, 99)
	b.printPhases("sequential", seqT0, seqUIDs)
	fmt.Fprintf(b.out, "sequential: %d pods create → Running: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, min %.1f ms, max %.1f ms\n",
		len(sorted), ms(r.P50), ms(percentile(sorted, 90)), ms(r.P99), ms(sorted[0]), ms(sorted[len(sorted)-1]))

	names := make([]string, b.cfg.Burst)
	for i := range names {
		names[i] = fmt.Sprintf("bench-burst-%s-%02d", run, i)
	}
	created = append(created, names...)
	cpu0 := processCPU(b.cfg.StateDir)
	t0 := time.Now()
	errs := make(chan error, len(names))
	uids := make([]types.UID, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Go(func() {
			var err error
			uids[i], err = b.create(ctx, n)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return r, err
		}
	}
	ats, err := b.waitRunning(ctx, names, 2*time.Minute)
	if err != nil {
		return r, err
	}
	wall := time.Since(t0)
	printCPU(b.out, "burst", cpu0, processCPU(b.cfg.StateDir), wall)
	var ds []time.Duration
	for _, at := range ats {
		ds = append(ds, at.Sub(t0))
	}
	slices.Sort(ds)
	r.BurstAll = ds[len(ds)-1]
	b.printPhases("burst", slices.Repeat([]time.Time{t0}, len(uids)), uids)
	fmt.Fprintf(b.out, "burst: %d pods created at once: first Running %.1f ms, median %.1f ms, all Running %.1f ms\n",
		len(ds), ms(ds[0]), ms(ds[len(ds)/2]), ms(r.BurstAll))
	b.deleteAll(created)
	created = nil
	fmt.Fprintln(b.out, r.Line(b.cfg.Burst))
	return r, nil
}

// printPhases writes the phase times of the pods with these UIDs, whose
// create calls began at t0s.
func (b *bench) printPhases(what string, t0s []time.Time, uids []types.UID) {
	all := make([][numPhases]time.Time, len(uids))
	for i, uid := range uids {
		all[i] = b.tr.times(uid)
	}
	printPhases(b.out, what, t0s, all)
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// deleteAll deletes the bench's pods and waits (bounded) until the agent
// has removed them.
func (b *bench) deleteAll(names []string) {
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t0 := time.Now()
	for _, n := range names {
		if _, _, err := b.pods.Delete(ctx, b.ns, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(b.out, "delete %s: %v\n", n, err)
		}
	}
	for _, n := range names {
		for {
			_, err := b.pods.Get(ctx, b.ns, n)
			if apierrors.IsNotFound(err) || ctx.Err() != nil {
				break
			}
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
	for ctx.Err() == nil {
		sbs, err := b.rt.ListSandboxes(ctx, nil)
		if err != nil || len(sbs) == 0 {
			break
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	fmt.Fprintf(b.out, "deleted %d pods (and their sandboxes) in %v\n", len(names), time.Since(t0).Round(time.Millisecond))
}

// close stops the agent, deletes its Node (on a control plane that
// outlives the bench), removes what the runtime still runs, stops its
// daemon and deletes the bench bridge.
func (b *bench) close() {
	if b.stopAg != nil {
		b.stopAg()
	}
	if b.nodes != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, _, err := b.nodes.Delete(ctx, "", b.cfg.Node, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			fmt.Fprintf(b.out, "delete node %s: %v\n", b.cfg.Node, err)
		}
		cancel()
	}
	if b.rt != nil {
		ctx := context.Background()
		sbs, _ := b.rt.ListSandboxes(ctx, nil)
		for _, sb := range sbs {
			_ = b.rt.RemoveSandbox(ctx, sb.ID)
		}
		_ = b.rt.Close()
		_ = exec.Command("ip", "link", "del", b.cfg.Bridge).Run()
	}
}

// importBusybox builds an image of the host's static busybox and imports
// it: the bench needs nothing from a registry.
func importBusybox(ctx context.Context, rt *containerd.Runtime) error {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("podbench: %w (install busybox-static)", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "bin/", Mode: 0o755, Typeflag: tar.TypeDir})
	_ = tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(bb)
	for _, a := range []string{"sh", "sleep"} {
		_ = tw.WriteHeader(&tar.Header{Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, Typeflag: tar.TypeSymlink})
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	cf.Config.Env = []string{"PATH=/bin"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	tag, err := name.NewTag(image)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	if _, err := rt.Import(ctx, pr); err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("podbench: import: %w", err)
	}
	return nil
}
