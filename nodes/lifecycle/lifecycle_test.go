package lifecycle

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/nodes/runtime"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// scenario builds an Input: a pod, what the runtime holds, the memory.
type scenario struct {
	in Input
}

func newScenario(policy corev1.RestartPolicy, apps []string, inits ...string) *scenario {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1", Generation: 1},
		Spec:       corev1.PodSpec{RestartPolicy: policy, NodeName: "n1"},
		Status:     corev1.PodStatus{Phase: corev1.PodPending},
	}
	for _, n := range inits {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: n, Image: "img"})
	}
	for _, n := range apps {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: n, Image: "img"})
	}
	return &scenario{in: Input{Pod: pod, Mem: NewMemory(t0.Add(-time.Hour)), Now: t0, RuntimeName: "sim", HostIP: "10.0.0.1"}}
}

func (s *scenario) sandbox(id string, attempt int, ready bool) *scenario {
	st := runtime.SandboxNotReady
	ip := ""
	if ready {
		st, ip = runtime.SandboxReady, "10.1.0.2"
	}
	s.in.Sandboxes = append(s.in.Sandboxes, runtime.Sandbox{ID: id, Attempt: attempt, State: st, IP: ip, CreatedAt: t0.Add(-time.Hour + time.Duration(attempt)*time.Minute)})
	return s
}

// running adds a running container started ago before now.
func (s *scenario) running(id, sb, name string, attempt int, ago time.Duration) *scenario {
	s.in.Containers = append(s.in.Containers, runtime.Container{ID: id, SandboxID: sb, Name: name, Attempt: attempt, ImageID: "sha256:1",
		State: runtime.StateRunning, CreatedAt: t0.Add(-ago), StartedAt: t0.Add(-ago)})
	return s
}

// exited adds a container that exited with code ago before now.
func (s *scenario) exited(id, sb, name string, attempt, code int, ago time.Duration) *scenario {
	s.in.Containers = append(s.in.Containers, runtime.Container{ID: id, SandboxID: sb, Name: name, Attempt: attempt, ImageID: "sha256:1",
		State: runtime.StateExited, ExitCode: code, CreatedAt: t0.Add(-ago - time.Second), StartedAt: t0.Add(-ago - time.Second), FinishedAt: t0.Add(-ago)})
	return s
}

func (s *scenario) with(f func(in *Input)) *scenario { f(&s.in); return s }

// plan summarises a Plan as lines; wake times are relative to now.
func plan(p Plan) []string {
	var out []string
	for _, k := range p.Kill {
		if k.Signal == runtime.SIGTERM {
			out = append(out, fmt.Sprintf("kill %s SIGTERM grace=%s", k.ContainerID, k.Grace))
		} else {
			out = append(out, fmt.Sprintf("kill %s SIGKILL", k.ContainerID))
		}
	}
	for _, id := range p.Remove {
		out = append(out, "remove "+id)
	}
	for _, id := range p.StopSandboxes {
		out = append(out, "stop-sandbox "+id)
	}
	for _, id := range p.RemoveSandboxes {
		out = append(out, "remove-sandbox "+id)
	}
	if p.CreateSandbox {
		out = append(out, fmt.Sprintf("create-sandbox %d", p.SandboxAttempt))
	}
	for _, s := range p.Start {
		line := fmt.Sprintf("start %s %s attempt=%d", s.Kind, s.Container.Name, s.Attempt)
		if s.ExistingID != "" {
			line += " existing=" + s.ExistingID
		}
		if s.Restart {
			line += " restart"
		}
		out = append(out, line)
	}
	if p.DeletePod {
		out = append(out, "delete-pod")
	}
	if p.Done {
		out = append(out, "done")
	}
	if !p.WakeAt.IsZero() {
		out = append(out, "wake +"+p.WakeAt.Sub(t0).String())
	}
	return out
}

func deleting(grace int64) func(in *Input) {
	return func(in *Input) {
		in.Pod.DeletionTimestamp = &metav1.Time{Time: t0}
		in.Pod.DeletionGracePeriodSeconds = &grace
	}
}

func TestDecide(t *testing.T) {
	always, onFailure, never := corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever
	app := []string{"app"}
	tests := []struct {
		name string
		s    *scenario
		want []string
	}{
		{"new pod gets a sandbox", newScenario(always, app), []string{"create-sandbox 0"}},
		{"then its containers", newScenario(always, []string{"a", "b"}).sandbox("sb1", 0, true),
			[]string{"start app a attempt=0", "start app b attempt=0"}},
		{"init containers first, one at a time", newScenario(always, app, "i1", "i2").sandbox("sb1", 0, true),
			[]string{"start init i1 attempt=0"}},
		{"running init container holds the rest", newScenario(always, app, "i1", "i2").sandbox("sb1", 0, true).
			running("c1", "sb1", "i1", 0, time.Second), nil},
		{"next init container", newScenario(always, app, "i1", "i2").sandbox("sb1", 0, true).
			exited("c1", "sb1", "i1", 0, 0, time.Second), []string{"start init i2 attempt=0"}},
		{"apps once initialized", newScenario(always, app, "i1").sandbox("sb1", 0, true).
			exited("c1", "sb1", "i1", 0, 0, time.Second), []string{"start app app attempt=0"}},
		{"failed init container restarts (OnFailure)", newScenario(onFailure, app, "i1").sandbox("sb1", 0, true).
			exited("c1", "sb1", "i1", 0, 1, time.Second), []string{"start init i1 attempt=1 restart"}},
		{"failed init container fails the pod (Never)", newScenario(never, app, "i1").sandbox("sb1", 0, true).
			exited("c1", "sb1", "i1", 0, 1, time.Second), []string{"stop-sandbox sb1"}},
		{"running app: nothing to do", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute), nil},
		{"first crash restarts at once", newScenario(always, app).sandbox("sb1", 0, true).
			exited("c1", "sb1", "app", 0, 1, time.Second), []string{"start app app attempt=1 restart"}},
		{"second crash waits for the back-off", newScenario(always, app).sandbox("sb1", 0, true).
			exited("c1", "sb1", "app", 0, 1, time.Minute).exited("c2", "sb1", "app", 1, 1, 2*time.Second).
			with(func(in *Input) {
				in.Mem.Restarts["app"] = BackoffEntry{Delay: 10 * time.Second, Last: t0.Add(-3 * time.Second)}
			}),
			[]string{"wake +8s"}},
		{"back-off over: restart", newScenario(always, app).sandbox("sb1", 0, true).
			exited("c2", "sb1", "app", 1, 1, 11*time.Second).
			with(func(in *Input) {
				in.Mem.Restarts["app"] = BackoffEntry{Delay: 10 * time.Second, Last: t0.Add(-12 * time.Second)}
			}),
			[]string{"start app app attempt=2 restart"}},
		{"success is not restarted (OnFailure) and the pod ends", newScenario(onFailure, app).sandbox("sb1", 0, true).
			exited("c1", "sb1", "app", 0, 0, time.Second), []string{"stop-sandbox sb1"}},
		{"Never: one failed, one still running", newScenario(never, []string{"a", "b"}).sandbox("sb1", 0, true).
			exited("c1", "sb1", "a", 0, 1, time.Second).running("c2", "sb1", "b", 0, time.Minute), nil},
		{"Always restarts a success too", newScenario(always, app).sandbox("sb1", 0, true).
			exited("c1", "sb1", "app", 0, 0, time.Second), []string{"start app app attempt=1 restart"}},
		{"pull failure backs off", newScenario(always, app).sandbox("sb1", 0, true).
			with(func(in *Input) {
				in.Mem.Failures["app"] = &StartFailure{Reason: ReasonErrImagePull, At: t0.Add(-4 * time.Second), Backoff: BackoffEntry{Delay: 10 * time.Second, Last: t0.Add(-4 * time.Second)}}
			}), []string{"wake +6s"}},
		{"created but never started: start it", newScenario(always, app).sandbox("sb1", 0, true).
			with(func(in *Input) {
				in.Containers = append(in.Containers, runtime.Container{ID: "c1", SandboxID: "sb1", Name: "app", State: runtime.StateCreated, CreatedAt: t0})
			}), []string{"start app app attempt=0 existing=c1"}},
		{"deletion sends SIGTERM with the deletion's grace", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).with(deleting(20)),
			[]string{"kill c1 SIGTERM grace=20s", "wake +20s"}},
		{"deletion: SIGKILL once the grace has passed", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).with(deleting(20)).
			with(func(in *Input) {
				in.Mem.Kills["c1"] = KillState{TermAt: t0.Add(-20 * time.Second), Grace: 20 * time.Second}
			}),
			[]string{"kill c1 SIGKILL", "wake +1s"}},
		{"deletion: a shorter second grace wins", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).with(deleting(5)).
			with(func(in *Input) {
				in.Mem.Kills["c1"] = KillState{TermAt: t0.Add(-3 * time.Second), Grace: 30 * time.Second}
			}),
			[]string{"wake +2s"}},
		{"deletion with grace 0: SIGKILL at once", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).with(deleting(0)),
			[]string{"kill c1 SIGKILL", "wake +1s"}},
		{"deletion: all stopped, delete the pod", newScenario(always, app).sandbox("sb1", 0, true).
			exited("c1", "sb1", "app", 0, 143, time.Second).with(deleting(30)),
			[]string{"stop-sandbox sb1", "delete-pod"}},
		{"gone: kill at once", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).with(func(in *Input) { in.Gone = true }),
			[]string{"kill c1 SIGKILL", "wake +1s"}},
		{"gone: remove everything", newScenario(always, app).sandbox("sb1", 0, false).
			exited("c1", "sb1", "app", 0, 137, time.Second).with(func(in *Input) { in.Gone = true }),
			[]string{"remove-sandbox sb1"}},
		{"gone and nothing left", newScenario(always, app).with(func(in *Input) { in.Gone = true }), []string{"done"}},
		{"dead sandbox is replaced", newScenario(always, app).sandbox("sb1", 0, false).
			exited("c1", "sb1", "app", 0, 137, time.Second), []string{"create-sandbox 1"}},
		{"Never: no second sandbox once containers ran", newScenario(never, []string{"a", "b"}).sandbox("sb1", 0, false).
			exited("c1", "sb1", "a", 0, 0, time.Second).running("c2", "sb1", "b", 0, time.Second), nil},
		{"new sandbox: containers run again, attempts go on", newScenario(always, app).sandbox("sb1", 0, false).sandbox("sb2", 1, true).
			exited("c1", "sb1", "app", 3, 137, time.Second),
			[]string{"remove-sandbox sb1", "start app app attempt=4 restart"}},
		{"old sandbox's containers are killed first", newScenario(always, app).sandbox("sb1", 0, false).sandbox("sb2", 1, true).
			running("c1", "sb1", "app", 0, time.Minute).running("c2", "sb2", "app", 1, time.Second),
			[]string{"kill c1 SIGKILL", "wake +1s"}},
		{"only the two newest attempts are kept", newScenario(always, app).sandbox("sb1", 0, true).
			exited("c1", "sb1", "app", 0, 1, 3*time.Minute).exited("c2", "sb1", "app", 1, 1, 2*time.Minute).
			exited("c3", "sb1", "app", 2, 1, time.Minute).running("c4", "sb1", "app", 3, time.Second),
			[]string{"remove c1", "remove c2"}},
		{"failed liveness kills with the pod's grace", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).
			with(func(in *Input) {
				in.Pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{}
				in.Mem.Probes["c1"] = &Probes{Liveness: ProbeResult{Success: false, Failures: 3}}
			}), []string{"kill c1 SIGTERM grace=30s", "wake +30s"}},
		{"past the active deadline", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).
			with(func(in *Input) {
				in.Pod.Spec.ActiveDeadlineSeconds = new(int64(60))
				in.Pod.Status.StartTime = &metav1.Time{Time: t0.Add(-61 * time.Second)}
			}), []string{"kill c1 SIGTERM grace=30s", "wake +30s"}},
		{"before the deadline: wake at it", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Minute).
			with(func(in *Input) {
				in.Pod.Spec.ActiveDeadlineSeconds = new(int64(60))
				in.Pod.Status.StartTime = &metav1.Time{Time: t0.Add(-50 * time.Second)}
			}), []string{"wake +10s"}},
		{"a terminal pod stays stopped", newScenario(always, app).
			with(func(in *Input) { in.Pod.Status.Phase = corev1.PodSucceeded }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plan(Decide(&tt.s.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// status summarises a pod status in one line per part.
func status(st corev1.PodStatus) []string {
	out := []string{strings.TrimSpace("phase " + string(st.Phase) + " " + st.Reason)}
	for _, c := range st.Conditions {
		line := fmt.Sprintf("%s=%s", c.Type, c.Status)
		if c.Reason != "" {
			line += " " + c.Reason
		}
		if c.Message != "" {
			line += ": " + c.Message
		}
		out = append(out, line)
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, st.InitContainerStatuses...), st.ContainerStatuses...) {
		line := fmt.Sprintf("%s restarts=%d ready=%v", cs.Name, cs.RestartCount, cs.Ready)
		switch s := cs.State; {
		case s.Waiting != nil:
			line += " waiting " + s.Waiting.Reason
			if s.Waiting.Message != "" {
				line += ": " + s.Waiting.Message
			}
		case s.Running != nil:
			line += " running"
		case s.Terminated != nil:
			line += fmt.Sprintf(" terminated %s(%d)", s.Terminated.Reason, s.Terminated.ExitCode)
		}
		if lt := cs.LastTerminationState.Terminated; lt != nil {
			line += fmt.Sprintf(" last=%s(%d)", lt.Reason, lt.ExitCode)
		}
		out = append(out, line)
	}
	return out
}

func TestStatus(t *testing.T) {
	always, onFailure, never := corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever
	app := []string{"app"}
	readiness := func(ok bool) func(in *Input) {
		return func(in *Input) {
			in.Pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
			in.Mem.Probes["c1"] = &Probes{Readiness: ProbeResult{Success: ok}, Liveness: ProbeResult{Success: true}}
		}
	}
	tests := []struct {
		name string
		s    *scenario
		want []string
	}{
		{"creating", newScenario(always, app), []string{"phase Pending",
			"PodReadyToStartContainers=False", "Initialized=True",
			"Ready=False ContainersNotReady: containers with unready status: [app]",
			"ContainersReady=False ContainersNotReady: containers with unready status: [app]",
			"app restarts=0 ready=false waiting ContainerCreating"}},
		{"initializing", newScenario(always, app, "i1").sandbox("sb1", 0, true).running("c1", "sb1", "i1", 0, time.Second), []string{"phase Pending",
			"PodReadyToStartContainers=True", "Initialized=False ContainersNotInitialized: containers with incomplete status: [i1]",
			"Ready=False ContainersNotReady: containers with unready status: [app]",
			"ContainersReady=False ContainersNotReady: containers with unready status: [app]",
			"i1 restarts=0 ready=false running", "app restarts=0 ready=false waiting PodInitializing"}},
		{"running and ready", newScenario(always, app, "i1").sandbox("sb1", 0, true).
			exited("c0", "sb1", "i1", 0, 0, time.Minute).running("c1", "sb1", "app", 0, time.Second), []string{"phase Running",
			"PodReadyToStartContainers=True", "Initialized=True", "Ready=True", "ContainersReady=True",
			"i1 restarts=0 ready=true terminated Completed(0)", "app restarts=0 ready=true running"}},
		{"running, readiness probe not passed yet", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Second).with(readiness(false)), []string{"phase Running",
			"PodReadyToStartContainers=True", "Initialized=True",
			"Ready=False ContainersNotReady: containers with unready status: [app]",
			"ContainersReady=False ContainersNotReady: containers with unready status: [app]",
			"app restarts=0 ready=false running"}},
		{"readiness probe passed", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Second).with(readiness(true)), []string{"phase Running",
			"PodReadyToStartContainers=True", "Initialized=True", "Ready=True", "ContainersReady=True",
			"app restarts=0 ready=true running"}},
		{"readiness gate not there yet", newScenario(always, app).sandbox("sb1", 0, true).
			running("c1", "sb1", "app", 0, time.Second).
			with(func(in *Input) {
				in.Pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
			}),
			[]string{"phase Running", "PodReadyToStartContainers=True", "Initialized=True",
				`Ready=False ReadinessGatesNotReady: corresponding condition of pod readiness gate "example.com/lb" does not exist.`,
				"ContainersReady=True", "app restarts=0 ready=true running"}},
		{"crash loop", newScenario(always, app).sandbox("sb1", 0, true).
			exited("c1", "sb1", "app", 0, 1, time.Minute).exited("c2", "sb1", "app", 1, 1, 2*time.Second).
			with(func(in *Input) {
				in.Mem.Restarts["app"] = BackoffEntry{Delay: 10 * time.Second, Last: t0.Add(-3 * time.Second)}
			}),
			[]string{"phase Running", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False ContainersNotReady: containers with unready status: [app]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [app]",
				"app restarts=1 ready=false waiting CrashLoopBackOff: back-off 10s restarting failed container=app pod=p_ns(u1) last=Error(1)"}},
		{"succeeded", newScenario(onFailure, app).sandbox("sb1", 0, true).exited("c1", "sb1", "app", 0, 0, time.Second),
			[]string{"phase Succeeded", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False PodCompleted", "ContainersReady=False PodCompleted", "app restarts=0 ready=false terminated Completed(0)"}},
		{"OOM-killed, Never", newScenario(never, app).sandbox("sb1", 0, true).
			with(func(in *Input) {
				in.Containers = []runtime.Container{{ID: "c1", SandboxID: "sb1", Name: "app", State: runtime.StateExited, ExitCode: 137, Reason: runtime.OOMKilled, StartedAt: t0, FinishedAt: t0}}
			}),
			[]string{"phase Failed", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False PodCompleted", "ContainersReady=False PodCompleted", "app restarts=0 ready=false terminated OOMKilled(137)"}},
		{"one of two failed under Never, the other runs", newScenario(never, []string{"a", "b"}).sandbox("sb1", 0, true).
			exited("c1", "sb1", "a", 0, 2, time.Second).running("c2", "sb1", "b", 0, time.Minute),
			[]string{"phase Running", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False ContainersNotReady: containers with unready status: [a]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [a]",
				"a restarts=0 ready=false terminated Error(2)", "b restarts=0 ready=true running"}},
		{"pull failed, first report", newScenario(always, app).sandbox("sb1", 0, true).
			with(func(in *Input) {
				in.Mem.Failures["app"] = &StartFailure{Reason: ReasonErrImagePull, Message: "not found", Image: "img", At: t0, Backoff: BackoffEntry{Delay: 10 * time.Second, Last: t0}}
			}),
			[]string{"phase Pending", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False ContainersNotReady: containers with unready status: [app]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [app]",
				"app restarts=0 ready=false waiting ErrImagePull: not found"}},
		{"pull failed, backing off", newScenario(always, app).sandbox("sb1", 0, true).
			with(func(in *Input) {
				in.Mem.Failures["app"] = &StartFailure{Reason: ReasonErrImagePull, Message: "not found", Image: "img", At: t0, Backoff: BackoffEntry{Delay: 10 * time.Second, Last: t0}, Reported: true}
			}),
			[]string{"phase Pending", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False ContainersNotReady: containers with unready status: [app]",
				"ContainersReady=False ContainersNotReady: containers with unready status: [app]",
				`app restarts=0 ready=false waiting ImagePullBackOff: Back-off pulling image "img": not found`}},
		{"deadline exceeded", newScenario(always, app).sandbox("sb1", 0, true).running("c1", "sb1", "app", 0, time.Minute).
			with(func(in *Input) {
				in.Pod.Spec.ActiveDeadlineSeconds = new(int64(10))
				in.Pod.Status.StartTime = &metav1.Time{Time: t0.Add(-time.Minute)}
			}),
			[]string{"phase Failed DeadlineExceeded", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False PodCompleted", "ContainersReady=False PodCompleted", "app restarts=0 ready=false running"}},
		{"deleted, stopped by SIGTERM", newScenario(always, app).sandbox("sb1", 0, true).exited("c1", "sb1", "app", 0, 143, time.Second).with(deleting(30)),
			[]string{"phase Failed", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False PodCompleted", "ContainersReady=False PodCompleted", "app restarts=0 ready=false terminated Error(143)"}},
		{"deleted, exited cleanly", newScenario(always, app).sandbox("sb1", 0, true).exited("c1", "sb1", "app", 0, 0, time.Second).with(deleting(30)),
			[]string{"phase Succeeded", "PodReadyToStartContainers=True", "Initialized=True",
				"Ready=False PodCompleted", "ContainersReady=False PodCompleted", "app restarts=0 ready=false terminated Completed(0)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Status(&tt.s.in)
			if diff := cmp.Diff(tt.want, status(st)); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusKeepsWhatItDoesNotOwn(t *testing.T) {
	s := newScenario(corev1.RestartPolicyAlways, []string{"app"}).sandbox("sb1", 0, true).running("c1", "sb1", "app", 0, time.Second)
	old := t0.Add(-time.Hour).Truncate(time.Second)
	s.in.Pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Time{Time: old}},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Time{Time: old}},
		{Type: "example.com/custom", Status: corev1.ConditionFalse},
	}
	s.in.Pod.Status.QOSClass = corev1.PodQOSBestEffort
	s.in.Pod.Status.NominatedNodeName = "n9"
	st := Status(&s.in)
	if st.QOSClass != corev1.PodQOSBestEffort || st.NominatedNodeName != "n9" {
		t.Errorf("fields the node does not own were changed: %+v", st)
	}
	byType := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range st.Conditions {
		byType[c.Type] = c
	}
	if c := byType[corev1.PodReady]; !c.LastTransitionTime.Time.Equal(old) {
		t.Errorf("Ready did not change but its transition time did: %s", c.LastTransitionTime)
	}
	if c := byType[corev1.ContainersReady]; !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("ContainersReady is new, its transition time should be now: %s", c.LastTransitionTime)
	}
	if _, ok := byType["example.com/custom"]; !ok {
		t.Error("a condition the node does not own was dropped")
	}
	if st.PodIP != "10.1.0.2" || st.HostIP != "10.0.0.1" || len(st.PodIPs) != 1 || st.StartTime == nil || st.ObservedGeneration != 1 {
		t.Errorf("ips/start time/generation: %+v", st)
	}
	if cs := st.ContainerStatuses[0]; cs.ContainerID != "sim://c1" || cs.ImageID != "sha256:1" || cs.Started == nil || !*cs.Started {
		t.Errorf("container status: %+v", cs)
	}
	// A terminal pod's status is final.
	s.in.Pod.Status.Phase = corev1.PodFailed
	if diff := cmp.Diff(s.in.Pod.Status, Status(&s.in)); diff != "" {
		t.Errorf("terminal status changed:\n%s", diff)
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{}
	var e BackoffEntry
	at := t0
	var delays []time.Duration
	for range 9 {
		if _, blocked := b.Blocked(e, at, at); blocked && len(delays) == 0 {
			t.Fatal("the first restart is blocked")
		}
		until, _ := b.Blocked(e, at, at)
		start := at
		if until.After(at) {
			start = until
		}
		delays = append(delays, start.Sub(at))
		e = b.Next(e, at, start)
		at = start.Add(time.Second) // runs one second, fails again
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second,
		300 * time.Second, 300 * time.Second, 300 * time.Second}
	if diff := cmp.Diff(want, delays); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	// A container that ran long enough (more than 2×max) starts afresh.
	if _, blocked := b.Blocked(e, at.Add(11*time.Minute), at.Add(11*time.Minute)); blocked {
		t.Error("back-off still applies after 11 minutes")
	}
	if got := b.Next(e, at.Add(11*time.Minute), at.Add(11*time.Minute)).Delay; got != 10*time.Second {
		t.Errorf("delay after a long run = %s, want 10s", got)
	}
}

func TestProbes(t *testing.T) {
	p := &corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, SuccessThreshold: 2, FailureThreshold: 2}
	r := ProbeResult{}
	start := t0
	if got := ProbeDue(p, r, start); !got.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("first attempt due at %s, want after the initial delay", got)
	}
	var seq []bool
	for i, ok := range []bool{true, true, false, false, true} {
		r = ProbeObserve(p, r, ok, t0.Add(time.Duration(i)*2*time.Second))
		seq = append(seq, r.Success)
	}
	if diff := cmp.Diff([]bool{false, true, true, false, false}, seq); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	c := &corev1.Container{StartupProbe: &corev1.Probe{}, LivenessProbe: &corev1.Probe{}, ReadinessProbe: &corev1.Probe{}}
	due, _ := DueProbes(c, NewProbes(), t0, t0)
	if diff := cmp.Diff([]runtime.ProbeKind{runtime.ProbeStartup}, due); diff != "" {
		t.Errorf("before startup succeeds only it runs:\n%s", diff)
	}
	ps := NewProbes()
	ps.Startup.Success = true
	due, _ = DueProbes(c, ps, t0, t0)
	if diff := cmp.Diff([]runtime.ProbeKind{runtime.ProbeLiveness, runtime.ProbeReadiness}, due); diff != "" {
		t.Errorf("after startup:\n%s", diff)
	}
}

// A pod worker decides and computes the status on every sync.
func BenchmarkDecideAndStatus(b *testing.B) {
	s := newScenario(corev1.RestartPolicyAlways, []string{"a", "b"}, "init").sandbox("sb1", 0, true).
		exited("c0", "sb1", "init", 0, 0, time.Hour).running("c1", "sb1", "a", 0, time.Minute).running("c2", "sb1", "b", 3, time.Minute).
		exited("c3", "sb1", "b", 2, 1, 2*time.Minute)
	s.in.Pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
	s.in.Mem.Probes["c1"] = &Probes{Readiness: ProbeResult{Success: true}, Liveness: ProbeResult{Success: true}}
	b.ReportAllocs()
	for b.Loop() {
		p := Decide(&s.in)
		if p.Busy() {
			b.Fatal("busy")
		}
		_ = Status(&s.in)
	}
}
