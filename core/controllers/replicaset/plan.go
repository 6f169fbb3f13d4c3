package replicaset

import (
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/core/controllers/pods"
)

// BurstReplicas caps the pods one sync creates or deletes, as Kubernetes'
// --replicaset-burst-replicas does; the next sync does the rest.
const BurstReplicas = 500

// DeletionCostAnnotation ranks pods for deletion: lower cost goes first.
const DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// Plan decides how to bring rs to its desired replicas, given the pods it
// owns (in any state: only active ones count). It returns how many pods to
// create, or which pods to delete, best candidates first, at most
// BurstReplicas either way.
func Plan(rs *appsv1.ReplicaSet, owned []*corev1.Pod) (create int, remove []*corev1.Pod) {
	active := activePods(owned)
	diff := len(active) - int(replicas(rs))
	switch {
	case diff < 0:
		return min(-diff, BurstReplicas), nil
	case diff > 0:
		ranked := RankForDeletion(active)
		return 0, ranked[:min(diff, BurstReplicas)]
	}
	return 0, nil
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

func activePods(ps []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range ps {
		if pods.Active(p) {
			out = append(out, p)
		}
	}
	return out
}

// RankForDeletion returns ps (active pods) sorted the way Kubernetes picks
// pods to delete when it scales down, first to go first:
//
//  1. not scheduled before scheduled;
//  2. Pending before Unknown before Running;
//  3. not ready before ready;
//  4. lower pod-deletion-cost before higher;
//  5. pods on nodes that run more of these pods before the others;
//  6. ready for less time before ready for longer;
//  7. more container restarts before fewer;
//  8. newer before older;
//  9. then by name, so that the order is total.
//
// Kubernetes compares the times of 6 and 8 in logarithmic buckets and
// breaks ties at random; Skiff compares them exactly, so that scale-down
// is deterministic.
func RankForDeletion(ps []*corev1.Pod) []*corev1.Pod {
	onNode := map[string]int{}
	for _, p := range ps {
		onNode[p.Spec.NodeName]++
	}
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b *corev1.Pod) int {
		if earlier, ok := deleteFirst(a, b, onNode); ok {
			if earlier {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deleteFirst reports whether a goes before b (ok false when they rank
// equal).
func deleteFirst(a, b *corev1.Pod, onNode map[string]int) (earlier, ok bool) {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == "", true
	}
	if pa, pb := phaseOrder[a.Status.Phase], phaseOrder[b.Status.Phase]; pa != pb {
		return pa < pb, true
	}
	if ra, rb := pods.Ready(a), pods.Ready(b); ra != rb {
		return !ra, true
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb, true
	}
	if na, nb := onNode[a.Spec.NodeName], onNode[b.Spec.NodeName]; na != nb {
		return na > nb, true
	}
	if pods.Ready(a) {
		if ta, tb := pods.ReadySince(a), pods.ReadySince(b); !ta.Equal(tb) {
			return afterOrZero(ta, tb), true
		}
	}
	if ra, rb := pods.Restarts(a), pods.Restarts(b); ra != rb {
		return ra > rb, true
	}
	if ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time; !ta.Equal(tb) {
		return afterOrZero(ta, tb), true
	}
	if a.Name != b.Name {
		return a.Name < b.Name, true
	}
	return false, false
}

// afterOrZero: a zero time ranks first, then the later time.
func afterOrZero(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero()
	}
	return a.After(b)
}

func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[DeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// Failure is what went wrong while creating or deleting pods, for the
// ReplicaFailure condition.
type Failure struct {
	Message string
}

// Status computes rs's status from the pods it owns at now. failure, if
// not nil, is this sync's create or delete error: it sets the
// ReplicaFailure condition (FailedCreate or FailedDelete), and a sync
// without one clears it. next is how long until a ready pod becomes
// available (minReadySeconds), when the status should be computed again;
// 0 when nothing is pending.
func Status(rs *appsv1.ReplicaSet, owned []*corev1.Pod, now time.Time, failure *Failure) (st appsv1.ReplicaSetStatus, next time.Duration) {
	st = *rs.Status.DeepCopy()
	active := activePods(owned)
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fully, ready, available, terminating int32
	for _, p := range owned {
		if pods.Terminating(p) && !pods.Terminal(p) {
			terminating++
		}
	}
	for _, p := range active {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fully++
		}
		if pods.Ready(p) {
			ready++
			if pods.Available(p, rs.Spec.MinReadySeconds, now) {
				available++
			} else if d := pods.AvailableIn(p, rs.Spec.MinReadySeconds, now); d > 0 && (next == 0 || d < next) {
				next = d
			}
		}
	}
	if next > 0 {
		next += 10 * time.Millisecond // strictly after the threshold
	}
	cur := condition(&st, appsv1.ReplicaSetReplicaFailure)
	switch {
	case failure != nil && cur == nil:
		reason := "FailedCreate"
		if len(active) > int(replicas(rs)) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{Type: appsv1.ReplicaSetReplicaFailure,
			Status: corev1.ConditionTrue, Reason: reason, Message: failure.Message, LastTransitionTime: metav1.NewTime(now)})
	case failure == nil && cur != nil:
		st.Conditions = slices.DeleteFunc(st.Conditions, func(c appsv1.ReplicaSetCondition) bool {
			return c.Type == appsv1.ReplicaSetReplicaFailure
		})
	}
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
	st.Replicas = int32(len(active))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	st.TerminatingReplicas = &terminating
	st.ObservedGeneration = rs.Generation
	return st, next
}

func condition(st *appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// StatusEqual reports whether two statuses are the same.
func StatusEqual(a, b *appsv1.ReplicaSetStatus) bool { return apiequality.Semantic.DeepEqual(a, b) }
