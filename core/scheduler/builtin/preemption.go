package builtin

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// DefaultPreemption is where preemption will live. It does not evict
// anything yet: for a pod that could only fit by preempting lower-priority
// pods it says so ("preemption: not implemented"), and for a pod that
// preemption could not help (no node rejected it for a reason evictions
// would remove, or no lower-priority pod to evict) it adds nothing to the
// message.
type DefaultPreemption struct{}

var _ framework.PostFilterPlugin = DefaultPreemption{}

func newDefaultPreemption(args any, _ framework.Handle) (framework.Plugin, error) {
	return DefaultPreemption{}, noArgs(args)
}

// Name implements framework.Plugin.
func (DefaultPreemption) Name() string { return DefaultPreemptionName }

// PostFilter implements framework.PostFilterPlugin.
func (DefaultPreemption) PostFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, d *framework.Diagnosis) (*framework.PostFilterResult, *framework.Status) {
	if p := pod.Pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return nil, framework.NewStatus(framework.Unschedulable)
	}
	prio := priority(pod.Pod)
	for name, st := range d.NodeToStatus {
		if st.Code() != framework.Unschedulable {
			continue // evicting pods would not help on this node
		}
		ni := state.Nodes().Get(name)
		if ni == nil {
			continue
		}
		for _, p := range ni.Pods {
			if priority(p.Pod) < prio {
				return nil, framework.NewStatus(framework.Unschedulable, "preemption: not implemented")
			}
		}
	}
	return nil, framework.NewStatus(framework.Unschedulable)
}

// priority is a pod's spec.priority, 0 when unset.
func priority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}
