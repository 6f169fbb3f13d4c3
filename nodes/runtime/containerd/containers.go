package containerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// CreateContainer implements runtime.Runtime. Command replaces the
// image's entrypoint and Args its command, as in Kubernetes.
func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, cfg runtime.ContainerConfig) (runtime.Container, error) {
	sb, err := r.sandbox(ctx, sandboxID)
	if err != nil {
		return runtime.Container{}, err
	}
	ctx = r.ctx(ctx)
	name, err := normalize(cfg.Image)
	if err != nil {
		return runtime.Container{}, fmt.Errorf("containerd: create %s: %w", cfg.Name, err)
	}
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		return runtime.Container{}, fmt.Errorf("containerd: create %s: image %s: %w", cfg.Name, cfg.Image, err)
	}
	id := newID()
	var opts []oci.SpecOpts
	switch {
	case cfg.Command != nil:
		opts = append(opts, oci.WithImageConfig(img), oci.WithProcessArgs(append(append([]string{}, cfg.Command...), cfg.Args...)...))
	case cfg.Args != nil:
		opts = append(opts, oci.WithImageConfigArgs(img, cfg.Args))
	default:
		opts = append(opts, oci.WithImageConfig(img))
	}
	if h := sb.Labels[labelHostname]; h != "" {
		opts = append(opts, oci.WithHostname(h))
	}
	if len(cfg.Env) > 0 {
		env := make([]string, len(cfg.Env))
		for i, e := range cfg.Env {
			env[i] = e.Name + "=" + e.Value
		}
		opts = append(opts, oci.WithEnv(env))
	}
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if p := sb.Labels[labelNetNS]; p != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: p}))
	} else {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostHostsFile, oci.WithHostResolvconf)
	}
	if len(cfg.Mounts) > 0 {
		ms := make([]specs.Mount, len(cfg.Mounts))
		for i, m := range cfg.Mounts {
			o := []string{"rbind", "rw"}
			if m.ReadOnly {
				o[1] = "ro"
			}
			ms[i] = specs.Mount{Type: "bind", Source: m.HostPath, Destination: m.ContainerPath, Options: o}
		}
		opts = append(opts, oci.WithMounts(ms))
	}
	res := cfg.Resources
	if res.MemoryLimit > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(res.MemoryLimit)))
	}
	if res.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(res.CPUShares))
	}
	if res.CPUQuota > 0 {
		period := res.CPUPeriod
		if period == 0 {
			period = 100000
		}
		opts = append(opts, oci.WithCPUCFS(res.CPUQuota, period))
	}
	if res.OOMScoreAdjust != 0 {
		adj := res.OOMScoreAdjust
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			s.Process.OOMScoreAdj = &adj
			return nil
		})
	}
	if cfg.TTY {
		opts = append(opts, oci.WithTTY)
	}
	opts = append(opts, oci.WithCgroup(r.cgroup(id)),
		// One shim for all of a pod's containers, as CRI groups them with the
		// sandbox ID: a second container (or a restart while another runs)
		// starts no shim process and costs no shim's memory.
		oci.WithAnnotations(map[string]string{shimGroup: sandboxID}))
	own := map[string]string{
		labelKind:    kindContainer,
		labelSandbox: sandboxID,
		labelName:    cfg.Name,
		labelAttempt: strconv.Itoa(cfg.Attempt),
		labelImage:   cfg.Image,
		labelImageID: img.Target().Digest.String(),
		labelLogPath: cfg.LogPath,
	}
	c, err := r.client.NewContainer(ctx, id, client.WithImage(img), client.WithSnapshotter(r.cfg.Snapshotter),
		client.WithNewSnapshot(id, img), client.WithNewSpec(opts...), client.WithContainerLabels(withLabels(cfg.Labels, own)))
	if err != nil {
		return runtime.Container{}, fmt.Errorf("containerd: create %s: %w", cfg.Name, err)
	}
	info, err := c.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return runtime.Container{}, fmt.Errorf("containerd: create %s: %w", cfg.Name, err)
	}
	return containerOf(info, nil), nil
}

// shimGroup is the annotation by which containerd-shim-runc-v2 serves
// several containers from one shim process.
const shimGroup = "io.containerd.runc.v2.group"

// cgroup is a container's cgroup path (cgroupfs, under every controller).
func (r *Runtime) cgroup(id string) string { return "/" + r.cfg.Namespace + "/" + id }

// containerOf reports a record with its task (nil: none).
func containerOf(c containers.Container, t *tasktypes.Process) runtime.Container {
	l := c.Labels
	out := runtime.Container{
		ID:        c.ID,
		SandboxID: l[labelSandbox],
		Name:      l[labelName],
		Attempt:   atoi(l[labelAttempt]),
		Image:     l[labelImage],
		ImageID:   l[labelImageID],
		State:     runtime.StateCreated,
		CreatedAt: c.CreatedAt,
		StartedAt: parseTime(l[labelStartedAt]),
		Labels:    userLabels(l),
	}
	switch {
	case l[labelExitCode] != "":
		out.State = runtime.StateExited
		out.ExitCode = atoi(l[labelExitCode])
		out.FinishedAt = parseTime(l[labelFinishedAt])
		out.Reason = l[labelReason]
		out.Message = l[labelMessage]
	case t == nil:
	case t.Status == tasktypes.Status_RUNNING || t.Status == tasktypes.Status_PAUSED || t.Status == tasktypes.Status_PAUSING:
		out.State = runtime.StateRunning
	case t.Status == tasktypes.Status_CREATED:
	default:
		out.State = runtime.StateUnknown
	}
	return out
}

// StartContainer implements runtime.Runtime. The shim writes the
// container's stdout and stderr to its LogPath.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	rec, err := r.record(ctx, id, kindContainer)
	if err != nil {
		return err
	}
	ctx = r.ctx(ctx)
	if rec.Labels[labelStartedAt] != "" {
		return fmt.Errorf("containerd: start %s: already started", id)
	}
	// The pod's first start (or one after its sandbox task was lost)
	// gives it a sandbox task, once this container's task holds the shim
	// (see startSandboxTask).
	sb, err := r.sandbox(ctx, rec.Labels[labelSandbox])
	if err != nil {
		return fmt.Errorf("containerd: start %s: %w", id, err)
	}
	missing := false
	if sb.Labels[labelState] == string(runtime.SandboxReady) {
		if missing, err = r.sandboxTaskMissing(ctx, sb.ID); err != nil {
			return fmt.Errorf("containerd: start %s: %w", id, err)
		}
	}
	c, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return fmt.Errorf("containerd: start %s: %w", id, err)
	}
	creator := cio.NullIO
	if p := rec.Labels[labelLogPath]; p != "" {
		if creator, err = logIO(p); err != nil {
			return fmt.Errorf("containerd: start %s: %w", id, err)
		}
	}
	task, err := c.NewTask(ctx, creator)
	if err != nil {
		return fmt.Errorf("containerd: start %s: %w", id, err)
	}
	if _, err := c.SetLabels(ctx, map[string]string{labelStartedAt: formatTime(time.Now())}); err != nil {
		_, _ = task.Delete(ctx, client.WithProcessKill)
		return fmt.Errorf("containerd: start %s: %w", id, err)
	}
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(ctx, client.WithProcessKill)
		_, _ = c.SetLabels(ctx, map[string]string{labelStartedAt: ""})
		return fmt.Errorf("containerd: start %s: %w", id, err)
	}
	if missing {
		r.startSandboxTask(ctx, sb)
	}
	return nil
}

// logIO is the IO of a task whose shim appends the container's stdout
// and stderr to the file at path, which it creates (with its directory).
//
// The streams name the file by two spellings of its path, not by
// cio.LogFile's one file:// URI. Given one name for both, the runc shim
// (containerd 1.6 to 2.x, process/io.go copyPipes) copies both pipes
// into one descriptor, and its stdout copier closes that descriptor when
// it reaches EOF at the container's exit, even while the stderr copier
// still has output to drain from its pipe: that output (often a crash's
// last words, or a Go program's log) was lost, the shim logging only
// "error copying stderr". Given two names, the shim opens the file once
// per stream and each copier closes only its own descriptor; both append
// (O_APPEND), so no write overwrites another. A name with no scheme is a
// FIFO or, as here, a regular file the shim opens without creating it.
func logIO(path string) (cio.Creator, error) {
	path, err := filepath.Abs(path) // the shim runs in the bundle directory
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	cfg := cio.Config{Stdout: path, Stderr: filepath.Dir(path) + "/./" + filepath.Base(path)}
	return func(string) (cio.IO, error) { return shimIO(cfg), nil }, nil
}

// shimIO is task IO the shim does all of: the client has nothing to
// copy, wait for or close.
type shimIO cio.Config

func (s shimIO) Config() cio.Config { return cio.Config(s) }
func (shimIO) Cancel()              {}
func (shimIO) Wait()                {}
func (shimIO) Close() error         { return nil }

// KillContainer implements runtime.Runtime.
func (r *Runtime) KillContainer(ctx context.Context, id string, sig runtime.Signal) error {
	if _, err := r.record(ctx, id, kindContainer); err != nil {
		return err
	}
	_, err := native(r.client.TaskService().Kill(r.ctx(ctx), &tasks.KillRequest{ContainerID: id, Signal: uint32(sig)}))
	if err != nil && !errdefs.IsNotFound(err) && !errdefs.IsFailedPrecondition(err) {
		return fmt.Errorf("containerd: kill %s: %w", id, err)
	}
	return nil
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	rec, err := r.record(ctx, id, kindContainer)
	if err != nil {
		return err
	}
	ctx = r.ctx(ctx)
	res, err := native(r.client.TaskService().Get(ctx, &tasks.GetRequest{ContainerID: id}))
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("containerd: remove %s: %w", id, err)
	case res.Process.Status == tasktypes.Status_STOPPED:
		if err := r.finalize(ctx, rec.ID, rec.Labels[labelSandbox]); err != nil {
			return err
		}
	case res.Process.Status == tasktypes.Status_CREATED:
		if err := r.awaitSandboxTask(ctx, rec.Labels[labelSandbox]); err != nil {
			return err
		}
		if _, err := native(r.client.TaskService().Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("containerd: remove %s: %w", id, err)
		}
	default:
		return fmt.Errorf("containerd: remove %s: the container is running", id)
	}
	c, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err == nil {
		err = c.Delete(ctx, client.WithSnapshotCleanup)
	}
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: remove %s: %w", id, err)
	}
	return nil
}

// ListContainers implements runtime.Runtime. Exited tasks it sees are
// finalized (see the package documentation).
func (r *Runtime) ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error) {
	recs, err := r.records(ctx, kindContainer, match)
	if err != nil {
		return nil, err
	}
	byID, err := r.tasks(ctx, recs)
	if err != nil {
		return nil, err
	}
	var out []runtime.Container
	for _, c := range recs {
		if !matches(c.Labels, match) {
			continue
		}
		t := byID[c.ID]
		// A stopped task is finalized even when its exit is already
		// recorded: until its deletion returns, the shim may still be
		// copying the container's output to the log.
		if (t != nil && t.Status == tasktypes.Status_STOPPED) || (t == nil && c.Labels[labelExitCode] == "" && c.Labels[labelStartedAt] != "") {
			if err := r.finalize(ctx, c.ID, c.Labels[labelSandbox]); err != nil {
				return nil, err
			}
			if c, err = r.client.ContainerService().Get(r.ctx(ctx), c.ID); err != nil {
				if errdefs.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("containerd: container %s: %w", c.ID, err)
			}
			t = nil
		}
		out = append(out, containerOf(c, t))
	}
	return out, nil
}

// tasks are the tasks of recs by container ID: a Get each for a pod's few
// containers, one List of every task otherwise.
func (r *Runtime) tasks(ctx context.Context, recs []containers.Container) (map[string]*tasktypes.Process, error) {
	ts := r.client.TaskService()
	byID := make(map[string]*tasktypes.Process, len(recs))
	if len(recs) <= 4 {
		for _, c := range recs {
			res, err := native(ts.Get(r.ctx(ctx), &tasks.GetRequest{ContainerID: c.ID}))
			if errdefs.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("containerd: task %s: %w", c.ID, err)
			}
			byID[c.ID] = res.Process
		}
		return byID, nil
	}
	res, err := native(ts.List(r.ctx(ctx), &tasks.ListTasksRequest{}))
	if err != nil {
		return nil, fmt.Errorf("containerd: list tasks: %w", err)
	}
	for _, t := range res.Tasks {
		byID[t.ID] = t
	}
	return byID, nil
}

// finalize records the exit of container id's stopped task in its labels
// and deletes the task. A task that vanished (a daemon restart after the
// shim died) is recorded as exit 255. The exit is recorded first, so that
// a crash in between loses no exit code; a recorded exit whose task is
// still there (a crash, or a finalize under way) has its task deleted.
// When finalize returns nil the task is gone: the shim deletes it once it
// has copied the container's output to the log (waiting at most 2 s for
// that), so the log is complete before the runtime reports the exit. It
// deletes no task while the task of its sandbox sandboxID is being
// created: that task must be in the shim before the shim's last other
// task goes.
func (r *Runtime) finalize(ctx context.Context, id, sandboxID string) error {
	if err := r.awaitSandboxTask(ctx, sandboxID); err != nil {
		return err
	}
	r.finalizeMu.Lock()
	defer r.finalizeMu.Unlock()
	ctx = r.ctx(ctx)
	rec, err := r.client.ContainerService().Get(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("containerd: container %s: %w", id, err)
	}
	recorded := rec.Labels[labelExitCode] != ""
	ts := r.client.TaskService()
	set := map[string]string{}
	res, err := native(ts.Get(ctx, &tasks.GetRequest{ContainerID: id}))
	lost := errdefs.IsNotFound(err)
	switch {
	case lost:
		if recorded || rec.Labels[labelStartedAt] == "" {
			return nil
		}
		set[labelExitCode] = "255"
		set[labelFinishedAt] = formatTime(time.Now())
		set[labelMessage] = "the container's task was lost"
	case err != nil:
		return fmt.Errorf("containerd: task %s: %w", id, err)
	case res.Process.Status != tasktypes.Status_STOPPED:
		return nil
	case recorded: // finalized up to the task's deletion
	default:
		p := res.Process
		set[labelExitCode] = strconv.Itoa(int(p.ExitStatus))
		at := time.Now()
		if p.ExitedAt != nil {
			at = p.ExitedAt.AsTime()
		}
		set[labelFinishedAt] = formatTime(at)
		if rec.Labels[labelOOM] == "true" || r.oomKilled(id) {
			set[labelReason] = runtime.OOMKilled
		}
	}
	if len(set) > 0 {
		c, err := r.client.LoadContainer(ctx, id)
		if err != nil {
			return fmt.Errorf("containerd: container %s: %w", id, err)
		}
		if _, err := c.SetLabels(ctx, set); err != nil {
			return fmt.Errorf("containerd: container %s: record exit: %w", id, err)
		}
	}
	if lost {
		return nil
	}
	if _, err := native(ts.Delete(ctx, &tasks.DeleteTaskRequest{ContainerID: id})); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: delete task %s: %w", id, err)
	}
	return nil
}

// oomKilled reads the OOM-kill counter of a container's cgroup (v1 or v2);
// the cgroup exists until its task is deleted.
func (r *Runtime) oomKilled(id string) bool {
	cg := r.cgroup(id)
	for _, f := range []string{"/sys/fs/cgroup/memory" + cg + "/memory.oom_control", "/sys/fs/cgroup" + cg + "/memory.events"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), " ")
			if k == "oom_kill" && v != "0" {
				_ = fh.Close()
				return true
			}
		}
		_ = fh.Close()
	}
	return false
}

// lockedWriter writes to w under mu, and has no other method.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Exec implements runtime.Runtime.
func (r *Runtime) Exec(ctx context.Context, containerID string, req runtime.ExecRequest) (int, error) {
	if _, err := r.record(ctx, containerID, kindContainer); err != nil {
		return 0, err
	}
	ctx = r.ctx(ctx)
	c, err := r.client.LoadContainer(ctx, containerID)
	if err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: not running: %w", containerID, err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	ps := *spec.Process
	ps.Args = req.Cmd
	ps.Terminal = req.TTY
	if req.TTY && req.Size.Width > 0 && req.Size.Height > 0 {
		ps.ConsoleSize = &specs.Box{Width: uint(req.Size.Width), Height: uint(req.Size.Height)}
	}
	stdout, stderr := req.Stdout, req.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	// cio copies stdout and stderr in two goroutines. Callers often pass
	// one writer for both (a bytes.Buffer, whose ReadFrom, which io.Copy
	// prefers, reslices the buffer even when nothing arrives: concurrent
	// copies lose output): serialise the writes and hide ReadFrom.
	var mu sync.Mutex
	stdout, stderr = lockedWriter{&mu, stdout}, lockedWriter{&mu, stderr}
	// The shim keeps the stdin FIFO open: the end of the input reaches the
	// command only through CloseIO, once the input is copied.
	var stdinDone chan struct{}
	stdin := req.Stdin
	if stdin != nil {
		stdinDone = make(chan struct{})
		stdin = &eofReader{r: stdin, eof: stdinDone}
	}
	opts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr)}
	if req.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	proc, err := task.Exec(ctx, "exec-"+newID()[:16], &ps, cio.NewCreator(opts...))
	if err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	defer func() { _, _ = proc.Delete(context.WithoutCancel(ctx), client.WithProcessKill) }()
	statusC, err := proc.Wait(ctx)
	if err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	if err := proc.Start(ctx); err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "no such file") || strings.Contains(msg, "not found"):
			return 127, nil
		case strings.Contains(msg, "permission denied"):
			return 126, nil
		}
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	if stdinDone != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-stdinDone:
				_ = proc.CloseIO(ctx, client.WithStdinCloser)
			case <-done:
			}
		}()
	}
	if req.Resize != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case sz, ok := <-req.Resize:
					if !ok {
						return
					}
					_ = proc.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
				case <-done:
					return
				}
			}
		}()
	}
	var st client.ExitStatus
	select {
	case st = <-statusC:
	case <-ctx.Done():
		_ = proc.Kill(context.WithoutCancel(ctx), 9)
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, ctx.Err())
	}
	proc.IO().Wait()
	code, _, err := st.Result()
	if err != nil && !errors.Is(err, context.Canceled) {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	return int(code), nil
}

// eofReader closes eof once r has returned an error (io.EOF or other).
type eofReader struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (e *eofReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil {
		e.once.Do(func() { close(e.eof) })
	}
	return n, err
}
