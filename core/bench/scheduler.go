package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/wasmplugin"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/sdk/client"
)

// SchedulerConfig configures the scheduler benchmark. Zero fields take
// defaults.
type SchedulerConfig struct {
	// Nodes is the number of simulated nodes (default 500): Node objects
	// registered through the API, Ready, 32 cpu, 128 GiB, 110 pods, each
	// labelled with one of three teams.
	Nodes int
	// Pods is the number of pods created (default 5,000), Clients the
	// goroutines creating them through the API (default 16).
	Pods, Clients int
	// WASM runs the team filter and bin-packing score as the example WASM
	// plugins instead of built in.
	WASM bool
	// CacheDir keeps the built plugins and wazero's compilation cache
	// (default <user cache dir>/skiff/bench).
	CacheDir string
	// Timeout bounds the measured phase (default 2 minutes).
	Timeout time.Duration
	// MemProfile, if set, receives a heap profile taken after the
	// measured phase, before anything is stopped.
	MemProfile string
	// Out receives the report (default os.Stdout).
	Out io.Writer
}

// SchedulerResult is what RunScheduler measured.
type SchedulerResult struct {
	Nodes, Pods, Clients int
	WASM                 bool
	// Elapsed runs from the first create to the last pod seen bound.
	Elapsed    time.Duration
	PodsPerSec float64
	// Create is the latency of the create calls; Bound from the start of
	// a pod's create to its binding seen on a watch.
	CreateP50, CreateP99, BoundP50, BoundP99 time.Duration
	// PeakRSS is the process's peak resident set (VmHWM), in bytes.
	PeakRSS int64
	// Scheduler are the scheduler's counters at the end.
	Scheduler scheduler.Stats
	// Plugins are the WASM plugins' counters (with WASM).
	Plugins []plugins.Stats
}

// RunScheduler runs the scheduler benchmark and prints its report,
// ending with "RESULT pods_per_sec=… create_p99_ms=… bound_p99_ms=…
// peak_rss_mb=…". Everything runs in this process: an embedded NATS
// server and the API server on a temporary data directory, the
// scheduler (with its own connection, as a separate scheduler process
// would have), the simulated nodes (Node objects only: nothing runs the
// pods) and the clients.
func RunScheduler(ctx context.Context, cfg SchedulerConfig) (SchedulerResult, error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 500
	}
	if cfg.Pods <= 0 {
		cfg.Pods = 5000
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cfg.CacheDir = filepath.Join(dir, "skiff", "bench")
	}
	res := SchedulerResult{Nodes: cfg.Nodes, Pods: cfg.Pods, Clients: cfg.Clients, WASM: cfg.WASM}
	out := cfg.Out

	// The policy, before anything runs: building plugins takes seconds.
	reg := builtin.Registry()
	var loaded []*plugins.Plugin
	if cfg.WASM {
		host, err := plugins.New(ctx, plugins.Config{CacheDir: filepath.Join(cfg.CacheDir, "wazero")})
		if err != nil {
			return res, err
		}
		defer func() { _ = host.Close(context.WithoutCancel(ctx)) }()
		for _, pkg := range []string{teamPkg, binpackPkg} {
			wasm, err := buildPlugin(ctx, cfg.CacheDir, pkg, out)
			if err != nil {
				return res, err
			}
			p, err := host.Load(ctx, filepath.Base(pkg), "bench", wasm, nil)
			if err != nil {
				return res, err
			}
			loaded = append(loaded, p)
		}
		wasmplugin.Register(reg, loaded...)
		fmt.Fprintf(out, "plugins loaded; peak RSS so far %.0f MB\n", float64(rss("VmHWM"))/(1<<20))
	} else {
		builtinPolicy(reg)
	}

	dir, err := os.MkdirTemp("", "skiff-bench-scheduler-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	pctx, stopPlane := context.WithCancel(ctx)
	defer stopPlane()
	ready := make(chan controlplane.Info, 1)
	planeDone := make(chan error, 1)
	go func() {
		planeDone <- controlplane.Run(pctx, controlplane.Config{DataDir: dir, NATSListen: "127.0.0.1:0",
			Ready: func(in controlplane.Info) { ready <- in }})
	}()
	var url string
	select {
	case in := <-ready:
		url = in.NATSURL
	case err := <-planeDone:
		return res, fmt.Errorf("bench: control plane: %w", err)
	case <-ctx.Done():
		stopPlane()
		<-planeDone //nolint:errcheck // interrupted: the context's error is the one to report
		return res, ctx.Err()
	}
	defer func() {
		stopPlane()
		if err := <-planeDone; err != nil {
			fmt.Fprintf(out, "control plane: %v\n", err)
		}
	}()
	fmt.Fprintf(out, "control plane started in-process on %s\n", url)

	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: url, Name: "skiff-bench"})
	if err != nil {
		return res, err
	}
	defer conn.Close()
	c, err := client.New(ctx, conn)
	if err != nil {
		return res, err
	}
	start := time.Now()
	if err := createNodes(ctx, c, cfg.Nodes, cfg.Clients); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "%d nodes registered in %v\n", cfg.Nodes, time.Since(start).Round(time.Millisecond))

	// The scheduler, on its own connection.
	sconn, err := bus.Connect(ctx, bus.ConnConfig{URL: url, Name: "skiff-scheduler"})
	if err != nil {
		return res, err
	}
	defer sconn.Close()
	sc, err := client.New(ctx, sconn)
	if err != nil {
		return res, err
	}
	sched, err := scheduler.New(scheduler.Config{Client: sc, Profiles: []framework.Profile{policyProfile()}, Registry: reg,
		LeaderElection: scheduler.LeaderElection{Disabled: true}})
	if err != nil {
		return res, err
	}
	sctx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(sctx) }()
	defer func() {
		stopSched()
		if err := <-schedDone; err != nil {
			fmt.Fprintf(out, "scheduler: %v\n", err)
		}
	}()

	ns := "bench"
	if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("bench: namespace: %w", err)
	}
	pods := client.For[*corev1.Pod](c)

	// The watch sees bindings; it starts before the first pod. One
	// warm-up pod, bound, says the scheduler has synced its caches.
	w, err := pods.Watch(ctx, ns, 0)
	if err != nil {
		return res, err
	}
	defer w.Stop()
	created := make([]atomic.Int64, cfg.Pods+1) // unix nanos of each create's start; index Pods: warm-up
	bound := make([]int64, cfg.Pods+1)
	boundCount := make(chan int, 1)
	go func() {
		n := 0
		for ev := range w.Events() {
			p := ev.Object
			if p.Spec.NodeName == "" {
				continue
			}
			i, ok := podIndex(p.Name, cfg.Pods)
			if !ok || bound[i] != 0 {
				continue
			}
			bound[i] = time.Now().UnixNano()
			n++
			if i == cfg.Pods || n == cfg.Pods+1 {
				select {
				case boundCount <- n:
				default:
				}
			}
			if n == cfg.Pods+1 {
				return
			}
		}
	}()
	created[cfg.Pods].Store(time.Now().UnixNano())
	if _, err := pods.Create(ctx, schedPod(ns, cfg.Pods, "warmup"), metav1.CreateOptions{}); err != nil {
		return res, err
	}
	select {
	case <-boundCount:
	case <-time.After(30 * time.Second):
		return res, errors.New("bench: the warm-up pod was not bound within 30s")
	case <-ctx.Done():
		return res, ctx.Err()
	}
	fmt.Fprintf(out, "peak RSS before the pods %.0f MB\n", float64(rss("VmHWM"))/(1<<20))
	fmt.Fprintf(out, "scheduler ready; creating %d pods with %d clients (%s policy)\n", cfg.Pods, cfg.Clients, policyName(cfg.WASM))

	// The measured phase.
	mctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	createLat := make([][]time.Duration, cfg.Clients)
	var next atomic.Int64
	var createErrs atomic.Int64
	var firstErr atomic.Value
	t0 := time.Now()
	var wg sync.WaitGroup
	for cl := range cfg.Clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Pods || mctx.Err() != nil {
					return
				}
				s := time.Now()
				created[i].Store(s.UnixNano())
				if _, err := pods.Create(mctx, schedPod(ns, i, ""), metav1.CreateOptions{}); err != nil {
					createErrs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				createLat[cl] = append(createLat[cl], time.Since(s))
			}
		})
	}
	wg.Wait()
	createdIn := time.Since(t0)
	if n := createErrs.Load(); n > 0 {
		return res, fmt.Errorf("bench: %d creates failed, the first: %v", n, firstErr.Load())
	}
	select {
	case <-boundCount:
	case <-mctx.Done():
		st := sched.Stats()
		return res, fmt.Errorf("bench: not every pod bound within %v (scheduler: %+v)", cfg.Timeout, st)
	}
	var last int64
	var boundLat []time.Duration
	for i := range cfg.Pods {
		last = max(last, bound[i])
		boundLat = append(boundLat, time.Duration(bound[i]-created[i].Load()))
	}
	var createAll []time.Duration
	for _, l := range createLat {
		createAll = append(createAll, l...)
	}
	res.Elapsed = time.Duration(last - t0.UnixNano())
	res.PodsPerSec = float64(cfg.Pods) / res.Elapsed.Seconds()
	res.CreateP50, res.CreateP99 = percentile(createAll, 0.5), percentile(createAll, 0.99)
	res.BoundP50, res.BoundP99 = percentile(boundLat, 0.5), percentile(boundLat, 0.99)
	res.PeakRSS = rss("VmHWM")
	res.Scheduler = sched.Stats()
	for _, p := range loaded {
		res.Plugins = append(res.Plugins, p.Stats())
	}

	fmt.Fprintf(out, "created %d pods in %v (%.0f/s); all bound after %v\n", cfg.Pods, createdIn.Round(time.Millisecond),
		float64(cfg.Pods)/createdIn.Seconds(), res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "create p50 %s p99 %s; create→bound p50 %s p99 %s\n", ms(res.CreateP50), ms(res.CreateP99), ms(res.BoundP50), ms(res.BoundP99))
	st := res.Scheduler
	fmt.Fprintf(out, "scheduler: %d attempts, %d scheduled, %d unschedulable, %d errors, %d bind failures\n",
		st.Attempts, st.Scheduled, st.Unschedulable, st.Errors, st.BindFailures)
	for _, ps := range res.Plugins {
		fmt.Fprintf(out, "plugin %s: %d calls, errors %v, latency p50 %v p99 %v, %d instances (%d made)\n", ps.Name, ps.Calls, ps.Errors, ps.Latency.P50, ps.Latency.P99, ps.Instances, ps.Instantiated)
	}
	if cfg.MemProfile != "" {
		if err := writeHeapProfile(cfg.MemProfile); err != nil {
			return res, err
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(out, "memory: peak RSS %.0f MB; Go heap in use %.0f MB, obtained from the OS %.0f MB (all Go memory %.0f MB)\n",
		float64(res.PeakRSS)/(1<<20), float64(ms.HeapInuse)/(1<<20), float64(ms.HeapSys)/(1<<20), float64(ms.Sys)/(1<<20))
	fmt.Fprintf(out, "RESULT pods_per_sec=%.0f create_p99_ms=%.2f bound_p99_ms=%.2f peak_rss_mb=%.0f\n",
		res.PodsPerSec, float64(res.CreateP99.Microseconds())/1000, float64(res.BoundP99.Microseconds())/1000, float64(res.PeakRSS)/(1<<20))
	return res, nil
}

func policyName(wasm bool) string {
	if wasm {
		return "WASM"
	}
	return "built-in"
}

// createNodes registers n Ready nodes, with clients goroutines.
func createNodes(ctx context.Context, c *client.Client, n, clients int) error {
	nodes := client.For[*corev1.Node](c)
	var next atomic.Int64
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if _, err := nodes.Create(ctx, simNode(i), metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("bench: node %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// simNode is labelled as a cloud provider labels nodes, with one of the
// three teams.
func simNode(i int) *corev1.Node {
	name := fmt.Sprintf("node-%05d", i)
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
			corev1.LabelTopologyZone: fmt.Sprint("zone-", i%3), corev1.LabelTopologyRegion: "region-1",
			corev1.LabelInstanceTypeStable: "m5.8xlarge", teamLabel: teams[i%3],
		}},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc, Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}}},
	}
}

// schedPod is pod i of a team (round robin), requesting 100m and 256Mi.
func schedPod(ns string, i int, name string) *corev1.Pod {
	if name == "" {
		name = "p-" + strconv.Itoa(i)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "bench"},
			Annotations: map[string]string{teamAnnotation: teams[i%3]}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.local/bench/web:1.0",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}}}},
	}
}

// podIndex is the index of a pod schedPod named; the warm-up pod is n.
func podIndex(name string, n int) (int, bool) {
	if name == "warmup" {
		return n, true
	}
	s, ok := strings.CutPrefix(name, "p-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0 && i < n
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
