package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/nodes/lifecycle"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/api"
)

// maxSteps bounds the decide-act rounds of one sync; a pod needs at most
// a few (stop, create the sandbox, start).
const maxSteps = 8

// worker drives one pod: it is level-triggered, so every sync reads the
// pod's latest state and the runtime's, decides (lifecycle.Decide), acts,
// and reports the status (lifecycle.Status) when it changed.
type worker struct {
	a    *Agent
	uid  types.UID
	wake chan struct{}

	// mu guards pod and gone, which the agent's goroutines set.
	mu   sync.Mutex
	pod  *corev1.Pod
	gone bool

	// Owned by the worker's goroutine.
	mem       *lifecycle.Memory
	deleted   bool              // the pod's deletion was requested
	volumesAt time.Time         // configMap and secret volumes last brought up to date
	termMsgs  map[string]string // termination messages read, by container ID
}

func newWorker(a *Agent, pod *corev1.Pod) *worker {
	return &worker{a: a, uid: pod.UID, wake: make(chan struct{}, 1), pod: pod}
}

// poke asks for a sync soon; it never blocks.
func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// update records a newer state of the pod (older ones are ignored).
func (w *worker) update(pod *corev1.Pod) {
	w.set(pod)
	w.poke()
}

// set records a newer state of the pod without asking for a sync.
func (w *worker) set(pod *corev1.Pod) {
	w.mu.Lock()
	if newer(pod, w.pod) {
		w.pod = pod
	}
	w.mu.Unlock()
}

// markGone records that the pod no longer exists.
func (w *worker) markGone() {
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.poke()
}

func (w *worker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

// newer reports whether a is a later version of the pod than b.
func newer(a, b *corev1.Pod) bool {
	if b == nil {
		return true
	}
	ra, _ := api.ParseRevision(a.ResourceVersion)
	rb, _ := api.ParseRevision(b.ResourceVersion)
	return ra >= rb
}

// run syncs the pod until it is gone and cleaned up, or ctx ends.
func (w *worker) run(ctx context.Context) {
	w.mem = lifecycle.NewMemory(time.Now())
	w.termMsgs = map[string]string{}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
		}
		next, done := w.sync(ctx)
		if done {
			return
		}
		t.Stop()
		t.Reset(time.Until(next))
	}
}

// sync is one level-triggered pass. It returns when to sync again at the
// latest, or done once the pod is gone and nothing of it is left.
func (w *worker) sync(ctx context.Context) (next time.Time, done bool) {
	a := w.a
	pod, gone := w.snapshot()
	log := a.log.With("pod", pod.Namespace+"/"+pod.Name)
	retryAt := time.Now().Add(time.Second)
	var (
		in   *lifecycle.Input
		plan lifecycle.Plan
	)
	var known *lifecycle.Input // the next step's input, when the last step's answer says it all
	for step := 0; ; step++ {
		if known != nil {
			in, known = known, nil
		} else {
			var err error
			if in, err = w.observe(ctx, pod, gone); err != nil {
				log.Warn("observe runtime", "err", err)
				return retryAt, false
			}
		}
		probeNext := w.probe(ctx, in)
		plan = lifecycle.Decide(in)
		plan.WakeAt = earliest(plan.WakeAt, probeNext)
		if !plan.Busy() || step == maxSteps {
			break
		}
		sb, err := w.act(ctx, in, &plan)
		if err != nil {
			log.Warn("sync pod", "err", err)
			plan.WakeAt = earliest(plan.WakeAt, retryAt)
			break
		}
		if sb != nil && onlyCreatesSandbox(&plan) {
			known = withSandbox(in, *sb)
		}
	}
	if plan.Done {
		if err := a.removeVolumes(w.uid); err != nil {
			log.Warn("remove pod volumes", "err", err)
			return retryAt, false
		}
		return time.Time{}, true
	}
	next = earliest(plan.WakeAt, time.Now().Add(a.cfg.ResyncInterval))
	if gone || ctx.Err() != nil {
		return next, false
	}
	if time.Since(w.volumesAt) >= a.cfg.ResyncInterval {
		w.volumesAt = time.Now()
		w.refreshVolumes(ctx, pod)
	}
	if err := w.report(ctx, in); err != nil {
		if ctx.Err() == nil {
			log.Warn("pod status", "err", err)
		}
		if apierrors.IsInvalid(err) {
			return next, false // retrying at once would fail the same way
		}
		return earliest(next, retryAt), false
	}
	if plan.DeletePod && !w.deleted {
		opts := metav1.DeleteOptions{GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &w.uid}}
		_, _, err := a.pods.Delete(ctx, pod.Namespace, pod.Name, opts)
		switch {
		case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err):
			w.deleted = true
			log.Info("pod terminated and deleted")
		default:
			log.Warn("delete pod", "err", err)
			return earliest(next, retryAt), false
		}
	}
	return next, false
}

// observe reads what the runtime holds for the pod.
func (w *worker) observe(ctx context.Context, pod *corev1.Pod, gone bool) (*lifecycle.Input, error) {
	a := w.a
	match := map[string]string{runtime.LabelPodUID: string(w.uid)}
	sbs, err := a.cfg.Runtime.ListSandboxes(ctx, match)
	if err != nil {
		return nil, err
	}
	cs, err := a.cfg.Runtime.ListContainers(ctx, match)
	if err != nil {
		return nil, err
	}
	w.forget(cs)
	if !gone {
		w.terminationMessages(pod, cs)
	}
	return &lifecycle.Input{
		Pod: pod, Gone: gone, Sandboxes: sbs, Containers: cs, Mem: w.mem, Now: time.Now(),
		Backoff: a.cfg.Backoff, PullBackoff: a.cfg.PullBackoff,
		RuntimeName: a.runtimeName, HostIP: a.hostIP,
	}, nil
}

// forget drops what the memory holds about containers that are no longer
// running (probes) or no longer exist (signals sent).
func (w *worker) forget(cs []runtime.Container) {
	state := map[string]runtime.ContainerState{}
	for _, c := range cs {
		state[c.ID] = c.State
	}
	for id := range w.mem.Probes {
		if state[id] != runtime.StateRunning {
			delete(w.mem.Probes, id)
		}
	}
	for id := range w.mem.Kills {
		if _, ok := state[id]; !ok {
			delete(w.mem.Kills, id)
		}
	}
	for id := range w.termMsgs {
		if _, ok := state[id]; !ok {
			delete(w.termMsgs, id)
		}
	}
}

// onlyCreatesSandbox reports whether creating a sandbox is all the plan
// does (a new pod's first step): the runtime's answer to RunSandbox is
// then all that changed, and the next step needs no observation.
func onlyCreatesSandbox(p *lifecycle.Plan) bool {
	return p.CreateSandbox && len(p.Kill) == 0 && len(p.Remove) == 0 && len(p.StopSandboxes) == 0 &&
		len(p.RemoveSandboxes) == 0 && len(p.Start) == 0
}

// withSandbox is in with sandbox sb added, as of now. Observing instead
// costs two List calls, each a scan of every record on a containerd node
// (about 3.5 ms of the daemon's CPU with 50 pods): a quarter of what the
// agent makes the runtime do for a pod start.
func withSandbox(in *lifecycle.Input, sb runtime.Sandbox) *lifecycle.Input {
	next := *in
	next.Sandboxes = append(slices.Clip(in.Sandboxes), sb)
	next.Now = time.Now()
	return &next
}

// act carries out a plan's runtime work and returns the sandbox it
// created, if any.
func (w *worker) act(ctx context.Context, in *lifecycle.Input, plan *lifecycle.Plan) (*runtime.Sandbox, error) {
	rt := w.a.cfg.Runtime
	var errs []error
	for _, k := range plan.Kill {
		err := rt.KillContainer(ctx, k.ContainerID, k.Signal)
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			errs = append(errs, fmt.Errorf("kill %s: %w", k.Name, err))
			continue
		}
		ks := w.mem.Kills[k.ContainerID]
		now := time.Now()
		if k.Signal == runtime.SIGKILL {
			ks.KillAt = now
		} else {
			ks.TermAt, ks.Grace = now, k.Grace
		}
		w.mem.Kills[k.ContainerID] = ks
	}
	for _, id := range plan.Remove {
		if err := rt.RemoveContainer(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove container: %w", err))
		}
	}
	for _, id := range plan.StopSandboxes {
		if err := rt.StopSandbox(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			errs = append(errs, fmt.Errorf("stop sandbox: %w", err))
		}
	}
	for _, id := range plan.RemoveSandboxes {
		if err := rt.RemoveSandbox(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			errs = append(errs, fmt.Errorf("remove sandbox: %w", err))
		}
	}
	var created *runtime.Sandbox
	if plan.CreateSandbox {
		sb, err := rt.RunSandbox(ctx, w.sandboxConfig(in.Pod, plan.SandboxAttempt))
		if err != nil {
			errs = append(errs, fmt.Errorf("create sandbox: %w", err))
		} else {
			created = &sb
		}
	}
	if len(plan.Start) > 0 {
		sb, ip := currentSandbox(in)
		for _, s := range plan.Start {
			w.start(ctx, in.Pod, sb, ip, s)
		}
	}
	return created, errors.Join(errs...)
}

// currentSandbox is the newest sandbox's ID and IP.
func currentSandbox(in *lifecycle.Input) (id, ip string) {
	best := -1
	for i, sb := range in.Sandboxes {
		if best < 0 || sb.Attempt > in.Sandboxes[best].Attempt ||
			sb.Attempt == in.Sandboxes[best].Attempt && sb.CreatedAt.After(in.Sandboxes[best].CreatedAt) {
			best = i
		}
	}
	if best < 0 {
		return "", ""
	}
	return in.Sandboxes[best].ID, in.Sandboxes[best].IP
}

// start pulls, creates and starts one container, and records a failure
// in the memory for the status and the back-off.
func (w *worker) start(ctx context.Context, pod *corev1.Pod, sandboxID, podIP string, s lifecycle.Start) {
	a, rt, c := w.a, w.a.cfg.Runtime, s.Container
	fail := func(reason string, err error) {
		now := time.Now()
		prev := w.mem.Failures[c.Name]
		b := a.cfg.Backoff
		if lifecycle.IsPullFailure(reason) {
			b = a.cfg.PullBackoff
		}
		var entry lifecycle.BackoffEntry
		if prev != nil && lifecycle.IsPullFailure(prev.Reason) == lifecycle.IsPullFailure(reason) {
			entry = prev.Backoff
		}
		w.mem.Failures[c.Name] = &lifecycle.StartFailure{Reason: reason, Message: err.Error(), Image: c.Image, At: now,
			Backoff: b.Next(entry, now, now)}
		a.log.Info("container did not start", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "reason", reason, "err", err)
	}
	id := s.ExistingID
	if id == "" {
		if reason, err := w.ensureImage(ctx, sandboxID, c); err != nil {
			fail(reason, err)
			return
		}
		cfg, err := w.containerConfig(ctx, pod, podIP, s)
		if err != nil {
			fail(reasonCreateConfig, err)
			return
		}
		ctr, err := rt.CreateContainer(ctx, sandboxID, cfg)
		if err != nil {
			fail(lifecycle.ReasonCreateContainerError, err)
			return
		}
		id = ctr.ID
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		fail(lifecycle.ReasonRunContainerError, err)
		_ = rt.RemoveContainer(ctx, id)
		return
	}
	delete(w.mem.Failures, c.Name)
	if s.Restart {
		w.mem.Restarts[c.Name] = a.cfg.Backoff.Next(w.mem.Restarts[c.Name], s.FailedAt, time.Now())
	}
}

// reasonCreateConfig is the kubelet's reason for a container whose
// configuration (environment from ConfigMaps and Secrets) cannot be built.
const reasonCreateConfig = "CreateContainerConfigError"

// ensureImage makes the container's image present as its pull policy
// says, and returns the waiting reason of a failure.
func (w *worker) ensureImage(ctx context.Context, sandboxID string, c *corev1.Container) (string, error) {
	var images ImagePuller = w.a.cfg.Runtime
	if w.a.cfg.Images != nil {
		images = w.a.cfg.Images
	}
	if c.Image == "" {
		return lifecycle.ReasonInvalidImageName, errors.New("image is empty")
	}
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
	}
	if policy != corev1.PullAlways {
		_, ok, err := images.ImageStatus(ctx, c.Image)
		if err != nil {
			return lifecycle.ReasonErrImagePull, err
		}
		if ok {
			return "", nil
		}
		if policy == corev1.PullNever {
			return lifecycle.ReasonErrImageNeverPull, fmt.Errorf("container image %q is not present with pull policy of Never", c.Image)
		}
	}
	if _, err := images.PullImage(ctx, sandboxID, c.Image); err != nil {
		return lifecycle.ReasonErrImagePull, err
	}
	return "", nil
}

// report writes the pod's status when it differs from the stored one,
// re-reading the pod and recomputing on conflicts.
func (w *worker) report(ctx context.Context, in *lifecycle.Input) error {
	if in == nil {
		return nil
	}
	a := w.a
	for attempt := 0; ; attempt++ {
		st := lifecycle.Status(in)
		if semanticEqual(in.Pod.Status, st) {
			return nil
		}
		next := in.Pod.DeepCopy()
		next.Status = st
		out, err := a.pods.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			w.set(out)
			w.reported()
			return nil
		}
		if apierrors.IsNotFound(err) {
			return nil // gone: the watch will say so
		}
		if !apierrors.IsConflict(err) || attempt >= 4 {
			return err
		}
		fresh, err := a.pods.Get(ctx, in.Pod.Namespace, in.Pod.Name)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if fresh.UID != w.uid {
			return nil
		}
		w.set(fresh)
		in.Pod = fresh
	}
}

// reported marks start failures as shown, so that the next status shows
// their back-off; it pokes the worker to write that status.
func (w *worker) reported() {
	again := false
	for _, f := range w.mem.Failures {
		if !f.Reported {
			f.Reported = true
			again = true
		}
	}
	if again {
		w.poke()
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
