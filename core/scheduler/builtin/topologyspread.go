package builtin

import (
	"context"
	"fmt"
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// PodTopologySpread enforces the pod's topology spread constraints:
// DoNotSchedule constraints reject nodes where placing the pod would make
// the skew (matching pods in the node's domain, plus the pod, minus the
// fewest in any eligible domain) exceed maxSkew; ScheduleAnyway
// constraints prefer the nodes whose domains have fewer matching pods.
// minDomains, matchLabelKeys, nodeAffinityPolicy and nodeTaintsPolicy are
// honoured as in Kubernetes.
//
// Unlike kube-scheduler it applies no default constraints to pods that
// have none (kube-scheduler derives them from the Services and ReplicaSets
// that select the pod, which Skiff's scheduler does not watch yet).
type PodTopologySpread struct{}

var (
	_ framework.PreFilterPlugin   = PodTopologySpread{}
	_ framework.FilterPlugin      = PodTopologySpread{}
	_ framework.PreScorePlugin    = PodTopologySpread{}
	_ framework.ScoreNormalizer   = PodTopologySpread{}
	_ framework.EnqueueExtensions = PodTopologySpread{}
)

func newPodTopologySpread(args any, _ framework.Handle) (framework.Plugin, error) {
	return PodTopologySpread{}, noArgs(args)
}

var (
	errSpread      = framework.NewStatus(framework.Unschedulable, "node(s) didn't match pod topology spread constraints")
	errSpreadLabel = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match pod topology spread constraints (missing required label)")
)

const (
	spreadFilterKey framework.StateKey = PodTopologySpreadName + "/prefilter"
	spreadScoreKey  framework.StateKey = PodTopologySpreadName + "/prescore"
)

// Name implements framework.Plugin.
func (PodTopologySpread) Name() string { return PodTopologySpreadName }

type spreadConstraint struct {
	maxSkew       int32
	key           string
	selector      labels.Selector
	minDomains    int32
	honorAffinity bool
	honorTaints   bool
}

func spreadConstraints(pod *corev1.Pod, when corev1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != when {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("topology spread constraint %s: %w", c.TopologyKey, err)
		}
		for _, k := range c.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				r, err := labels.NewRequirement(k, selection.In, []string{v})
				if err != nil {
					return nil, fmt.Errorf("topology spread constraint %s: matchLabelKeys: %w", c.TopologyKey, err)
				}
				sel = sel.Add(*r)
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, key: c.TopologyKey, selector: sel, minDomains: 1,
			honorAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		out = append(out, sc)
	}
	return out, nil
}

// includes reports whether node counts for c (its inclusion policies).
func (c *spreadConstraint) includes(pod *framework.PodInfo, node *corev1.Node) bool {
	if c.honorAffinity && !pod.NodeSelector.Matches(node) {
		return false
	}
	if c.honorTaints {
		for i := range node.Spec.Taints {
			t := &node.Spec.Taints[i]
			if (t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute) && !tolerated(pod.Pod.Spec.Tolerations, t) {
				return false
			}
		}
	}
	return true
}

func hasAllKeys(node *corev1.Node, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := node.Labels[cs[i].key]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts the pods in ns, not being deleted, that sel selects.
func countMatching(pods []*framework.PodInfo, sel labels.Selector, ns string) int {
	n := 0
	for _, p := range pods {
		if p.Namespace == ns && !p.Terminating && sel.Matches(p.Labels) {
			n++
		}
	}
	return n
}

type spreadFilterState struct {
	constraints []spreadConstraint
	counts      []map[string]int // per constraint: matching pods per domain
	min         []int            // per constraint: the fewest in a domain
}

// Clone implements framework.StateData; the state is not changed after
// PreFilter.
func (s *spreadFilterState) Clone() framework.StateData { return s }

// PreFilter implements framework.PreFilterPlugin: it counts the matching
// pods per domain of each DoNotSchedule constraint, over the nodes that
// have every constraint's key and pass its inclusion policies.
func (PodTopologySpread) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, all []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	cs, err := spreadConstraints(pod.Pod, corev1.DoNotSchedule)
	if err != nil {
		return nil, framework.AsStatus(err)
	}
	if len(cs) == 0 {
		return nil, skip
	}
	s := &spreadFilterState{constraints: cs, counts: make([]map[string]int, len(cs)), min: make([]int, len(cs))}
	for i := range cs {
		s.counts[i] = map[string]int{}
	}
	for _, ni := range all {
		node := ni.Node()
		if !hasAllKeys(node, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if !c.includes(pod, node) {
				continue
			}
			s.counts[i][node.Labels[c.key]] += countMatching(ni.Pods, c.selector, pod.Pod.Namespace)
		}
	}
	for i, c := range cs {
		if len(s.counts[i]) < int(c.minDomains) {
			continue // fewer domains than wanted: the minimum is 0
		}
		m := math.MaxInt
		for _, n := range s.counts[i] {
			m = min(m, n)
		}
		if m != math.MaxInt {
			s.min[i] = m
		}
	}
	state.Write(spreadFilterKey, s)
	return nil, nil
}

// Filter implements framework.FilterPlugin.
func (PodTopologySpread) Filter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	s, err := framework.ReadAs[*spreadFilterState](state, spreadFilterKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	self := make([]int, len(s.constraints))
	for i := range s.constraints {
		if s.constraints[i].selector.Matches(labels.Set(pod.Pod.Labels)) {
			self[i] = 1
		}
	}
	for j, ni := range nodes {
		lbls := ni.Node().Labels
		for i := range s.constraints {
			c := &s.constraints[i]
			v, ok := lbls[c.key]
			if !ok {
				statuses[j] = errSpreadLabel
				break
			}
			if s.counts[i][v]+self[i]-s.min[i] > int(c.maxSkew) {
				statuses[j] = errSpread
				break
			}
		}
	}
	return nil
}

type spreadScoreState struct {
	constraints []spreadConstraint
	ignored     map[string]bool    // nodes without every key: score 0
	counts      []map[string]int64 // per constraint (not hostname): matching pods per domain
	weights     []float64
}

// Clone implements framework.StateData.
func (s *spreadScoreState) Clone() framework.StateData { return s }

// PreScore implements framework.PreScorePlugin.
func (PodTopologySpread) PreScore(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo) *framework.Status {
	cs, err := spreadConstraints(pod.Pod, corev1.ScheduleAnyway)
	if err != nil {
		return framework.AsStatus(err)
	}
	if len(cs) == 0 {
		return skip
	}
	s := &spreadScoreState{constraints: cs, ignored: map[string]bool{},
		counts: make([]map[string]int64, len(cs)), weights: make([]float64, len(cs))}
	sizes := make([]int, len(cs))
	for i := range cs {
		s.counts[i] = map[string]int64{}
	}
	for _, ni := range nodes {
		node := ni.Node()
		if !hasAllKeys(node, cs) {
			s.ignored[node.Name] = true
			continue
		}
		for i, c := range cs {
			if c.key == corev1.LabelHostname {
				continue
			}
			v := node.Labels[c.key]
			if _, ok := s.counts[i][v]; !ok {
				s.counts[i][v] = 0
				sizes[i]++
			}
		}
	}
	for i, c := range cs {
		size := sizes[i]
		if c.key == corev1.LabelHostname {
			size = len(nodes) - len(s.ignored)
		}
		s.weights[i] = math.Log(float64(size + 2))
	}
	for _, ni := range state.Nodes().List() {
		node := ni.Node()
		if !hasAllKeys(node, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if c.key == corev1.LabelHostname || !c.includes(pod, node) {
				continue
			}
			v := node.Labels[c.key]
			if _, ok := s.counts[i][v]; !ok {
				continue // no candidate node in this domain
			}
			s.counts[i][v] += int64(countMatching(ni.Pods, c.selector, pod.Pod.Namespace))
		}
	}
	state.Write(spreadScoreKey, s)
	return nil
}

// Score implements framework.ScorePlugin: the raw score is the weighted
// count of matching pods in the node's domains (more is worse).
func (PodTopologySpread) Score(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	s, err := framework.ReadAs[*spreadScoreState](state, spreadScoreKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	for j, ni := range nodes {
		node := ni.Node()
		if s.ignored[node.Name] {
			continue
		}
		var score float64
		for i := range s.constraints {
			c := &s.constraints[i]
			v, ok := node.Labels[c.key]
			if !ok {
				continue
			}
			var cnt int64
			if c.key == corev1.LabelHostname {
				cnt = int64(countMatching(ni.Pods, c.selector, pod.Pod.Namespace))
			} else {
				cnt = s.counts[i][v]
			}
			score += float64(cnt)*s.weights[i] + float64(c.maxSkew-1)
		}
		scores[j] = int64(math.Round(score))
	}
	return nil
}

// NormalizeScore implements framework.ScoreNormalizer: the fewest
// matching pods scores MaxNodeScore; ignored nodes score 0.
func (PodTopologySpread) NormalizeScore(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	s, err := framework.ReadAs[*spreadScoreState](state, spreadScoreKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for j, ni := range nodes {
		if s.ignored[ni.Name()] {
			continue
		}
		lo, hi = min(lo, scores[j]), max(hi, scores[j])
	}
	for j, ni := range nodes {
		switch {
		case s.ignored[ni.Name()]:
			scores[j] = 0
		case hi == 0:
			scores[j] = framework.MaxNodeScore
		default:
			scores[j] = framework.MaxNodeScore * (hi + lo - scores[j]) / hi
		}
	}
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (PodTopologySpread) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPod, Action: framework.All},
		{Resource: framework.NodeEvent, Action: framework.Add | framework.Delete | framework.UpdateNodeLabel | framework.UpdateNodeTaint},
	}
}
