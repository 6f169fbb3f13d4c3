package builtin

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// TaintToleration rejects nodes with a NoSchedule or NoExecute taint the
// pod does not tolerate, and prefers nodes with fewer untolerated
// PreferNoSchedule taints.
type TaintToleration struct{}

var (
	_ framework.FilterPlugin      = TaintToleration{}
	_ framework.PreScorePlugin    = TaintToleration{}
	_ framework.ScoreNormalizer   = TaintToleration{}
	_ framework.EnqueueExtensions = TaintToleration{}
)

func newTaintToleration(args any, _ framework.Handle) (framework.Plugin, error) {
	return TaintToleration{}, noArgs(args)
}

// Name implements framework.Plugin.
func (TaintToleration) Name() string { return TaintTolerationName }

// Filter implements framework.FilterPlugin.
func (TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	tols := pod.Pod.Spec.Tolerations
	var byTaint map[[2]string]*framework.Status // one status per taint
	for i, ni := range nodes {
		taints := ni.Node().Spec.Taints
		for j := range taints {
			t := &taints[j]
			if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
				continue
			}
			if !tolerated(tols, t) {
				k := [2]string{t.Key, t.Value}
				st := byTaint[k]
				if st == nil {
					if byTaint == nil {
						byTaint = map[[2]string]*framework.Status{}
					}
					st = taintStatus(t)
					byTaint[k] = st
				}
				statuses[i] = st
				break
			}
		}
	}
	return nil
}

// taintStatus is the rejection for an untolerated taint (Kubernetes'
// wording, which names the taint but not its effect).
func taintStatus(t *corev1.Taint) *framework.Status {
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
}

type preferTolerations []corev1.Toleration

func (p preferTolerations) Clone() framework.StateData { return p }

const taintStateKey framework.StateKey = TaintTolerationName + "/prescore"

// PreScore implements framework.PreScorePlugin: it keeps the tolerations
// that apply to PreferNoSchedule taints.
func (TaintToleration) PreScore(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	var tols preferTolerations
	for _, t := range pod.Pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			tols = append(tols, t)
		}
	}
	state.Write(taintStateKey, tols)
	return nil
}

// Score implements framework.ScorePlugin: the raw score is the number of
// untolerated PreferNoSchedule taints.
func (TaintToleration) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	tols, err := framework.ReadAs[preferTolerations](state, taintStateKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	for i, ni := range nodes {
		taints := ni.Node().Spec.Taints
		for j := range taints {
			if taints[j].Effect == corev1.TaintEffectPreferNoSchedule && !tolerated(tols, &taints[j]) {
				scores[i]++
			}
		}
	}
	return nil
}

// NormalizeScore implements framework.ScoreNormalizer: fewer taints score
// higher.
func (TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, scores []int64) *framework.Status {
	defaultNormalize(scores, true)
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (TaintToleration) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeTaint}}
}

// tolerated reports whether any of tols tolerates taint. The Lt and Gt
// operators (alpha in Kubernetes, off by default) tolerate nothing.
func tolerated(tols []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tols {
		if tolerates(&tols[i], taint) {
			return true
		}
	}
	return false
}

func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	case corev1.TolerationOpExists:
		return true
	}
	return false
}

// defaultNormalize scales scores to [0, MaxNodeScore] by the highest
// (reversed: the highest scores 0), as Kubernetes' DefaultNormalizeScore.
func defaultNormalize(scores []int64, reverse bool) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s)
	}
	if hi == 0 {
		if reverse {
			for i := range scores {
				scores[i] = framework.MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = framework.MaxNodeScore * s / hi
		if reverse {
			s = framework.MaxNodeScore - s
		}
		scores[i] = s
	}
}
