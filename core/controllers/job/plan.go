package job

import (
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/pods"
	"github.com/skiffhq/skiff/core/controllers/replicaset"
)

// TrackingFinalizer is on every pod a Job creates until the Job has
// counted it, so that a finished pod cannot vanish uncounted.
const TrackingFinalizer = batchv1.JobTrackingFinalizer

// MaxPodsPerSync caps the pods one sync creates or deletes.
const MaxPodsPerSync = 500

// Condition reasons, as Kubernetes sets them.
const (
	ReasonBackoffLimitExceeded = batchv1.JobReasonBackoffLimitExceeded
	ReasonDeadlineExceeded     = batchv1.JobReasonDeadlineExceeded
	ReasonCompletionsReached   = batchv1.JobReasonCompletionsReached
	ReasonSuspended            = "JobSuspended"
	ReasonResumed              = "JobResumed"
)

// Timing is the back-off before a failed pod is replaced: Base after the
// first failure, doubling with each consecutive one, at most Max.
type Timing struct {
	Base, Max time.Duration
}

// DefaultTiming is Kubernetes' (10 s doubling to 6 min).
var DefaultTiming = Timing{Base: 10 * time.Second, Max: 6 * time.Minute}

// Backoff is what the shell remembers of a Job's failures: how many pods
// failed since the last success, and when the last one did.
type Backoff struct {
	Failures int
	Last     time.Time
}

// Input is what the planner sees of one Job.
type Input struct {
	Job *batchv1.Job
	// Pods are those the Job controls.
	Pods    []*corev1.Pod
	Backoff Backoff
	Timing  Timing
	// Hold: the shell's expectations are not met (its cache is behind its
	// own creations or deletions): count and report, but do not create or
	// delete for parallelism this time.
	Hold bool
	// Now is truncated to seconds, the precision of status times.
	Now time.Time
}

// Event is an event to record on the Job.
type Event struct {
	Type, Reason, Message string
}

// Plan is what one sync does, in order: write Status (which records the
// newly finished pods as uncounted before anything else), remove the
// tracking finalizer from Untrack, delete Delete, create Create pods, and
// delete the Job itself if DeleteJob (its TTL after finishing passed).
type Plan struct {
	Status  *batchv1.JobStatus
	Untrack []*corev1.Pod
	Delete  []*corev1.Pod
	Create  int
	// DeleteJob: ttlSecondsAfterFinished has passed.
	DeleteJob bool
	Events    []Event
	// NewSucceeded and NewFailed are the pods this sync saw finish, for
	// the shell's Backoff.
	NewSucceeded, NewFailed int
	// RequeueAfter, if positive: look again then (back-off, deadline, TTL).
	RequeueAfter time.Duration
}

func hasFinalizer(p *corev1.Pod) bool { return slices.Contains(p.Finalizers, TrackingFinalizer) }

// failed is Kubernetes' isPodFailed for the default pod replacement
// policy: a pod failed if its phase says so, or if it was deleted before
// it succeeded.
func failed(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || (p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded)
}

func condition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func isTrue(st *batchv1.JobStatus, t batchv1.JobConditionType) bool {
	c := condition(st, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

// setCondition sets a condition, keeping its transition time when the
// status does not change; it reports whether anything changed.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) bool {
	if c := condition(st, t); c != nil {
		if c.Status == s && c.Reason == reason && c.Message == msg {
			return false
		}
		if c.Status != s {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = s, reason, msg, metav1.NewTime(now)
		return true
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t, Status: s, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)})
	return true
}

// Finished reports whether the Job is done (Complete or Failed), and when.
func Finished(j *batchv1.Job) (bool, time.Time) {
	for _, t := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
		if c := condition(&j.Status, t); c != nil && c.Status == corev1.ConditionTrue {
			return true, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

func suspended(j *batchv1.Job) bool { return j.Spec.Suspend != nil && *j.Spec.Suspend }

// Decide plans one sync of a Job, as Kubernetes' Job controller does for
// the NonIndexed completion mode: keep min(parallelism, remaining
// completions) pods running, replace failed ones after a back-off, count
// every finished pod exactly once (through status.uncountedTerminatedPods
// and the tracking finalizer), fail the Job past backoffLimit or
// activeDeadlineSeconds (deleting what still runs), complete it once
// enough pods succeeded, honour suspend, and delete it
// ttlSecondsAfterFinished after it finished.
func Decide(in Input) Plan {
	j := in.Job
	now := in.Now.Truncate(time.Second)
	st := j.Status.DeepCopy()
	var plan Plan
	event := func(typ, reason, format string, args ...any) {
		plan.Events = append(plan.Events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}

	// Counting: pods recorded as uncounted move to the counters once their
	// finalizer is gone; newly finished pods are recorded as uncounted;
	// every recorded pod still tracked is untracked.
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	unc := st.UncountedTerminatedPods
	tracked := map[types.UID]*corev1.Pod{}
	for _, p := range in.Pods {
		if hasFinalizer(p) {
			tracked[p.UID] = p
		}
	}
	recorded := map[types.UID]bool{}
	keep := func(uids []types.UID, counter *int32) []types.UID {
		var out []types.UID
		for _, u := range uids {
			if _, ok := tracked[u]; ok {
				out = append(out, u)
				recorded[u] = true
			} else {
				*counter++
			}
		}
		return out
	}
	unc.Succeeded = keep(unc.Succeeded, &st.Succeeded)
	unc.Failed = keep(unc.Failed, &st.Failed)
	for _, p := range in.Pods {
		if !hasFinalizer(p) || recorded[p.UID] {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			unc.Succeeded = append(unc.Succeeded, p.UID)
			plan.NewSucceeded++
		case failed(p):
			unc.Failed = append(unc.Failed, p.UID)
			plan.NewFailed++
		default:
			continue
		}
		recorded[p.UID] = true
	}
	for _, p := range in.Pods {
		if recorded[p.UID] {
			plan.Untrack = append(plan.Untrack, p)
		}
	}
	succeeded := st.Succeeded + int32(len(unc.Succeeded))
	failures := st.Failed + int32(len(unc.Failed))

	var active []*corev1.Pod
	var terminating int32
	for _, p := range in.Pods {
		switch {
		case pods.Active(p):
			active = append(active, p)
		case pods.Terminating(p) && !pods.Terminal(p):
			terminating++
		}
	}
	done, _ := Finished(j)

	switch {
	case done:
		// Nothing to run; only counting and the TTL.
	case j.DeletionTimestamp != nil:
	case suspended(j):
		if setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, ReasonSuspended, "Job suspended", now) {
			event(corev1.EventTypeNormal, "Suspended", "Job suspended")
		}
		plan.Delete = capped(active)
		active = nil
	default:
		if c := condition(st, batchv1.JobSuspended); c != nil && c.Status == corev1.ConditionTrue {
			setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, ReasonResumed, "Job resumed", now)
			event(corev1.EventTypeNormal, "Resumed", "Job resumed")
			start := metav1.NewTime(now)
			st.StartTime = &start
		}
		if st.StartTime == nil {
			start := metav1.NewTime(now)
			st.StartTime = &start
		}
		reason, msg := failureOf(j, st, failures, active, now)
		if reason == "" && !isTrue(st, batchv1.JobSuccessCriteriaMet) && !in.Hold {
			plan.manage(in, &active, succeeded)
		}
		if reason != "" {
			if setCondition(st, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, msg, now) {
				event(corev1.EventTypeWarning, reason, "%s", msg)
			}
			plan.Delete = capped(active)
			active = nil
		} else if complete(j, succeeded, int32(len(active))) {
			setCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, ReasonCompletionsReached, "Reached expected number of succeeded pods", now)
		} else if d := deadlineIn(j, st, now); d > 0 {
			plan.RequeueAfter = d
		}
	}

	// Finish once everything is counted and nothing runs any more.
	allCounted := len(unc.Succeeded)+len(unc.Failed) == 0 && len(active) == 0 && terminating == 0 && len(plan.Delete) == 0
	if !done && allCounted {
		if c := condition(st, batchv1.JobFailureTarget); c != nil && c.Status == corev1.ConditionTrue {
			setCondition(st, batchv1.JobFailed, corev1.ConditionTrue, c.Reason, c.Message, now)
		} else if isTrue(st, batchv1.JobSuccessCriteriaMet) {
			setCondition(st, batchv1.JobComplete, corev1.ConditionTrue, ReasonCompletionsReached, "Reached expected number of succeeded pods", now)
			ct := metav1.NewTime(now)
			st.CompletionTime = &ct
			event(corev1.EventTypeNormal, "Completed", "Job completed")
		}
	}

	var ready int32
	for _, p := range active {
		if pods.Ready(p) {
			ready++
		}
	}
	st.Active = int32(len(active)) + int32(plan.Create)
	st.Ready = &ready
	st.Terminating = &terminating
	if len(unc.Succeeded)+len(unc.Failed) == 0 {
		unc.Succeeded, unc.Failed = nil, nil
	}

	// The TTL after finishing.
	if fin := finishedAt(st); !fin.IsZero() && j.Spec.TTLSecondsAfterFinished != nil {
		expire := fin.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second)
		if !in.Now.Before(expire) {
			plan.DeleteJob = true
		} else {
			plan.RequeueAfter = minPositive(plan.RequeueAfter, expire.Sub(in.Now))
		}
	}
	if !apiequality.Semantic.DeepEqual(st, &j.Status) {
		plan.Status = st
	}
	return plan
}

func finishedAt(st *batchv1.JobStatus) time.Time {
	for _, t := range []batchv1.JobConditionType{batchv1.JobComplete, batchv1.JobFailed} {
		if c := condition(st, t); c != nil && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 {
		return b
	}
	return min(a, b)
}

func capped(ps []*corev1.Pod) []*corev1.Pod {
	if len(ps) > MaxPodsPerSync {
		return ps[:MaxPodsPerSync]
	}
	return ps
}

// failureOf says why the Job fails now ("" when it does not): an earlier
// FailureTarget, too many failures, or its active deadline.
func failureOf(j *batchv1.Job, st *batchv1.JobStatus, failures int32, active []*corev1.Pod, now time.Time) (reason, msg string) {
	if c := condition(st, batchv1.JobFailureTarget); c != nil && c.Status == corev1.ConditionTrue {
		return c.Reason, c.Message
	}
	limit := int32(6)
	if j.Spec.BackoffLimit != nil {
		limit = *j.Spec.BackoffLimit
	}
	if failures > limit || pastBackoffLimitOnFailure(j, active, limit) {
		return ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"
	}
	if j.Spec.ActiveDeadlineSeconds != nil && st.StartTime != nil &&
		now.Sub(st.StartTime.Time) >= time.Duration(*j.Spec.ActiveDeadlineSeconds)*time.Second {
		return ReasonDeadlineExceeded, "Job was active longer than specified deadline"
	}
	return "", ""
}

// pastBackoffLimitOnFailure counts container restarts of a Job whose pods
// restart on failure (they never reach Failed).
func pastBackoffLimitOnFailure(j *batchv1.Job, active []*corev1.Pod, limit int32) bool {
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range active {
		for _, s := range p.Status.InitContainerStatuses {
			n += s.RestartCount
		}
		for _, s := range p.Status.ContainerStatuses {
			n += s.RestartCount
		}
	}
	if limit == 0 {
		return n > 0
	}
	return n >= limit
}

func deadlineIn(j *batchv1.Job, st *batchv1.JobStatus, now time.Time) time.Duration {
	if j.Spec.ActiveDeadlineSeconds == nil || st.StartTime == nil {
		return 0
	}
	d := st.StartTime.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds) * time.Second).Sub(now)
	return max(d, 0) + 10*time.Millisecond
}

// complete reports whether the Job has succeeded: with completions, that
// many pods succeeded; without, one did; and nothing runs any more.
func complete(j *batchv1.Job, succeeded, active int32) bool {
	if j.Spec.Completions == nil {
		return succeeded > 0 && active == 0
	}
	return succeeded >= *j.Spec.Completions && active == 0
}

// manage decides the pods to create or delete so that the right number
// runs: min(parallelism, remaining completions), or parallelism for a Job
// without completions until one pod succeeded (then no new ones). Failed
// pods are replaced after the back-off.
func (plan *Plan) manage(in Input, active *[]*corev1.Pod, succeeded int32) {
	j := in.Job
	n := int32(len(*active))
	parallelism := int32(1)
	if j.Spec.Parallelism != nil {
		parallelism = *j.Spec.Parallelism
	}
	var want int32
	if j.Spec.Completions == nil {
		if succeeded > 0 {
			want = n
		} else {
			want = parallelism
		}
	} else {
		want = max(min(*j.Spec.Completions-succeeded, parallelism), 0)
	}
	if n > want {
		ranked := replicaset.RankForDeletion(*active)
		plan.Delete = capped(ranked[:n-want])
		*active = ranked[len(plan.Delete):]
		return
	}
	if n == want {
		return
	}
	if wait := plan.backoff(in); wait > 0 {
		plan.RequeueAfter = wait
		return
	}
	plan.Create = int(min(want-n, MaxPodsPerSync))
}

// Next returns the Backoff after a sync that saw plan's new successes and
// failures at now: a success resets it, each failure counts.
func (b Backoff) Next(plan *Plan, now time.Time) Backoff {
	if plan.NewSucceeded > 0 {
		b = Backoff{}
	}
	if plan.NewFailed > 0 {
		b.Failures += plan.NewFailed
		b.Last = now
	}
	return b
}

// backoff is how long to wait before replacing failed pods: Base after
// the first consecutive failure, doubling, at most Max.
func (plan *Plan) backoff(in Input) time.Duration {
	t := in.Timing
	if t == (Timing{}) {
		t = DefaultTiming
	}
	b := in.Backoff.Next(plan, in.Now)
	if b.Failures == 0 {
		return 0
	}
	delay := t.Base
	for i := 1; i < b.Failures && delay < t.Max; i++ {
		delay *= 2
	}
	return b.Last.Add(min(delay, t.Max)).Sub(in.Now)
}
