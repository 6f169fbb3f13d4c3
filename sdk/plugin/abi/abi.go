package abi

import (
	"encoding/binary"
	"errors"
)

// Version is the ABI version this package speaks. A guest reports the
// version it speaks in its Info; a host refuses versions it does not know.
const Version = 1

// Names of the guest's exports (see docs/abi.md).
const (
	ExportMemory     = "memory"
	ExportInitialize = "_initialize"
	ExportInfo       = "skiff_info"
	ExportBuffer     = "skiff_buffer"
	ExportConfigure  = "skiff_configure"
	ExportFilter     = "skiff_filter"
	ExportScore      = "skiff_score"
)

// Point is an extension point, as it appears in a request and, as a bit
// mask, in Info.Points.
type Point uint32

// Extension points of ABI version 1.
const (
	PointFilter Point = 1
	PointScore  Point = 2
)

func (p Point) String() string {
	switch p {
	case PointFilter:
		return "filter"
	case PointScore:
		return "score"
	}
	return "point?"
}

// Points is a set of extension points (bit 1<<(Point-1)).
type Points uint32

// Has reports whether p is in the set.
func (ps Points) Has(p Point) bool { return p > 0 && ps&(1<<(p-1)) != 0 }

// With adds p to the set.
func (ps Points) With(p Point) Points { return ps | 1<<(p-1) }

// Fields says which optional sections a node record carries. The name,
// flags and (with FieldResources) resources are fixed-size; the others
// cost bytes per node per call, so a plugin declares what it reads and
// the host leaves the rest out. Pod records always carry every field.
type Fields uint32

// Optional sections of a record.
const (
	// FieldLabels: metadata.labels.
	FieldLabels Fields = 1 << iota
	// FieldAnnotations: metadata.annotations.
	FieldAnnotations
	// FieldTaints: a node's spec.taints (a pod's tolerations are always
	// present).
	FieldTaints
	// FieldResources: allocatable, requested, non-zero requested and the
	// pod count.
	FieldResources

	// AllFields is every section.
	AllFields = FieldLabels | FieldAnnotations | FieldTaints | FieldResources
)

// PodFields says which sections of a pod record a plugin reads (Info's
// pod fields word). The host leaves the others empty (zero), so that a
// plugin's answer cannot depend on them, and a host caching answers of a
// pure plugin (InfoPure) keys its cache by the declared sections alone.
type PodFields uint32

// Sections of a pod record.
const (
	// PodIdentity: name, namespace and UID.
	PodIdentity PodFields = 1 << iota
	// PodLabels: metadata.labels.
	PodLabels
	// PodAnnotations: metadata.annotations.
	PodAnnotations
	// PodNodeSelector: spec.nodeSelector.
	PodNodeSelector
	// PodTolerations: spec.tolerations.
	PodTolerations
	// PodRequests: the effective requests and the non-zero cpu and memory.
	PodRequests
	// PodPriority: spec.priority.
	PodPriority

	// AllPodFields is every section.
	AllPodFields = PodIdentity | PodLabels | PodAnnotations | PodNodeSelector | PodTolerations | PodRequests | PodPriority
)

// Code is a node's verdict in a filter response.
type Code uint8

// Verdict codes; numerically equal to the framework's order of severity.
const (
	Pass Code = 0
	// Unschedulable: the node cannot take the pod now; a change on the
	// node (or preemption) might make it fit.
	Unschedulable Code = 1
	// UnschedulableAndUnresolvable: the node cannot take the pod and
	// preempting pods on it would not help.
	UnschedulableAndUnresolvable Code = 2
)

// Verdict is one node's answer in a filter response: the code in the low
// 8 bits, the index of its reason in the response's reason table in the
// upper 24 (ignored for Pass).
type Verdict uint32

// MakeVerdict packs a code and a reason index.
func MakeVerdict(c Code, reason int) Verdict { return Verdict(uint32(c) | uint32(reason)<<8) }

// Code is the verdict's code.
func (v Verdict) Code() Code { return Code(v & 0xff) }

// Reason is the index of the verdict's reason.
func (v Verdict) Reason() int { return int(v >> 8) }

// Effect is a taint's or toleration's effect.
type Effect uint8

// Effects; EffectAll is only for tolerations (an empty effect matches
// every effect), EffectUnknown stands for a value this version does not
// know.
const (
	EffectAll              Effect = 0
	EffectNoSchedule       Effect = 1
	EffectPreferNoSchedule Effect = 2
	EffectNoExecute        Effect = 3
	EffectUnknown          Effect = 0xff
)

var effectNames = [...]string{"", "NoSchedule", "PreferNoSchedule", "NoExecute"}

// ParseEffect maps a Kubernetes effect name to an Effect.
func ParseEffect(s string) Effect {
	for i, n := range effectNames {
		if n == s {
			return Effect(i)
		}
	}
	return EffectUnknown
}

func (e Effect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return "Unknown"
}

// Operator is a toleration's operator.
type Operator uint8

// Operators; an empty operator is Equal, as in Kubernetes.
const (
	OpEqual   Operator = 0
	OpExists  Operator = 1
	OpUnknown Operator = 0xff
)

// ParseOperator maps a Kubernetes toleration operator to an Operator.
func ParseOperator(s string) Operator {
	switch s {
	case "", "Equal":
		return OpEqual
	case "Exists":
		return OpExists
	}
	return OpUnknown
}

func (o Operator) String() string {
	switch o {
	case OpEqual:
		return "Equal"
	case OpExists:
		return "Exists"
	}
	return "Unknown"
}

// Status is the first word of every response but Info's.
const (
	StatusOK    uint32 = 0
	StatusError uint32 = 1
)

// Limits a host enforces on responses.
const (
	// MaxMessage is the longest error message kept (longer ones are cut).
	MaxMessage = 4096
	// MaxReason is the longest reason a filter response may carry.
	MaxReason = 1024
	// MaxScore and MinScore bound a score.
	MaxScore = 100
	MinScore = 0
)

// ErrMalformed is wrapped by every decoding error of a response.
var ErrMalformed = errors.New("abi: malformed response")

var le = binary.LittleEndian
