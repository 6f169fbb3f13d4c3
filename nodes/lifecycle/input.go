package lifecycle

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Memory is what the agent remembers about one pod between syncs, beside
// what the runtime reports. It is lost when the agent restarts (so are the
// kubelet's back-offs); nothing in it is needed to re-adopt a pod.
type Memory struct {
	// StartTime is when the agent first saw the pod.
	StartTime time.Time
	// Restarts holds the restart back-off per container name.
	Restarts map[string]BackoffEntry
	// Failures holds the last failure to start each container (image
	// pull, create or start), by container name, until one succeeds.
	Failures map[string]*StartFailure
	// Kills holds the signals sent per container ID.
	Kills map[string]KillState
	// Probes holds each running container's probe state, by container ID.
	Probes map[string]*Probes
}

// NewMemory returns an empty Memory for a pod first seen at now.
func NewMemory(now time.Time) *Memory {
	return &Memory{
		StartTime: now,
		Restarts:  map[string]BackoffEntry{},
		Failures:  map[string]*StartFailure{},
		Kills:     map[string]KillState{},
		Probes:    map[string]*Probes{},
	}
}

// StartFailure is a failure to bring a container up.
type StartFailure struct {
	// Reason is the waiting reason it shows as: ErrImagePull,
	// ErrImageNeverPull, InvalidImageName, CreateContainerError or
	// RunContainerError.
	Reason  string
	Message string
	Image   string
	At      time.Time
	// Backoff applies to the next attempt (the image pull back-off for
	// pull failures, the restart back-off otherwise).
	Backoff BackoffEntry
	// Reported is set once a status showing Reason was written; later
	// ones show the back-off (ImagePullBackOff) while it lasts.
	Reported bool
}

// KillState records the signals sent to one container.
type KillState struct {
	TermAt, KillAt time.Time
	// Grace is the grace period SIGTERM was sent with.
	Grace time.Duration
}

// Waiting reasons and other reasons the agent reports, as the kubelet's.
const (
	ReasonContainerCreating    = "ContainerCreating"
	ReasonPodInitializing      = "PodInitializing"
	ReasonCrashLoopBackOff     = "CrashLoopBackOff"
	ReasonErrImagePull         = "ErrImagePull"
	ReasonImagePullBackOff     = "ImagePullBackOff"
	ReasonErrImageNeverPull    = "ErrImageNeverPull"
	ReasonInvalidImageName     = "InvalidImageName"
	ReasonCreateContainerError = "CreateContainerError"
	ReasonRunContainerError    = "RunContainerError"
	ReasonCompleted            = "Completed"
	ReasonError                = "Error"
	ReasonOOMKilled            = runtime.OOMKilled
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonContainersNotReady   = "ContainersNotReady"
	ReasonContainersNotInit    = "ContainersNotInitialized"
	ReasonPodCompleted         = "PodCompleted"
	ReasonReadinessGates       = "ReadinessGatesNotReady"
)

// Input is everything a decision looks at.
type Input struct {
	// Pod is the pod's latest known state.
	Pod *corev1.Pod
	// Gone: the pod no longer exists in the API (Pod is its last state).
	Gone bool
	// Sandboxes and Containers are what the runtime holds for the pod.
	Sandboxes  []runtime.Sandbox
	Containers []runtime.Container
	// Mem is the agent's memory of the pod; Decide and Status only read it.
	Mem *Memory
	// Now is the decision's time.
	Now time.Time
	// Backoff is the restart back-off, PullBackoff the image pull one.
	Backoff, PullBackoff Backoff
	// RuntimeName prefixes container IDs in the status ("simulated://…").
	RuntimeName string
	// HostIP is the node's address.
	HostIP string
}

// view indexes what the runtime reports for one pod.
type view struct {
	in *Input
	// sandbox is the newest sandbox (nil: none); old are the others.
	sandbox *runtime.Sandbox
	old     []runtime.Sandbox
	// current holds, per container name, the newest container of the
	// newest sandbox; latest the newest of any sandbox; previous the one
	// before latest.
	current, latest, previous map[string]*runtime.Container
	byName                    map[string][]*runtime.Container // attempts ascending
}

func newView(in *Input) *view {
	v := &view{in: in, current: map[string]*runtime.Container{}, latest: map[string]*runtime.Container{},
		previous: map[string]*runtime.Container{}, byName: map[string][]*runtime.Container{}}
	sbs := slices.Clone(in.Sandboxes)
	slices.SortStableFunc(sbs, func(a, b runtime.Sandbox) int {
		if a.Attempt != b.Attempt {
			return a.Attempt - b.Attempt
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	if n := len(sbs); n > 0 {
		v.sandbox = &sbs[n-1]
		v.old = sbs[:n-1]
	}
	for i := range in.Containers {
		c := &in.Containers[i]
		v.byName[c.Name] = append(v.byName[c.Name], c)
	}
	for name, cs := range v.byName {
		slices.SortStableFunc(cs, func(a, b *runtime.Container) int {
			if a.Attempt != b.Attempt {
				return a.Attempt - b.Attempt
			}
			return a.CreatedAt.Compare(b.CreatedAt)
		})
		v.latest[name] = cs[len(cs)-1]
		if len(cs) > 1 {
			v.previous[name] = cs[len(cs)-2]
		}
		if v.sandbox != nil {
			for _, c := range slices.Backward(cs) {
				if c.SandboxID == v.sandbox.ID {
					v.current[name] = c
					break
				}
			}
		}
	}
	return v
}

// sandboxReady reports whether the newest sandbox is ready.
func (v *view) sandboxReady() bool {
	return v.sandbox != nil && v.sandbox.State == runtime.SandboxReady
}

// running lists every container of the pod that still runs (or may).
func (v *view) running() []*runtime.Container {
	var out []*runtime.Container
	for i := range v.in.Containers {
		c := &v.in.Containers[i]
		if c.State == runtime.StateRunning || c.State == runtime.StateUnknown {
			out = append(out, c)
		}
	}
	return out
}

// nextAttempt is the attempt number of the next container called name.
func (v *view) nextAttempt(name string) int {
	if c := v.latest[name]; c != nil {
		return c.Attempt + 1
	}
	return 0
}

// shouldRestart reports whether an exited container is restarted under
// the pod's restart policy.
func shouldRestart(policy corev1.RestartPolicy, exitCode int) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// terminationGrace is the pod's terminationGracePeriodSeconds (default 30).
func terminationGrace(pod *corev1.Pod) time.Duration {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return corev1.DefaultTerminationGracePeriodSeconds * time.Second
}

// deadlineExceeded reports whether the pod has outlived its
// activeDeadlineSeconds.
func deadlineExceeded(in *Input) bool {
	at, ok := deadline(in)
	return ok && !in.Now.Before(at)
}

// deadline is when the pod's activeDeadlineSeconds runs out, counted from
// its start time.
func deadline(in *Input) (time.Time, bool) {
	d := in.Pod.Spec.ActiveDeadlineSeconds
	if d == nil {
		return time.Time{}, false
	}
	start := in.Mem.StartTime
	if st := in.Pod.Status.StartTime; st != nil {
		start = st.Time
	}
	return start.Add(time.Duration(*d) * time.Second), true
}

func terminalPhase(p corev1.PodPhase) bool {
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}
