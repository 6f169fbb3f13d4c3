package statefulset

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/pods"
)

// Labels Kubernetes puts on a StatefulSet's pods.
const (
	PodNameLabel  = appsv1.StatefulSetPodNameLabel // statefulset.kubernetes.io/pod-name
	PodIndexLabel = appsv1.PodIndexLabel           // apps.kubernetes.io/pod-index
)

var stsKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Revision is one of the set's revisions: its ControllerRevision name
// (the controller-revision-hash label of its pods) and its template.
type Revision struct {
	Name     string
	Template *corev1.PodTemplateSpec
}

// Input is what the planner sees of one StatefulSet.
type Input struct {
	Set *appsv1.StatefulSet
	// Pods are those the set controls.
	Pods []*corev1.Pod
	// Current is the revision status.currentRevision names (Update when
	// there is none); Update is the revision of the set's template.
	Current, Update Revision
	// CollisionCount is the status.collisionCount to report.
	CollisionCount *int32
	Now            time.Time
}

// Plan is what one sync does: delete Delete, create Create (whole pods,
// named), write Status if not nil, record Events.
type Plan struct {
	Create []*corev1.Pod
	Delete []*corev1.Pod
	Status *appsv1.StatefulSetStatus
	Events []Event
	// Waiting says what an OrderedReady set waits for, if anything.
	Waiting string
	// RequeueAfter, if positive: look again then (minReadySeconds).
	RequeueAfter time.Duration
}

// Event is an event to record on the set.
type Event struct{ Type, Reason, Message string }

func (p *Plan) event(typ, reason, format string, args ...any) {
	p.Events = append(p.Events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// Ordinal is the ordinal in a pod's name <set>-<ordinal>, or -1.
func Ordinal(set *appsv1.StatefulSet, p *corev1.Pod) int {
	rest, ok := strings.CutPrefix(p.Name, set.Name+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func partition(set *appsv1.StatefulSet) int {
	ru := set.Spec.UpdateStrategy.RollingUpdate
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType || ru == nil || ru.Partition == nil {
		return 0
	}
	return int(*ru.Partition)
}

func revisionOf(p *corev1.Pod) string { return p.Labels[history.HashLabel] }

func runningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && pods.Ready(p)
}

func healthy(set *appsv1.StatefulSet, p *corev1.Pod, now time.Time) bool {
	return runningAndReady(p) && p.DeletionTimestamp == nil && pods.Available(p, set.Spec.MinReadySeconds, now)
}

// NewPod is the set's pod of the given ordinal at revision rev: the
// revision's template, the stable name <set>-<ordinal>, hostname and
// subdomain (the governing Service), the pod-name, pod-index and
// controller-revision-hash labels, and an emptyDir for each
// volumeClaimTemplate (claims are not provisioned).
func NewPod(set *appsv1.StatefulSet, rev Revision, ordinal int) *corev1.Pod {
	t := rev.Template.DeepCopy()
	name := fmt.Sprintf("%s-%d", set.Name, ordinal)
	lbls := maps.Clone(t.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[PodNameLabel] = name
	lbls[PodIndexLabel] = strconv.Itoa(ordinal)
	lbls[history.HashLabel] = rev.Name
	spec := t.Spec
	spec.Hostname = name
	spec.Subdomain = set.Spec.ServiceName
	for _, claim := range set.Spec.VolumeClaimTemplates {
		if slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == claim.Name }) {
			continue
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: claim.Name,
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: set.Namespace, Labels: lbls, Annotations: t.Annotations,
			Finalizers: t.Finalizers, OwnerReferences: []metav1.OwnerReference{owner.NewControllerRef(set, stsKind)}},
		Spec: spec,
	}
}

// Decide plans one sync of a StatefulSet, as Kubernetes'
// StatefulSetControl: the pods of ordinals [start, start+replicas) exist
// (failed or succeeded ones are deleted to be re-created), the others
// are deleted from the highest ordinal down; OrderedReady does one of
// these at a time and only once every lower pod is Running and Ready
// (and available), Parallel does them all at once. Then RollingUpdate
// deletes the highest-ordinal pod at or above the partition that is not
// at the update revision, once all above it are healthy; OnDelete waits
// for the user to delete pods. New pods below the partition get the
// current revision, the others the update revision.
func Decide(in Input) Plan {
	set := in.Set
	var plan Plan
	start, n := startOrdinal(set), replicas(set)
	slots := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	var valid []*corev1.Pod
	for _, p := range in.Pods {
		ord := Ordinal(set, p)
		if ord < 0 {
			continue
		}
		valid = append(valid, p)
		if ord >= start && ord < start+n {
			if slots[ord-start] == nil {
				slots[ord-start] = p
			}
		} else {
			condemned = append(condemned, p)
		}
	}
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int { return Ordinal(set, a) - Ordinal(set, b) })

	st := status(in, valid)
	if !statusEqual(&st, &set.Status) {
		plan.Status = &st
	}
	plan.RequeueAfter = availableIn(set, valid, in.Now)
	if set.DeletionTimestamp != nil {
		return plan
	}
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	var firstUnhealthy *corev1.Pod
	for _, p := range append(slices.Clone(slots), condemned...) {
		if p != nil && !healthy(set, p, in.Now) {
			firstUnhealthy = p
			break
		}
	}
	wait := func(format string, args ...any) bool {
		if monotonic {
			plan.Waiting = fmt.Sprintf(format, args...)
			return true
		}
		return false
	}

	stopped := false
	for i, p := range slots {
		ord := start + i
		switch {
		case p == nil:
			rev := in.Update
			if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ord < partition(set) {
				rev = in.Current
			}
			np := NewPod(set, rev, ord)
			plan.Create = append(plan.Create, np)
			stopped = wait("Pod %s to be created", np.Name)
		case pods.Terminal(p) && p.DeletionTimestamp == nil:
			reason := "RecreatingFailedPod"
			if p.Status.Phase == corev1.PodSucceeded {
				reason = "RecreatingTerminatedPod"
			}
			plan.event(corev1.EventTypeWarning, reason, "StatefulSet %s/%s is recreating %s Pod %s", set.Namespace, set.Name,
				strings.ToLower(string(p.Status.Phase)), p.Name)
			plan.Delete = append(plan.Delete, p)
			stopped = wait("Pod %s to be re-created", p.Name)
		case p.DeletionTimestamp != nil:
			stopped = wait("Pod %s to terminate", p.Name)
		case !runningAndReady(p):
			stopped = wait("Pod %s to be Running and Ready", p.Name)
		case !pods.Available(p, set.Spec.MinReadySeconds, in.Now):
			stopped = wait("Pod %s to be available", p.Name)
		}
		if stopped {
			return plan
		}
	}
	for i := len(condemned) - 1; i >= 0; i-- {
		p := condemned[i]
		if p.DeletionTimestamp != nil {
			if wait("Pod %s to terminate", p.Name) {
				return plan
			}
			continue
		}
		if monotonic && !runningAndReady(p) && p != firstUnhealthy {
			plan.Waiting = fmt.Sprintf("Pod %s to be Running and Ready before scaling down", firstUnhealthy.Name)
			return plan
		}
		plan.Delete = append(plan.Delete, p)
		if monotonic {
			return plan
		}
	}
	if set.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return plan
	}
	for i := len(slots) - 1; i >= partition(set); i-- {
		p := slots[i]
		if p == nil {
			continue // being created (Parallel)
		}
		if revisionOf(p) != in.Update.Name && p.DeletionTimestamp == nil {
			plan.Delete = append(plan.Delete, p)
			return plan
		}
		if !healthy(set, p, in.Now) {
			plan.Waiting = fmt.Sprintf("Pod %s to be Running and Ready during the update", p.Name)
			return plan
		}
	}
	return plan
}

// status counts the pods: replicas, ready, available, current (at the
// current revision) and updated (at the update revision); once every pod
// is updated and ready, a RollingUpdate is complete and the update
// revision becomes the current one.
func status(in Input, valid []*corev1.Pod) appsv1.StatefulSetStatus {
	set := in.Set
	st := appsv1.StatefulSetStatus{ObservedGeneration: set.Generation, CurrentRevision: in.Current.Name,
		UpdateRevision: in.Update.Name, CollisionCount: in.CollisionCount, Conditions: set.Status.Conditions}
	for _, p := range valid {
		st.Replicas++
		if runningAndReady(p) {
			st.ReadyReplicas++
			if pods.Available(p, set.Spec.MinReadySeconds, in.Now) {
				st.AvailableReplicas++
			}
		}
		if p.DeletionTimestamp == nil {
			if revisionOf(p) == in.Current.Name {
				st.CurrentReplicas++
			}
			if revisionOf(p) == in.Update.Name {
				st.UpdatedReplicas++
			}
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
	return st
}

func availableIn(set *appsv1.StatefulSet, ps []*corev1.Pod, now time.Time) time.Duration {
	var next time.Duration
	for _, p := range ps {
		if d := pods.AvailableIn(p, set.Spec.MinReadySeconds, now); d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	if next > 0 {
		next += time.Second
	}
	return next
}

func statusEqual(a, b *appsv1.StatefulSetStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas && a.ReadyReplicas == b.ReadyReplicas &&
		a.AvailableReplicas == b.AvailableReplicas && a.CurrentReplicas == b.CurrentReplicas &&
		a.UpdatedReplicas == b.UpdatedReplicas && a.CurrentRevision == b.CurrentRevision &&
		a.UpdateRevision == b.UpdateRevision && ptrEqual(a.CollisionCount, b.CollisionCount)
}

func ptrEqual(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
