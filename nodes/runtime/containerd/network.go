package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	gocni "github.com/containerd/go-cni"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Pod network defaults. DefaultPodCIDR is containerd's own default bridge
// range: it lies outside the 10.96.0.0/12 service range Skiff (like
// kubeadm) allocates ClusterIPs from, and outside 10.128.0.0/9, which
// simulated nodes take their pod ranges from.
const (
	DefaultPodCIDR = "10.88.0.0/16"
	DefaultBridge  = "skiff0"
	networkName    = "skiff-pods"
)

// DefaultCNIPluginDirs are where the CNI plugins are looked for: Debian's
// containernetworking-plugins directory first, then the upstream one.
var DefaultCNIPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// neededPlugins are the plugins the generated configuration uses.
var neededPlugins = []string{"bridge", "host-local", "portmap"}

// serviceRange is the ClusterIP range of a Skiff (and kubeadm) cluster;
// a pod range overlapping it would shadow Services.
var serviceRange = netip.MustParsePrefix("10.96.0.0/12")

// conflist is the generated network: a bridge with host-local IPAM (its
// leases under the state dir), and portmap for hostPorts when withPorts.
func conflist(bridge string, subnet netip.Prefix, ipamDir string, withPorts bool) []byte {
	type obj = map[string]any
	plugins := []obj{{"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false, "hairpinMode": true,
		"ipam": obj{"type": "host-local", "ranges": [][]obj{{{"subnet": subnet.String()}}}, "dataDir": ipamDir}}}
	if withPorts {
		plugins = append(plugins, obj{"type": "portmap", "capabilities": obj{"portMappings": true}, "snat": true})
	}
	b, _ := json.Marshal(obj{"cniVersion": "1.0.0", "name": networkName, "plugins": plugins})
	return b
}

// network is the runtime's CNI. With the generated configuration, pods
// without hostPorts are attached by a chain without portmap (one plugin
// process less per ADD and DEL: a pod start costs less CPU); the DEL of a
// sandbox uses the chain its ADD used, which its host ports say.
type network struct {
	cni, withPorts gocni.CNI
}

// of is the CNI chain for a sandbox with these host ports.
func (n *network) of(ports []runtime.PortMapping) gocni.CNI {
	if len(hostPorts(ports)) > 0 {
		return n.withPorts
	}
	return n.cni
}

// newNetwork validates the network part of cfg and loads the CNI
// configuration. It fails when the plugins are missing.
func newNetwork(cfg *Config) (*network, error) {
	dirs := cfg.CNIPluginDirs
	if len(dirs) == 0 {
		dirs = DefaultCNIPluginDirs
	}
	list, ports := cfg.CNIConfList, cfg.CNIConfList
	if list == nil {
		if cfg.PodCIDR == "" {
			cfg.PodCIDR = DefaultPodCIDR
		}
		subnet, err := netip.ParsePrefix(cfg.PodCIDR)
		if err != nil || !subnet.Addr().Is4() || subnet.Bits() > 28 {
			return nil, fmt.Errorf("containerd: pod CIDR %q: want an IPv4 prefix of at most /28", cfg.PodCIDR)
		}
		subnet = subnet.Masked()
		if subnet.Overlaps(serviceRange) {
			return nil, fmt.Errorf("containerd: pod CIDR %s overlaps the service range %s", subnet, serviceRange)
		}
		if cfg.Bridge == "" {
			cfg.Bridge = DefaultBridge
		}
		if len(cfg.Bridge) > unix.IFNAMSIZ-1 || strings.ContainsAny(cfg.Bridge, "/ \t\n") {
			return nil, fmt.Errorf("containerd: bridge name %q: at most %d characters, no '/' or spaces", cfg.Bridge, unix.IFNAMSIZ-1)
		}
		if err := findPlugins(dirs, neededPlugins); err != nil {
			return nil, err
		}
		ipam := filepath.Join(cfg.StateDir, "cni", "ipam")
		list, ports = conflist(cfg.Bridge, subnet, ipam, false), conflist(cfg.Bridge, subnet, ipam, true)
	}
	var n network
	for _, x := range []struct {
		c    *gocni.CNI
		list []byte
	}{{&n.cni, list}, {&n.withPorts, ports}} {
		c, err := gocni.New(gocni.WithPluginDir(dirs), gocni.WithMinNetworkCount(1), gocni.WithConfListBytes(x.list))
		if err != nil {
			return nil, fmt.Errorf("containerd: CNI configuration: %w", err)
		}
		*x.c = c
	}
	return &n, nil
}

// findPlugins checks that every plugin is in one of dirs.
func findPlugins(dirs, plugins []string) error {
	for _, p := range plugins {
		found := false
		for _, d := range dirs {
			if st, err := os.Stat(filepath.Join(d, p)); err == nil && st.Mode().IsRegular() {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: CNI plugin %q not found in %s (install containernetworking-plugins)", ErrUnavailable, p, strings.Join(dirs, ", "))
		}
	}
	return nil
}

// lockDir holds the host-wide locks of pod bridges.
const lockDir = "/run/skiff"

// lockBridge takes the host-wide lock of a bridge: two runtimes on one
// bridge would hand out the same addresses from their own host-local
// leases. The lock is released by unlock or when the process ends.
func lockBridge(bridge string) (unlock func(), err error) {
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, fmt.Errorf("containerd: bridge lock: %w", err)
	}
	p := filepath.Join(lockDir, "bridge-"+bridge+".lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("containerd: bridge lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("containerd: bridge %s is used by another Skiff node on this host (%s is locked); give this node its own bridge and pod CIDR", bridge, p)
		}
		return nil, fmt.Errorf("containerd: bridge lock: %w", err)
	}
	return func() { _ = f.Close() }, nil
}

// portOpts are the CNI capability arguments of a sandbox's host ports.
func portOpts(ports []runtime.PortMapping) []gocni.NamespaceOpts {
	var pm []gocni.PortMapping
	for _, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		pm = append(pm, gocni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort,
			Protocol: strings.ToLower(p.Protocol), HostIP: p.HostIP})
	}
	if len(pm) == 0 {
		return nil
	}
	return []gocni.NamespaceOpts{gocni.WithCapabilityPortMap(pm)}
}

// hostPorts are the mapped ports of a sandbox, kept in its labels so that
// the CNI DEL after an agent restart removes the same mappings.
func hostPorts(ports []runtime.PortMapping) []runtime.PortMapping {
	var out []runtime.PortMapping
	for _, p := range ports {
		if p.HostPort != 0 {
			out = append(out, p)
		}
	}
	return out
}

// setup runs CNI ADD for sandbox id in the namespace at path and returns
// the pod's IPv4 address.
func (n *network) setup(ctx context.Context, id, path string, ports []runtime.PortMapping) (string, error) {
	res, err := n.of(ports).Setup(ctx, id, path, portOpts(ports)...)
	if err != nil {
		return "", fmt.Errorf("CNI ADD: %w", err)
	}
	for _, ifc := range res.Interfaces {
		for _, ipc := range ifc.IPConfigs {
			if ip4 := ipc.IP.To4(); ip4 != nil {
				return ip4.String(), nil
			}
		}
	}
	_ = n.of(ports).Remove(context.WithoutCancel(ctx), id, path, portOpts(ports)...)
	return "", errors.New("CNI ADD: the result has no IPv4 address")
}

// teardown runs CNI DEL (releasing the address, the veth and the
// hostPort rules); path may name a namespace that is gone, or be "".
// It removes the hostPort chains portmap leaves once no mapping is left.
func (n *network) teardown(ctx context.Context, id, path string, ports []runtime.PortMapping) error {
	if path != "" && !isNetNS(path) {
		path = "" // gone: the plugins release what they can without it
	}
	if err := n.of(ports).Remove(ctx, id, path, portOpts(ports)...); err != nil {
		return fmt.Errorf("CNI DEL: %w", err)
	}
	if len(hostPorts(ports)) > 0 {
		removeIdleHostportChains()
	}
	return nil
}

// removeIdleHostportChains removes the chains the portmap plugin creates
// in the nat table on its first ADD and never removes (CNI-HOSTPORT-DNAT,
// -SETMARK, -MASQ, and the jumps to them), when no pod of any runtime on
// this host maps a port any more (CNI-HOSTPORT-DNAT is empty). Best
// effort: a failure leaves the chains, which are harmless.
func removeIdleHostportChains() {
	ipt, err := exec.LookPath("iptables")
	if err != nil {
		return
	}
	run := func(args ...string) (string, error) {
		out, err := exec.Command(ipt, append([]string{"-w", "5", "-t", "nat"}, args...)...).CombinedOutput()
		return string(out), err
	}
	rules, err := run("-S", "CNI-HOSTPORT-DNAT")
	if err != nil {
		return
	}
	for line := range strings.Lines(rules) {
		if strings.HasPrefix(line, "-A ") {
			return // a mapping of another pod
		}
	}
	all, err := run("-S")
	if err != nil {
		return
	}
	for line := range strings.Lines(all) {
		f := splitRule(line)
		if len(f) < 2 || f[0] != "-A" || strings.HasPrefix(f[1], "CNI-HOSTPORT-") || !strings.Contains(line, "-j CNI-HOSTPORT-") {
			continue
		}
		_, _ = run(append([]string{"-D"}, f[1:]...)...)
	}
	for _, ch := range []string{"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"} {
		if _, err := run("-F", ch); err == nil {
			_, _ = run("-X", ch)
		}
	}
}

// splitRule splits a line of iptables -S output into arguments, honouring
// the double quotes iptables puts around comments.
func splitRule(line string) []string {
	var out []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range strings.TrimSpace(line) {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
