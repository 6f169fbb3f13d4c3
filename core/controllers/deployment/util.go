package deployment

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
)

// The annotations Kubernetes' deployment controller and kubectl use.
const (
	// RevisionAnnotation numbers a Deployment's revisions, on the
	// Deployment (its current one) and on each ReplicaSet.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a ReplicaSet
	// had (after rollbacks to it).
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation and MaxReplicasAnnotation record the
	// Deployment's replicas and replicas+maxSurge when a ReplicaSet was
	// last scaled, for proportional scaling.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	// lastAppliedAnnotation is kubectl apply's.
	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	// rollbackToAnnotation is the deprecated server-side rollback request.
	rollbackToAnnotation = "deprecated.deployment.rollback.to"
	// maxRevHistoryLength bounds the revision-history annotation.
	maxRevHistoryLength = 2000
)

// Condition reasons, as Kubernetes sets them.
const (
	ReasonFoundNewRS         = "FoundNewReplicaSet"
	ReasonNewRSCreated       = "NewReplicaSetCreated"
	ReasonRSUpdated          = "ReplicaSetUpdated"
	ReasonNewRSAvailable     = "NewReplicaSetAvailable"
	ReasonTimedOut           = "ProgressDeadlineExceeded"
	ReasonPaused             = "DeploymentPaused"
	ReasonResumed            = "DeploymentResumed"
	ReasonFailedRSCreate     = "ReplicaSetCreateError"
	ReasonMinimumAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumUnavailable = "MinimumReplicasUnavailable"
)

// skipCopy are the Deployment annotations not copied to its ReplicaSets.
var skipCopy = map[string]bool{lastAppliedAnnotation: true, RevisionAnnotation: true, RevisionHistoryAnnotation: true,
	DesiredReplicasAnnotation: true, MaxReplicasAnnotation: true, rollbackToAnnotation: true}

// SkipOnRollback reports whether kubectl rollout undo leaves annotation k
// of the Deployment alone (rather than taking the ReplicaSet's).
func SkipOnRollback(k string) bool { return skipCopy[k] }

// Fenceposts resolves maxSurge and maxUnavailable against the desired
// replicas: a surge percentage rounds up, an unavailability percentage
// down, and when both come to zero maxUnavailable becomes 1 so that a
// rollout can proceed.
func Fenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (surge, unavailable int32, err error) {
	s, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxSurge, intstr.FromInt32(0)), int(desired), true)
	if err != nil {
		return 0, 0, err
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxUnavailable, intstr.FromInt32(0)), int(desired), false)
	if err != nil {
		return 0, 0, err
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate != nil
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// MaxSurge is how many pods above the desired count a rolling update may
// run (0 for Recreate).
func MaxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, _, _ := Fenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, replicasOf(d))
	return s
}

// MaxUnavailable is how many of the desired pods a rolling update may
// have unavailable (0 for Recreate and for zero replicas).
func MaxUnavailable(d *appsv1.Deployment) int32 {
	if !isRolling(d) || replicasOf(d) == 0 {
		return 0
	}
	_, u, _ := Fenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, replicasOf(d))
	return min(u, replicasOf(d))
}

// NewRSReplicas is what the new ReplicaSet may be scaled to now: for a
// rolling update, as far as maxSurge allows over all ReplicaSets, never
// above the desired count; for Recreate, the desired count.
func NewRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	if !isRolling(d) {
		return replicasOf(d)
	}
	cur := specReplicas(all)
	maxTotal := replicasOf(d) + MaxSurge(d)
	if cur >= maxTotal {
		return rsReplicas(newRS)
	}
	up := min(maxTotal-cur, replicasOf(d)-rsReplicas(newRS))
	return rsReplicas(newRS) + up
}

func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

// sum adds f over the ReplicaSets that are not nil.
func sum(rss []*appsv1.ReplicaSet, f func(*appsv1.ReplicaSet) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs)
		}
	}
	return n
}

// specReplicas sums the ReplicaSets' spec.replicas.
func specReplicas(rss []*appsv1.ReplicaSet) int32 { return sum(rss, rsReplicas) }

// statusReplicas sums status.replicas (the pods that exist).
func statusReplicas(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.Replicas })
}

func readyReplicas(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.ReadyReplicas })
}

func availableReplicas(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.AvailableReplicas })
}

// safeAvailable is the availability a scale-down may count on: a
// ReplicaSet's available pods, but never more than its spec.replicas,
// because a ReplicaSet just scaled down reports its old pods as available
// until its controller has deleted them. (Kubernetes counts the status
// alone; in that window a second scale-down could go below minAvailable.)
func safeAvailable(rss []*appsv1.ReplicaSet) int32 {
	return sum(rss, func(rs *appsv1.ReplicaSet) int32 { return min(rs.Status.AvailableReplicas, rsReplicas(rs)) })
}

func terminatingReplicas(rss []*appsv1.ReplicaSet) *int32 {
	var n int32
	seen := false
	for _, rs := range rss {
		if rs != nil && rs.Status.TerminatingReplicas != nil {
			n += *rs.Status.TerminatingReplicas
			seen = true
		}
	}
	if !seen {
		return nil
	}
	return &n
}

func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && rsReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// Revision is a ReplicaSet's revision number (0 when it has none).
func Revision(obj metav1.Object) int64 {
	v, err := strconv.ParseInt(obj.GetAnnotations()[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, Revision(rs))
	}
	return m
}

// TemplateHash is the pod-template-hash of a template: a hash of its
// encoding and of the collision count, encoded as Kubernetes encodes it.
func TemplateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	raw, err := t.Marshal()
	if err != nil {
		panic("bug: encode pod template: " + err.Error())
	}
	h.Write(raw)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// EqualIgnoreHash reports whether two templates are the same but for
// their pod-template-hash label.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// findNew returns the oldest ReplicaSet whose template is d's.
func findNew(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := slices.Clone(rss)
	sortByCreation(sorted)
	for _, rs := range sorted {
		if EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

func sortByCreation(rss []*appsv1.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *appsv1.ReplicaSet) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func sortByRevision(rss []*appsv1.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *appsv1.ReplicaSet) int {
		if ra, rb := Revision(a), Revision(b); ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// sortBySize orders larger ReplicaSets first; among equals, newer first
// (newerFirst) or older first.
func sortBySize(rss []*appsv1.ReplicaSet, newerFirst bool) {
	slices.SortStableFunc(rss, func(a, b *appsv1.ReplicaSet) int {
		if ra, rb := rsReplicas(a), rsReplicas(b); ra != rb {
			if ra > rb {
				return -1
			}
			return 1
		}
		c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
		if newerFirst {
			c = -c
		}
		if c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func annotationInt(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// setReplicasAnnotations records desired and max on rs; it reports
// whether they changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	d, m := strconv.Itoa(int(desired)), strconv.Itoa(int(maxReplicas))
	changed := rs.Annotations[DesiredReplicasAnnotation] != d || rs.Annotations[MaxReplicasAnnotation] != m
	rs.Annotations[DesiredReplicasAnnotation] = d
	rs.Annotations[MaxReplicasAnnotation] = m
	return changed
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

// setNewRSAnnotations copies d's annotations to rs and gives it
// newRevision if that is higher than its own, keeping the revision it had
// in the revision history (a rollback to it). A ReplicaSet about to be
// created (!exists) also gets the replicas annotations.
func setNewRSAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision int64, exists bool) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if skipCopy[k] || rs.Annotations[k] == v {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	oldStr, had := rs.Annotations[RevisionAnnotation]
	old, err := strconv.ParseInt(oldStr, 10, 64)
	if err != nil {
		if oldStr != "" {
			return changed // not a number: leave it alone, as Kubernetes does
		}
		old = 0
	}
	if old < newRevision {
		rs.Annotations[RevisionAnnotation] = strconv.FormatInt(newRevision, 10)
		changed = true
		if had {
			rs.Annotations[RevisionHistoryAnnotation] = appendHistory(rs.Annotations[RevisionHistoryAnnotation], oldStr)
		}
	}
	if !exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d)+MaxSurge(d)) {
		changed = true
	}
	return changed
}

// appendHistory adds rev to a comma-separated history, dropping the
// oldest entries beyond maxRevHistoryLength characters.
func appendHistory(history, rev string) string {
	if history == "" {
		return rev
	}
	parts := append(strings.Split(history, ","), rev)
	for len(strings.Join(parts, ",")) > maxRevHistoryLength && len(parts) > 1 {
		parts = parts[1:]
	}
	return strings.Join(parts, ",")
}

// proportion is how many replicas rs gets of toAdd (the change of the
// Deployment's allowed size), given how many were handed out already.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(f, allowed)
	}
	return max(f, allowed)
}

// fraction is rs's share of the Deployment's new size, from the size it
// was scaled for (max-replicas annotation).
func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if replicasOf(d) == 0 {
		return -rsReplicas(rs)
	}
	maxNow := replicasOf(d) + MaxSurge(d)
	before, ok := annotationInt(rs, MaxReplicasAnnotation)
	if !ok || before == 0 {
		before = d.Status.Replicas
	}
	if before == 0 {
		return 0
	}
	size := float64(rsReplicas(rs)*maxNow) / float64(before)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// Condition helpers, with Kubernetes' semantics.

func getCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func newCondition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: msg,
		LastUpdateTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
}

// setCondition sets c, unless a condition of its type with the same
// status and reason is there; a change of reason keeps the transition
// time when the status stays.
func setCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := getCondition(st, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	st.Conditions = slices.DeleteFunc(st.Conditions, func(c appsv1.DeploymentCondition) bool { return c.Type == t })
	if len(st.Conditions) == 0 {
		st.Conditions = nil
	}
}

func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// Complete reports whether st shows d fully rolled out: every desired
// replica updated and available, no old ones left, this generation seen.
func Complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	n := replicasOf(d)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n && st.ObservedGeneration >= d.Generation
}

// progressing reports whether st shows progress over d's current status.
func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

func timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(st, appsv1.DeploymentProgressing)
	if c == nil || c.Reason == ReasonNewRSAvailable {
		return false
	}
	if c.Reason == ReasonTimedOut {
		return true
	}
	deadline := time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second
	return c.LastUpdateTime.Add(deadline).Before(now)
}
