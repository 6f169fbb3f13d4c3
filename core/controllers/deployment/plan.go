package deployment

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/owner"
)

// Input is what the planner sees of one Deployment.
type Input struct {
	Deployment *appsv1.Deployment
	// ReplicaSets are those the Deployment owns (claimed).
	ReplicaSets []*appsv1.ReplicaSet
	// Pods are the pods each owned ReplicaSet controls, by its UID. Only
	// the Recreate strategy reads them (it waits for old pods to go).
	Pods map[types.UID][]*corev1.Pod
	// Now is the time; it is truncated to seconds, the precision of
	// condition times.
	Now time.Time
}

// Op is a write to a ReplicaSet.
type Op int

// The writes.
const (
	Create Op = iota
	Update
	Delete
)

func (o Op) String() string { return [...]string{"create", "update", "delete"}[o] }

// Event is an event to record on the Deployment.
type Event struct {
	Type, Reason, Message string
}

// Action is one write, and the events to record once it succeeded.
type Action struct {
	Op Op
	// RS is the object to create, the full new state to write (for an
	// update, at the resourceVersion it was read), or the one to delete.
	RS     *appsv1.ReplicaSet
	Events []Event
}

// Plan is what a sync does, in order: the ReplicaSet writes, then the
// Deployment's annotations, then its status.
type Plan struct {
	Actions []Action
	// Annotations, if not nil, are the Deployment's new annotations (its
	// revision).
	Annotations map[string]string
	// Status, if not nil, is the Deployment's new status.
	Status *appsv1.DeploymentStatus
	// Events are recorded whatever the writes do.
	Events []Event
	// RequeueAfter, if positive, is when to look again although nothing
	// changes (the progress deadline).
	RequeueAfter time.Duration
}

var deploymentKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// planner follows Kubernetes' deployment controller step by step on
// copies of the objects, recording the writes instead of making them, so
// that one Plan is what one sync of kube-controller-manager would do.
type planner struct {
	in  Input
	d   *appsv1.Deployment   // copy; its status and annotations evolve
	rss []*appsv1.ReplicaSet // copies; they evolve with the writes
	now time.Time
	out Plan
	// written indexes Actions by ReplicaSet name, so that two writes to
	// one ReplicaSet in a sync become one.
	written map[string]int
}

// Decide plans one sync of the Deployment in in.
func Decide(in Input) Plan {
	p := &planner{in: in, d: in.Deployment.DeepCopy(), now: in.Now.Truncate(time.Second), written: map[string]int{}}
	for _, rs := range in.ReplicaSets {
		p.rss = append(p.rss, rs.DeepCopy())
	}
	p.sync()
	if !apiequality.Semantic.DeepEqual(p.d.Annotations, in.Deployment.Annotations) {
		p.out.Annotations = p.d.Annotations
		if p.out.Annotations == nil {
			p.out.Annotations = map[string]string{}
		}
	}
	if !apiequality.Semantic.DeepEqual(&p.d.Status, &in.Deployment.Status) {
		st := p.d.Status
		p.out.Status = &st
	}
	return p.out
}

func (p *planner) event(typ, reason, format string, args ...any) Event {
	return Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// write records a write of rs (a planner copy), merging it with an
// earlier write of the same ReplicaSet in this sync.
func (p *planner) write(op Op, rs *appsv1.ReplicaSet, evs ...Event) {
	if i, ok := p.written[rs.Name]; ok {
		a := &p.out.Actions[i]
		if op == Delete {
			a.Op = Delete
		}
		a.RS = rs
		a.Events = append(a.Events, evs...)
		return
	}
	p.written[rs.Name] = len(p.out.Actions)
	p.out.Actions = append(p.out.Actions, Action{Op: op, RS: rs, Events: evs})
}

func (p *planner) sync() {
	d := p.d
	if d.Spec.Selector == nil || (len(d.Spec.Selector.MatchLabels) == 0 && len(d.Spec.Selector.MatchExpressions) == 0) {
		p.out.Events = append(p.out.Events, p.event(corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required."))
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
		}
		return
	}
	if d.DeletionTimestamp != nil {
		newRS, old := p.replicaSets(false)
		p.syncStatus(append(old, newRS), newRS)
		return
	}
	p.checkPaused()
	if d.Spec.Paused {
		p.scaleOnly()
		return
	}
	if p.isScalingEvent() {
		p.scaleOnly()
		return
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		p.recreate()
		return
	}
	p.rolling()
}

// checkPaused records pausing and resuming in the Progressing condition,
// so that a long pause is not taken for a lack of progress.
func (p *planner) checkPaused() {
	d := p.d
	if !hasProgressDeadline(d) {
		return
	}
	c := getCondition(&d.Status, appsv1.DeploymentProgressing)
	if c != nil && c.Reason == ReasonTimedOut {
		return
	}
	paused := c != nil && c.Reason == ReasonPaused
	switch {
	case d.Spec.Paused && !paused:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", p.now))
	case !d.Spec.Paused && paused:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", p.now))
	}
}

// scaleOnly is the sync of a paused Deployment or of a scaling event:
// scale the ReplicaSets there are, start no rollout.
func (p *planner) scaleOnly() {
	newRS, old := p.replicaSets(false)
	p.scale(newRS, old)
	if p.d.Spec.Paused {
		p.cleanup(old)
	}
	p.syncStatus(append(old, newRS), newRS)
}

// replicaSets finds the new ReplicaSet (creating it if asked) and the old
// ones, and syncs revisions: the new ReplicaSet's revision is one more
// than the old ones', and the Deployment carries it.
func (p *planner) replicaSets(create bool) (newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	d := p.d
	existing := findNew(d, p.rss)
	for _, rs := range p.rss {
		if rs != existing {
			old = append(old, rs)
		}
	}
	newRevision := maxRevision(old) + 1
	if existing != nil {
		annotated := setNewRSAnnotations(d, existing, newRevision, true)
		if annotated || existing.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			existing.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			p.write(Update, existing)
		}
		setRevision(d, existing.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && getCondition(&d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", existing.Name), p.now))
		}
		return existing, old
	}
	if !create {
		return nil, old
	}
	hash := TemplateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := d.Spec.Template.DeepCopy()
	tmpl.Labels = withLabel(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	sel := d.Spec.Selector.DeepCopy()
	sel.MatchLabels = withLabel(sel.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace, Labels: tmpl.Labels,
			OwnerReferences:   []metav1.OwnerReference{owner.NewControllerRef(d, deploymentKind)},
			CreationTimestamp: metav1.NewTime(p.now),
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: *tmpl},
	}
	n := NewRSReplicas(d, append(slices.Clone(old), rs), rs)
	rs.Spec.Replicas = &n
	setNewRSAnnotations(d, rs, newRevision, false)
	var evs []Event
	if n > 0 {
		evs = append(evs, p.event(corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", rs.Name, n))
	}
	p.write(Create, rs, evs...)
	p.rss = append(p.rss, rs)
	setRevision(d, strconv.FormatInt(newRevision, 10))
	if hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", rs.Name), p.now))
	}
	return rs, old
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

func setRevision(d *appsv1.Deployment, rev string) {
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = rev
}

// isScalingEvent reports whether the Deployment's replicas changed since
// its active ReplicaSets were last scaled (their desired-replicas
// annotation), which is handled by scaling, not by a rollout step.
func (p *planner) isScalingEvent() bool {
	newRS, old := p.replicaSets(false)
	for _, rs := range active(append(old, newRS)) {
		if want, ok := annotationInt(rs, DesiredReplicasAnnotation); ok && want != replicasOf(p.d) {
			return true
		}
	}
	return false
}

// scaleTo sets rs's replicas to n (and its replicas annotations); it
// reports whether the size changed.
func (p *planner) scaleTo(rs *appsv1.ReplicaSet, n int32) bool {
	d := p.d
	if rsReplicas(rs) == n && !replicasAnnotationsNeedUpdate(rs, replicasOf(d), replicasOf(d)+MaxSurge(d)) {
		return false
	}
	old := rsReplicas(rs)
	rs.Spec.Replicas = &n
	setReplicasAnnotations(rs, replicasOf(d), replicasOf(d)+MaxSurge(d))
	if old == n {
		p.write(Update, rs)
		return false
	}
	dir := "up"
	if n < old {
		dir = "down"
	}
	p.write(Update, rs, p.event(corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, old, n))
	return true
}

// scaleIfNeeded scales rs to n when it is not there yet.
func (p *planner) scaleIfNeeded(rs *appsv1.ReplicaSet, n int32) bool {
	if rsReplicas(rs) == n {
		return false
	}
	return p.scaleTo(rs, n)
}

// scale handles a change of replicas: the one active ReplicaSet takes
// it; a saturated new ReplicaSet retires the old ones; during a rolling
// update the change is shared out in proportion to the ReplicaSets'
// sizes, the rounding leftover going to the largest.
func (p *planner) scale(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	d := p.d
	if one := activeOrLatest(newRS, old); one != nil {
		p.scaleIfNeeded(one, replicasOf(d))
		return
	}
	if saturated(d, newRS) {
		for _, rs := range active(old) {
			p.scaleIfNeeded(rs, 0)
		}
		return
	}
	if !isRolling(d) {
		return
	}
	all := active(append(slices.Clone(old), newRS))
	var allowed int32
	if replicasOf(d) > 0 {
		allowed = replicasOf(d) + MaxSurge(d)
	}
	toAdd := allowed - specReplicas(all)
	switch {
	case toAdd > 0:
		sortBySize(all, true)
	case toAdd < 0:
		sortBySize(all, false)
	}
	var added int32
	size := make(map[string]int32, len(all))
	for _, rs := range all {
		if toAdd != 0 {
			prop := proportion(rs, d, toAdd, added)
			size[rs.Name] = rsReplicas(rs) + prop
			added += prop
		} else {
			size[rs.Name] = rsReplicas(rs)
		}
	}
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			size[rs.Name] = max(size[rs.Name]+toAdd-added, 0)
		}
		p.scaleTo(rs, size[rs.Name])
	}
}

// activeOrLatest returns the only active ReplicaSet, or, when none is
// active, the new one or else the latest old one; nil when several are
// active.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	sorted := slices.Clone(old)
	sortByCreation(sorted)
	act := active(append(sorted, newRS))
	switch len(act) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[len(sorted)-1]
	case 1:
		return act[0]
	}
	return nil
}

// saturated reports whether rs runs all of d's replicas, available.
func saturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want, ok := annotationInt(rs, DesiredReplicasAnnotation)
	return ok && rsReplicas(rs) == replicasOf(d) && want == replicasOf(d) && rs.Status.AvailableReplicas == replicasOf(d)
}

// rolling is one step of a rolling update: scale the new ReplicaSet up as
// far as maxSurge allows, else the old ones down as far as maxUnavailable
// allows, else clean up.
func (p *planner) rolling() {
	newRS, old := p.replicaSets(true)
	all := append(slices.Clone(old), newRS)
	if p.scaleUpNew(all, newRS) {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if p.scaleDownOld(all, active(old), newRS) {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if Complete(p.d, &p.d.Status) {
		p.cleanup(old)
	}
	p.syncRolloutStatus(all, newRS)
}

func (p *planner) scaleUpNew(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	want := replicasOf(p.d)
	switch n := rsReplicas(newRS); {
	case n == want:
		return false
	case n > want:
		return p.scaleIfNeeded(newRS, want)
	}
	return p.scaleIfNeeded(newRS, NewRSReplicas(p.d, all, newRS))
}

// scaleDownOld scales old ReplicaSets down: first their unavailable pods
// (which costs no availability), then available ones down to
// replicas-maxUnavailable available in all.
func (p *planner) scaleDownOld(all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	if specReplicas(old) == 0 {
		return false
	}
	d := p.d
	minAvailable := replicasOf(d) - MaxUnavailable(d)
	newUnavailable := rsReplicas(newRS) - newRS.Status.AvailableReplicas
	maxScaledDown := specReplicas(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	cleaned := p.cleanupUnhealthy(old, maxScaledDown)
	scaled := p.scaleDownAvailable(all, old)
	return cleaned+scaled > 0
}

func (p *planner) cleanupUnhealthy(old []*appsv1.ReplicaSet, limit int32) int32 {
	sorted := slices.Clone(old)
	sortByCreation(sorted)
	var total int32
	for _, rs := range sorted {
		if total >= limit {
			break
		}
		n := rsReplicas(rs)
		avail := min(rs.Status.AvailableReplicas, n)
		if n == 0 || n == avail {
			continue
		}
		down := min(limit-total, n-avail)
		p.scaleIfNeeded(rs, n-down)
		total += down
	}
	return total
}

func (p *planner) scaleDownAvailable(all, old []*appsv1.ReplicaSet) int32 {
	d := p.d
	minAvailable := replicasOf(d) - MaxUnavailable(d)
	available := safeAvailable(all)
	if available <= minAvailable {
		return 0
	}
	sorted := slices.Clone(old)
	sortByCreation(sorted)
	want := available - minAvailable
	var total int32
	for _, rs := range sorted {
		if total >= want {
			break
		}
		n := rsReplicas(rs)
		if n == 0 {
			continue
		}
		down := min(n, want-total)
		p.scaleIfNeeded(rs, n-down)
		total += down
	}
	return total
}

// recreate is one step of the Recreate strategy: scale every old
// ReplicaSet to zero, wait until their pods are gone, then create and
// scale up the new one.
func (p *planner) recreate() {
	newRS, old := p.replicaSets(false)
	all := append(slices.Clone(old), newRS)
	scaled := false
	for _, rs := range active(old) {
		if p.scaleIfNeeded(rs, 0) {
			scaled = true
		}
	}
	if scaled {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if p.oldPodsRunning(newRS, old) {
		p.syncRolloutStatus(all, newRS)
		return
	}
	if newRS == nil {
		newRS, old = p.replicaSets(true)
		all = append(slices.Clone(old), newRS)
	}
	p.scaleIfNeeded(newRS, replicasOf(p.d))
	if Complete(p.d, &p.d.Status) {
		p.cleanup(old)
	}
	p.syncRolloutStatus(all, newRS)
}

// oldPodsRunning reports whether any pod of an old ReplicaSet may still
// run (any that has not finished, terminating ones included).
func (p *planner) oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) bool {
	if statusReplicas(old) > 0 {
		return true
	}
	for uid, ps := range p.in.Pods {
		if newRS != nil && newRS.UID == uid {
			continue
		}
		for _, pod := range ps {
			if pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}

// cleanup deletes the oldest old ReplicaSets beyond revisionHistoryLimit
// that are scaled to zero, have no pods and whose last scale-down their
// controller has seen.
func (p *planner) cleanup(old []*appsv1.ReplicaSet) {
	d := p.d
	if d.Spec.RevisionHistoryLimit == nil {
		return
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			if i, ok := p.written[rs.Name]; ok && p.out.Actions[i].Op == Delete {
				continue
			}
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return
	}
	sortByRevision(alive)
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration || rs.DeletionTimestamp != nil {
			continue
		}
		p.write(Delete, rs)
	}
}

// calculateStatus is the Deployment's status from its ReplicaSets.
func (p *planner) calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) appsv1.DeploymentStatus {
	d := p.d
	avail := availableReplicas(all)
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            statusReplicas(all),
		UpdatedReplicas:     statusReplicas([]*appsv1.ReplicaSet{newRS}),
		ReadyReplicas:       readyReplicas(all),
		AvailableReplicas:   avail,
		UnavailableReplicas: max(specReplicas(all)-avail, 0),
		CollisionCount:      d.Status.CollisionCount,
		TerminatingReplicas: terminatingReplicas(all),
		Conditions:          slices.Clone(d.Status.Conditions),
	}
	if avail >= replicasOf(d)-MaxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, ReasonMinimumAvailable, "Deployment has minimum availability.", p.now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, ReasonMinimumUnavailable, "Deployment does not have minimum availability.", p.now))
	}
	return st
}

// syncStatus updates the status without judging progress (paused,
// scaling, being deleted).
func (p *planner) syncStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) {
	p.d.Status = p.calculateStatus(all, newRS)
}

// syncRolloutStatus updates the status and the Progressing condition:
// complete, progressing, or past its progress deadline; and the
// ReplicaFailure condition, from the ReplicaSets'.
func (p *planner) syncRolloutStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) {
	d := p.d
	st := p.calculateStatus(all, newRS)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(&d.Status, appsv1.DeploymentProgressing)
	complete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	subject := fmt.Sprintf("Deployment %q", d.Name)
	if newRS != nil {
		subject = fmt.Sprintf("ReplicaSet %q", newRS.Name)
	}
	if hasProgressDeadline(d) && !complete {
		switch {
		case Complete(d, &st):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewRSAvailable,
				subject+" has successfully progressed.", p.now))
		case progressing(d, &st):
			c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonRSUpdated, subject+" is progressing.", p.now)
			// Progress moves lastUpdateTime even when the reason stays.
			if cur != nil {
				if cur.Status == corev1.ConditionTrue {
					c.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&st, appsv1.DeploymentProgressing)
			}
			st.Conditions = append(st.Conditions, c)
		case timedOut(d, &st, p.now):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonTimedOut,
				subject+" has timed out progressing.", p.now))
		}
	}
	if f := replicaFailure(all, newRS); f != nil {
		setCondition(&st, *f)
	} else {
		removeCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	d.Status = st
	p.out.RequeueAfter = p.requeueStuck(&st)
}

// replicaFailure lifts the new ReplicaSet's ReplicaFailure condition (or
// else an old one's) to the Deployment.
func replicaFailure(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *appsv1.DeploymentCondition {
	from := func(rs *appsv1.ReplicaSet) *appsv1.DeploymentCondition {
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure {
				return &appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: c.Status, Reason: c.Reason,
					Message: c.Message, LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime}
			}
		}
		return nil
	}
	if newRS != nil {
		if c := from(newRS); c != nil {
			return c
		}
	}
	for _, rs := range all {
		if rs != nil && rs != newRS {
			if c := from(rs); c != nil {
				return c
			}
		}
	}
	return nil
}

// requeueStuck is when to look again at a rollout that is neither done
// nor timed out, to notice its progress deadline passing.
func (p *planner) requeueStuck(st *appsv1.DeploymentStatus) time.Duration {
	d := p.d
	c := getCondition(st, appsv1.DeploymentProgressing)
	// Kubernetes also requeues (rate-limited, forever) a rollout whose
	// condition still says NewReplicaSetAvailable; that condition never
	// times out, so Skiff does not.
	if !hasProgressDeadline(d) || c == nil || Complete(d, st) || c.Reason == ReasonTimedOut || c.Reason == ReasonNewRSAvailable {
		return 0
	}
	after := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(p.in.Now)
	if after < time.Second {
		return time.Second
	}
	return after + time.Second
}
