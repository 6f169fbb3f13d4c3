package simulated

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/skiffhq/skiff/nodes/runtime"
)

var (
	_ runtime.Runtime = (*Runtime)(nil)
	_ runtime.Prober  = (*Runtime)(nil)
)

// Name is the runtime's name, the scheme of its container IDs.
const Name = "simulated"

// Version is what Info reports.
const Version = "0.1.0"

// Config configures a simulated runtime. The zero value works.
type Config struct {
	// PodCIDR is the range pod IPs are taken from (default 10.88.0.0/16).
	PodCIDR string
	// StateFile, if set, is where the runtime keeps its state so that a
	// new Runtime on the same file (after a process restart) carries on
	// with the same sandboxes and containers, their clocks included.
	// Without it the state lives as long as the Runtime.
	StateFile string
}

// Runtime is the simulated runtime. Create it with New.
type Runtime struct {
	cfg    Config
	prefix netip.Prefix

	mu     sync.Mutex
	st     state
	used   map[netip.Addr]bool
	subs   map[int]func(runtime.Event)
	nextID int
	timers map[string]*time.Timer // container ID -> its pending exit
	closed bool
}

// state is what StateFile holds.
type state struct {
	Next       int                   `json:"next"`
	Sandboxes  map[string]*sandbox   `json:"sandboxes"`
	Containers map[string]*container `json:"containers"`
	Images     map[string]string     `json:"images"` // ref -> ID
}

type sandbox struct {
	runtime.Sandbox
	Annotations map[string]string `json:"annotations,omitempty"`
}

type container struct {
	runtime.Container
	Script  script `json:"script"`
	LogPath string `json:"logPath,omitempty"`
	// ExitAt, when set, is when the running container exits, with
	// ExitWith and ExitReason.
	ExitAt     time.Time `json:"exitAt"`
	ExitWith   int       `json:"exitWith"`
	ExitReason string    `json:"exitReason,omitempty"`
}

// New returns a simulated runtime, loading cfg.StateFile if it exists.
func New(cfg Config) (*Runtime, error) {
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.88.0.0/16"
	}
	prefix, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return nil, fmt.Errorf("simulated: pod CIDR %q: want an IPv4 prefix of /30 or wider", cfg.PodCIDR)
	}
	r := &Runtime{
		cfg:    cfg,
		prefix: prefix.Masked(),
		st:     state{Sandboxes: map[string]*sandbox{}, Containers: map[string]*container{}, Images: map[string]string{}},
		used:   map[netip.Addr]bool{},
		subs:   map[int]func(runtime.Event){},
		timers: map[string]*time.Timer{},
	}
	if cfg.StateFile != "" {
		b, err := os.ReadFile(cfg.StateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("simulated: %w", err)
		default:
			if err := json.Unmarshal(b, &r.st); err != nil {
				return nil, fmt.Errorf("simulated: state file %s: %w", cfg.StateFile, err)
			}
			for _, s := range r.st.Sandboxes {
				if s.IP != "" {
					if a, err := netip.ParseAddr(s.IP); err == nil {
						r.used[a] = true
					}
				}
			}
		}
	}
	return r, nil
}

// Close stops the runtime's timers; containers stop advancing until a new
// Runtime loads the state file. It is idempotent.
func (r *Runtime) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for id, t := range r.timers {
		t.Stop()
		delete(r.timers, id)
	}
}

// Info implements runtime.Runtime.
func (r *Runtime) Info(context.Context) (runtime.Info, error) {
	return runtime.Info{Name: Name, Version: Version}, nil
}

// ImageStatus implements runtime.Runtime.
func (r *Runtime) ImageStatus(_ context.Context, image string) (runtime.Image, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.st.Images[image]
	if !ok {
		return runtime.Image{}, false, nil
	}
	return runtime.Image{Ref: image, ID: id}, true, nil
}

// PullImage implements runtime.Runtime. The sandbox's pod annotations
// may script a failure or a delay.
func (r *Runtime) PullImage(ctx context.Context, sandboxID, image string) (runtime.Image, error) {
	r.mu.Lock()
	s, ok := r.st.Sandboxes[sandboxID]
	var ann map[string]string
	if ok {
		ann = s.Annotations
	}
	r.mu.Unlock()
	if !ok {
		return runtime.Image{}, fmt.Errorf("pull %s: sandbox %s: %w", image, sandboxID, runtime.ErrNotFound)
	}
	if v, ok := ann[AnnotationPullDelay]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return runtime.Image{}, fmt.Errorf("simulated: annotation %s=%q: not a duration", AnnotationPullDelay, v)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return runtime.Image{}, fmt.Errorf("pull %s: %w", image, ctx.Err())
		}
	}
	if msg, ok := ann[AnnotationPullError]; ok {
		return runtime.Image{}, fmt.Errorf("%w: %s: %s", runtime.ErrImagePull, image, msg)
	}
	if image == "" {
		return runtime.Image{}, fmt.Errorf("%w: empty image reference", runtime.ErrImagePull)
	}
	sum := sha256.Sum256([]byte(image))
	img := runtime.Image{Ref: image, ID: "sha256:" + hex.EncodeToString(sum[:])}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Images[image] = img.ID
	return img, r.save()
}

// RunSandbox implements runtime.Runtime.
func (r *Runtime) RunSandbox(_ context.Context, cfg runtime.SandboxConfig) (runtime.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &sandbox{
		Sandbox: runtime.Sandbox{
			ID:        r.newID("sb"),
			Attempt:   cfg.Attempt,
			State:     runtime.SandboxReady,
			CreatedAt: time.Now(),
			Labels:    maps.Clone(cfg.Labels),
		},
		Annotations: maps.Clone(cfg.Annotations),
	}
	if !cfg.HostNetwork {
		ip, err := r.allocate()
		if err != nil {
			return runtime.Sandbox{}, err
		}
		s.IP = ip.String()
	}
	r.st.Sandboxes[s.ID] = s
	r.emitLocked(runtime.Event{Type: runtime.SandboxChanged, SandboxID: s.ID, Labels: s.Labels})
	return copySandbox(s), r.save()
}

// StopSandbox implements runtime.Runtime.
func (r *Runtime) StopSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.st.Sandboxes[id]
	if !ok {
		return fmt.Errorf("stop sandbox %s: %w", id, runtime.ErrNotFound)
	}
	r.stopLocked(s)
	return r.save()
}

func (r *Runtime) stopLocked(s *sandbox) {
	now := time.Now()
	for _, c := range r.st.Containers {
		if c.SandboxID == s.ID {
			r.settle(c, now)
			if c.State == runtime.StateRunning {
				r.exitLocked(c, now, 137, "")
			}
		}
	}
	if s.State == runtime.SandboxReady {
		s.State = runtime.SandboxNotReady
		if a, err := netip.ParseAddr(s.IP); err == nil {
			delete(r.used, a)
		}
		s.IP = ""
		r.emitLocked(runtime.Event{Type: runtime.SandboxChanged, SandboxID: s.ID, Labels: s.Labels})
	}
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.st.Sandboxes[id]
	if !ok {
		return fmt.Errorf("remove sandbox %s: %w", id, runtime.ErrNotFound)
	}
	r.stopLocked(s)
	for cid, c := range r.st.Containers {
		if c.SandboxID == id {
			r.dropLocked(cid)
		}
	}
	delete(r.st.Sandboxes, id)
	return r.save()
}

// ListSandboxes implements runtime.Runtime.
func (r *Runtime) ListSandboxes(_ context.Context, match map[string]string) ([]runtime.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Sandbox
	for _, s := range r.st.Sandboxes {
		if matches(s.Labels, match) {
			out = append(out, copySandbox(s))
		}
	}
	slices.SortFunc(out, func(a, b runtime.Sandbox) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// CreateContainer implements runtime.Runtime.
func (r *Runtime) CreateContainer(_ context.Context, sandboxID string, cfg runtime.ContainerConfig) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.st.Sandboxes[sandboxID]
	if !ok {
		return runtime.Container{}, fmt.Errorf("create container %s: sandbox %s: %w", cfg.Name, sandboxID, runtime.ErrNotFound)
	}
	if s.State != runtime.SandboxReady {
		return runtime.Container{}, fmt.Errorf("create container %s: sandbox %s is not ready", cfg.Name, sandboxID)
	}
	imageID, ok := r.st.Images[cfg.Image]
	if !ok {
		return runtime.Container{}, fmt.Errorf("create container %s: image %q: %w", cfg.Name, cfg.Image, runtime.ErrNotFound)
	}
	sc, err := parseScript(s.Annotations, cfg.Name, cfg.Labels[runtime.LabelContainerKind])
	if err != nil {
		return runtime.Container{}, fmt.Errorf("create container %s: %w", cfg.Name, err)
	}
	c := &container{
		Container: runtime.Container{
			ID:        r.newID("c"),
			SandboxID: sandboxID,
			Name:      cfg.Name,
			Attempt:   cfg.Attempt,
			Image:     cfg.Image,
			ImageID:   imageID,
			State:     runtime.StateCreated,
			CreatedAt: time.Now(),
			Labels:    maps.Clone(cfg.Labels),
		},
		Script:  sc,
		LogPath: cfg.LogPath,
	}
	r.st.Containers[c.ID] = c
	return copyContainer(c), r.save()
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.st.Containers[id]
	if !ok {
		return fmt.Errorf("start container %s: %w", id, runtime.ErrNotFound)
	}
	if c.State != runtime.StateCreated {
		return fmt.Errorf("start container %s: it is %s, not created", id, c.State)
	}
	now := time.Now()
	c.State = runtime.StateRunning
	c.StartedAt = now
	r.logLine(c, now, "started (simulated)")
	if after, code, reason, ok := c.Script.exit(c.Attempt); ok {
		r.scheduleLocked(c, now.Add(after), code, reason)
	}
	r.emitLocked(runtime.Event{Type: runtime.ContainerStarted, SandboxID: c.SandboxID, ContainerID: c.ID, Labels: c.Labels})
	r.settle(c, now) // an exit after 0s is immediate
	return r.save()
}

// KillContainer implements runtime.Runtime. SIGKILL stops the container
// at once (exit 137); SIGTERM stops it after its script's term-after
// (exit 143), or never; other signals are ignored.
func (r *Runtime) KillContainer(_ context.Context, id string, sig runtime.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.st.Containers[id]
	if !ok {
		return fmt.Errorf("kill container %s: %w", id, runtime.ErrNotFound)
	}
	now := time.Now()
	r.settle(c, now)
	if c.State != runtime.StateRunning {
		return nil
	}
	switch sig {
	case runtime.SIGKILL:
		r.exitLocked(c, now, 137, "")
	case runtime.SIGTERM:
		if c.Script.TermAfter != never {
			r.scheduleLocked(c, now.Add(c.Script.TermAfter), 143, "")
			r.settle(c, now)
		}
	}
	return r.save()
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.st.Containers[id]
	if !ok {
		return fmt.Errorf("remove container %s: %w", id, runtime.ErrNotFound)
	}
	r.settle(c, time.Now())
	if c.State == runtime.StateRunning {
		return fmt.Errorf("remove container %s: it is running", id)
	}
	r.dropLocked(id)
	return r.save()
}

// ListContainers implements runtime.Runtime.
func (r *Runtime) ListContainers(_ context.Context, match map[string]string) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	var out []runtime.Container
	for _, c := range r.st.Containers {
		if matches(c.Labels, match) {
			r.settle(c, now)
			out = append(out, copyContainer(c))
		}
	}
	slices.SortFunc(out, func(a, b runtime.Container) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Exec implements runtime.Runtime: every command succeeds at once, with no
// output, in a running container.
func (r *Runtime) Exec(_ context.Context, id string, _ runtime.ExecRequest) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.st.Containers[id]
	if !ok {
		return 0, fmt.Errorf("exec in %s: %w", id, runtime.ErrNotFound)
	}
	r.settle(c, time.Now())
	if c.State != runtime.StateRunning {
		return 0, fmt.Errorf("exec in %s: container is not running", id)
	}
	return 0, nil
}

// Probe implements runtime.Prober from the container's script.
func (r *Runtime) Probe(_ context.Context, id string, kind runtime.ProbeKind) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.st.Containers[id]
	if !ok {
		return false, fmt.Errorf("probe %s: %w", id, runtime.ErrNotFound)
	}
	now := time.Now()
	r.settle(c, now)
	if c.State != runtime.StateRunning {
		return false, nil
	}
	up := now.Sub(c.StartedAt)
	switch kind {
	case runtime.ProbeReadiness:
		return up >= c.Script.ReadyAfter, nil
	case runtime.ProbeStartup:
		return up >= c.Script.StartupAfter, nil
	case runtime.ProbeLiveness:
		return up < c.Script.LiveFail, nil
	}
	return false, fmt.Errorf("probe %s: unknown kind %q", id, kind)
}

// Events implements runtime.Runtime.
func (r *Runtime) Events(ctx context.Context, fn func(runtime.Event)) error {
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	r.subs[id] = fn
	// Exits pending in a loaded state file get their timers now, once
	// someone listens.
	now := time.Now()
	for _, c := range r.st.Containers {
		if c.State == runtime.StateRunning && !c.ExitAt.IsZero() && r.timers[c.ID] == nil {
			r.armLocked(c, now)
		}
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	delete(r.subs, id)
	r.mu.Unlock()
	return nil
}

// scheduleLocked makes c exit at at (unless it is due to exit earlier).
func (r *Runtime) scheduleLocked(c *container, at time.Time, code int, reason string) {
	if !c.ExitAt.IsZero() && !at.Before(c.ExitAt) {
		return
	}
	c.ExitAt, c.ExitWith, c.ExitReason = at, code, reason
	r.armLocked(c, time.Now())
}

func (r *Runtime) armLocked(c *container, now time.Time) {
	if r.closed {
		return
	}
	if t := r.timers[c.ID]; t != nil {
		t.Stop()
	}
	id := c.ID
	r.timers[id] = time.AfterFunc(c.ExitAt.Sub(now), func() { r.fire(id) })
}

// fire settles a container whose scheduled exit is due.
func (r *Runtime) fire(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.timers, id)
	if c, ok := r.st.Containers[id]; ok {
		r.settle(c, time.Now())
		_ = r.save()
	}
}

// settle applies c's scheduled exit if it is due by now.
func (r *Runtime) settle(c *container, now time.Time) {
	if c.State != runtime.StateRunning || c.ExitAt.IsZero() || now.Before(c.ExitAt) {
		return
	}
	r.exitLocked(c, c.ExitAt, c.ExitWith, c.ExitReason)
}

func (r *Runtime) exitLocked(c *container, at time.Time, code int, reason string) {
	c.State = runtime.StateExited
	c.FinishedAt = at
	c.ExitCode = code
	c.Reason = reason
	c.ExitAt = time.Time{}
	if t := r.timers[c.ID]; t != nil {
		t.Stop()
		delete(r.timers, c.ID)
	}
	r.logLine(c, at, "exited with code "+strconv.Itoa(code)+" (simulated)")
	r.emitLocked(runtime.Event{Type: runtime.ContainerExited, SandboxID: c.SandboxID, ContainerID: c.ID, Labels: c.Labels})
}

func (r *Runtime) dropLocked(id string) {
	if t := r.timers[id]; t != nil {
		t.Stop()
		delete(r.timers, id)
	}
	if c := r.st.Containers[id]; c != nil && c.LogPath != "" {
		_ = os.Remove(c.LogPath)
	}
	delete(r.st.Containers, id)
}

// emitLocked hands ev to every subscriber. Subscribers must not block
// (runtime.Runtime's contract), so calling them under the lock is safe.
func (r *Runtime) emitLocked(ev runtime.Event) {
	for _, fn := range r.subs {
		fn(ev)
	}
}

func (r *Runtime) logLine(c *container, at time.Time, msg string) {
	if c.LogPath == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(c.LogPath), 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(c.LogPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s container %s %s\n", at.UTC().Format(time.RFC3339Nano), c.Name, msg)
	_ = f.Close()
}

func (r *Runtime) newID(kind string) string {
	r.st.Next++
	return fmt.Sprintf("%s%06d", kind, r.st.Next)
}

// allocate takes a free address of the pod CIDR, skipping the network
// address, the first host (the gateway) and the broadcast address.
func (r *Runtime) allocate() (netip.Addr, error) {
	size := 1 << (32 - r.prefix.Bits())
	a := r.prefix.Addr().Next().Next()
	for i := 2; i < size-1; i++ {
		if !r.used[a] {
			r.used[a] = true
			return a, nil
		}
		a = a.Next()
	}
	return netip.Addr{}, fmt.Errorf("simulated: pod CIDR %s is exhausted", r.prefix)
}

// save writes the state file, if there is one.
func (r *Runtime) save() error {
	if r.cfg.StateFile == "" {
		return nil
	}
	b, err := json.Marshal(&r.st)
	if err != nil {
		return fmt.Errorf("simulated: save state: %w", err)
	}
	tmp := r.cfg.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("simulated: save state: %w", err)
	}
	if err := os.Rename(tmp, r.cfg.StateFile); err != nil {
		return fmt.Errorf("simulated: save state: %w", err)
	}
	return nil
}

func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func copySandbox(s *sandbox) runtime.Sandbox {
	out := s.Sandbox
	out.Labels = maps.Clone(s.Labels)
	return out
}

func copyContainer(c *container) runtime.Container {
	out := c.Container
	out.Labels = maps.Clone(c.Labels)
	return out
}
