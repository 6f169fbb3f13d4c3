package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A sandbox task holds a pod's shim for the pod's life, as CRI's pause
// container does. containerd-shim-runc-v2 exits when its last task is
// deleted, and a task created into a group whose shim is exiting fails
// ("failed to start shim: … dial unix …: no such file or directory", or
// "failed to create shim task: ttrpc: closed"): without one, the start
// that follows a pod's last exit (a restart in CrashLoopBackOff, the app
// after an init container) could fail. The sandbox task is the sandbox
// record's task, in the pod's shim group and network namespace, created
// and never started: runc has set up its namespaces and cgroup, and its
// process waits (as "runc init") for a start that never comes. Its
// executable is therefore never run, so it is an empty file of
// <StateDir>/sandbox, the task's read-only root, on every architecture.
// The pod's first container start creates it, in the background once the
// container runs (so that it costs the start nothing), and a later start
// again if it is lost; StopSandbox deletes it after the pod's containers.

// sandboxRoot is the root filesystem of sandbox tasks.
func (r *Runtime) sandboxRoot() string { return filepath.Join(r.cfg.StateDir, "sandbox") }

// sandboxExe is the sandbox task's executable, in sandboxRoot.
const sandboxExe = "/pause"

// makeSandboxRoot creates sandboxRoot: the executable and the mount
// points of sandboxSpec.
func (r *Runtime) makeSandboxRoot() error {
	root := r.sandboxRoot()
	for _, d := range []string{"dev", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("containerd: sandbox root: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(root, sandboxExe), os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("containerd: sandbox root: %w", err)
	}
	return nil
}

// sandboxSpec is the OCI spec of sandbox id's task: the network namespace
// pinned at netnsPath ("" for the host's), in the shim group of id.
func (r *Runtime) sandboxSpec(ctx context.Context, id, netnsPath string) (*oci.Spec, error) {
	opts := []oci.SpecOpts{
		oci.WithRootFSPath(r.sandboxRoot()), oci.WithRootFSReadonly(), oci.WithProcessArgs(sandboxExe),
		oci.WithCgroup(r.cgroup(id)), oci.WithAnnotations(map[string]string{shimGroup: id}),
	}
	if netnsPath != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netnsPath}))
	} else {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
	}
	s, err := oci.GenerateSpec(ctx, r.client, &containers.Container{ID: id}, opts...)
	if err != nil {
		return nil, fmt.Errorf("sandbox spec: %w", err)
	}
	// Its process never runs: a mount namespace with /proc (runc's init
	// needs it) and a /dev of its own (runc would make device nodes in
	// the shared root otherwise), and the network namespace, are all it
	// needs.
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination != "/proc" && m.Destination != "/dev" })
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		return n.Type != specs.MountNamespace && n.Type != specs.NetworkNamespace
	})
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	return s, nil
}

// sandboxTaskMissing reports whether a sandbox has no sandbox task and
// none being created (one that was killed is deleted first).
func (r *Runtime) sandboxTaskMissing(ctx context.Context, id string) (bool, error) {
	r.sandboxMu.Lock()
	creating := r.creating[id] != nil
	r.sandboxMu.Unlock()
	if creating {
		return false, nil
	}
	ctx = r.ctx(ctx)
	ts := r.client.TaskService()
	res, err := native(ts.Get(ctx, &tasks.GetRequest{ContainerID: id}))
	switch {
	case errdefs.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("containerd: sandbox task: %w", err)
	case res.Process.Status != tasktypes.Status_STOPPED:
		return false, nil
	}
	if _, err := native(ts.Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})); err != nil && !errdefs.IsNotFound(err) {
		return false, fmt.Errorf("containerd: sandbox task: %w", err)
	}
	return true, nil
}

// startSandboxTask creates the task of sandbox sb in the background. The
// caller has just started a container's task in the pod's shim, which
// that task keeps up (finalize deletes no task of the pod before the
// creation has ended: see awaitSandboxTask), so the sandbox task joins the
// shim off the start's path. A failure is logged; the next
// start tries again. Close waits for the creations.
func (r *Runtime) startSandboxTask(ctx context.Context, sb containers.Container) {
	id, done := sb.ID, make(chan struct{})
	r.sandboxMu.Lock()
	if r.creating[id] != nil {
		r.sandboxMu.Unlock()
		return
	}
	r.creating[id] = done
	r.sandboxMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx(ctx)), time.Minute)
	r.background.Go(func() {
		defer func() {
			cancel()
			r.sandboxMu.Lock()
			delete(r.creating, id)
			r.sandboxMu.Unlock()
			close(done)
		}()
		if err := r.createSandboxTask(ctx, sb); err != nil && !errdefs.IsAlreadyExists(err) {
			r.log.Warn("sandbox task not created; the next start tries again", "sandbox", id, "err", err)
		}
	})
}

// awaitSandboxTask waits until the creation of sandbox id's task, if under
// way, has ended, or ctx is done.
func (r *Runtime) awaitSandboxTask(ctx context.Context, id string) error {
	r.sandboxMu.Lock()
	done := r.creating[id]
	r.sandboxMu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("containerd: sandbox %s: %w", id, ctx.Err())
	}
}

// createSandboxTask creates the sandbox task of sb (not started), first
// giving a sandbox of an earlier Skiff (an empty spec) the sandbox spec.
func (r *Runtime) createSandboxTask(ctx context.Context, sb containers.Container) error {
	if !hasProcess(sb) {
		spec, err := r.sandboxSpec(ctx, sb.ID, sb.Labels[labelNetNS])
		if err != nil {
			return fmt.Errorf("containerd: sandbox %s: %w", sb.ID, err)
		}
		if sb.Spec, err = typeurl.MarshalAny(spec); err != nil {
			return fmt.Errorf("containerd: sandbox %s: %w", sb.ID, err)
		}
		if _, err := r.client.ContainerService().Update(ctx, sb, "spec"); err != nil {
			return fmt.Errorf("containerd: sandbox %s: %w", sb.ID, err)
		}
	}
	rec, err := r.client.LoadContainer(ctx, sb.ID)
	if err != nil {
		return fmt.Errorf("containerd: sandbox %s: %w", sb.ID, err)
	}
	if _, err := rec.NewTask(ctx, cio.NullIO); err != nil {
		return fmt.Errorf("containerd: sandbox task: %w", err)
	}
	return nil
}

// hasProcess reports whether a record's spec runs a process (a sandbox
// record of an earlier Skiff had an empty spec).
func hasProcess(c containers.Container) bool {
	var s oci.Spec
	return c.Spec != nil && json.Unmarshal(c.Spec.GetValue(), &s) == nil && s.Process != nil && s.Root != nil
}

// removeSandboxTask kills and deletes a sandbox's task, if it has one.
func (r *Runtime) removeSandboxTask(ctx context.Context, id string) error {
	if err := r.killAndWait(ctx, id); err != nil {
		return err
	}
	if _, err := native(r.client.TaskService().Delete(r.ctx(ctx), &tasks.DeleteTaskRequest{ContainerID: id})); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: sandbox %s: delete task: %w", id, err)
	}
	return nil
}
