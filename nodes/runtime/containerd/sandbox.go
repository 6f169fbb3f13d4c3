package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	cnins "github.com/containernetworking/plugins/pkg/ns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// RunSandbox implements runtime.Runtime: a pinned network namespace with
// loopback up (or the host's, for HostNetwork) and a record of the pod.
// Ports are not mapped: there is no CNI yet.
func (r *Runtime) RunSandbox(ctx context.Context, cfg runtime.SandboxConfig) (runtime.Sandbox, error) {
	ctx = r.ctx(ctx)
	id := newID()
	own := map[string]string{
		labelKind:     kindSandbox,
		labelState:    string(runtime.SandboxReady),
		labelAttempt:  strconv.Itoa(cfg.Attempt),
		labelHostname: cfg.Hostname,
	}
	if !cfg.HostNetwork {
		ns, err := netns.NewNetNS(r.cfg.StateDir + "/netns")
		if err != nil {
			return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox netns: %w", err)
		}
		if err := ns.Do(func(cnins.NetNS) error { return loopbackUp() }); err != nil {
			_ = ns.Remove()
			return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox netns: loopback: %w", err)
		}
		own[labelNetNS] = ns.GetPath()
	}
	rec, err := r.client.NewContainer(ctx, id, client.WithContainerLabels(withLabels(cfg.Labels, own)),
		client.WithSpec(&oci.Spec{Version: specs.Version}))
	if err != nil {
		if p := own[labelNetNS]; p != "" {
			_ = netns.LoadNetNS(p).Remove()
		}
		return runtime.Sandbox{}, fmt.Errorf("containerd: sandbox record: %w", err)
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
	defer unix.Close(fd)
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

// records lists the records of a kind.
func (r *Runtime) records(ctx context.Context, kind string) ([]containers.Container, error) {
	cs, err := r.client.ContainerService().List(r.ctx(ctx), fmt.Sprintf("labels.%q==%s", labelKind, kind))
	if err != nil {
		return nil, fmt.Errorf("containerd: list %ss: %w", kind, err)
	}
	return cs, nil
}

// ListSandboxes implements runtime.Runtime.
func (r *Runtime) ListSandboxes(ctx context.Context, match map[string]string) ([]runtime.Sandbox, error) {
	recs, err := r.records(ctx, kindSandbox)
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
	recs, err := r.records(ctx, kindContainer)
	if err != nil {
		return nil, err
	}
	var out []containers.Container
	for _, c := range recs {
		if c.Labels[labelSandbox] == sandboxID {
			out = append(out, c)
		}
	}
	return out, nil
}

// StopSandbox implements runtime.Runtime: SIGKILL to every task, a wait
// for them to stop, and the network namespace removed.
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
	if sb.Labels[labelState] == string(runtime.SandboxNotReady) {
		return nil
	}
	if p := sb.Labels[labelNetNS]; p != "" {
		if err := netns.LoadNetNS(p).Remove(); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("containerd: sandbox %s: remove netns: %w", id, err)
		}
	}
	rec, err := r.client.LoadContainer(r.ctx(ctx), id)
	if err != nil {
		return fmt.Errorf("containerd: sandbox %s: %w", id, err)
	}
	if _, err := rec.SetLabels(r.ctx(ctx), map[string]string{labelState: string(runtime.SandboxNotReady)}); err != nil {
		return fmt.Errorf("containerd: sandbox %s: %w", id, err)
	}
	return nil
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
