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
	"github.com/containerd/containerd/v2/client"
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
// StopSandbox deletes it once the pod's containers have stopped.

// sandboxRoot is the root filesystem of sandbox tasks.
func (r *Runtime) sandboxRoot() string { return filepath.Join(r.cfg.StateDir, "sandbox") }

// sandboxExe is the sandbox task's executable, in sandboxRoot.
const sandboxExe = "/pause"

// makeSandboxRoot creates sandboxRoot: the executable and the mount
// points of the default spec (runc would create them in the shared
// directory otherwise).
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
	// needs; each mount or namespace more costs runc time at every pod
	// start.
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination != "/proc" && m.Destination != "/dev" })
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		return n.Type != specs.MountNamespace && n.Type != specs.NetworkNamespace
	})
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	return s, nil
}

// startSandboxTask creates the sandbox task of rec in the background,
// so that a pod's start does not wait for it before its first container
// (a sandbox task costs a shim's start and a runc create, 50-60 ms on a
// loaded 2-core machine, against CNI ADD's 20). A failure is logged:
// ensureSandboxTask, which the first StartContainer calls after waiting
// for the creation, creates it again. Close waits for the creations.
func (r *Runtime) startSandboxTask(ctx context.Context, rec client.Container) {
	id, done := rec.ID(), make(chan struct{})
	r.sandboxMu.Lock()
	r.creating[id] = done
	r.sandboxMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	r.background.Go(func() {
		defer func() {
			cancel()
			r.sandboxMu.Lock()
			delete(r.creating, id)
			r.sandboxMu.Unlock()
			close(done)
		}()
		if err := r.createSandboxTask(ctx, rec); err != nil {
			r.log.Warn("sandbox task not created; the first container start retries", "sandbox", id, "err", err)
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

// createSandboxTask creates the sandbox task of rec (not started).
func (r *Runtime) createSandboxTask(ctx context.Context, rec client.Container) error {
	if _, err := rec.NewTask(ctx, cio.NullIO); err != nil {
		return fmt.Errorf("containerd: sandbox task: %w", err)
	}
	return nil
}

// ensureSandboxTask gives a ready sandbox a sandbox task if it has none:
// a sandbox of an earlier Skiff, or one whose task was killed. The task is
// created into the pod's shim, which may be exiting (the very race the
// task prevents): a failed creation is retried for up to 2 s.
func (r *Runtime) ensureSandboxTask(ctx context.Context, sb containers.Container) error {
	if err := r.awaitSandboxTask(ctx, sb.ID); err != nil {
		return err
	}
	ctx = r.ctx(ctx)
	ts := r.client.TaskService()
	res, err := native(ts.Get(ctx, &tasks.GetRequest{ContainerID: sb.ID}))
	switch {
	case err == nil && res.Process.Status != tasktypes.Status_STOPPED:
		return nil
	case err == nil: // killed: delete it first
		if _, err := native(ts.Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: sb.ID})); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("containerd: sandbox task: %w", err)
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("containerd: sandbox task: %w", err)
	}
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
	r.log.Info("creating the missing sandbox task", "sandbox", sb.ID)
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := r.createSandboxTask(ctx, rec)
		if err == nil || errdefs.IsAlreadyExists(err) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
	}
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
