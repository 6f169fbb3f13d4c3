package framework

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Diagnosis says why no node fits a pod.
type Diagnosis struct {
	// NodeToStatus holds each rejected node's status (the first plugin
	// that rejected it).
	NodeToStatus map[string]*Status
	// UnschedulablePlugins are the plugins that rejected the pod on at
	// least one node (or in PreFilter).
	UnschedulablePlugins map[string]struct{}
	// PreFilterMsg is set when a PreFilter plugin rejected the pod
	// outright; the per-node statuses then all carry it.
	PreFilterMsg string
	// PostFilterMsg is what PostFilter (preemption) had to say.
	PostFilterMsg string
	// Rejected, when the cycle recorded scores (ScheduleOptions), names
	// the Filter plugin that rejected each node.
	Rejected []NodeRejection
	// NominatedNodeName and Victims are what a PostFilter plugin
	// (preemption) decided: the pod should go to NominatedNodeName once
	// Victims are gone.
	NominatedNodeName string
	Victims           []*corev1.Pod
	// ClearNomination, never with NominatedNodeName, says that a
	// PostFilter plugin found the pod's nomination no longer holds (see
	// PostFilterResult).
	ClearNomination bool
}

// FitError is returned when no node can take a pod.
type FitError struct {
	Pod         *corev1.Pod
	NumAllNodes int
	Diagnosis   Diagnosis
}

// NoNodesMessage is the message for a cluster without nodes.
const NoNodesMessage = "no nodes available to schedule pods"

// Error is the Kubernetes message: "0/5 nodes are available: 3
// Insufficient cpu, 2 node(s) had untolerated taint {key: value}." with
// reasons counted per node and sorted as strings, then PostFilter's
// message.
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return NoNodesMessage
	}
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", e.NumAllNodes)
	if e.Diagnosis.PreFilterMsg != "" {
		fmt.Fprintf(&b, " %s.", e.Diagnosis.PreFilterMsg)
	} else if hist := e.Histogram(); len(hist) > 0 {
		fmt.Fprintf(&b, " %s.", strings.Join(hist, ", "))
	}
	if e.Diagnosis.PostFilterMsg != "" {
		fmt.Fprintf(&b, " %s.", strings.TrimSuffix(e.Diagnosis.PostFilterMsg, "."))
	}
	return b.String()
}

// Histogram counts the rejected nodes per reason, as "3 Insufficient
// cpu", sorted as strings (as Kubernetes does).
func (e *FitError) Histogram() []string {
	counts := map[string]int{}
	for _, st := range e.Diagnosis.NodeToStatus {
		for _, r := range st.Reasons() {
			counts[r]++
		}
	}
	out := make([]string, 0, len(counts))
	for r, n := range counts {
		out = append(out, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(out)
	return out
}
