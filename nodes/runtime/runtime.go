package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors callers branch on.
var (
	// ErrNotFound: the sandbox, container or image named does not exist.
	ErrNotFound = errors.New("runtime: not found")
	// ErrImagePull: the image could not be pulled (unreachable registry,
	// unknown image, refused credentials). The agent retries with back-off.
	ErrImagePull = errors.New("runtime: image pull failed")
	// ErrUnsupported: the runtime cannot do this operation at all.
	ErrUnsupported = errors.New("runtime: operation not supported")
)

// Runtime runs pods' sandboxes and containers on one node. See the package
// documentation for ownership, errors and concurrency.
type Runtime interface {
	// Info reports the runtime's identity. An error means the runtime
	// cannot serve now; the node reports itself NotReady meanwhile.
	Info(ctx context.Context) (Info, error)

	// ImageStatus reports whether image is present in the runtime's
	// store; ok is false (and err nil) when it is not.
	ImageStatus(ctx context.Context, image string) (img Image, ok bool, err error)
	// PullImage brings image into the runtime's store for use by the
	// given sandbox (whose configuration may carry what the pull needs,
	// such as credentials or a namespace). A failure wraps ErrImagePull.
	PullImage(ctx context.Context, sandboxID, image string) (Image, error)

	// RunSandbox creates a pod's sandbox (its network namespace and
	// shared resources) and returns it ready. Each call creates a new
	// sandbox; the agent finds existing ones with ListSandboxes.
	RunSandbox(ctx context.Context, cfg SandboxConfig) (Sandbox, error)
	// StopSandbox kills whatever still runs in the sandbox (SIGKILL) and
	// releases its network; the sandbox and its containers stay listed,
	// not ready, until RemoveSandbox. Stopping a stopped sandbox is a
	// no-op.
	StopSandbox(ctx context.Context, id string) error
	// RemoveSandbox stops the sandbox if needed and removes it with all
	// of its containers (and their logs, if the runtime wrote them).
	RemoveSandbox(ctx context.Context, id string) error
	// ListSandboxes returns the sandboxes whose labels include every
	// key/value of match (nil: all).
	ListSandboxes(ctx context.Context, match map[string]string) ([]Sandbox, error)

	// CreateContainer creates a container in a sandbox, from an image
	// already present. It does not start it.
	CreateContainer(ctx context.Context, sandboxID string, cfg ContainerConfig) (Container, error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, id string) error
	// KillContainer sends sig to the container's main process. Killing a
	// container that is not running is a no-op. Escalation (SIGTERM, a
	// grace period, SIGKILL) is the agent's business.
	KillContainer(ctx context.Context, id string, sig Signal) error
	// RemoveContainer removes a container that is not running.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers returns the containers whose labels include every
	// key/value of match (nil: all), in every sandbox.
	ListContainers(ctx context.Context, match map[string]string) ([]Container, error)

	// Exec runs a command in a running container and returns its exit
	// code. A command that cannot be started at all (missing binary) is
	// exit code 126 or 127, as a shell reports it, not an error.
	Exec(ctx context.Context, containerID string, req ExecRequest) (exitCode int, err error)

	// Events calls fn for every change of a container's or sandbox's
	// state until ctx ends, then returns nil (or an error if the runtime
	// cannot deliver events). Events are hints: the agent reads the state
	// again with the List calls, so a runtime may coalesce them, but it
	// must not miss a container's exit. fn must not block.
	Events(ctx context.Context, fn func(Event)) error
}

// Prober is implemented by runtimes whose containers the agent cannot
// reach the way probes expect (no network, no processes): the simulated
// runtime. When the runtime implements it, the agent asks it for each probe
// attempt instead of running exec, HTTP or TCP checks itself.
type Prober interface {
	// Probe makes one attempt of a probe of kind on a running container
	// and reports whether it succeeded.
	Probe(ctx context.Context, containerID string, kind ProbeKind) (ok bool, err error)
}

// ProbeKind says which of a container's probes an attempt is for.
type ProbeKind string

// Probe kinds, as in the Kubernetes API.
const (
	ProbeStartup   ProbeKind = "startup"
	ProbeReadiness ProbeKind = "readiness"
	ProbeLiveness  ProbeKind = "liveness"
)

// Signal is a POSIX signal number.
type Signal int

// The signals the agent sends.
const (
	SIGKILL Signal = 9
	SIGTERM Signal = 15
)

// Info identifies a runtime.
type Info struct {
	// Name is the scheme of container IDs in pod status
	// ("containerd", "simulated").
	Name string
	// Version is the runtime's version.
	Version string
}

// Image is an image in a runtime's store.
type Image struct {
	// Ref is what the pull was asked for.
	Ref string
	// ID is the image's digest-qualified identity, reported as imageID.
	ID string
}

// SandboxConfig describes a pod's sandbox.
type SandboxConfig struct {
	// Name, Namespace and UID identify the pod.
	Name, Namespace, UID string
	// Attempt counts the sandboxes created for the pod before this one.
	Attempt int
	// Hostname is the pod's host name inside the sandbox.
	Hostname string
	// HostNetwork: the containers use the node's network namespace.
	HostNetwork bool
	// Ports are the pod's container ports, with host ports to map.
	Ports []PortMapping
	// LogDir is where the agent puts this pod's container logs; "" when
	// logs are not kept.
	LogDir string
	// Labels are the agent's, kept verbatim for ListSandboxes.
	Labels map[string]string
	// Annotations are the pod's annotations, which a runtime may read
	// (the simulated runtime reads its script from them).
	Annotations map[string]string
}

// PortMapping maps a host port to a container port.
type PortMapping struct {
	Protocol      string // "TCP", "UDP" or "SCTP"
	ContainerPort int32
	HostPort      int32 // 0: not mapped
	HostIP        string
}

// SandboxState is a sandbox's state.
type SandboxState string

// Sandbox states.
const (
	SandboxReady    SandboxState = "ready"
	SandboxNotReady SandboxState = "notready"
)

// Sandbox is a pod's sandbox as the runtime reports it.
type Sandbox struct {
	ID        string
	Attempt   int
	State     SandboxState
	IP        string // "" for host network or when the runtime has no network
	CreatedAt time.Time
	Labels    map[string]string
}

// ContainerConfig describes a container to create.
type ContainerConfig struct {
	// Name is the container's name in the pod spec.
	Name string
	// Attempt counts the earlier containers of this name in the pod; it is
	// the restart count reported once this one runs.
	Attempt int
	// Image is a reference present in the runtime's store.
	Image string
	// Command and Args are the Kubernetes entrypoint override and
	// arguments (nil: the image's).
	Command, Args []string
	// Env is the resolved environment, in order.
	Env []EnvVar
	// WorkingDir overrides the image's working directory when not "".
	WorkingDir string
	// Mounts are host paths made visible in the container.
	Mounts []Mount
	// Resources are the limits to enforce.
	Resources Resources
	// LogPath is the file the container's output goes to; "" when logs
	// are not kept. The runtime (its shim) writes it so that it outlives
	// the agent; the agent reads it.
	LogPath string
	// TTY and Stdin as in the pod spec.
	TTY, Stdin bool
	// Labels are the agent's, kept verbatim for ListContainers.
	Labels map[string]string
}

// EnvVar is one environment variable.
type EnvVar struct{ Name, Value string }

// Mount is a host path made visible in a container.
type Mount struct {
	HostPath, ContainerPath string
	ReadOnly                bool
}

// Resources are a container's cgroup limits; zero fields are unlimited.
type Resources struct {
	CPUShares      uint64 // relative weight (cgroup v1 shares)
	CPUQuota       int64  // microseconds per CPUPeriod
	CPUPeriod      uint64 // microseconds
	MemoryLimit    int64  // bytes
	OOMScoreAdjust int
}

// ContainerState is a container's state.
type ContainerState string

// Container states.
const (
	StateCreated ContainerState = "created"
	StateRunning ContainerState = "running"
	StateExited  ContainerState = "exited"
	StateUnknown ContainerState = "unknown"
)

// Container is a container as the runtime reports it.
type Container struct {
	ID        string
	SandboxID string
	Name      string
	Attempt   int
	Image     string // the reference it was created from
	ImageID   string
	State     ContainerState
	CreatedAt time.Time
	// StartedAt is set once it ran; FinishedAt, ExitCode, Reason and
	// Message once it exited.
	StartedAt, FinishedAt time.Time
	ExitCode              int
	// Reason is "OOMKilled" when the kernel killed it for memory, else ""
	// (the agent reports Completed or Error from the exit code).
	Reason  string
	Message string
	Labels  map[string]string
}

// ExecRequest is a command to run in a container.
type ExecRequest struct {
	Cmd            []string
	Stdin          io.Reader // nil: no input
	Stdout, Stderr io.Writer // nil: discarded
	TTY            bool
	// Size is a TTY exec's terminal size at the start (zero: the
	// runtime's default); Resize, if set, delivers its changes, and the
	// runtime stops reading it when the command ends. A runtime without
	// terminals ignores both.
	Size   TerminalSize
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct{ Width, Height uint16 }

// EventType says what an Event is about.
type EventType string

// Event types.
const (
	ContainerStarted EventType = "container-started"
	ContainerExited  EventType = "container-exited"
	SandboxChanged   EventType = "sandbox-changed"
)

// Event is a change in a runtime. Labels are those of the sandbox or
// container concerned, so that the agent can route it to its pod.
type Event struct {
	Type        EventType
	SandboxID   string
	ContainerID string
	Labels      map[string]string
}

// OOMKilled is the Reason of a container the kernel killed for memory.
const OOMKilled = "OOMKilled"

// Labels the agent puts on every sandbox and container it creates. A
// runtime keeps them like any other label; the simulated runtime also reads
// LabelContainerKind to give init containers a sensible default behaviour.
const (
	LabelPodUID        = "skiff.dev/pod-uid"
	LabelPodName       = "skiff.dev/pod-name"
	LabelPodNamespace  = "skiff.dev/pod-namespace"
	LabelContainerName = "skiff.dev/container-name"
	// LabelContainerKind is KindInit or KindApp.
	LabelContainerKind = "skiff.dev/container-kind"
)

// Values of LabelContainerKind.
const (
	KindInit = "init"
	KindApp  = "app"
)
