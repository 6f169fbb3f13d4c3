package nodes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/nodes/images"
	"github.com/skiffhq/skiff/nodes/lifecycle"
	"github.com/skiffhq/skiff/nodes/podio"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
	"github.com/skiffhq/skiff/nodes/runtime/simulated"
	"github.com/skiffhq/skiff/sdk/client"
)

// Runtime names for Config.Runtime.
const (
	RuntimeSimulated  = "simulated"
	RuntimeContainerd = "containerd"
)

// Config says which nodes to run. The zero value runs one node named
// after this machine, on the best runtime available.
type Config struct {
	// Name is the node's name; "" is this machine's host name. Ignored
	// when Count is set.
	Name string
	// Count, when > 0, runs that many simulated nodes named NamePrefix
	// followed by a zero-padded index (sim-0000, sim-0001, ...).
	Count      int
	NamePrefix string
	// Runtime is RuntimeSimulated, RuntimeContainerd, or "" for
	// containerd when it can run (one node, StateDir set, the containerd
	// binary installed, root, cgroups) and simulated otherwise.
	Runtime string
	// StateDir, if set, holds each node's state under <StateDir>/<node>:
	// container logs, the simulated runtime's state file, and the
	// containerd runtime's private daemon and network namespaces, so that
	// a restarted process re-adopts its pods. "" keeps nothing on disk;
	// the containerd runtime needs it.
	StateDir string
	// ContainerdAddress is the socket of an existing containerd daemon;
	// "" starts a private one under StateDir.
	ContainerdAddress string
	// PodCIDR is the containerd node's pod range on its bridge (default
	// containerd.DefaultPodCIDR, outside the 10.96.0.0/12 service range),
	// also recorded in the Node's spec.podCIDR. Bridge names the bridge
	// (default containerd.DefaultBridge).
	PodCIDR, Bridge string
	// CNIPluginDirs are searched for the CNI plugins (default
	// containerd.DefaultCNIPluginDirs); CNIConfList, if set, is a CNI
	// .conflist file to use instead of the generated bridge network.
	CNIPluginDirs []string
	CNIConfList   string

	// Labels, Taints, Capacity, Reserved, NodeIP: as in agent.Config, for
	// every node. Simulated nodes default to 8 CPUs, 32Gi and 110 pods.
	Labels   map[string]string
	Taints   []corev1.Taint
	Capacity corev1.ResourceList
	Reserved corev1.ResourceList
	NodeIP   string

	// HeartbeatInterval, StatusReportInterval, Backoff: as in
	// agent.Config. Simulated nodes spread their first heartbeats over one
	// interval so that they do not renew in step.
	HeartbeatInterval, StatusReportInterval time.Duration
	Backoff                                 lifecycle.Backoff

	// Logger receives the log; nil discards it.
	Logger *slog.Logger
	// Ready, if set, is called once every node is registered and watching
	// its pods, with the nodes' names and the runtime chosen.
	Ready func(names []string, runtime string)
}

// startConcurrency bounds the nodes registering at once.
const startConcurrency = 64

// Local returns a function that runs the nodes cfg describes on a
// connection: the Run of a control plane component (skiff up).
func Local(cfg Config) func(ctx context.Context, conn *bus.Conn) error {
	return func(ctx context.Context, conn *bus.Conn) error { return Run(ctx, conn, cfg) }
}

// Run runs the nodes cfg describes on conn until ctx ends. The nodes share
// conn, one API client and one binding of the node index. It returns nil
// when ctx ends, or the first node's error.
func Run(ctx context.Context, conn *bus.Conn, cfg Config) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rtName, why, err := chooseRuntime(cfg)
	if err != nil {
		return err
	}
	cfg.Runtime = rtName
	names, err := nodeNames(cfg)
	if err != nil {
		return err
	}
	c, index, err := bind(ctx, conn, cfg.Logger)
	if err != nil {
		return err
	}
	if why != "" {
		cfg.Logger.Info("runtime chosen", "runtime", rtName, "why", why)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		ready    sync.WaitGroup
	)
	sem := make(chan struct{}, startConcurrency)
	ready.Add(len(names))
	started := 0
	for i, name := range names {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		acfg, closeRT, err := nodeConfig(ctx, cfg, i, name, c, index)
		if err == nil {
			var a *agent.Agent
			var once sync.Once
			done := func() { once.Do(func() { ready.Done(); <-sem }) }
			acfg.Ready = done
			if rt, ok := acfg.Runtime.(images.Runtime); ok {
				// Images pushed to the cluster's Object Store, on demand.
				acfg.Images, err = images.New(images.Config{Conn: conn, Runtime: rt, Logger: cfg.Logger.With("node", name)})
			}
			var logs *podio.Server
			if err == nil {
				logs, err = logServer(cfg, acfg)
			}
			if err == nil {
				a, err = agent.New(acfg)
			}
			if err == nil {
				started++
				if logs != nil {
					wg.Go(func() {
						if err := logs.Run(ctx, conn); err != nil {
							cfg.Logger.Warn("log server", "node", acfg.Name, "err", err)
						}
					})
				}
				wg.Go(func() {
					defer closeRT()
					defer done()
					if err := a.Run(ctx); err != nil {
						errMu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						errMu.Unlock()
						cancel()
					}
				})
				continue
			}
			closeRT()
		}
		<-sem
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
		break
	}
	for range len(names) - started {
		ready.Done()
	}
	wg.Go(func() {
		ready.Wait()
		if ctx.Err() == nil && cfg.Ready != nil {
			cfg.Ready(names, rtName)
		}
	})
	wg.Wait()
	return firstErr
}

// bind makes the client and binds the node index that every node shares,
// waiting for the control plane to have created their buckets.
func bind(ctx context.Context, conn *bus.Conn, log *slog.Logger) (*client.Client, *store.Store, error) {
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		c, err := client.New(ctx, conn)
		if err == nil {
			var index *store.Store
			index, err = store.Bind(ctx, conn, store.Config{Bucket: subjects.NodePodsBucket})
			if err == nil {
				return c, index, nil
			}
			err = fmt.Errorf("node index: %w", err)
		}
		log.Warn("waiting for the control plane (objects bucket and node index)", "err", err, "retry", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("nodes: control plane not reachable: %w", err)
		}
	}
}

// chooseRuntime picks the runtime cfg asks for, and says why when it
// chose for the caller.
func chooseRuntime(cfg Config) (name, why string, err error) {
	switch cfg.Runtime {
	case RuntimeSimulated:
		return RuntimeSimulated, "", nil
	case RuntimeContainerd:
		if cfg.Count > 0 {
			return "", "", errors.New("nodes: many nodes in one process must use the simulated runtime")
		}
		if cfg.StateDir == "" {
			return "", "", errors.New("nodes: the containerd runtime needs a state dir (--state-dir) for its daemon and pods")
		}
		if cfg.ContainerdAddress == "" {
			if err := containerd.CanRun("", cfg.CNIPluginDirs...); err != nil {
				return "", "", fmt.Errorf("nodes: %w", err)
			}
		}
		return RuntimeContainerd, "", nil
	case "":
		switch {
		case cfg.Count > 0:
			return RuntimeSimulated, "simulated nodes", nil
		case cfg.StateDir == "":
			return RuntimeSimulated, "containerd needs a state dir", nil
		case cfg.ContainerdAddress != "":
			return RuntimeContainerd, "containerd socket given", nil
		}
		if err := containerd.CanRun("", cfg.CNIPluginDirs...); err != nil {
			return RuntimeSimulated, err.Error(), nil
		}
		return RuntimeContainerd, "containerd is installed and can run", nil
	}
	return "", "", fmt.Errorf("nodes: unknown runtime %q (want %s or %s)", cfg.Runtime, RuntimeSimulated, RuntimeContainerd)
}

// nodeNames are the names of the nodes to run.
func nodeNames(cfg Config) ([]string, error) {
	if cfg.Count <= 0 {
		name := cfg.Name
		if name == "" {
			h, err := os.Hostname()
			if err != nil {
				return nil, fmt.Errorf("nodes: host name: %w", err)
			}
			name = strings.ToLower(h)
		}
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			return nil, fmt.Errorf("nodes: node name %q: %s", name, msgs[0])
		}
		return []string{name}, nil
	}
	if cfg.Count > maxSimulated {
		return nil, fmt.Errorf("nodes: at most %d simulated nodes per process", maxSimulated)
	}
	prefix := cfg.NamePrefix
	if prefix == "" {
		prefix = "sim-"
	}
	width := len(strconv.Itoa(cfg.Count - 1))
	names := make([]string, cfg.Count)
	for i := range names {
		names[i] = fmt.Sprintf("%s%0*d", prefix, width, i)
		if msgs := validation.IsDNS1123Subdomain(names[i]); len(msgs) > 0 {
			return nil, fmt.Errorf("nodes: node name %q: %s", names[i], msgs[0])
		}
	}
	return names, nil
}

// maxSimulated is how many /24 pod ranges 10.128.0.0/9 holds.
const maxSimulated = 1 << 15

// nodeConfig builds node i's agent configuration and runtime.
func nodeConfig(ctx context.Context, cfg Config, i int, name string, c *client.Client, index *store.Store) (agent.Config, func(), error) {
	acfg := agent.Config{
		Name: name, Client: c, NodePods: index,
		Labels: cfg.Labels, Taints: cfg.Taints, Capacity: cfg.Capacity, Reserved: cfg.Reserved, NodeIP: cfg.NodeIP,
		HeartbeatInterval: cfg.HeartbeatInterval, StatusReportInterval: cfg.StatusReportInterval,
		Backoff: cfg.Backoff, PullBackoff: cfg.Backoff,
		Logger: cfg.Logger,
	}
	var dir string
	if cfg.StateDir != "" {
		dir = filepath.Join(cfg.StateDir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return acfg, nil, fmt.Errorf("nodes: state dir: %w", err)
		}
		acfg.LogDir = filepath.Join(dir, "pods")
		acfg.VolumeDir = filepath.Join(dir, "volumes")
	}
	simCfg := simulated.Config{}
	if cfg.Count > 0 {
		// Each simulated node gets its own /24 of 10.128.0.0/9, an address
		// of its own, a machine identity of its own, and a heartbeat phase.
		acfg.PodCIDR = fmt.Sprintf("10.%d.%d.0/24", 128+i/256, i%256)
		simCfg.PodCIDR = acfg.PodCIDR
		if cfg.NodeIP == "" {
			acfg.NodeIP = fmt.Sprintf("10.%d.%d.1", 128+i/256, i%256)
		}
		if acfg.Capacity == nil {
			acfg.Capacity = corev1.ResourceList{
				corev1.ResourceCPU:              resource.MustParse("8"),
				corev1.ResourceMemory:           resource.MustParse("32Gi"),
				corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
				corev1.ResourcePods:             resource.MustParse("110"),
			}
		}
		sum := sha256.Sum256([]byte(name))
		id := hex.EncodeToString(sum[:16])
		acfg.SystemInfo = &corev1.NodeSystemInfo{MachineID: id, SystemUUID: id, BootID: id,
			KernelVersion: "simulated", OSImage: "Skiff simulated node"}
		interval := cfg.HeartbeatInterval
		if interval <= 0 {
			interval = agent.DefaultHeartbeatInterval
		}
		acfg.HeartbeatOffset = time.Duration(i) * interval / time.Duration(cfg.Count)
	}
	if cfg.Runtime == RuntimeContainerd {
		ccfg := containerd.Config{Address: cfg.ContainerdAddress, StateDir: dir,
			PodCIDR: cfg.PodCIDR, Bridge: cfg.Bridge, CNIPluginDirs: cfg.CNIPluginDirs,
			Logger: cfg.Logger.With("runtime", "containerd")}
		if cfg.CNIConfList != "" {
			b, err := os.ReadFile(cfg.CNIConfList)
			if err != nil {
				return acfg, nil, fmt.Errorf("nodes: CNI configuration: %w", err)
			}
			ccfg.CNIConfList = b
		}
		rt, err := containerd.New(ctx, ccfg)
		if err != nil {
			return acfg, nil, fmt.Errorf("nodes: %w", err)
		}
		acfg.Runtime = rt
		if cfg.CNIConfList == "" {
			acfg.PodCIDR = rt.PodCIDR()
		}
		return acfg, func() { _ = rt.Close() }, nil
	}
	if dir != "" {
		simCfg.StateFile = filepath.Join(dir, "simulated.json")
	}
	rt, err := simulated.New(simCfg)
	if err != nil {
		return acfg, nil, err
	}
	acfg.Runtime = rt
	return acfg, rt.Close, nil
}

// logServer is the server of a node's container logs over NATS (nil when
// the node keeps no logs).
func logServer(cfg Config, acfg agent.Config) (*podio.Server, error) {
	if acfg.LogDir == "" {
		return nil, nil
	}
	pc := podio.Config{Node: acfg.Name, Runtime: acfg.Runtime, LogDir: acfg.LogDir, Format: podio.Timestamped,
		Logger: cfg.Logger.With("component", "podio")}
	if cfg.Runtime == RuntimeContainerd {
		pc.Format = podio.Raw // the shim writes what the container wrote
	}
	if cfg.Count > 0 {
		pc.Workers = 2 // thousands of simulated nodes share one process
	}
	return podio.New(pc)
}

// ParseTaint parses a taint as kubectl and the kubelet's
// --register-with-taints write it: key[=value]:Effect.
func ParseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("taint %q: want key[=value]:Effect", s)
	}
	key, value, _ := strings.Cut(kv, "=")
	t := corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)}
	switch t.Effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return corev1.Taint{}, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
	}
	if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
		return corev1.Taint{}, fmt.Errorf("taint %q: key: %s", s, msgs[0])
	}
	if value != "" {
		if msgs := validation.IsValidLabelValue(value); len(msgs) > 0 {
			return corev1.Taint{}, fmt.Errorf("taint %q: value: %s", s, msgs[0])
		}
	}
	return t, nil
}
