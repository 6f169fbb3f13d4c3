package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/core/gcpolicy"
	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/sdk/client"
)

// ControllersConfig configures RunControllers. The zero value runs the
// issue's figure: 10,000 replicas on 1,000 simulated nodes, within 10
// minutes.
type ControllersConfig struct {
	// Nodes is how many simulated nodes run (default 1000), Replicas the
	// Deployment's size (default 10000).
	Nodes, Replicas int
	// Timeout bounds the run, start-up included (default 10 min).
	Timeout time.Duration
	// DaemonSet, after the Deployment, also times a DaemonSet to a pod on
	// every node.
	DaemonSet bool
	// NodeCommand runs the simulated nodes in a process of their own, so
	// that the control plane's memory is measured alone: the command and
	// its leading arguments, to which RunControllers appends
	// "--server URL --simulate N --name-prefix bench-" (cmd/skiff passes
	// its own binary and "node"). Required.
	NodeCommand []string
	// Out receives the report (default os.Stdout).
	Out io.Writer
	// Logger receives the control plane's log; nil discards it.
	Logger *slog.Logger
}

// ControllersResult is what RunControllers measured.
type ControllersResult struct {
	// NodesReady is how long the simulated nodes took to register;
	// Available how long from the Deployment's creation until all its
	// replicas were available.
	NodesReady, Available time.Duration
	// DaemonSetAvailable is how long the DaemonSet took (with
	// Config.DaemonSet).
	DaemonSetAvailable time.Duration
	// PeakRSS is the peak resident set of this process (control plane and
	// the benchmark's client), in bytes.
	PeakRSS int64
}

// RunControllers starts a control plane in this process (NATS, API
// server, scheduler, controllers), the simulated nodes in another, creates
// one Deployment and waits until all its replicas are available. It prints
// progress and ends with
// "RESULT nodes=… replicas=… available_s=… pods_per_sec=… [ds_available_s=…] peak_rss_mib=…".
func RunControllers(ctx context.Context, cfg ControllersConfig) (ControllersResult, error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 1000
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 10000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.NodeCommand) == 0 {
		return ControllersResult{}, errors.New("bench: ControllersConfig.NodeCommand is required")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var res ControllersResult

	dir, err := os.MkdirTemp("", "skiff-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	log := cfg.Logger
	pctx, stop := context.WithCancel(ctx)
	ready := make(chan controlplane.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- controlplane.Run(pctx, controlplane.Config{DataDir: dir, NATSListen: "127.0.0.1:0", Logger: log,
			Components: []controlplane.Component{
				{Name: "scheduler", Run: func(ctx context.Context, conn *bus.Conn) error {
					return scheduler.Serve(ctx, conn, scheduler.Config{Logger: log.With("component", "scheduler")})
				}},
				{Name: "controllers", Run: func(ctx context.Context, conn *bus.Conn) error {
					return controllers.RunOn(ctx, conn, controllers.Config{Logger: log.With("component", "controllers")})
				}},
			},
			Ready: func(in controlplane.Info) { ready <- in }})
	}()
	var url string
	select {
	case in := <-ready:
		url = in.NATSURL
	case err := <-done:
		stop()
		return res, fmt.Errorf("bench: control plane: %w", err)
	case <-ctx.Done():
		stop()
		<-done //nolint:errcheck // interrupted: the context's error is the one to report
		return res, ctx.Err()
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			fmt.Fprintf(cfg.Out, "control plane: %v\n", err)
		}
	}()
	fmt.Fprintf(cfg.Out, "control plane started in-process on %s\n", url)

	// The nodes, in their own process.
	start := time.Now()
	args := append(cfg.NodeCommand[1:len(cfg.NodeCommand):len(cfg.NodeCommand)],
		"--server", url, "--simulate", strconv.Itoa(cfg.Nodes), "--name-prefix", "bench-")
	nctx, nstop := context.WithCancel(context.Background())
	defer nstop()
	node := exec.CommandContext(nctx, cfg.NodeCommand[0], args...)
	node.Cancel = func() error { return node.Process.Signal(os.Interrupt) }
	node.WaitDelay = 20 * time.Second
	nodeOut, err := node.StdoutPipe()
	if err != nil {
		return res, err
	}
	var nodeErr tailBuffer
	node.Stderr = &nodeErr
	if err := node.Start(); err != nil {
		return res, fmt.Errorf("bench: start nodes: %w", err)
	}
	defer func() {
		nstop()
		_ = node.Wait()
	}()
	go func() { _, _ = io.Copy(io.Discard, bufio.NewReader(nodeOut)) }()

	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: url, Name: "skiff-bench"})
	if err != nil {
		return res, err
	}
	defer conn.Close()
	c, err := client.New(ctx, conn)
	if err != nil {
		return res, err
	}
	var readyNodes atomic.Int64
	nodeInf := client.NewInformer[*corev1.Node](c, "", client.Handlers[*corev1.Node]{
		OnAdd: func(n *corev1.Node) {
			if strings.HasPrefix(n.Name, "bench-") {
				readyNodes.Add(1)
			}
		},
	})
	ictx, istop := context.WithCancel(ctx)
	defer istop()
	go func() { _ = nodeInf.Run(ictx) }()
	if err := waitUntil(ctx, time.Second, func() (bool, string) {
		n := readyNodes.Load()
		return n >= int64(cfg.Nodes), fmt.Sprintf("%d of %d nodes registered", n, cfg.Nodes)
	}, cfg.Out); err != nil {
		return res, fmt.Errorf("bench: nodes: %w (node process: %s)", err, nodeErr.String())
	}
	res.NodesReady = time.Since(start)
	fmt.Fprintf(cfg.Out, "%d simulated nodes registered in %v (rss %d MiB)\n", cfg.Nodes, res.NodesReady.Round(time.Millisecond), rss("VmRSS")>>20)

	replicas := int32(cfg.Replicas)
	labels := map[string]string{"app": "bench"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "bench", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "bench:1"}}}}}}
	start = time.Now()
	if _, err := client.For[*appsv1.Deployment](c).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return res, fmt.Errorf("bench: deployment: %w", err)
	}
	var available, updated atomic.Int64
	depInf := client.NewInformer[*appsv1.Deployment](c, "default", client.Handlers[*appsv1.Deployment]{
		OnAdd: func(d *appsv1.Deployment) { available.Store(int64(d.Status.AvailableReplicas)) },
		OnUpdate: func(_, d *appsv1.Deployment) {
			available.Store(int64(d.Status.AvailableReplicas))
			updated.Store(int64(d.Status.UpdatedReplicas))
		},
	})
	go func() { _ = depInf.Run(ictx) }()
	if err := waitUntil(ctx, 5*time.Second, func() (bool, string) {
		a := available.Load()
		return a >= int64(cfg.Replicas), fmt.Sprintf("%v: %d of %d available (%d created), rss %d MiB",
			time.Since(start).Round(time.Second), a, cfg.Replicas, updated.Load(), rss("VmRSS")>>20)
	}, cfg.Out); err != nil {
		return res, fmt.Errorf("bench: deployment: %w", err)
	}
	res.Available = time.Since(start)
	fmt.Fprintf(cfg.Out, "deployment of %d replicas on %d nodes available in %v; control plane peak RSS so far %d MiB\n",
		cfg.Replicas, cfg.Nodes, res.Available.Round(time.Millisecond), rss("VmHWM")>>20)
	extra := ""
	if cfg.DaemonSet {
		if res.DaemonSetAvailable, err = benchDaemonSet(ctx, c, cfg, ictx); err != nil {
			return res, err
		}
		extra = fmt.Sprintf(" ds_available_s=%.1f", res.DaemonSetAvailable.Seconds())
	}
	res.PeakRSS = rss("VmHWM")
	fmt.Fprintf(cfg.Out, "control plane peak RSS %d MiB\n", res.PeakRSS>>20)
	fmt.Fprintf(cfg.Out, "RESULT nodes=%d replicas=%d available_s=%.1f pods_per_sec=%.0f%s peak_rss_mib=%d\n",
		cfg.Nodes, cfg.Replicas, res.Available.Seconds(), float64(cfg.Replicas)/res.Available.Seconds(), extra, res.PeakRSS>>20)
	return res, nil
}

// benchDaemonSet creates a DaemonSet and waits until every node runs an
// available daemon pod.
func benchDaemonSet(ctx context.Context, c *client.Client, cfg ControllersConfig, ictx context.Context) (time.Duration, error) {
	labels := map[string]string{"app": "bench-agent"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "bench-agent", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "bench-agent:1"}}}}}}
	start := time.Now()
	if _, err := client.For[*appsv1.DaemonSet](c).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		return 0, fmt.Errorf("bench: daemonset: %w", err)
	}
	var available atomic.Int64
	inf := client.NewInformer[*appsv1.DaemonSet](c, "default", client.Handlers[*appsv1.DaemonSet]{
		OnAdd:    func(d *appsv1.DaemonSet) { available.Store(int64(d.Status.NumberAvailable)) },
		OnUpdate: func(_, d *appsv1.DaemonSet) { available.Store(int64(d.Status.NumberAvailable)) },
	})
	go func() { _ = inf.Run(ictx) }()
	if err := waitUntil(ctx, 5*time.Second, func() (bool, string) {
		a := available.Load()
		return a >= int64(cfg.Nodes), fmt.Sprintf("%v: daemonset %d of %d nodes available, rss %d MiB",
			time.Since(start).Round(time.Second), a, cfg.Nodes, rss("VmRSS")>>20)
	}, cfg.Out); err != nil {
		return 0, fmt.Errorf("bench: daemonset: %w", err)
	}
	d := time.Since(start)
	fmt.Fprintf(cfg.Out, "daemonset on %d nodes available in %v\n", cfg.Nodes, d.Round(time.Millisecond))
	return d, nil
}

// waitUntil polls cond every 100 ms until it holds or ctx ends, printing
// its progress every report.
func waitUntil(ctx context.Context, report time.Duration, cond func() (bool, string), out io.Writer) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		ok, msg := cond()
		if ok {
			return nil
		}
		if time.Since(last) >= report {
			fmt.Fprintln(out, "  "+msg)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), msg)
		case <-tick.C:
		}
	}
}

// rss reads a field of /proc/self/status (VmRSS, VmHWM) in bytes; 0 where
// there is none.
func rss(field string) int64 {
	n, _ := gcpolicy.Status(field)
	return int64(n)
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	b []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4<<10 {
		t.b = t.b[len(t.b)-4<<10:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
