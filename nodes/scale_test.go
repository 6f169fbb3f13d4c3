package nodes_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/core/gcpolicy"
	"github.com/skiffhq/skiff/nodes"
	"github.com/skiffhq/skiff/sdk/client"
)

// The scale check runs a control plane (embedded NATS + API server with
// the node index) in a child process, so that its memory can be read
// apart from the nodes', and N simulated nodes in this process through
// nodes.Run. Defaults keep `go test ./...` short; the figure is
//
//	SKIFF_SCALE_NODES=2000 SKIFF_SCALE_PODS=2000 SKIFF_SCALE_DURATION=120s \
//	  go test ./nodes -run TestScale -v -timeout 30m
//
// The control plane runs with the skiff binary's GC policy (package
// gcpolicy) unless GOGC or GOMEMLIMIT is set.

const controlPlaneEnv = "SKIFF_TEST_CONTROL_PLANE_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(controlPlaneEnv); dir != "" {
		if err := controlPlane(dir); err != nil {
			fmt.Fprintln(os.Stderr, "control plane:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// controlPlane serves until stdin closes, printing its NATS URL first.
func controlPlane(dir string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go gcpolicy.Run(ctx, gcpolicy.Config{}) //nolint:errcheck // ends with ctx
	emb, err := bus.Start(bus.ServerConfig{DataDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		return err
	}
	defer emb.Shutdown()
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: emb.ClientURL()})
	if err != nil {
		return err
	}
	defer conn.Close()
	st, err := store.Open(ctx, conn, store.Config{Bucket: subjects.ObjectsBucket})
	if err != nil {
		return err
	}
	idx, err := store.Open(ctx, conn, store.Config{Bucket: subjects.NodePodsBucket})
	if err != nil {
		return err
	}
	if err := raiseConsumerLimit(ctx, conn, "KV_"+subjects.NodePodsBucket, 1<<20); err != nil {
		return err
	}
	srv, err := apiserver.New(apiserver.Config{Store: st, NodePods: idx})
	if err != nil {
		return err
	}
	if err := srv.Bootstrap(ctx); err != nil {
		return err
	}
	ready := make(chan struct{})
	go func() { _ = srv.ServeNATS(ctx, conn, apiserver.NATSConfig{Ready: func() { close(ready) }}) }()
	go func() { _ = srv.Run(ctx) }()
	<-ready
	fmt.Println("URL", emb.ClientURL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	if path := os.Getenv("SKIFF_SCALE_HEAP_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.WriteHeapProfile(f)
	}
	return nil
}

// raiseConsumerLimit sets a stream's max_consumers. nats-server caps a
// stream at 1,000 consumers unless the stream (or the account) sets a
// limit of its own, and the node index has one consumer per node; until
// bus/store sets it when it opens the bucket (see docs/nodes.md), the test
// control plane does it through the JetStream API.
func raiseConsumerLimit(ctx context.Context, conn *bus.Conn, stream string, n int) error {
	m, err := conn.Request(ctx, &bus.Msg{Subject: "$JS.API.STREAM.INFO." + stream})
	if err != nil {
		return err
	}
	var info struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(m.Data, &info); err != nil {
		return err
	}
	info.Config["max_consumers"] = n
	body, err := json.Marshal(info.Config)
	if err != nil {
		return err
	}
	m, err = conn.Request(ctx, &bus.Msg{Subject: "$JS.API.STREAM.UPDATE." + stream, Data: body})
	if err != nil {
		return err
	}
	var resp struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return err
	}
	if resp.Error != nil {
		return fmt.Errorf("update %s: %s", stream, resp.Error.Description)
	}
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// memory reads VmRSS and VmHWM (peak) of a process, in MiB.
func memory(t *testing.T, pid string) (rss, peak float64) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// consumerCount is the number of JetStream consumers on a stream.
func consumerCount(t *testing.T, conn *bus.Conn, stream string) int {
	t.Helper()
	m, err := conn.Request(t.Context(), &bus.Msg{Subject: "$JS.API.STREAM.INFO." + stream})
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		State struct {
			Consumers int `json:"consumer_count"`
		} `json:"state"`
	}
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

func TestScale(t *testing.T) {
	n := envInt("SKIFF_SCALE_NODES", 50)
	podsN := envInt("SKIFF_SCALE_PODS", 50)
	interval := envDuration("SKIFF_SCALE_HEARTBEAT", 2*time.Second)
	hold := envDuration("SKIFF_SCALE_DURATION", 2*interval+interval/2)
	if testing.Short() {
		n, podsN, hold = 10, 10, interval+interval/2
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), controlPlaneEnv+"="+t.TempDir())
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("control plane: %v", err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "URL "))
	pid := strconv.Itoa(cmd.Process.Pid)
	baseRSS, _ := memory(t, pid)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: url, Name: "scale-nodes"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	var registered atomic.Int64
	readyAt := make(chan time.Duration, 1)
	done := make(chan error, 1)
	go func() {
		var log *slog.Logger
		if os.Getenv("SKIFF_SCALE_LOG") != "" {
			log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
		done <- nodes.Run(ctx, conn, nodes.Config{Count: n, NamePrefix: "sim-", HeartbeatInterval: interval, Logger: log,
			Ready: func(names []string, _ string) { registered.Store(int64(len(names))); readyAt <- time.Since(begin) }})
	}()
	var regTook time.Duration
	select {
	case regTook = <-readyAt:
	case err := <-done:
		t.Fatalf("nodes: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("nodes did not register within 5 minutes")
	}
	t.Logf("%d nodes registered and watching in %s", registered.Load(), regTook.Round(time.Millisecond))

	c, err := client.New(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	podsClient := client.For[*corev1.Pod](c)
	podBegin := time.Now()
	for i := range podsN {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}}}
		if _, err := podsClient.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Bind(ctx, "default", p.Name, fmt.Sprintf("sim-%0*d", len(strconv.Itoa(n-1)), i%n)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Minute); podsN > 0; time.Sleep(500 * time.Millisecond) {
		list, _, err := podsClient.List(ctx, "default", metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range list {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == podsN {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods running after 5 minutes", running, podsN)
		}
	}
	if podsN > 0 {
		t.Logf("%d pods created, bound and Running in %s", podsN, time.Since(podBegin).Round(time.Millisecond))
	}

	// Hold, sampling the control plane's memory.
	var maxRSS float64
	var samples []string
	holdBegin := time.Now()
	for end := time.Now().Add(hold); time.Now().Before(end); time.Sleep(time.Second) {
		rss, _ := memory(t, pid)
		maxRSS = max(maxRSS, rss)
		if s := int(time.Since(holdBegin) / time.Second); s%10 == 0 {
			samples = append(samples, fmt.Sprintf("%ds:%.0f", s, rss))
		}
	}
	t.Logf("control plane RSS (MiB) during the hold: %s", strings.Join(samples, " "))
	rss, peak := memory(t, pid)
	selfRSS, selfPeak := memory(t, "self")
	if path := os.Getenv("SKIFF_SCALE_NODES_HEAP_PROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}

	leases, _, err := client.For[*coordinationv1.Lease](c).List(ctx, corev1.NamespaceNodeLease, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := 0
	now := time.Now()
	for _, l := range leases {
		if l.Spec.RenewTime != nil && now.Sub(l.Spec.RenewTime.Time) < interval+2*time.Second {
			fresh++
		}
	}
	idxConsumers := consumerCount(t, conn, "KV_"+subjects.NodePodsBucket)
	objConsumers := consumerCount(t, conn, "KV_"+subjects.ObjectsBucket)
	t.Logf("control plane: rss %.0f MiB (max sampled %.0f, peak %.0f, idle before nodes %.0f)", rss, maxRSS, peak, baseRSS)
	t.Logf("node process (%d simulated nodes, %d pods): rss %.0f MiB (peak %.0f)", n, podsN, selfRSS, selfPeak)
	t.Logf("leases renewed in the last %s: %d/%d; consumers: node index %d, objects %d", interval+2*time.Second, fresh, n, idxConsumers, objConsumers)
	fmt.Printf("RESULT nodes=%d pods=%d register_s=%.1f cp_rss_mb=%.0f cp_peak_mb=%.0f nodes_rss_mb=%.0f fresh_leases=%d index_consumers=%d objects_consumers=%d\n",
		n, podsN, regTook.Seconds(), rss, peak, selfRSS, fresh, idxConsumers, objConsumers)

	if fresh != n {
		t.Errorf("%d of %d nodes renewed their lease in the last interval", fresh, n)
	}
	if idxConsumers != n {
		t.Errorf("%d consumers on the node index for %d nodes, want one each", idxConsumers, n)
	}
	if objConsumers > 4 {
		t.Errorf("%d consumers on the objects bucket: nodes must not watch it", objConsumers)
	}
	if n >= 2000 && peak > 500 {
		t.Errorf("control plane peak RSS %.0f MiB, the target is under 500 MiB for 2,000 nodes", peak)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("nodes.Run: %v", err)
	}
}
