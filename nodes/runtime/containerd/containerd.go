package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/nodes/runtime"
)

var _ runtime.Runtime = (*Runtime)(nil)

// Name is the runtime's name, the scheme of its container IDs.
const Name = "containerd"

// ErrUnavailable is returned by New (and CanRun) when containerd cannot run
// here: no binary, not root, or no cgroups.
var ErrUnavailable = errors.New("containerd: cannot run here")

// Config configures the runtime. The zero value starts a private daemon
// in a directory under os.TempDir().
type Config struct {
	// Address is the socket of an existing daemon; "" starts (or reuses) a
	// private daemon under StateDir.
	Address string
	// StateDir holds the private daemon (containerd/), the pods' network
	// namespaces (netns/), the host-local IPAM leases (cni/ipam/) and
	// nothing else. It must outlive the agent for re-adoption. "" is
	// <os.TempDir()>/skiff-containerd.
	StateDir string
	// Binary is the containerd executable ("" looks "containerd" up on PATH).
	Binary string
	// Namespace is the containerd namespace of everything the runtime
	// creates ("" is "skiff").
	Namespace string
	// Snapshotter ("" is "overlayfs").
	Snapshotter string
	// CNIPluginDirs are searched for CNI plugin binaries (default
	// DefaultCNIPluginDirs).
	CNIPluginDirs []string
	// CNIConfList, if set, is the CNI network configuration list pods are
	// attached to (its first interface is the pod's eth0), replacing the
	// generated one; PodCIDR and Bridge are then ignored.
	CNIConfList []byte
	// PodCIDR is this node's pod range, given out by host-local on the
	// bridge (default DefaultPodCIDR). It must not overlap 10.96.0.0/12,
	// the service range.
	PodCIDR string
	// Bridge is the name of the node's pod bridge (default DefaultBridge).
	Bridge string
	// StartTimeout bounds the private daemon's start (default 20 s).
	StartTimeout time.Duration
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
}

// Runtime is the containerd runtime. Create it with New; Close it.
type Runtime struct {
	cfg    Config
	client *client.Client
	daemon *os.Process // the private daemon New started, or nil
	net    *network

	// lockMu guards unlock, which releases the host-wide lock of the pod
	// bridge, taken with the first pod network (nil until then, and with
	// CNIConfList).
	lockMu sync.Mutex
	unlock func()
	log    *slog.Logger

	finalizeMu sync.Mutex
	// sandboxMu guards creating: the sandbox tasks being created in the
	// background (see startSandboxTask), by sandbox ID, each with a
	// channel closed when its creation has ended. background counts those
	// goroutines.
	sandboxMu  sync.Mutex
	creating   map[string]chan struct{}
	background sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// CanRun reports whether a private daemon can run on this machine with
// pod networking from the CNI plugins in cniDirs (none given:
// DefaultCNIPluginDirs), and if not, why (an error wrapping
// ErrUnavailable).
func CanRun(binary string, cniDirs ...string) error {
	if err := canRunDaemon(binary); err != nil {
		return err
	}
	if len(cniDirs) == 0 {
		cniDirs = DefaultCNIPluginDirs
	}
	return findPlugins(cniDirs, neededPlugins)
}

// canRunDaemon is CanRun without the CNI plugins.
func canRunDaemon(binary string) error {
	if binary == "" {
		binary = "containerd"
	}
	if _, err := exec.LookPath(binary); err != nil {
		return fmt.Errorf("%w: %s not installed (%v)", ErrUnavailable, binary, err)
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return fmt.Errorf("%w: runc not installed", ErrUnavailable)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not root", ErrUnavailable)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			return fmt.Errorf("%w: no cgroup hierarchy at /sys/fs/cgroup", ErrUnavailable)
		}
	}
	return nil
}

// New connects to the daemon cfg names, starting a private one if needed,
// and checks that it answers. The caller must Close the runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Namespace == "" {
		cfg.Namespace = "skiff"
	}
	if cfg.Snapshotter == "" {
		cfg.Snapshotter = "overlayfs"
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(os.TempDir(), "skiff-containerd")
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("containerd: state dir: %w", err)
	}
	cfg.StateDir = abs
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "netns"), 0o711); err != nil {
		return nil, fmt.Errorf("containerd: state dir: %w", err)
	}
	r := &Runtime{cfg: cfg, log: cfg.Logger, creating: map[string]chan struct{}{}}
	if err := r.makeSandboxRoot(); err != nil {
		return nil, err
	}
	if r.net, err = newNetwork(&r.cfg); err != nil {
		return nil, err
	}
	cfg = r.cfg
	addr := cfg.Address
	if addr == "" {
		if err := canRunDaemon(cfg.Binary); err != nil {
			return nil, err
		}
		addr = r.socket()
		if !answers(ctx, addr, cfg.Namespace) {
			if r.daemon, err = r.startDaemon(ctx); err != nil {
				return nil, err
			}
		} else {
			r.log.Info("reusing the private containerd daemon", "socket", addr)
		}
	}
	r.client, err = connect(ctx, addr, cfg.Namespace, cfg.StartTimeout, r.daemon)
	if err != nil {
		r.stopDaemon()
		return nil, err
	}
	if err := r.releaseDeadSandboxes(ctx); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Runtime) daemonDir() string { return filepath.Join(r.cfg.StateDir, "containerd") }
func (r *Runtime) socket() string    { return filepath.Join(r.daemonDir(), "containerd.sock") }

// config is the private daemon's configuration (see
// research/node-runtime-feasibility.md).
const config = `version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %[3]q
[ttrpc]
  address = %[4]q
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`

func (r *Runtime) startDaemon(ctx context.Context) (*os.Process, error) {
	dir := r.daemonDir()
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	sock := r.socket()
	conf := fmt.Sprintf(config, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "opt"))
	confPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	// A daemon that died left its sockets behind; containerd refuses to
	// listen on them.
	_ = os.Remove(sock)
	_ = os.Remove(sock + ".ttrpc")
	logf, err := os.OpenFile(filepath.Join(dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	defer func() { _ = logf.Close() }() // the daemon has its own descriptor
	bin := r.cfg.Binary
	if bin == "" {
		bin = "containerd"
	}
	cmd := exec.Command(bin, "--config", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a ^C to the agent must not kill the daemon
	// before the agent has finished with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("containerd: start %s: %w", bin, err)
	}
	r.log.Info("started a private containerd daemon", "pid", cmd.Process.Pid, "socket", sock, "log", logf.Name())
	return cmd.Process, nil
}

// answers reports whether a daemon answers on addr now.
func answers(ctx context.Context, addr, ns string) bool {
	if _, err := os.Stat(addr); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.New(addr, client.WithDefaultNamespace(ns), client.WithTimeout(time.Second))
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	_, err = c.Version(ctx)
	return err == nil
}

// connect polls addr until the daemon answers, daemon (if not nil) dies,
// or timeout passes.
func connect(ctx context.Context, addr, ns string, timeout time.Duration, daemon *os.Process) (*client.Client, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if daemon != nil && exited(daemon) {
			return nil, fmt.Errorf("containerd: the daemon exited at start (see %s)", filepath.Join(filepath.Dir(addr), "containerd.log"))
		}
		if _, err := os.Stat(addr); err == nil {
			c, err := client.New(addr, client.WithDefaultNamespace(ns), client.WithTimeout(2*time.Second))
			if err == nil {
				vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, err = c.Version(namespaces.WithNamespace(vctx, ns))
				cancel()
				if err == nil {
					return c, nil
				}
				_ = c.Close()
			}
			lastErr = err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("containerd: daemon at %s not answering: %v", addr, errors.Join(lastErr, ctx.Err()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exited reaps p if it has exited.
func exited(p *os.Process) bool {
	var ws unix.WaitStatus
	pid, err := unix.Wait4(p.Pid, &ws, unix.WNOHANG, nil)
	return pid == p.Pid || errors.Is(err, unix.ECHILD)
}

// stopDaemon stops the daemon New started: SIGTERM, then SIGKILL after 10 s.
func (r *Runtime) stopDaemon() {
	if r.daemon == nil {
		return
	}
	p := r.daemon
	r.daemon = nil
	_ = p.Signal(syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); !exited(p); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = p.Kill()
			deadline = time.Now().Add(time.Hour)
		}
	}
	r.log.Info("stopped the private containerd daemon", "pid", p.Pid)
}

// Close closes the connection and stops the private daemon if New started
// it; containers keep running in their shims. It is idempotent.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() {
		r.background.Wait()
		r.closeErr = r.client.Close()
		r.stopDaemon()
		r.release()
	})
	return r.closeErr
}

// PodCIDR is the pod range of the generated bridge network ("" when
// Config.CNIConfList replaced it).
func (r *Runtime) PodCIDR() string {
	if r.cfg.CNIConfList != nil {
		return ""
	}
	return r.cfg.PodCIDR
}

// lockBridge takes the host-wide lock of the generated network's bridge
// once (see network.go's lockBridge).
func (r *Runtime) lockBridge() error {
	if r.cfg.CNIConfList != nil {
		return nil
	}
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	if r.unlock != nil {
		return nil
	}
	unlock, err := lockBridge(r.cfg.Bridge)
	if err != nil {
		return err
	}
	r.unlock = unlock
	return nil
}

// release drops the bridge lock.
func (r *Runtime) release() {
	r.lockMu.Lock()
	defer r.lockMu.Unlock()
	if r.unlock != nil {
		r.unlock()
		r.unlock = nil
	}
}

// ctx puts the runtime's namespace on ctx.
func (r *Runtime) ctx(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

// Info implements runtime.Runtime.
func (r *Runtime) Info(ctx context.Context) (runtime.Info, error) {
	v, err := r.client.Version(r.ctx(ctx))
	if err != nil {
		return runtime.Info{}, fmt.Errorf("containerd: version: %w", err)
	}
	return runtime.Info{Name: Name, Version: strings.TrimPrefix(v.Version, "v")}, nil
}
