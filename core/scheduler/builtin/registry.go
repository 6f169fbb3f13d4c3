package builtin

import (
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// Names of the built-in plugins, as in Kubernetes.
const (
	SchedulingGatesName    = "SchedulingGates"
	NodeNameName           = "NodeName"
	NodeUnschedulableName  = "NodeUnschedulable"
	TaintTolerationName    = "TaintToleration"
	NodeAffinityName       = "NodeAffinity"
	NodePortsName          = "NodePorts"
	NodeResourcesFitName   = "NodeResourcesFit"
	PodTopologySpreadName  = "PodTopologySpread"
	InterPodAffinityName   = "InterPodAffinity"
	DefaultPreemptionName  = "DefaultPreemption"
	BalancedAllocationName = "NodeResourcesBalancedAllocation"
	ImageLocalityName      = "ImageLocality"
	DefaultBinderName      = "DefaultBinder"
	DefaultSchedulerName   = "default-scheduler"
)

// Registry returns the factories of every built-in plugin.
func Registry() framework.Registry {
	return framework.Registry{
		SchedulingGatesName:    newSchedulingGates,
		NodeNameName:           newNodeName,
		NodeUnschedulableName:  newNodeUnschedulable,
		TaintTolerationName:    newTaintToleration,
		NodeAffinityName:       newNodeAffinity,
		NodePortsName:          newNodePorts,
		NodeResourcesFitName:   newFit,
		PodTopologySpreadName:  newPodTopologySpread,
		InterPodAffinityName:   newInterPodAffinity,
		DefaultPreemptionName:  newDefaultPreemption,
		BalancedAllocationName: newBalancedAllocation,
		ImageLocalityName:      newImageLocality,
		DefaultBinderName:      newDefaultBinder,
	}
}

// DefaultPlugins are the plugins of the default profile, in
// kube-scheduler's order and with its score weights (v1.37, without the
// volume and device plugins, which Skiff does not have yet).
func DefaultPlugins() []framework.PluginConfig {
	return []framework.PluginConfig{
		{Name: SchedulingGatesName},
		{Name: NodeNameName},
		{Name: NodeUnschedulableName},
		{Name: TaintTolerationName, Weight: 3},
		{Name: NodeAffinityName, Weight: 2},
		{Name: NodePortsName},
		{Name: NodeResourcesFitName, Weight: 1},
		{Name: PodTopologySpreadName, Weight: 2},
		{Name: InterPodAffinityName, Weight: 2},
		{Name: DefaultPreemptionName},
		{Name: BalancedAllocationName, Weight: 1},
		{Name: ImageLocalityName, Weight: 1},
		{Name: DefaultBinderName},
	}
}

// DefaultProfile is the profile pods get with schedulerName
// "default-scheduler" (the API server's default).
func DefaultProfile() framework.Profile {
	return framework.Profile{SchedulerName: DefaultSchedulerName, Plugins: DefaultPlugins()}
}

// skip is the Skip status plugins return when they have nothing to do for
// a pod (shared: statuses are immutable).
var skip = framework.NewStatus(framework.Skip)
