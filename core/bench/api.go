package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/sdk/client"
)

// APIConfig configures the API benchmark. Zero fields take defaults.
type APIConfig struct {
	// NATSURL is a running control plane's NATS; empty starts one.
	NATSURL string
	// Phase is how long each measured phase runs (default 3s).
	Phase time.Duration
	// Clients are the concurrency levels of the create and update phases
	// (default 1, 16, 64).
	Clients []int
	// Watchers are the watcher counts of the watch phase (default 1, 10, 100).
	Watchers []int
	// WatchRate is the writes per second during the watch phase (default 500).
	WatchRate int
	// Out receives the report (default os.Stdout).
	Out io.Writer
}

// Throughput is one measured write phase.
type Throughput struct {
	Clients   int
	Ops       int
	PerSec    float64
	P50, P99  time.Duration
	Errors    int
	Conflicts int
}

// WatchLatency is one measured watch phase.
type WatchLatency struct {
	Watchers  int
	Delivered int
	// Skipped counts intermediate values of the written key that a watcher
	// never saw because a newer value replaced them first (the store keeps
	// one value per key; a watch promises the latest state, see
	// docs/rationale.md).
	Skipped  int
	P50, P99 time.Duration
}

// APIResult is what RunAPI measured.
type APIResult struct {
	Creates, Updates []Throughput
	Watches          []WatchLatency
}

// RunAPI runs the benchmark and prints its report, ending with
// "RESULT creates_per_sec=… create_p99_ms=… updates_per_sec=… watch10_p99_ms=…"
// (the figures for the largest client count and for 10 watchers).
func RunAPI(ctx context.Context, cfg APIConfig) (APIResult, error) {
	if cfg.Phase <= 0 {
		cfg.Phase = 3 * time.Second
	}
	if len(cfg.Clients) == 0 {
		cfg.Clients = []int{1, 16, 64}
	}
	if len(cfg.Watchers) == 0 {
		cfg.Watchers = []int{1, 10, 100}
	}
	if cfg.WatchRate <= 0 {
		cfg.WatchRate = 500
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	url := cfg.NATSURL
	if url == "" {
		dir, err := os.MkdirTemp("", "skiff-bench-")
		if err != nil {
			return APIResult{}, err
		}
		defer os.RemoveAll(dir)
		pctx, stop := context.WithCancel(ctx)
		ready := make(chan controlplane.Info, 1)
		done := make(chan error, 1)
		go func() {
			done <- controlplane.Run(pctx, controlplane.Config{DataDir: dir, NATSListen: "127.0.0.1:0",
				Ready: func(in controlplane.Info) { ready <- in }})
		}()
		select {
		case in := <-ready:
			url = in.NATSURL
			defer func() {
				stop()
				if err := <-done; err != nil {
					fmt.Fprintf(cfg.Out, "control plane: %v\n", err)
				}
			}()
		case err := <-done:
			stop()
			return APIResult{}, fmt.Errorf("bench: control plane: %w", err)
		case <-ctx.Done():
			stop()
			<-done //nolint:errcheck // interrupted: the context's error is the one to report
			return APIResult{}, ctx.Err()
		}
		fmt.Fprintf(cfg.Out, "control plane started in-process on %s (data in %s)\n", url, dir)
	}
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: url, Name: "skiff-bench"})
	if err != nil {
		return APIResult{}, err
	}
	defer conn.Close()
	c, err := client.New(ctx, conn)
	if err != nil {
		return APIResult{}, err
	}
	ns := "bench-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	if _, err := client.For[*corev1.Namespace](c).Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return APIResult{}, fmt.Errorf("bench: namespace: %w", err)
	}
	pods := client.For[*corev1.Pod](c)

	var res APIResult
	fmt.Fprintf(cfg.Out, "%-8s %8s %8s %10s %9s %9s %7s\n", "phase", "clients", "ops", "ops/s", "p50", "p99", "errors")
	for i, n := range cfg.Clients {
		prefix := fmt.Sprintf("c%d-", i)
		created := make([][]*corev1.Pod, n)
		th := measure(ctx, n, cfg.Phase, func(ctx context.Context, w, seq int) (bool, error) {
			p, err := pods.Create(ctx, benchPod(ns, fmt.Sprintf("%s%d-%d", prefix, w, seq)), metav1.CreateOptions{})
			if err == nil && len(created[w]) < updateSet {
				created[w] = append(created[w], p)
			}
			return false, err
		})
		res.Creates = append(res.Creates, th)
		report(cfg.Out, "create", th)
		th = measure(ctx, n, cfg.Phase, func(ctx context.Context, w, seq int) (bool, error) {
			mine := created[w]
			if len(mine) == 0 {
				return false, fmt.Errorf("no pods to update")
			}
			p := mine[seq%len(mine)]
			next := p.DeepCopy()
			next.Labels["seq"] = strconv.Itoa(seq)
			out, err := pods.Update(ctx, next, metav1.UpdateOptions{})
			if err == nil {
				mine[seq%len(mine)] = out
			}
			return false, err
		})
		res.Updates = append(res.Updates, th)
		report(cfg.Out, "update", th)
	}
	for _, n := range cfg.Watchers {
		wl, err := measureWatch(ctx, pods, ns, n, cfg.WatchRate, cfg.Phase)
		if err != nil {
			return res, err
		}
		res.Watches = append(res.Watches, wl)
		fmt.Fprintf(cfg.Out, "%-8s %8d %8d %10s %9s %9s %7s\n", "watch", n, wl.Delivered, "-", ms(wl.P50), ms(wl.P99), fmt.Sprintf("%d skip", wl.Skipped))
	}
	last := func(t []Throughput) Throughput { return t[len(t)-1] }
	w10 := WatchLatency{}
	for _, w := range res.Watches {
		if w.Watchers == 10 {
			w10 = w
		}
	}
	fmt.Fprintf(cfg.Out, "RESULT creates_per_sec=%.0f create_p99_ms=%.2f updates_per_sec=%.0f watch10_p99_ms=%.2f\n",
		last(res.Creates).PerSec, float64(last(res.Creates).P99.Microseconds())/1000,
		last(res.Updates).PerSec, float64(w10.P99.Microseconds())/1000)
	return res, nil
}

// updateSet is how many of its created pods each client keeps to update:
// enough that consecutive updates are to different objects, few enough
// that the benchmark's own copies (it shares the process with the server)
// do not become most of the live heap the collector has to scan.
const updateSet = 256

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func report(out io.Writer, phase string, th Throughput) {
	fmt.Fprintf(out, "%-8s %8d %8d %10.0f %9s %9s %7d\n", phase, th.Clients, th.Ops, th.PerSec, ms(th.P50), ms(th.P99), th.Errors)
}

// measure runs op on n goroutines for d and collects latencies.
func measure(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, worker, seq int) (conflict bool, err error)) Throughput {
	lat := make([][]time.Duration, n)
	var errs, conflicts atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				t0 := time.Now()
				c, err := op(context.WithoutCancel(ctx), w, seq)
				if err != nil {
					errs.Add(1)
					continue
				}
				if c {
					conflicts.Add(1)
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	th := Throughput{Clients: n, Ops: len(all), PerSec: float64(len(all)) / elapsed.Seconds(), Errors: int(errs.Load()), Conflicts: int(conflicts.Load())}
	th.P50, th.P99 = percentile(all, 0.50), percentile(all, 0.99)
	return th
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// measureWatch starts n watchers on ns, then writes rate updates per second
// for d to one pod, each stamped with its send time, and measures how long
// each takes to reach each watcher.
func measureWatch(ctx context.Context, pods *client.Typed[*corev1.Pod], ns string, n, rate int, d time.Duration) (WatchLatency, error) {
	p, err := pods.Create(ctx, benchPod(ns, fmt.Sprintf("watch-%d", n)), metav1.CreateOptions{})
	if err != nil {
		return WatchLatency{}, err
	}
	from, _ := strconv.ParseUint(p.ResourceVersion, 10, 64)
	type got struct {
		mu   sync.Mutex
		lat  []time.Duration
		last string // resourceVersion of the newest event seen
	}
	results := make([]got, n)
	var ready sync.WaitGroup
	var wg sync.WaitGroup
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	for i := range n {
		w, err := pods.Watch(wctx, ns, from)
		if err != nil {
			return WatchLatency{}, err
		}
		ready.Add(1)
		wg.Go(func() {
			defer w.Stop()
			ready.Done()
			for ev := range w.Events() {
				if ev.Object.Name != p.Name {
					continue
				}
				sent, err := strconv.ParseInt(ev.Object.Annotations["bench/sent"], 10, 64)
				if err != nil {
					continue
				}
				results[i].mu.Lock()
				results[i].lat = append(results[i].lat, time.Since(time.Unix(0, sent)))
				results[i].last = ev.Object.ResourceVersion
				results[i].mu.Unlock()
			}
		})
	}
	ready.Wait()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	writes := 0
	for time.Now().Before(end) {
		<-tick.C
		next := p.DeepCopy()
		next.Annotations["bench/sent"] = strconv.FormatInt(time.Now().UnixNano(), 10)
		out, err := pods.Update(ctx, next, metav1.UpdateOptions{})
		if err != nil {
			return WatchLatency{}, err
		}
		p = out
		writes++
	}
	// Let the last deliveries arrive, bounded.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for i := range results {
			results[i].mu.Lock()
			if results[i].last != p.ResourceVersion {
				done = false
			}
			results[i].mu.Unlock()
		}
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	var all []time.Duration
	skipped := 0
	for i := range results {
		r := &results[i]
		if r.last != p.ResourceVersion {
			return WatchLatency{}, fmt.Errorf("bench: watcher %d of %d never saw the latest write (%s, saw %s)", i, n, p.ResourceVersion, r.last)
		}
		all = append(all, r.lat...)
		skipped += max(0, writes-len(r.lat))
	}
	return WatchLatency{Watchers: n, Delivered: len(all), Skipped: skipped, P50: percentile(all, 0.5), P99: percentile(all, 0.99)}, nil
}

// benchPod is a pod of typical size (about 700 bytes encoded).
func benchPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels:      map[string]string{"app": "bench", "tier": "web"},
			Annotations: map[string]string{"bench/sent": "0"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "web",
			Image: "registry.local/bench/web:1.0",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			Env:   []corev1.EnvVar{{Name: "MODE", Value: "bench"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
		}}},
	}
}
