package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/errdefs"
	cnins "github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// RunSandbox implements runtime.Runtime: a pinned network namespace with
// loopback up and the pod's eth0 on the node bridge (CNI ADD, hostPorts
// mapped by portmap), or the host's namespace for HostNetwork, and a
// record of the pod (whose task the first StartContainer creates: see
// sandboxtask.go). The record is written before CNI ADD, so that a crash
// in between leaves something StopSandbox (or the next New) releases.
func (r *Runtime) RunSandbox(ctx context.Context, cfg runtime.SandboxConfig) (runtime.Sandbox, error) {
	ctx = r.ctx(ctx)
	id := newID()
	own := map[string]string{
		labelKind:     kindSandbox,
		labelState:    string(runtime.SandboxReady),
		labelAttempt:  strconv.Itoa(cfg.Attempt),
		labelHostname: cfg.Hostname,
	}
	var ports []runtime.PortMapping
	if !cfg.HostNetwork {
		if err := r.lockBridge(); err != nil {
			return runtime.Sandbox{}, err
		}
		ns, err := netns.NewNetNS(r.cfg.StateDir + "/netns")
		if err != nil {
			return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox netns: %w", err)
		}
		if err := ns.Do(func(cnins.NetNS) error { return loopbackUp() }); err != nil {
			_ = ns.Remove()
			return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox netns: loopback: %w", err)
		}
		own[labelNetNS] = ns.GetPath()
		own[labelState] = string(runtime.SandboxNotReady)
		if ports = hostPorts(cfg.Ports); len(ports) > 0 {
			b, _ := json.Marshal(ports)
			own[labelPorts] = string(b)
		}
	}
	// The record's spec is its sandbox task's (see sandboxtask.go).
	spec, err := r.sandboxSpec(ctx, id, own[labelNetNS])
	var rec client.Container
	if err == nil {
		rec, err = r.client.NewContainer(ctx, id, client.WithContainerLabels(withLabels(cfg.Labels, own)), client.WithSpec(spec))
	}
	if err != nil {
		if p := own[labelNetNS]; p != "" {
			_ = netns.LoadNetNS(p).Remove()
		}
		return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox record: %w", err)
	}
	if p := own[labelNetNS]; p != "" {
		ip, err := r.net.setup(ctx, id, p, ports)
		if err == nil {
			_, err = rec.SetLabels(ctx, map[string]string{labelIP: ip, labelState: string(runtime.SandboxReady)})
		}
		if err != nil {
			cleanup := context.WithoutCancel(ctx)
			if rerr := r.RemoveSandbox(cleanup, id); rerr != nil {
				r.log.Warn("sandbox setup failed and its cleanup too", "sandbox", id, "err", rerr)
			}
			return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox network: %w", err)
		}
	}
	info, err := rec.Info(ctx)
	if err != nil {
		return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox record: %w", err)
	}
	return sandboxOf(info), nil
}

// loopbackUp sets lo up in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Close(fd) }()
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func sandboxOf(c containers.Container) runtime.Sandbox {
	return runtime.Sandbox{
		ID:        c.ID,
		Attempt:   atoi(c.Labels[labelAttempt]),
		State:     runtime.SandboxState(c.Labels[labelState]),
		IP:        c.Labels[labelIP],
		CreatedAt: c.CreatedAt,
		Labels:    userLabels(c.Labels),
	}
}

// record returns the containerd record id of the given kind, or an error
// wrapping runtime.ErrNotFound.
func (r *Runtime) record(ctx context.Context, id, kind string) (containers.Container, error) {
	c, err := r.client.ContainerService().Get(r.ctx(ctx), id)
	if errdefs.IsNotFound(err) || (err == nil && c.Labels[labelKind] != kind) {
		return containers.Container{}, fmt.Errorf("%s %s: %w", kind, id, runtime.ErrNotFound)
	}
	if err != nil {
		return containers.Container{}, fmt.Errorf("containerd: %s %s: %w", kind, id, err)
	}
	return c, nil
}

func (r *Runtime) sandbox(ctx context.Context, id string) (containers.Container, error) {
	return r.record(ctx, id, kindSandbox)
}

// records lists the records of a kind whose labels include match (the
// metadata store filters them).
func (r *Runtime) records(ctx context.Context, kind string, match map[string]string) ([]containers.Container, error) {
	filter := fmt.Sprintf("labels.%q==%s", labelKind, kind)
	for _, k := range slices.Sorted(maps.Keys(match)) {
		filter += fmt.Sprintf(",labels.%q==%q", k, match[k])
	}
	cs, err := r.client.ContainerService().List(r.ctx(ctx), filter)
	if err != nil {
		return nil, fmt.Errorf("containerd: list %ss: %w", kind, err)
	}
	return cs, nil
}

// ListSandboxes implements runtime.Runtime.
func (r *Runtime) ListSandboxes(ctx context.Context, match map[string]string) ([]runtime.Sandbox, error) {
	recs, err := r.records(ctx, kindSandbox, match)
	if err != nil {
		return nil, err
	}
	var out []runtime.Sandbox
	for _, c := range recs {
		if matches(c.Labels, match) {
			out = append(out, sandboxOf(c))
		}
	}
	return out, nil
}

// members are the container records of a sandbox.
func (r *Runtime) members(ctx context.Context, sandboxID string) ([]containers.Container, error) {
	return r.records(ctx, kindContainer, map[string]string{labelSandbox: sandboxID})
}

// StopSandbox implements runtime.Runtime: SIGKILL to every task, a wait
// for them to stop, then the network released (CNI DEL) and the network
// namespace removed.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	sb, err := r.sandbox(ctx, id)
	if err != nil {
		return err
	}
	ms, err := r.members(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range ms {
		if err := r.killAndWait(ctx, c.ID); err != nil {
			return err
		}
	}
	// Last, as CRI stops the pause container: until then the sandbox task
	// holds the pod's shim.
	if err := r.awaitSandboxTask(ctx, id); err != nil {
		return err
	}
	if err := r.removeSandboxTask(ctx, id); err != nil {
		return err
	}
	if sb.Labels[labelState] == string(runtime.SandboxNotReady) && sb.Labels[labelNetNS] == "" {
		return nil
	}
	return r.releaseNetwork(ctx, sb)
}

// releaseNetwork runs CNI DEL for a sandbox, removes its network namespace
// and marks it not ready. The namespace may already be gone.
func (r *Runtime) releaseNetwork(ctx context.Context, sb containers.Container) error {
	id := sb.ID
	if p := sb.Labels[labelNetNS]; p != "" {
		var ports []runtime.PortMapping
		if s := sb.Labels[labelPorts]; s != "" {
			if err := json.Unmarshal([]byte(s), &ports); err != nil {
				r.log.Warn("sandbox with unreadable host ports", "sandbox", id, "err", err)
			}
		}
		if err := r.net.teardown(r.ctx(ctx), id, p, ports); err != nil {
			return fmt.Errorf("containerd: sandbox %s: %w", id, err)
		}
		if err := removeNetNS(p); err != nil {
			return fmt.Errorf("containerd: sandbox %s: %w", id, err)
		}
	}
	rec, err := r.client.LoadContainer(r.ctx(ctx), id)
	if err != nil {
		return fmt.Errorf("containerd: sandbox %s: %w", id, err)
	}
	if _, err := rec.SetLabels(r.ctx(ctx), map[string]string{labelState: string(runtime.SandboxNotReady), labelNetNS: "", labelIP: ""}); err != nil {
		return fmt.Errorf("containerd: sandbox %s: %w", id, err)
	}
	return nil
}

// releaseDeadSandboxes releases the network of the sandboxes whose
// network namespace is gone (a reboot, or a state dir cleared by hand):
// CNI DEL frees their addresses and hostPorts, and they become not ready,
// so that the agent replaces them. It also removes namespaces pinned under
// the state dir that no sandbox names (a crash before the record was
// written).
func (r *Runtime) releaseDeadSandboxes(ctx context.Context) error {
	recs, err := r.records(ctx, kindSandbox, nil)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, sb := range recs {
		p := sb.Labels[labelNetNS]
		if p == "" {
			continue
		}
		known[p] = true
		if isNetNS(p) {
			// A live pod network: this runtime holds the bridge.
			if err := r.lockBridge(); err != nil {
				return err
			}
			continue
		}
		r.log.Info("releasing the network of a sandbox whose namespace is gone", "sandbox", sb.ID, "netns", p)
		if err := r.releaseNetwork(ctx, sb); err != nil {
			return err
		}
	}
	dir := filepath.Join(r.cfg.StateDir, "netns")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if !known[p] {
			r.log.Info("removing an orphaned network namespace", "netns", p)
			if err := removeNetNS(p); err != nil {
				return fmt.Errorf("containerd: orphaned netns: %w", err)
			}
		}
	}
	return nil
}

// removeNetNS unmounts and removes a pinned network namespace, or the
// file left where one was.
func removeNetNS(p string) error {
	var err error
	if isNetNS(p) {
		err = netns.LoadNetNS(p).Remove()
	} else {
		err = os.Remove(p)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", p, err)
	}
	return nil
}

// isNetNS reports whether p is a mounted network namespace.
func isNetNS(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(p, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// killAndWait SIGKILLs a container's task, if it runs, and waits until it
// has stopped.
func (r *Runtime) killAndWait(ctx context.Context, id string) error {
	ctx = r.ctx(ctx)
	ts := r.client.TaskService()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		res, err := native(ts.Get(ctx, &tasks.GetRequest{ContainerID: id}))
		if errdefs.IsNotFound(err) || (err == nil && res.Process.Status == tasktypes.Status_STOPPED) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("containerd: task %s: %w", id, err)
		}
		if _, err := native(ts.Kill(ctx, &tasks.KillRequest{ContainerID: id, Signal: uint32(unix.SIGKILL), All: true})); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("containerd: kill %s: %w", id, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd: task %s still running 10 s after SIGKILL", id)
		}
	}
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	if err := r.StopSandbox(ctx, id); err != nil {
		return err
	}
	ms, err := r.members(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range ms {
		if err := r.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	if err := r.client.ContainerService().Delete(r.ctx(ctx), id); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: remove sandbox %s: %w", id, err)
	}
	return nil
}
