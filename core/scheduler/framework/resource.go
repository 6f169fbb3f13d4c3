package framework

import (
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Defaults for containers that request no cpu or memory, used when
// scoring (as in Kubernetes): a pod that requests nothing still takes room.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of each resource the scheduler accounts for.
// Scalar holds extended resources (example.com/gpu), hugepages and other
// prefixed native resources; it is nil when there are none. A Resource is
// a value; Clone before modifying one that is shared.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	AllowedPodNumber int64
	Scalar           map[corev1.ResourceName]int64
}

// NewResource sums a resource list.
func NewResource(rl corev1.ResourceList) Resource {
	var r Resource
	r.AddList(rl)
	return r
}

// AddList adds a resource list.
func (r *Resource) AddList(rl corev1.ResourceList) {
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case corev1.ResourcePods:
			r.AllowedPodNumber += q.Value()
		default:
			if IsScalarResourceName(name) {
				r.AddScalar(name, q.Value())
			}
		}
	}
}

// AddScalar adds n of the scalar resource name.
func (r *Resource) AddScalar(name corev1.ResourceName, n int64) {
	if r.Scalar == nil {
		r.Scalar = map[corev1.ResourceName]int64{}
	}
	r.Scalar[name] += n
}

// Add adds o to r.
func (r *Resource) Add(o *Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.AllowedPodNumber += o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.AddScalar(k, v)
	}
}

// Sub subtracts o from r.
func (r *Resource) Sub(o *Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.AllowedPodNumber -= o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.AddScalar(k, -v)
	}
}

// SetMax raises each of r's amounts to o's where o's is larger.
func (r *Resource) SetMax(o *Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.AllowedPodNumber = max(r.AllowedPodNumber, o.AllowedPodNumber)
	for k, v := range o.Scalar {
		if v > r.Scalar[k] {
			if r.Scalar == nil {
				r.Scalar = map[corev1.ResourceName]int64{}
			}
			r.Scalar[k] = v
		}
	}
}

// Clone returns a copy that shares nothing with r.
func (r Resource) Clone() Resource {
	r.Scalar = maps.Clone(r.Scalar)
	return r
}

// IsZero is true when r holds no amount of anything.
func (r *Resource) IsZero() bool {
	if r.MilliCPU != 0 || r.Memory != 0 || r.EphemeralStorage != 0 || r.AllowedPodNumber != 0 {
		return false
	}
	for _, v := range r.Scalar {
		if v != 0 {
			return false
		}
	}
	return true
}

// Get returns the amount of name (cpu in millicores).
func (r *Resource) Get(name corev1.ResourceName) int64 {
	switch name {
	case corev1.ResourceCPU:
		return r.MilliCPU
	case corev1.ResourceMemory:
		return r.Memory
	case corev1.ResourceEphemeralStorage:
		return r.EphemeralStorage
	case corev1.ResourcePods:
		return r.AllowedPodNumber
	default:
		return r.Scalar[name]
	}
}

// IsScalarResourceName reports whether name is accounted as a scalar
// resource: an extended resource (a domain-prefixed name outside
// kubernetes.io), a hugepages size, or a kubernetes.io-prefixed native
// resource.
func IsScalarResourceName(name corev1.ResourceName) bool {
	s := string(name)
	switch {
	case strings.HasPrefix(s, corev1.ResourceHugePagesPrefix):
		return true
	case strings.HasPrefix(s, "attachable-volumes-"):
		return true
	case strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix):
		return false
	case strings.Contains(s, "/"):
		return true // extended, or prefixed native (kubernetes.io/...)
	}
	return false
}

// RequestOptions say how PodRequests treats containers.
type RequestOptions struct {
	// NonZero counts a container that sets no cpu (memory) request as
	// requesting DefaultMilliCPURequest (DefaultMemoryRequest), as scoring
	// does. An explicit zero stays zero.
	NonZero bool
}

// PodRequests is what a pod takes from a node while it runs, computed as
// Kubernetes does: the sum of its containers and sidecars (init
// containers with restartPolicy Always), or, when larger, what the
// largest init container needs beside the sidecars started before it;
// plus the pod's overhead. Pod-level requests (spec.resources) replace
// the containers' cpu and memory when set.
func PodRequests(pod *corev1.Pod, opts RequestOptions) Resource {
	var reqs Resource
	for i := range pod.Spec.Containers {
		reqs.Add(ptr(containerRequests(&pod.Spec.Containers[i], opts)))
	}
	var sidecars, initMax Resource
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cr := containerRequests(c, opts)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// A sidecar runs beside the regular containers and every
			// init container started after it.
			reqs.Add(&cr)
			sidecars.Add(&cr)
			cr = sidecars.Clone()
		} else {
			cr.Add(&sidecars)
		}
		initMax.SetMax(&cr)
	}
	reqs.SetMax(&initMax)
	if pr := pod.Spec.Resources; pr != nil {
		if q, ok := pr.Requests[corev1.ResourceCPU]; ok {
			reqs.MilliCPU = q.MilliValue()
		}
		if q, ok := pr.Requests[corev1.ResourceMemory]; ok {
			reqs.Memory = q.Value()
		}
	}
	if pod.Spec.Overhead != nil {
		reqs.AddList(pod.Spec.Overhead)
	}
	return reqs
}

func containerRequests(c *corev1.Container, opts RequestOptions) Resource {
	r := NewResource(c.Resources.Requests)
	if opts.NonZero {
		if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
			r.MilliCPU = DefaultMilliCPURequest
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			r.Memory = DefaultMemoryRequest
		}
	}
	return r
}

func ptr[T any](v T) *T { return &v }
