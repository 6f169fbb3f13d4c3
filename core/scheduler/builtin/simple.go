package builtin

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// SchedulingGates keeps pods with spec.schedulingGates out of the active
// queue until the gates are removed.
type SchedulingGates struct{}

var (
	_ framework.PreEnqueuePlugin  = SchedulingGates{}
	_ framework.EnqueueExtensions = SchedulingGates{}
)

func newSchedulingGates(args any, _ framework.Handle) (framework.Plugin, error) {
	return SchedulingGates{}, noArgs(args)
}

// Name implements framework.Plugin.
func (SchedulingGates) Name() string { return SchedulingGatesName }

// PreEnqueue implements framework.PreEnqueuePlugin.
func (SchedulingGates) PreEnqueue(_ context.Context, pod *framework.PodInfo) *framework.Status {
	gates := pod.Pod.Spec.SchedulingGates
	if len(gates) == 0 {
		return nil
	}
	names := make([]string, len(gates))
	for i, g := range gates {
		names[i] = g.Name
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("waiting for scheduling gates: %v", names))
}

// EventsToRegister implements framework.EnqueueExtensions.
func (SchedulingGates) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.UnscheduledPod, Action: framework.UpdatePodSpec}}
}

// NodeName keeps a pod that names its node (spec.nodeName) to that node.
type NodeName struct{}

var (
	_ framework.PreFilterPlugin   = NodeName{}
	_ framework.FilterPlugin      = NodeName{}
	_ framework.EnqueueExtensions = NodeName{}
)

func newNodeName(args any, _ framework.Handle) (framework.Plugin, error) {
	return NodeName{}, noArgs(args)
}

var errNodeName = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match the requested node name")

// Name implements framework.Plugin.
func (NodeName) Name() string { return NodeNameName }

// PreFilter implements framework.PreFilterPlugin: pods that name no node
// skip the filter.
func (NodeName) PreFilter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	if pod.Pod.Spec.NodeName == "" {
		return nil, skip
	}
	return nil, nil
}

// Filter implements framework.FilterPlugin.
func (NodeName) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	want := pod.Pod.Spec.NodeName
	for i, ni := range nodes {
		if ni.Name() != want {
			statuses[i] = errNodeName
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (NodeName) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add}}
}

// NodeUnschedulable rejects cordoned nodes (spec.unschedulable) for pods
// that do not tolerate the node.kubernetes.io/unschedulable taint.
type NodeUnschedulable struct{}

var (
	_ framework.FilterPlugin      = NodeUnschedulable{}
	_ framework.EnqueueExtensions = NodeUnschedulable{}
)

func newNodeUnschedulable(args any, _ framework.Handle) (framework.Plugin, error) {
	return NodeUnschedulable{}, noArgs(args)
}

var (
	errUnschedulable   = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) were unschedulable")
	unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
)

// Name implements framework.Plugin.
func (NodeUnschedulable) Name() string { return NodeUnschedulableName }

// Filter implements framework.FilterPlugin.
func (NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	tolerates := -1 // unknown until a cordoned node is seen
	for i, ni := range nodes {
		if !ni.Node().Spec.Unschedulable {
			continue
		}
		if tolerates < 0 {
			tolerates = 0
			if tolerated(pod.Pod.Spec.Tolerations, &unschedulableTaint) {
				tolerates = 1
			}
		}
		if tolerates == 0 {
			statuses[i] = errUnschedulable
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (NodeUnschedulable) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeUnschedulable | framework.UpdateNodeTaint}}
}

// NodePorts rejects nodes where a host port the pod asks for is taken.
type NodePorts struct{}

var (
	_ framework.PreFilterPlugin   = NodePorts{}
	_ framework.FilterPlugin      = NodePorts{}
	_ framework.EnqueueExtensions = NodePorts{}
)

func newNodePorts(args any, _ framework.Handle) (framework.Plugin, error) {
	return NodePorts{}, noArgs(args)
}

var errNodePorts = framework.NewStatus(framework.Unschedulable, "node(s) didn't have free ports for the requested pod ports")

// Name implements framework.Plugin.
func (NodePorts) Name() string { return NodePortsName }

// PreFilter implements framework.PreFilterPlugin: pods without host
// ports skip the filter.
func (NodePorts) PreFilter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	if len(pod.HostPorts) == 0 {
		return nil, skip
	}
	return nil, nil
}

// Filter implements framework.FilterPlugin.
func (NodePorts) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	for i, ni := range nodes {
	ports:
		for _, want := range pod.HostPorts {
			for _, used := range ni.UsedPorts {
				if want.Conflicts(used) {
					statuses[i] = errNodePorts
					break ports
				}
			}
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (NodePorts) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPod, Action: framework.Delete},
		{Resource: framework.NodeEvent, Action: framework.Add},
	}
}

// DefaultBinder binds pods through the API server (pods/binding).
type DefaultBinder struct{ h framework.Handle }

var _ framework.BindPlugin = DefaultBinder{}

func newDefaultBinder(args any, h framework.Handle) (framework.Plugin, error) {
	return DefaultBinder{h: h}, noArgs(args)
}

// Name implements framework.Plugin.
func (DefaultBinder) Name() string { return DefaultBinderName }

// Bind implements framework.BindPlugin.
func (b DefaultBinder) Bind(ctx context.Context, _ *framework.CycleState, pod *framework.PodInfo, node string) *framework.Status {
	binder := b.h.Binder()
	if binder == nil {
		return framework.AsStatus(fmt.Errorf("no binder configured"))
	}
	if err := binder.Bind(ctx, pod.Pod.Namespace, pod.Pod.Name, node); err != nil {
		return framework.AsStatus(err)
	}
	return nil
}

// noArgs rejects arguments for plugins that take none (an empty JSON
// object is fine).
func noArgs(args any) error {
	_, err := framework.DecodeArgs(args, struct{}{})
	return err
}
