package nodelifecycle

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/pods"
)

// Timing is the controller's two durations.
type Timing struct {
	// GracePeriod is how long a node may go without a heartbeat (Lease
	// renewal or status update) before it is marked Ready=Unknown and
	// tainted unreachable (Kubernetes' --node-monitor-grace-period, 40 s).
	GracePeriod time.Duration
	// DefaultToleration is how long a pod that has no toleration of its
	// own for the not-ready or unreachable taint stays on such a node (what
	// Kubernetes' DefaultTolerationSeconds admission gives every pod, 300 s).
	DefaultToleration time.Duration
}

// DefaultTiming brings a lost node's pods back elsewhere within 15 s: the
// node is marked lost 8 s after its last heartbeat, its pods evicted 2 s
// later, which leaves about 5 s to schedule and start the replacements.
// Node agents must renew their Lease at least every 2 s (a quarter of the
// grace period, as the kubelet does).
var DefaultTiming = Timing{GracePeriod: 8 * time.Second, DefaultToleration: 2 * time.Second}

// The conditions the controller sets to Unknown on a lost node.
var lostConditions = []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure}

// Health returns the node's conditions at now, given when a heartbeat of
// it was last seen (by the controller's clock): unchanged while within
// the grace period, all Unknown once past it (NodeStatusUnknown, or
// NodeStatusNeverUpdated for a condition never posted). recheck is when
// the grace period would run out (0 when the node is already lost).
func Health(node *corev1.Node, lastSeen, now time.Time, grace time.Duration) (conds []corev1.NodeCondition, changed bool, recheck time.Duration) {
	conds = slices.Clone(node.Status.Conditions)
	deadline := lastSeen.Add(grace)
	if now.Before(deadline) {
		return conds, false, deadline.Sub(now) + 10*time.Millisecond
	}
	at := metav1.NewTime(now.Truncate(time.Second))
	for _, t := range lostConditions {
		i := slices.IndexFunc(conds, func(c corev1.NodeCondition) bool { return c.Type == t })
		if i < 0 {
			conds = append(conds, corev1.NodeCondition{Type: t, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
				Message: "Kubelet never posted node status.", LastHeartbeatTime: at, LastTransitionTime: at})
			changed = true
			continue
		}
		if conds[i].Status == corev1.ConditionUnknown {
			continue
		}
		conds[i].Status = corev1.ConditionUnknown
		conds[i].Reason = "NodeStatusUnknown"
		conds[i].Message = "Kubelet stopped posting node status."
		conds[i].LastTransitionTime = at
		changed = true
	}
	return conds, changed, 0
}

// ReadyStatus is the status of the node's Ready condition (Unknown when
// it has none).
func ReadyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// Taints returns the node's taints at now, from its Ready condition:
// node.kubernetes.io/not-ready (Ready=False) or .../unreachable
// (Ready=Unknown), with both the NoSchedule and the NoExecute effect, and
// neither when it is ready. Other taints are kept; a taint already there
// keeps its timeAdded.
func Taints(node *corev1.Node, now time.Time) (taints []corev1.Taint, changed bool) {
	var want string
	switch ReadyStatus(node) {
	case corev1.ConditionFalse:
		want = corev1.TaintNodeNotReady
	case corev1.ConditionUnknown:
		want = corev1.TaintNodeUnreachable
	}
	ours := func(k string) bool { return k == corev1.TaintNodeNotReady || k == corev1.TaintNodeUnreachable }
	for _, t := range node.Spec.Taints {
		if !ours(t.Key) || t.Key == want {
			taints = append(taints, t)
		}
	}
	if want != "" {
		added := metav1.NewTime(now.Truncate(time.Second))
		for _, eff := range []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute} {
			if !slices.ContainsFunc(taints, func(t corev1.Taint) bool { return t.Key == want && t.Effect == eff }) {
				t := corev1.Taint{Key: want, Effect: eff}
				if eff == corev1.TaintEffectNoExecute {
					t.TimeAdded = &added
				}
				taints = append(taints, t)
			}
		}
	}
	return taints, !apiequality.Semantic.DeepEqual(taints, node.Spec.Taints)
}

// Evictions decides, for the pods bound to node, which to evict at now
// because of the node's NoExecute taints: a pod that does not tolerate a
// taint goes at once; one that tolerates it for tolerationSeconds goes
// that long after the taint was added; one that tolerates it without a
// limit stays. A pod without a toleration of its own for not-ready or
// unreachable gets defaultToleration. recheck is when the next pod is due
// (0 if none).
func Evictions(node *corev1.Node, ps []*corev1.Pod, now time.Time, defaultToleration time.Duration) (evict []*corev1.Pod, recheck time.Duration) {
	var noExec []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			noExec = append(noExec, t)
		}
	}
	if len(noExec) == 0 {
		return nil, 0
	}
	for _, p := range ps {
		if p.Spec.NodeName != node.Name || !pods.Active(p) {
			continue
		}
		due, forever := dueAt(p, noExec, defaultToleration)
		if forever {
			continue
		}
		if !due.After(now) {
			evict = append(evict, p)
		} else if d := due.Sub(now); recheck == 0 || d < recheck {
			recheck = d
		}
	}
	if recheck > 0 {
		recheck += 10 * time.Millisecond
	}
	return evict, recheck
}

// dueAt is when p must leave a node with these NoExecute taints, or
// forever if it tolerates them all without limit.
func dueAt(p *corev1.Pod, taints []corev1.Taint, defaultToleration time.Duration) (due time.Time, forever bool) {
	forever = true
	for _, t := range taints {
		added := time.Time{}
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		var limit *time.Duration
		tolerated := false
		for _, tol := range p.Spec.Tolerations {
			if !tolerates(&tol, &t) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				limit = nil
				break
			}
			d := max(time.Duration(*tol.TolerationSeconds)*time.Second, 0)
			if limit == nil || d < *limit {
				limit = &d
			}
		}
		switch {
		case !tolerated && (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable):
			d := defaultToleration
			limit = &d
		case !tolerated:
			d := time.Duration(0)
			limit = &d
		case limit == nil:
			continue // tolerated without limit
		}
		at := added.Add(*limit)
		if forever || at.Before(due) {
			due, forever = at, false
		}
	}
	return due, forever
}

// NotReady returns the pods on a node that is not ready which still say
// they are: their Ready condition must turn False, so that Services stop
// sending them traffic.
func NotReady(node *corev1.Node, ps []*corev1.Pod) []*corev1.Pod {
	if ReadyStatus(node) == corev1.ConditionTrue {
		return nil
	}
	var out []*corev1.Pod
	for _, p := range ps {
		if p.Spec.NodeName == node.Name && pods.Ready(p) && !pods.Terminal(p) {
			out = append(out, p)
		}
	}
	return out
}

// tolerates is Kubernetes' toleration matching (the Lt and Gt operators,
// alpha there, match nothing here).
func tolerates(tol *corev1.Toleration, t *corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != t.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != t.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return tol.Value == t.Value
	}
	return false
}
