package builtin

import (
	"context"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// NodeAffinity keeps pods to nodes that match their spec.nodeSelector and
// required node affinity, and prefers nodes that match their preferred
// node affinity terms (the sum of the matching terms' weights).
type NodeAffinity struct{}

var (
	_ framework.PreFilterPlugin   = NodeAffinity{}
	_ framework.FilterPlugin      = NodeAffinity{}
	_ framework.PreScorePlugin    = NodeAffinity{}
	_ framework.ScoreNormalizer   = NodeAffinity{}
	_ framework.EnqueueExtensions = NodeAffinity{}
)

func newNodeAffinity(args any, _ framework.Handle) (framework.Plugin, error) {
	return NodeAffinity{}, noArgs(args)
}

var errNodeAffinity = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match Pod's node affinity/selector")

// Name implements framework.Plugin.
func (NodeAffinity) Name() string { return NodeAffinityName }

// PreFilter implements framework.PreFilterPlugin: pods without a node
// selector skip the filter; pods whose every required term names nodes
// ("metadata.name In") narrow the candidates to them.
func (NodeAffinity) PreFilter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	if pod.NodeSelector.IsEmpty() {
		return nil, skip
	}
	if names, ok := pod.NodeSelector.NodeNames(); ok {
		return &framework.PreFilterResult{NodeNames: names}, nil
	}
	return nil, nil
}

// Filter implements framework.FilterPlugin.
func (NodeAffinity) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	for i, ni := range nodes {
		if !pod.NodeSelector.Matches(ni.Node()) {
			statuses[i] = errNodeAffinity
		}
	}
	return nil
}

// PreScore implements framework.PreScorePlugin: pods without preferred
// terms skip scoring.
func (NodeAffinity) PreScore(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	if len(pod.PreferredNodeTerms) == 0 {
		return skip
	}
	return nil
}

// Score implements framework.ScorePlugin.
func (NodeAffinity) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	for i, ni := range nodes {
		for j := range pod.PreferredNodeTerms {
			if t := &pod.PreferredNodeTerms[j]; t.Matches(ni.Node()) {
				scores[i] += int64(t.Weight)
			}
		}
	}
	return nil
}

// NormalizeScore implements framework.ScoreNormalizer.
func (NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, scores []int64) *framework.Status {
	defaultNormalize(scores, false)
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (NodeAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeLabel}}
}
