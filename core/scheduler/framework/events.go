package framework

import (
	"strings"
)

// EventResource is the kind of object a cluster event is about.
type EventResource string

// Event resources.
const (
	// Node events are about Node objects.
	NodeEvent EventResource = "Node"
	// AssignedPod events are about pods bound (or assumed) to a node.
	AssignedPod EventResource = "AssignedPod"
	// UnscheduledPod events are about the pending pod itself.
	UnscheduledPod EventResource = "UnscheduledPod"
	// NamespaceEvent events are about Namespace objects.
	NamespaceEvent EventResource = "Namespace"
	// WildCard matches events of every resource.
	WildCard EventResource = "*"
)

// ActionType is a set of changes, a bit mask.
type ActionType uint32

// Actions. The Update* bits say which part of an object an update
// changed; Update is all of them.
const (
	Add ActionType = 1 << iota
	Delete
	UpdateNodeAllocatable
	UpdateNodeLabel
	UpdateNodeTaint
	UpdateNodeCondition
	UpdateNodeUnschedulable
	UpdatePodLabel
	UpdatePodRequest // resources went down (or changed)
	UpdatePodSpec    // other spec changes (tolerations, affinity, gates)

	Update = UpdateNodeAllocatable | UpdateNodeLabel | UpdateNodeTaint | UpdateNodeCondition |
		UpdateNodeUnschedulable | UpdatePodLabel | UpdatePodRequest | UpdatePodSpec
	All = Add | Delete | Update
)

var actionNames = []struct {
	a    ActionType
	name string
}{
	{Add, "Add"}, {Delete, "Delete"}, {UpdateNodeAllocatable, "UpdateNodeAllocatable"},
	{UpdateNodeLabel, "UpdateNodeLabel"}, {UpdateNodeTaint, "UpdateNodeTaint"},
	{UpdateNodeCondition, "UpdateNodeCondition"}, {UpdateNodeUnschedulable, "UpdateNodeUnschedulable"},
	{UpdatePodLabel, "UpdatePodLabel"}, {UpdatePodRequest, "UpdatePodRequest"}, {UpdatePodSpec, "UpdatePodSpec"},
}

func (a ActionType) String() string {
	if a == All {
		return "All"
	}
	var parts []string
	for _, n := range actionNames {
		if a&n.a != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "None"
	}
	return strings.Join(parts, "|")
}

// ClusterEvent is a change in the cluster: a resource and the actions.
type ClusterEvent struct {
	Resource EventResource
	Action   ActionType
}

func (e ClusterEvent) String() string { return string(e.Resource) + "/" + e.Action.String() }

// Matches reports whether the registered event r covers the event e.
func (r ClusterEvent) Matches(e ClusterEvent) bool {
	return (r.Resource == WildCard || r.Resource == e.Resource) && r.Action&e.Action != 0
}

// Well-known events the scheduler raises.
var (
	EventNodeAdd           = ClusterEvent{NodeEvent, Add}
	EventAssignedPodAdd    = ClusterEvent{AssignedPod, Add}
	EventAssignedPodDelete = ClusterEvent{AssignedPod, Delete}
	// EventUnschedulableTimeout is raised by the queue's periodic flush
	// of pods that waited too long; it matches every registration.
	EventUnschedulableTimeout = ClusterEvent{WildCard, All}
)
