package containerd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
	"github.com/skiffhq/skiff/nodes/runtime/containerd/containerdtest"
)

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// get polls url until it answers 200 or the deadline passes.
func get(t *testing.T, url string, timeout time.Duration) string {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	var last error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := c.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			return string(b)
		}
		last = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

func natRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "5", "-t", "nat", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S: %v %s", err, out)
	}
	return string(out)
}

// TestPodNetwork: each sandbox gets its own namespace and an address of
// the pod range on the bridge; the host reaches pods by IP, pods reach
// each other, a hostPort on 127.0.0.1 reaches the pod, and stopping the
// sandboxes leaves no address lease, libcni cache, netns or hostPort rule.
func TestPodNetwork(t *testing.T) {
	need(t)
	cfg := containerdtest.Config(t)
	rt := open(t, cfg, true)
	ctx := t.Context()
	other := cfg
	other.StateDir = t.TempDir()
	if _, err := containerd.New(ctx, other); err == nil || !strings.Contains(err.Error(), "used by another Skiff node") {
		t.Fatalf("a second runtime on the same bridge: %v, want refused", err)
	}
	hostPort := freePort(t)
	serve := sh(`mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www`)

	sbA, err := rt.RunSandbox(ctx, runtime.SandboxConfig{Name: "a", Namespace: "ns", UID: "u-net-a", Hostname: "pod-a",
		Labels: map[string]string{runtime.LabelPodUID: "u-net-a"},
		Ports:  []runtime.PortMapping{{Protocol: "TCP", ContainerPort: 8080, HostPort: hostPort, HostIP: "127.0.0.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	a := &pod{rt: rt, sb: sbA, uid: "u-net-a", dir: t.TempDir()}
	b := newPod(t, rt, "u-net-b")
	prefix := netip.MustParsePrefix(cfg.PodCIDR)
	for _, sb := range []runtime.Sandbox{a.sb, b.sb} {
		ip, err := netip.ParseAddr(sb.IP)
		if err != nil || !prefix.Contains(ip) {
			t.Fatalf("sandbox IP %q, want an address of %s", sb.IP, prefix)
		}
	}
	if a.sb.IP == b.sb.IP {
		t.Fatalf("two sandboxes share %s", a.sb.IP)
	}
	if sbs, _ := rt.ListSandboxes(ctx, map[string]string{runtime.LabelPodUID: "u-net-a"}); len(sbs) != 1 || sbs[0].IP != a.sb.IP {
		t.Fatalf("ListSandboxes: %+v, want IP %s", sbs, a.sb.IP)
	}

	a.run(t, runtime.ContainerConfig{Name: "web", Image: image(t), Command: serve})
	// A second container of pod A shares its namespace: it sees the server
	// on 127.0.0.1.
	side, _ := a.run(t, runtime.ContainerConfig{Name: "side", Image: image(t), Command: sh("sleep 3600")})
	if got := get(t, "http://"+net.JoinHostPort(a.sb.IP, "8080")+"/", 10*time.Second); got != "hello from pod-a\n" {
		t.Errorf("host → pod IP: %q", got)
	}
	if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/", hostPort), 10*time.Second); got != "hello from pod-a\n" {
		t.Errorf("host → hostPort on 127.0.0.1: %q", got)
	}
	var out bytes.Buffer
	if code, err := rt.Exec(ctx, side.ID, runtime.ExecRequest{Cmd: []string{"wget", "-qO-", "http://127.0.0.1:8080/"}, Stdout: &out}); err != nil || code != 0 {
		t.Errorf("container → its pod's other container: exit %d %v", code, err)
	}
	tools, _ := b.run(t, runtime.ContainerConfig{Name: "tools", Image: image(t), Command: sh("sleep 3600")})
	out.Reset()
	if code, err := rt.Exec(ctx, tools.ID, runtime.ExecRequest{Cmd: []string{"wget", "-qO-", "http://" + a.sb.IP + ":8080/"}, Stdout: &out}); err != nil || code != 0 || out.String() != "hello from pod-a\n" {
		t.Errorf("pod B → pod A: exit %d %v %q", code, err, out.String())
	}
	if !strings.Contains(natRules(t), fmt.Sprintf("--dport %d", hostPort)) {
		t.Errorf("no DNAT rule for hostPort %d", hostPort)
	}

	// Stop both: the addresses, the cache, the namespaces and the rules go.
	for _, p := range []*pod{a, b} {
		if err := rt.StopSandbox(ctx, p.sb.ID); err != nil {
			t.Fatal(err)
		}
		if err := rt.StopSandbox(ctx, p.sb.ID); err != nil {
			t.Fatalf("second StopSandbox: %v", err)
		}
	}
	if sbs, _ := rt.ListSandboxes(ctx, map[string]string{runtime.LabelPodUID: "u-net-a"}); len(sbs) != 1 || sbs[0].IP != "" || sbs[0].State != runtime.SandboxNotReady {
		t.Errorf("stopped sandbox: %+v, want not ready with no IP", sbs)
	}
	leases, _ := filepath.Glob(filepath.Join(cfg.StateDir, "cni", "ipam", "*", "1*"))
	if len(leases) > 0 {
		t.Errorf("host-local leases left: %v", leases)
	}
	for _, p := range []*pod{a, b} {
		if _, err := os.Stat("/var/lib/cni/results/skiff-pods-" + p.sb.ID + "-eth0"); err == nil {
			t.Errorf("libcni cache of %s left", p.sb.ID)
		}
	}
	if ns, _ := os.ReadDir(filepath.Join(cfg.StateDir, "netns")); len(ns) > 0 {
		t.Errorf("network namespaces left: %v", ns)
	}
	rules := natRules(t)
	if strings.Contains(rules, fmt.Sprintf("--dport %d", hostPort)) {
		t.Errorf("hostPort rule left:\n%s", rules)
	}
	if !otherHostports(rules) && strings.Contains(rules, "CNI-HOSTPORT-") {
		t.Errorf("portmap chains left with no mapping:\n%s", rules)
	}
}

// otherHostports reports whether some other pod on this host (another
// test's) still maps a port, in which case portmap's chains must stay.
func otherHostports(rules string) bool {
	return strings.Contains(rules, "-A CNI-HOSTPORT-DNAT")
}

// TestDeadSandboxReleased: a sandbox whose network namespace vanished
// while no runtime ran (a reboot) is released by the next New: CNI DEL
// frees its address and it is reported not ready; a namespace no sandbox
// names is removed.
func TestDeadSandboxReleased(t *testing.T) {
	need(t)
	cfg := containerdtest.Config(t)
	first := open(t, cfg, false)
	p := newPod(t, first, "u-dead")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// What a reboot does: the namespace is unmounted (its pin file stays).
	nsDir := filepath.Join(cfg.StateDir, "netns")
	ents, _ := os.ReadDir(nsDir)
	if len(ents) != 1 {
		t.Fatalf("netns dir: %v", ents)
	}
	if out, err := exec.Command("umount", filepath.Join(nsDir, ents[0].Name())).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(nsDir, "stray"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	second := open(t, cfg, true)
	sbs, err := second.ListSandboxes(t.Context(), nil)
	if err != nil || len(sbs) != 1 || sbs[0].ID != p.sb.ID || sbs[0].State != runtime.SandboxNotReady || sbs[0].IP != "" {
		t.Fatalf("after New: %+v %v, want the sandbox not ready, no IP", sbs, err)
	}
	if ents, _ := os.ReadDir(nsDir); len(ents) != 0 {
		t.Errorf("netns dir after New: %v", ents)
	}
	leases, _ := filepath.Glob(filepath.Join(cfg.StateDir, "cni", "ipam", "*", "1*"))
	if len(leases) > 0 {
		t.Errorf("host-local leases left: %v", leases)
	}
	if err := second.RemoveSandbox(t.Context(), p.sb.ID); err != nil {
		t.Fatal(err)
	}
}

func TestNetworkConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, cidr, bridge, want string }{
		{"service range", "10.96.0.0/16", "", "overlaps the service range"},
		{"not a prefix", "10.88.0.0", "", "pod CIDR"},
		{"IPv6", "fd00::/64", "", "IPv4"},
		{"too small", "10.88.0.0/30", "", "at most /28"},
		{"long bridge", "", "a-very-long-bridge-name", "bridge name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := containerd.New(context.Background(), containerd.Config{StateDir: t.TempDir(), Address: "/no/such.sock", PodCIDR: tc.cidr, Bridge: tc.bridge})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	_, err := containerd.New(context.Background(), containerd.Config{StateDir: t.TempDir(), Address: "/no/such.sock", CNIPluginDirs: []string{t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), `CNI plugin "bridge" not found`) {
		t.Errorf("New with no plugins: %v", err)
	}
}
