package lifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Plan is what to do next for one pod. The shell carries it out in field
// order (kills, removals, sandbox stops and removals, sandbox creation,
// starts), observes the runtime again and decides again, until a plan is
// not Busy; then it writes the status and, if DeletePod, deletes the pod.
type Plan struct {
	// Kill lists signals to send.
	Kill []Kill
	// Remove lists exited containers to remove.
	Remove []string
	// StopSandboxes and RemoveSandboxes list sandboxes to stop (their
	// containers have all exited) and to remove.
	StopSandboxes, RemoveSandboxes []string
	// CreateSandbox asks for a new sandbox numbered SandboxAttempt.
	CreateSandbox  bool
	SandboxAttempt int
	// Start lists containers to bring up, in order.
	Start []Start
	// DeletePod: the pod has finished terminating; remove its API object
	// once the final status is written.
	DeletePod bool
	// Done: the pod is gone and nothing of it is left in the runtime.
	Done bool
	// WakeAt is when to decide again at the latest, events aside (zero:
	// no deadline).
	WakeAt time.Time
}

// Busy reports whether the plan has runtime work to do now.
func (p *Plan) Busy() bool {
	return len(p.Kill) > 0 || len(p.Remove) > 0 || len(p.StopSandboxes) > 0 || len(p.RemoveSandboxes) > 0 ||
		p.CreateSandbox || len(p.Start) > 0
}

func (p *Plan) wake(at time.Time) { p.WakeAt = earliest(p.WakeAt, at) }

// Kill is a signal to send to a container.
type Kill struct {
	ContainerID, Name string
	Signal            runtime.Signal
	// Grace is, for SIGTERM, how long before SIGKILL follows.
	Grace time.Duration
}

// Start is a container to pull, create and start.
type Start struct {
	Container *corev1.Container
	// Kind is runtime.KindInit or runtime.KindApp.
	Kind    string
	Attempt int
	// ExistingID, if set, is a created container to start as it is.
	ExistingID string
	// Restart: the container follows one that exited at FailedAt, so the
	// restart back-off advances when it starts.
	Restart  bool
	FailedAt time.Time
}

// Decide returns what to do next for the pod in in. It is pure: it reads
// in (and in.Mem) and changes nothing.
func Decide(in *Input) Plan {
	v := newView(in)
	var p Plan
	pod := in.Pod
	switch {
	case in.Gone:
		v.terminate(&p, 0)
		if len(v.running()) > 0 {
			return p
		}
		for _, sb := range in.Sandboxes {
			p.RemoveSandboxes = append(p.RemoveSandboxes, sb.ID)
		}
		sandboxes := map[string]bool{}
		for _, sb := range in.Sandboxes {
			sandboxes[sb.ID] = true
		}
		for _, c := range in.Containers {
			if !sandboxes[c.SandboxID] {
				p.Remove = append(p.Remove, c.ID)
			}
		}
		p.Done = !p.Busy()
		return p
	case pod.DeletionTimestamp != nil:
		grace := terminationGrace(pod)
		if g := pod.DeletionGracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		v.terminate(&p, grace)
		if len(v.running()) == 0 {
			v.stopSandboxes(&p)
			p.DeletePod = true
		}
		return p
	case terminalPhase(pod.Status.Phase) || deadlineExceeded(in) || terminalPhase(newStatusView(v).phase):
		v.terminate(&p, terminationGrace(pod))
		if len(v.running()) == 0 {
			v.stopSandboxes(&p)
		}
		return p
	}

	if at, ok := deadline(in); ok {
		p.wake(at)
	}
	v.cleanup(&p)
	if !v.sandboxReady() {
		if v.sandbox != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && len(in.Containers) > 0 {
			// As the kubelet: a pod that never restarts does not get a
			// second sandbox once its containers have run.
			return p
		}
		running := v.running()
		for _, c := range running {
			v.kill(&p, c, 0)
		}
		if len(running) == 0 {
			p.CreateSandbox = true
			if v.sandbox != nil {
				p.SandboxAttempt = v.sandbox.Attempt + 1
			}
		}
		return p
	}
	if v.planInit(&p) {
		v.planApps(&p)
	}
	return p
}

// terminate kills every running container with the given grace period.
func (v *view) terminate(p *Plan, grace time.Duration) {
	for _, c := range v.running() {
		v.kill(p, c, grace)
	}
}

// kill plans SIGTERM, then SIGKILL once grace has passed (at once for a
// grace of 0), for a running container.
func (v *view) kill(p *Plan, c *runtime.Container, grace time.Duration) {
	now := v.in.Now
	k := v.in.Mem.Kills[c.ID]
	switch {
	case k.TermAt.IsZero() && k.KillAt.IsZero():
		if grace <= 0 {
			p.Kill = append(p.Kill, Kill{ContainerID: c.ID, Name: c.Name, Signal: runtime.SIGKILL})
		} else {
			p.Kill = append(p.Kill, Kill{ContainerID: c.ID, Name: c.Name, Signal: runtime.SIGTERM, Grace: grace})
			p.wake(now.Add(grace))
		}
	case k.KillAt.IsZero():
		// A later, shorter grace period (a second delete) wins.
		deadline := k.TermAt.Add(min(k.Grace, grace))
		if now.Before(deadline) {
			p.wake(deadline)
		} else {
			p.Kill = append(p.Kill, Kill{ContainerID: c.ID, Name: c.Name, Signal: runtime.SIGKILL})
		}
	default:
		// SIGKILL was sent and the runtime has not reported the exit yet:
		// send it again every second.
		if again := k.KillAt.Add(time.Second); now.Before(again) {
			p.wake(again)
		} else {
			p.Kill = append(p.Kill, Kill{ContainerID: c.ID, Name: c.Name, Signal: runtime.SIGKILL})
		}
	}
	if len(p.Kill) > 0 && p.Kill[len(p.Kill)-1].Signal == runtime.SIGKILL {
		p.wake(now.Add(time.Second))
	}
}

// stopSandboxes stops every ready sandbox.
func (v *view) stopSandboxes(p *Plan) {
	for _, sb := range v.in.Sandboxes {
		if sb.State == runtime.SandboxReady {
			p.StopSandboxes = append(p.StopSandboxes, sb.ID)
		}
	}
}

// cleanup removes what a running pod no longer needs: older sandboxes
// (their containers are killed first) and containers older than the
// previous attempt of each name, as the kubelet keeps one dead container
// per container.
func (v *view) cleanup(p *Plan) {
	inSandbox := map[string][]*runtime.Container{}
	for i := range v.in.Containers {
		c := &v.in.Containers[i]
		inSandbox[c.SandboxID] = append(inSandbox[c.SandboxID], c)
	}
	for _, sb := range v.old {
		alive := false
		for _, c := range inSandbox[sb.ID] {
			if c.State == runtime.StateRunning || c.State == runtime.StateUnknown {
				alive = true
				v.kill(p, c, 0)
			}
		}
		if !alive {
			p.RemoveSandboxes = append(p.RemoveSandboxes, sb.ID)
		}
	}
	if v.sandbox == nil {
		return
	}
	for _, cs := range v.byName {
		for _, c := range cs[:max(0, len(cs)-2)] {
			if c.SandboxID == v.sandbox.ID && c.State == runtime.StateExited {
				p.Remove = append(p.Remove, c.ID)
			}
		}
	}
}

// planInit plans the init containers, one at a time in order, and reports
// whether they have all succeeded.
func (v *view) planInit(p *Plan) bool {
	spec := &v.in.Pod.Spec
	for i := range spec.InitContainers {
		ic := &spec.InitContainers[i]
		c := v.current[ic.Name]
		switch {
		case c == nil:
			v.start(p, ic, runtime.KindInit, v.latest[ic.Name])
			return false
		case c.State == runtime.StateCreated:
			p.Start = append(p.Start, Start{Container: ic, Kind: runtime.KindInit, Attempt: c.Attempt, ExistingID: c.ID})
			return false
		case c.State == runtime.StateExited && c.ExitCode == 0:
			continue
		case c.State == runtime.StateExited:
			if shouldRestart(spec.RestartPolicy, c.ExitCode) {
				v.restart(p, ic, runtime.KindInit, c)
			}
			return false
		default: // running
			return false
		}
	}
	return true
}

// planApps plans the app containers once the pod is initialized.
func (v *view) planApps(p *Plan) {
	spec := &v.in.Pod.Spec
	for i := range spec.Containers {
		ctr := &spec.Containers[i]
		c := v.current[ctr.Name]
		switch {
		case c == nil:
			last := v.latest[ctr.Name]
			if last != nil && last.State == runtime.StateExited && !shouldRestart(spec.RestartPolicy, last.ExitCode) {
				continue // it finished in an earlier sandbox
			}
			v.start(p, ctr, runtime.KindApp, last)
		case c.State == runtime.StateCreated:
			p.Start = append(p.Start, Start{Container: ctr, Kind: runtime.KindApp, Attempt: c.Attempt, ExistingID: c.ID})
		case c.State == runtime.StateExited:
			if shouldRestart(spec.RestartPolicy, c.ExitCode) {
				v.restart(p, ctr, runtime.KindApp, c)
			}
		case c.State == runtime.StateRunning:
			if unhealthy(ctr, v.in.Mem.Probes[c.ID]) {
				v.kill(p, c, probeGrace(v.in.Pod, ctr))
			}
		}
	}
}

// probeGrace is the grace period of a kill for failed probes.
func probeGrace(pod *corev1.Pod, c *corev1.Container) time.Duration {
	for _, pr := range []*corev1.Probe{c.LivenessProbe, c.StartupProbe} {
		if pr != nil && pr.TerminationGracePeriodSeconds != nil {
			return time.Duration(*pr.TerminationGracePeriodSeconds) * time.Second
		}
	}
	return terminationGrace(pod)
}

// restart plans a new run of a container whose last run exited, unless
// the restart back-off holds it.
func (v *view) restart(p *Plan, c *corev1.Container, kind string, last *runtime.Container) {
	if until, blocked := v.in.Backoff.Blocked(v.in.Mem.Restarts[c.Name], last.FinishedAt, v.in.Now); blocked {
		p.wake(until)
		return
	}
	v.start(p, c, kind, last)
}

// start plans bringing a container up, unless a failure to start it is
// still backing off.
func (v *view) start(p *Plan, c *corev1.Container, kind string, last *runtime.Container) {
	if f := v.in.Mem.Failures[c.Name]; f != nil {
		if until, blocked := v.failureBackoff(f).Blocked(f.Backoff, f.At, v.in.Now); blocked {
			p.wake(until)
			return
		}
	}
	s := Start{Container: c, Kind: kind, Attempt: v.nextAttempt(c.Name)}
	if last != nil && last.State == runtime.StateExited {
		s.Restart, s.FailedAt = true, last.FinishedAt
	}
	p.Start = append(p.Start, s)
}

func (v *view) failureBackoff(f *StartFailure) Backoff {
	if IsPullFailure(f.Reason) {
		return v.in.PullBackoff
	}
	return v.in.Backoff
}

// IsPullFailure reports whether a waiting reason is an image failure,
// which backs off with the image pull back-off.
func IsPullFailure(reason string) bool {
	switch reason {
	case ReasonErrImagePull, ReasonErrImageNeverPull, ReasonInvalidImageName:
		return true
	}
	return false
}
