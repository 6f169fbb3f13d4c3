package builtin

import (
	"context"
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// InterPodAffinityArgs are InterPodAffinity's arguments (Kubernetes').
type InterPodAffinityArgs struct {
	// HardPodAffinityWeight is the score an existing pod's required
	// affinity term gives the nodes of its domain when it selects the
	// incoming pod (0-100, default 1).
	HardPodAffinityWeight *int32 `json:"hardPodAffinityWeight,omitempty"`
	// IgnorePreferredTermsOfExistingPods skips scoring for pods that have
	// no preferred terms of their own.
	IgnorePreferredTermsOfExistingPods bool `json:"ignorePreferredTermsOfExistingPods,omitempty"`
}

// InterPodAffinity enforces required pod affinity and anti-affinity (the
// incoming pod's, and the anti-affinity of the pods already placed) and
// scores nodes by preferred terms, both ways, per topology domain.
type InterPodAffinity struct {
	hardWeight     int64
	ignoreExisting bool
}

var (
	_ framework.PreFilterPlugin   = (*InterPodAffinity)(nil)
	_ framework.FilterPlugin      = (*InterPodAffinity)(nil)
	_ framework.PreScorePlugin    = (*InterPodAffinity)(nil)
	_ framework.ScoreNormalizer   = (*InterPodAffinity)(nil)
	_ framework.EnqueueExtensions = (*InterPodAffinity)(nil)
)

func newInterPodAffinity(args any, _ framework.Handle) (framework.Plugin, error) {
	a, err := framework.DecodeArgs(args, InterPodAffinityArgs{})
	if err != nil {
		return nil, err
	}
	w := int32(1)
	if a.HardPodAffinityWeight != nil {
		w = *a.HardPodAffinityWeight
	}
	if w < 0 || w > 100 {
		return nil, fmt.Errorf("hardPodAffinityWeight %d is not in [0, 100]", w)
	}
	return &InterPodAffinity{hardWeight: int64(w), ignoreExisting: a.IgnorePreferredTermsOfExistingPods}, nil
}

var (
	errAffinity         = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match pod affinity rules")
	errAntiAffinity     = framework.NewStatus(framework.Unschedulable, "node(s) didn't match pod anti-affinity rules")
	errExistingAntiAffi = framework.NewStatus(framework.Unschedulable, "node(s) didn't satisfy existing pods anti-affinity rules")
)

const (
	affinityFilterKey framework.StateKey = InterPodAffinityName + "/prefilter"
	affinityScoreKey  framework.StateKey = InterPodAffinityName + "/prescore"
)

// Name implements framework.Plugin.
func (*InterPodAffinity) Name() string { return InterPodAffinityName }

// topologyPair is a domain: a topology key and one of its values.
type topologyPair struct{ key, value string }

type pairCounts map[topologyPair]int64

func (m pairCounts) add(node *corev1.Node, key string, n int64) {
	if v, ok := node.Labels[key]; ok {
		m[topologyPair{key, v}] += n
	}
}

type affinityFilterState struct {
	// existingAnti counts, per domain, the existing pods whose required
	// anti-affinity selects the incoming pod.
	existingAnti pairCounts
	// affinity counts, per domain of each of the pod's required affinity
	// terms, the existing pods that match all of them; anti the existing
	// pods each anti-affinity term selects.
	affinity, anti pairCounts
}

// Clone implements framework.StateData.
func (s *affinityFilterState) Clone() framework.StateData { return s }

// PreFilter implements framework.PreFilterPlugin.
func (pl *InterPodAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, all []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	if pod.ParseErr != nil && (len(pod.RequiredAffinity) > 0 || len(pod.RequiredAntiAffinity) > 0) {
		return nil, framework.AsStatus(fmt.Errorf("parse pod affinity: %w", pod.ParseErr))
	}
	lister := state.Nodes()
	own := len(pod.RequiredAffinity) > 0 || len(pod.RequiredAntiAffinity) > 0
	if !own && len(lister.WithRequiredAntiAffinity()) == 0 {
		return nil, skip
	}
	s := &affinityFilterState{existingAnti: pairCounts{}, affinity: pairCounts{}, anti: pairCounts{}}
	nsLabels := lister.NamespaceLabels(pod.Pod.Namespace)
	for _, ni := range lister.WithRequiredAntiAffinity() {
		node := ni.Node()
		for _, existing := range ni.PodsWithRequiredAntiAffinity {
			for i := range existing.RequiredAntiAffinity {
				t := &existing.RequiredAntiAffinity[i]
				if t.Matches(pod, nsLabels) {
					s.existingAnti.add(node, t.TopologyKey, 1)
				}
			}
		}
	}
	if !own {
		if len(s.existingAnti) == 0 {
			return nil, skip
		}
	} else {
		for _, ni := range all {
			node := ni.Node()
			for _, existing := range ni.Pods {
				el := lister.NamespaceLabels(existing.Namespace)
				if len(pod.RequiredAffinity) > 0 && matchesAll(pod.RequiredAffinity, existing, el) {
					for i := range pod.RequiredAffinity {
						s.affinity.add(node, pod.RequiredAffinity[i].TopologyKey, 1)
					}
				}
				for i := range pod.RequiredAntiAffinity {
					if t := &pod.RequiredAntiAffinity[i]; t.Matches(existing, el) {
						s.anti.add(node, t.TopologyKey, 1)
					}
				}
			}
		}
	}
	state.Write(affinityFilterKey, s)
	return nil, nil
}

func matchesAll(terms []framework.AffinityTerm, pod *framework.PodInfo, nsLabels labels.Set) bool {
	for i := range terms {
		if !terms[i].Matches(pod, nsLabels) {
			return false
		}
	}
	return true
}

// Filter implements framework.FilterPlugin.
func (pl *InterPodAffinity) Filter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	s, err := framework.ReadAs[*affinityFilterState](state, affinityFilterKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	// The first pod of a group that has affinity to itself may go where
	// its topology keys are, when no pod matches its terms yet.
	selfOK := len(s.affinity) == 0 && matchesAll(pod.RequiredAffinity, pod, state.Nodes().NamespaceLabels(pod.Pod.Namespace))
	for j, ni := range nodes {
		node := ni.Node()
		switch {
		case !satisfiesAffinity(pod, s, node, selfOK):
			statuses[j] = errAffinity
		case !satisfiesAnti(pod, s, node):
			statuses[j] = errAntiAffinity
		case !satisfiesExistingAnti(s, node):
			statuses[j] = errExistingAntiAffi
		}
	}
	return nil
}

func satisfiesAffinity(pod *framework.PodInfo, s *affinityFilterState, node *corev1.Node, selfOK bool) bool {
	exist := true
	for i := range pod.RequiredAffinity {
		t := &pod.RequiredAffinity[i]
		v, ok := node.Labels[t.TopologyKey]
		if !ok {
			return false
		}
		if s.affinity[topologyPair{t.TopologyKey, v}] <= 0 {
			exist = false
		}
	}
	return exist || selfOK
}

func satisfiesAnti(pod *framework.PodInfo, s *affinityFilterState, node *corev1.Node) bool {
	if len(s.anti) == 0 {
		return true
	}
	for i := range pod.RequiredAntiAffinity {
		t := &pod.RequiredAntiAffinity[i]
		if v, ok := node.Labels[t.TopologyKey]; ok && s.anti[topologyPair{t.TopologyKey, v}] > 0 {
			return false
		}
	}
	return true
}

func satisfiesExistingAnti(s *affinityFilterState, node *corev1.Node) bool {
	if len(s.existingAnti) == 0 {
		return true
	}
	if len(s.existingAnti) < len(node.Labels) {
		for tp, n := range s.existingAnti {
			if v, ok := node.Labels[tp.key]; ok && n > 0 && v == tp.value {
				return false
			}
		}
		return true
	}
	for k, v := range node.Labels {
		if s.existingAnti[topologyPair{k, v}] > 0 {
			return false
		}
	}
	return true
}

// affinityScoreState is the score of each domain: topology key, value,
// summed weights.
type affinityScoreState struct {
	scores map[string]map[string]int64
}

// Clone implements framework.StateData.
func (s *affinityScoreState) Clone() framework.StateData { return s }

// PreScore implements framework.PreScorePlugin. It sums, per domain, the
// weights of the pod's preferred terms the existing pods match (minus for
// anti-affinity), and of the existing pods' preferred terms (and required
// affinity terms, with the hard weight) the pod matches.
func (pl *InterPodAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	has := len(pod.PreferredAffinity) > 0 || len(pod.PreferredAntiAffinity) > 0
	if pl.ignoreExisting && !has {
		return skip
	}
	lister := state.Nodes()
	nodes := lister.WithAffinity()
	if has {
		nodes = lister.List()
	}
	if len(nodes) == 0 {
		return skip
	}
	s := &affinityScoreState{scores: map[string]map[string]int64{}}
	add := func(node *corev1.Node, key string, w int64) {
		v, ok := node.Labels[key]
		if !ok {
			return
		}
		m := s.scores[key]
		if m == nil {
			m = map[string]int64{}
			s.scores[key] = m
		}
		m[v] += w
	}
	nsLabels := lister.NamespaceLabels(pod.Pod.Namespace)
	for _, ni := range nodes {
		node := ni.Node()
		if len(node.Labels) == 0 {
			continue
		}
		existing := ni.PodsWithAffinity
		if has {
			existing = ni.Pods
		}
		for _, ep := range existing {
			el := lister.NamespaceLabels(ep.Namespace)
			for i := range pod.PreferredAffinity {
				if t := &pod.PreferredAffinity[i]; t.Matches(ep, el) {
					add(node, t.TopologyKey, int64(t.Weight))
				}
			}
			for i := range pod.PreferredAntiAffinity {
				if t := &pod.PreferredAntiAffinity[i]; t.Matches(ep, el) {
					add(node, t.TopologyKey, -int64(t.Weight))
				}
			}
			if pl.hardWeight > 0 {
				for i := range ep.RequiredAffinity {
					if t := &ep.RequiredAffinity[i]; t.Matches(pod, nsLabels) {
						add(node, t.TopologyKey, pl.hardWeight)
					}
				}
			}
			for i := range ep.PreferredAffinity {
				if t := &ep.PreferredAffinity[i]; t.Matches(pod, nsLabels) {
					add(node, t.TopologyKey, int64(t.Weight))
				}
			}
			for i := range ep.PreferredAntiAffinity {
				if t := &ep.PreferredAntiAffinity[i]; t.Matches(pod, nsLabels) {
					add(node, t.TopologyKey, -int64(t.Weight))
				}
			}
		}
	}
	if len(s.scores) == 0 {
		return skip
	}
	state.Write(affinityScoreKey, s)
	return nil
}

// Score implements framework.ScorePlugin: the sum of the scores of the
// node's domains.
func (pl *InterPodAffinity) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	s, err := framework.ReadAs[*affinityScoreState](state, affinityScoreKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	for j, ni := range nodes {
		lbls := ni.Node().Labels
		for key, values := range s.scores {
			if v, ok := lbls[key]; ok {
				scores[j] += values[v]
			}
		}
	}
	return nil
}

// NormalizeScore implements framework.ScoreNormalizer: scores are scaled
// between the lowest (0) and the highest (MaxNodeScore).
func (pl *InterPodAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, scores []int64) *framework.Status {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range scores {
		lo, hi = min(lo, s), max(hi, s)
	}
	diff := hi - lo
	for i, s := range scores {
		if diff > 0 {
			scores[i] = int64(float64(framework.MaxNodeScore) * float64(s-lo) / float64(diff))
		} else {
			scores[i] = 0
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (*InterPodAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPod, Action: framework.All},
		{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeLabel},
		{Resource: framework.NamespaceEvent, Action: framework.Add | framework.Update},
	}
}
