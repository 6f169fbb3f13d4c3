package nodes_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/nodes"
	"github.com/skiffhq/skiff/sdk/client"
)

// plane runs NATS and an API server with the node index in this process.
func plane(t *testing.T) (*bus.Conn, *client.Client) {
	t.Helper()
	e := apiservertest.Start(t, apiservertest.Config{NodePods: true})
	return e.ClientConn, e.Client
}

// runNodes runs nodes.Run in the background until the returned stop.
func runNodes(t *testing.T, conn *bus.Conn, cfg nodes.Config) (names []string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []string, 1)
	cfg.Ready = func(n []string, _ string) { ready <- n }
	done := make(chan error, 1)
	go func() { done <- nodes.Run(ctx, conn, cfg) }()
	select {
	case names = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("nodes.Run: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("nodes not ready")
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("nodes.Run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return names, stop
}

func TestSimulatedFleet(t *testing.T) {
	conn, c := plane(t)
	names, _ := runNodes(t, conn, nodes.Config{Count: 12, NamePrefix: "sim-", Labels: map[string]string{"pool": "sim"}})
	if len(names) != 12 || names[0] != "sim-00" || names[11] != "sim-11" {
		t.Fatalf("names %v", names)
	}
	list, _, err := client.For[*corev1.Node](c).List(t.Context(), "", metav1.ListOptions{LabelSelector: "pool=sim"})
	if err != nil {
		t.Fatal(err)
	}
	cidrs, ips := map[string]bool{}, map[string]bool{}
	for _, n := range list {
		cidrs[n.Spec.PodCIDR] = true
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ips[a.Address] = true
			}
		}
		if n.Status.Capacity.Cpu().Value() != 8 || n.Status.NodeInfo.KernelVersion != "simulated" {
			t.Errorf("node %s: capacity %v, node info %+v", n.Name, n.Status.Capacity, n.Status.NodeInfo)
		}
	}
	if len(list) != 12 || len(cidrs) != 12 || len(ips) != 12 {
		t.Errorf("%d nodes, %d pod CIDRs, %d addresses: each simulated node gets its own", len(list), len(cidrs), len(ips))
	}
}

func TestRestartWithStateDirKeepsPods(t *testing.T) {
	conn, c := plane(t)
	dir := t.TempDir()
	cfg := nodes.Config{Name: "n1", Runtime: nodes.RuntimeSimulated, StateDir: dir}
	_, stop := runNodes(t, conn, cfg)
	pods := client.For[*corev1.Pod](c)
	create := func(name string) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}}}
		if _, err := pods.Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Bind(t.Context(), "default", name, "n1"); err != nil {
			t.Fatal(err)
		}
	}
	create("web")
	running := func(name string) (string, error) {
		got, err := pods.Get(t.Context(), "default", name)
		if err != nil {
			return "", err
		}
		if got.Status.Phase != corev1.PodRunning || len(got.Status.ContainerStatuses) != 1 || got.Status.ContainerStatuses[0].State.Running == nil {
			return "", fmt.Errorf("not running: %s", got.Status.Phase)
		}
		return got.Status.ContainerStatuses[0].ContainerID, nil
	}
	waitRunning := func(name string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			id, err := running(name)
			if err == nil {
				return id
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
	}
	before := waitRunning("web")
	stop() // the whole process goes away; its state file stays
	runNodes(t, conn, cfg)
	// A pod bound after the restart runs, so the restarted agent has
	// listed and synced its pods.
	create("later")
	waitRunning("later")
	after, err := running("web")
	if err != nil || after != before {
		t.Errorf("after a restart: container %q (%v), want the same %q", after, err, before)
	}
	if _, err := os.Stat(filepath.Join(dir, "n1", "simulated.json")); err != nil {
		t.Errorf("state file: %v", err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "n1", "pods", "default_web_*", "app", "0.log"))
	if len(logs) != 1 {
		t.Errorf("container log files: %v", logs)
	}
}

func TestRunErrors(t *testing.T) {
	conn, _ := plane(t)
	for _, tt := range []struct {
		cfg  nodes.Config
		want string
	}{
		{nodes.Config{Name: "n1", Runtime: nodes.RuntimeContainerd}, "state dir"},
		{nodes.Config{Count: 2, Runtime: nodes.RuntimeContainerd}, "simulated"},
		{nodes.Config{Name: "n1", Runtime: "docker"}, "unknown runtime"},
		{nodes.Config{Name: "Bad_Name"}, "node name"},
	} {
		err := nodes.Run(t.Context(), conn, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%+v) = %v, want an error about %q", tt.cfg, err, tt.want)
		}
	}
}

func TestParseTaint(t *testing.T) {
	tests := []struct {
		in   string
		want corev1.Taint
		err  bool
	}{
		{"dedicated=gpu:NoSchedule", corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}, false},
		{"example.com/spot:PreferNoSchedule", corev1.Taint{Key: "example.com/spot", Effect: corev1.TaintEffectPreferNoSchedule}, false},
		{"k=v:NoExecute", corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoExecute}, false},
		{"k=v", corev1.Taint{}, true},
		{"k=v:Sometimes", corev1.Taint{}, true},
		{"bad key!:NoSchedule", corev1.Taint{}, true},
	}
	for _, tt := range tests {
		got, err := nodes.ParseTaint(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseTaint(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseTaint(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}
