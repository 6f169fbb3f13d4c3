package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Status returns the pod status to report for in: the pod's current
// status with the parts the node owns (phase, container statuses, the
// Initialized, ContainersReady, Ready and PodReadyToStartContainers
// conditions, IPs, start time) recomputed from what the runtime reports.
// A pod already Succeeded or Failed keeps its status: a terminal phase is
// final. Times are whole seconds, as the API stores them. Status is pure.
func Status(in *Input) corev1.PodStatus {
	pod := in.Pod
	if terminalPhase(pod.Status.Phase) {
		return *pod.Status.DeepCopy()
	}
	v := newView(in)
	sv := newStatusView(v)
	st := *pod.Status.DeepCopy()
	st.ObservedGeneration = pod.Generation
	st.Phase, st.Reason, st.Message = sv.phase, sv.reason, sv.message
	st.InitContainerStatuses = sv.init
	st.ContainerStatuses = sv.app
	if st.StartTime == nil {
		st.StartTime = seconds(in.Mem.StartTime)
	}
	if in.HostIP != "" {
		st.HostIP = in.HostIP
		st.HostIPs = []corev1.HostIP{{IP: in.HostIP}}
	}
	podIP := ""
	switch {
	case pod.Spec.HostNetwork:
		podIP = in.HostIP
	case v.sandbox != nil:
		podIP = v.sandbox.IP
	}
	if podIP != "" {
		st.PodIP = podIP
		st.PodIPs = []corev1.PodIP{{IP: podIP}}
	}
	st.Conditions = sv.conditions(pod.Status.Conditions)
	return st
}

// statusView derives container statuses and the phase from a view.
type statusView struct {
	v *view
	// stopping: the pod is being deleted or has run out of time, so no
	// container will be restarted.
	stopping  bool
	init, app []corev1.ContainerStatus
	phase     corev1.PodPhase
	reason    string
	message   string
}

func newStatusView(v *view) *statusView {
	in := v.in
	sv := &statusView{v: v, stopping: in.Gone || in.Pod.DeletionTimestamp != nil || deadlineExceeded(in)}
	spec := &in.Pod.Spec
	hasInit := len(spec.InitContainers) > 0
	for i := range spec.InitContainers {
		sv.init = append(sv.init, sv.containerStatus(&spec.InitContainers[i], runtime.KindInit, hasInit))
	}
	for i := range spec.Containers {
		sv.app = append(sv.app, sv.containerStatus(&spec.Containers[i], runtime.KindApp, hasInit))
	}
	sv.phase, sv.reason, sv.message = sv.podPhase()
	return sv
}

// before returns the newest container called name older than c.
func (v *view) before(name string, c *runtime.Container) *runtime.Container {
	var out *runtime.Container
	for _, o := range v.byName[name] {
		if o != c && (o.Attempt < c.Attempt || o.Attempt == c.Attempt && o.CreatedAt.Before(c.CreatedAt)) {
			out = o
		}
	}
	return out
}

func (sv *statusView) containerStatus(c *corev1.Container, kind string, hasInit bool) corev1.ContainerStatus {
	v, in := sv.v, sv.v.in
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(false)}
	shown := v.current[c.Name]
	if shown == nil {
		shown = v.latest[c.Name]
	}
	if shown != nil {
		cs.RestartCount = int32(shown.Attempt)
		cs.ImageID = shown.ImageID
		cs.ContainerID = in.RuntimeName + "://" + shown.ID
		if prev := v.before(c.Name, shown); prev != nil && prev.State == runtime.StateExited {
			cs.LastTerminationState = corev1.ContainerState{Terminated: terminated(in, prev)}
		}
	}
	failure := in.Mem.Failures[c.Name]
	switch {
	case shown == nil || shown.State == runtime.StateCreated:
		cs.State = corev1.ContainerState{Waiting: sv.waiting(c, failure, hasInit)}
	case shown.State == runtime.StateExited:
		// An init container that succeeded is done, whatever the policy.
		restart := !sv.stopping && shouldRestart(in.Pod.Spec.RestartPolicy, shown.ExitCode) &&
			(kind != runtime.KindInit || shown.ExitCode != 0)
		if !restart {
			cs.State = corev1.ContainerState{Terminated: terminated(in, shown)}
			cs.Ready = kind == runtime.KindInit && shown.ExitCode == 0
			break
		}
		cs.LastTerminationState = corev1.ContainerState{Terminated: terminated(in, shown)}
		entry := in.Mem.Restarts[c.Name]
		_, blocked := in.Backoff.Blocked(entry, shown.FinishedAt, in.Now)
		switch {
		case failure != nil:
			cs.State = corev1.ContainerState{Waiting: sv.waiting(c, failure, hasInit)}
		case blocked:
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason: ReasonCrashLoopBackOff,
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
					entry.Delay, c.Name, in.Pod.Name, in.Pod.Namespace, in.Pod.UID),
			}}
		default:
			// About to restart: the next sync starts it.
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}}
		}
	default: // running, or unknown (reported as running: it may be)
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *seconds(shown.StartedAt)}}
		if kind == runtime.KindApp {
			p := in.Mem.Probes[shown.ID]
			cs.Started = new(started(c, p))
			cs.Ready = ready(c, p) && !sv.stopping
		} else {
			cs.Started = new(true)
		}
	}
	return cs
}

// waiting is the waiting state of a container that is not running.
func (sv *statusView) waiting(c *corev1.Container, f *StartFailure, hasInit bool) *corev1.ContainerStateWaiting {
	in := sv.v.in
	if f != nil {
		if f.Reason == ReasonErrImagePull && f.Reported {
			if _, blocked := in.PullBackoff.Blocked(f.Backoff, f.At, in.Now); blocked {
				return &corev1.ContainerStateWaiting{Reason: ReasonImagePullBackOff,
					Message: fmt.Sprintf("Back-off pulling image %q: %s", f.Image, f.Message)}
			}
		}
		return &corev1.ContainerStateWaiting{Reason: f.Reason, Message: f.Message}
	}
	if hasInit {
		return &corev1.ContainerStateWaiting{Reason: ReasonPodInitializing}
	}
	return &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
}

func terminated(in *Input, c *runtime.Container) *corev1.ContainerStateTerminated {
	reason := c.Reason
	if reason == "" {
		reason = ReasonError
		if c.ExitCode == 0 {
			reason = ReasonCompleted
		}
	}
	t := &corev1.ContainerStateTerminated{
		ExitCode:    int32(c.ExitCode),
		Reason:      reason,
		Message:     c.Message,
		ContainerID: in.RuntimeName + "://" + c.ID,
	}
	if !c.StartedAt.IsZero() {
		t.StartedAt = *seconds(c.StartedAt)
	}
	if !c.FinishedAt.IsZero() {
		t.FinishedAt = *seconds(c.FinishedAt)
	}
	return t
}

// podPhase is the kubelet's getPhase, plus what makes a pod terminal
// without its containers saying so: the deadline, and a deletion once
// nothing runs any more.
func (sv *statusView) podPhase() (corev1.PodPhase, string, string) {
	in := sv.v.in
	pod := in.Pod
	if deadlineExceeded(in) {
		return corev1.PodFailed, ReasonDeadlineExceeded, "Pod was active on the node longer than the specified deadline"
	}
	if pod.DeletionTimestamp != nil || in.Gone {
		if len(sv.v.running()) == 0 && len(in.Containers) > 0 {
			for _, cs := range sv.app {
				if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
					return corev1.PodFailed, "", ""
				}
			}
			return corev1.PodSucceeded, "", ""
		}
	}
	spec := &pod.Spec
	pendingInit, failedInit := 0, 0
	for _, cs := range sv.init {
		switch {
		case cs.State.Running != nil:
			pendingInit++
		case cs.State.Terminated != nil:
			if cs.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case cs.State.Waiting != nil:
			if t := cs.LastTerminationState.Terminated; t != nil {
				if t.ExitCode != 0 {
					failedInit++
				}
			} else {
				pendingInit++
			}
		default:
			pendingInit++
		}
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for _, cs := range sv.app {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed, "", ""
	}
	switch {
	case pendingInit > 0, failedInit > 0, waiting > 0:
		return corev1.PodPending, "", ""
	case running > 0 && unknown == 0:
		return corev1.PodRunning, "", ""
	case running == 0 && stopped > 0 && unknown == 0:
		switch {
		case spec.RestartPolicy == corev1.RestartPolicyAlways:
			return corev1.PodRunning, "", ""
		case stopped == succeeded:
			return corev1.PodSucceeded, "", ""
		case spec.RestartPolicy == corev1.RestartPolicyNever:
			return corev1.PodFailed, "", ""
		}
		return corev1.PodRunning, "", ""
	}
	return corev1.PodPending, "", ""
}

// conditions returns the pod's conditions with the node's recomputed, in
// the kubelet's order, followed by the others as they were.
func (sv *statusView) conditions(old []corev1.PodCondition) []corev1.PodCondition {
	in := sv.v.in
	now := *seconds(in.Now)
	set := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg, LastTransitionTime: now}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		for _, o := range old {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	var pendingInit []string
	for _, cs := range sv.init {
		if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			pendingInit = append(pendingInit, cs.Name)
		}
	}
	var unready []string
	for _, cs := range sv.app {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	terminal := terminalPhase(sv.phase)
	ctrReason, ctrMsg := "", ""
	switch {
	case terminal:
		ctrReason = ReasonPodCompleted
	case len(unready) > 0:
		ctrReason, ctrMsg = ReasonContainersNotReady, "containers with unready status: ["+strings.Join(unready, " ")+"]"
	}
	ctrReady := !terminal && len(unready) == 0
	readyReason, readyMsg := ctrReason, ctrMsg
	podReady := ctrReady
	if ctrReady {
		if msg := gatesNotReady(in.Pod); msg != "" {
			podReady, readyReason, readyMsg = false, ReasonReadinessGates, msg
		}
	}
	initMsg := ""
	if len(pendingInit) > 0 {
		initMsg = "containers with incomplete status: [" + strings.Join(pendingInit, " ") + "]"
	}
	out := []corev1.PodCondition{
		set(corev1.PodReadyToStartContainers, sv.v.sandboxReady(), "", ""),
		set(corev1.PodInitialized, len(pendingInit) == 0, ReasonContainersNotInit, initMsg),
		set(corev1.PodReady, podReady, readyReason, readyMsg),
		set(corev1.ContainersReady, ctrReady, ctrReason, ctrMsg),
	}
	owned := func(t corev1.PodConditionType) bool {
		return slices.ContainsFunc(out, func(c corev1.PodCondition) bool { return c.Type == t })
	}
	for _, o := range old {
		if !owned(o.Type) {
			out = append(out, o)
		}
	}
	return out
}

// gatesNotReady explains the first readiness gate that does not hold ("":
// all hold).
func gatesNotReady(pod *corev1.Pod) string {
	for _, g := range pod.Spec.ReadinessGates {
		i := slices.IndexFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == g.ConditionType })
		if i < 0 {
			return fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType)
		}
		if s := pod.Status.Conditions[i].Status; s != corev1.ConditionTrue {
			return fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, s)
		}
	}
	return ""
}

func seconds(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}
