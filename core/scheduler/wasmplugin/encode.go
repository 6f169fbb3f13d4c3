package wasmplugin

import (
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// nodeOf fills n from ni.
func nodeOf(ni *framework.NodeInfo, n *abi.Node) {
	node := ni.Node()
	n.Name = ni.Name()
	if node != nil {
		n.Labels, n.Annotations = node.Labels, node.Annotations
		n.Unschedulable = node.Spec.Unschedulable
		for _, t := range node.Spec.Taints {
			n.Taints = append(n.Taints, abi.Taint{Key: t.Key, Value: t.Value, Effect: abi.ParseEffect(string(t.Effect))})
		}
	}
	n.Allocatable = resourcesOf(&ni.Allocatable)
	n.Requested = resourcesOf(&ni.Requested)
	n.NonZeroMilliCPU, n.NonZeroMemory = ni.NonZeroRequested.MilliCPU, ni.NonZeroRequested.Memory
	n.Pods = int64(len(ni.Pods))
}

// podOf fills p from pi.
func podOf(pi *framework.PodInfo, p *abi.Pod) {
	pod := pi.Pod
	p.Name, p.Namespace, p.UID = pod.Name, pod.Namespace, string(pod.UID)
	p.Priority = framework.PodPriority(pod)
	p.Labels, p.Annotations, p.NodeSelector = pod.Labels, pod.Annotations, pod.Spec.NodeSelector
	for _, t := range pod.Spec.Tolerations {
		p.Tolerations = append(p.Tolerations, abi.Toleration{Key: t.Key, Value: t.Value,
			Operator: abi.ParseOperator(string(t.Operator)), Effect: abi.ParseEffect(string(t.Effect))})
	}
	p.Requests = resourcesOf(&pi.Requests)
	p.NonZeroMilliCPU, p.NonZeroMemory = pi.NonZeroMilliCPU, pi.NonZeroMemory
}

func resourcesOf(r *framework.Resource) abi.Resources {
	out := abi.Resources{MilliCPU: r.MilliCPU, Memory: r.Memory, EphemeralStorage: r.EphemeralStorage, Pods: r.AllowedPodNumber}
	for name, v := range r.Scalar {
		out.Scalars = append(out.Scalars, abi.Scalar{Name: string(name), Value: v})
	}
	return out
}
