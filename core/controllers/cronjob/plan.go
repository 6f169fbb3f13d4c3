package cronjob

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/owner"
)

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// MaxMissed is how many missed start times Kubernetes tolerates before it
// warns (TooManyMissedTimes) that the clock or startingDeadlineSeconds
// needs a look; only the most recent missed time is ever started.
const MaxMissed = 100

// nextScheduleDelta is added to requeues so that the next sync lands just
// after the scheduled time, not just before it.
const nextScheduleDelta = 100 * time.Millisecond

// Input is what the planner sees of one CronJob.
type Input struct {
	CronJob *batchv1.CronJob
	// Jobs are the Jobs the CronJob controls.
	Jobs []*batchv1.Job
	// Now is the controller's clock.
	Now time.Time
}

// Plan is what one sync does, in order: delete Delete (Replace's active
// Jobs and finished Jobs beyond the history limits), create Create (the
// shell appends it to Status.Active), write Status if not nil, record
// Events, and sync again after RequeueAfter (the next schedule time)
// when it is positive.
type Plan struct {
	Delete       []*batchv1.Job
	Create       *batchv1.Job
	Status       *batchv1.CronJobStatus
	Events       []Event
	RequeueAfter time.Duration
}

// Event is an event to record on the CronJob.
type Event struct{ Type, Reason, Message string }

func (p *Plan) event(typ, reason, format string, args ...any) {
	p.Events = append(p.Events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// JobName is Kubernetes' name for the Job of a scheduled time: the
// CronJob's name and the time in minutes since the epoch.
func JobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// finished reports whether the Job is Complete or Failed, and which.
func finished(j *batchv1.Job) (bool, batchv1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type
		}
	}
	return false, ""
}

// MostRecent is Kubernetes' mostRecentScheduleTime: the latest schedule
// time after the last one (or the creation time, or now minus
// startingDeadlineSeconds if later) that is not after now, nil if none,
// and roughly how many were missed (counted from the interval of the
// first two, as Kubernetes does, so that a decade of downtime costs no
// more than a minute of it).
func MostRecent(cj *batchv1.CronJob, sched cron.Schedule, now time.Time, withDeadline bool) (*time.Time, int64, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		if d := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	t1 := sched.Next(earliest)
	t2 := sched.Next(t1)
	if t1.IsZero() || now.Before(t1) {
		return nil, 0, nil
	}
	if t2.IsZero() || now.Before(t2) {
		return &t1, 1, nil
	}
	between := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if between < 1 {
		return nil, 0, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	missed := int64(now.Sub(t1).Seconds())/between + 1
	var recent time.Time
	from := t1.Add(time.Duration((missed-2)*between) * time.Second)
	for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		recent = t
	}
	if recent.IsZero() {
		return nil, missed, nil
	}
	return &recent, missed, nil
}

// nextIn is how long from now until the next schedule time, plus a small
// delta; 0 if there is none.
func nextIn(sched cron.Schedule, now time.Time) time.Duration {
	t := sched.Next(now)
	if t.IsZero() {
		return 0
	}
	return t.Sub(now) + nextScheduleDelta
}

// Decide plans one sync of a CronJob, as Kubernetes' CronJob controller
// (v2): it reconciles status.active with the Jobs (finished ones leave it,
// lastSuccessfulTime follows the newest completion), deletes finished Jobs
// beyond the history limits, and, unless suspended, starts the Job of the
// most recent unmet schedule time, unless it is past
// startingDeadlineSeconds (MissedSchedule) or concurrencyPolicy forbids it
// (Forbid: JobAlreadyActive; Replace deletes the active Jobs first).
func Decide(in Input) (plan Plan) {
	cj := in.CronJob
	st := cj.Status.DeepCopy()
	jobs := map[types.UID]*batchv1.Job{}
	for _, j := range in.Jobs {
		jobs[j.UID] = j
	}
	active := map[types.UID]bool{}
	for _, ref := range st.Active {
		active[ref.UID] = true
	}
	sorted := slices.Clone(in.Jobs)
	slices.SortFunc(sorted, func(a, b *batchv1.Job) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	for _, j := range sorted {
		done, cond := finished(j)
		switch {
		case !active[j.UID] && !done:
			plan.event(corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
			st.Active = append(st.Active, jobRef(j))
			active[j.UID] = true
		case active[j.UID] && done:
			st.Active = slices.DeleteFunc(st.Active, func(r corev1.ObjectReference) bool { return r.UID == j.UID })
			delete(active, j.UID)
			plan.event(corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, cond)
		}
		if cond == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(st.LastSuccessfulTime == nil || j.Status.CompletionTime.After(st.LastSuccessfulTime.Time)) {
			t := *j.Status.CompletionTime
			st.LastSuccessfulTime = &t
		}
	}
	for _, ref := range slices.Clone(st.Active) {
		if _, ok := jobs[ref.UID]; !ok {
			plan.event(corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			st.Active = slices.DeleteFunc(st.Active, func(r corev1.ObjectReference) bool { return r.UID == ref.UID })
		}
	}
	defer func() {
		if !statusEqual(st, &cj.Status) {
			plan.Status = st
		}
	}()
	if cj.DeletionTimestamp != nil {
		return plan
	}
	plan.cleanup(cj, sorted)

	loc := in.Now.Location()
	if tz := cj.Spec.TimeZone; tz != nil {
		l, err := time.LoadLocation(*tz)
		if err != nil {
			plan.event(corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %v", *tz, err)
			return plan
		}
		loc = l
	}
	spec := cj.Spec.Schedule
	if !strings.HasPrefix(spec, "TZ=") && !strings.HasPrefix(spec, "CRON_TZ=") {
		spec = "TZ=" + loc.String() + " " + spec // the schedule's times are in loc
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		plan.event(corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %v", cj.Spec.Schedule, err)
		return plan
	}
	now := in.Now.In(loc)
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return plan
	}
	view := cj.DeepCopy()
	view.Status = *st
	scheduled, missed, err := MostRecent(view, sched, now, true)
	if err != nil {
		plan.event(corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %v", cj.Spec.Schedule, err)
		return plan
	}
	plan.RequeueAfter = nextIn(sched, now)
	if missed > MaxMissed {
		plan.event(corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if scheduled == nil {
		return plan
	}
	if cj.Spec.StartingDeadlineSeconds != nil &&
		scheduled.Add(time.Duration(*cj.Spec.StartingDeadlineSeconds)*time.Second).Before(now) {
		plan.event(corev1.EventTypeWarning, "MissedSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return plan
	}
	name := JobName(cj, *scheduled)
	if st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(*scheduled) {
		return plan
	}
	for _, j := range in.Jobs {
		if j.Name == name {
			// Created before a crash lost the status write: it is that
			// schedule time's Job.
			t := metav1.NewTime(*scheduled)
			st.LastScheduleTime = &t
			return plan
		}
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			plan.event(corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return plan
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range st.Active {
			if j, ok := jobs[ref.UID]; ok {
				plan.Delete = append(plan.Delete, j)
			}
		}
		st.Active = nil
	}
	plan.Create = NewJob(cj, *scheduled, loc)
	t := metav1.NewTime(*scheduled)
	st.LastScheduleTime = &t
	return plan
}

// cleanup deletes the oldest finished Jobs beyond the history limits.
func (plan *Plan) cleanup(cj *batchv1.CronJob, sorted []*batchv1.Job) {
	var ok, failed []*batchv1.Job
	for _, j := range sorted {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch _, cond := finished(j); cond {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	trim := func(js []*batchv1.Job, limit *int32) {
		if limit == nil {
			return
		}
		if extra := len(js) - int(max(*limit, 0)); extra > 0 {
			plan.Delete = append(plan.Delete, js[:extra]...)
		}
	}
	trim(ok, cj.Spec.SuccessfulJobsHistoryLimit)
	trim(failed, cj.Spec.FailedJobsHistoryLimit)
}

// NewJob is the Job of cj for a scheduled time: its jobTemplate, named
// JobName, controlled by cj, with the scheduled-timestamp annotation
// (RFC 3339 in the CronJob's time zone).
func NewJob(cj *batchv1.CronJob, scheduled time.Time, loc *time.Location) *batchv1.Job {
	t := cj.Spec.JobTemplate.DeepCopy()
	ann := maps.Clone(t.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: JobName(cj, scheduled), Namespace: cj.Namespace, Labels: maps.Clone(t.Labels),
			Annotations: ann, OwnerReferences: []metav1.OwnerReference{owner.NewControllerRef(cj, cronJobKind)}},
		Spec: t.Spec,
	}
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name,
		UID: j.UID, ResourceVersion: j.ResourceVersion}
}

// JobRef is the status.active entry of a Job.
func JobRef(j *batchv1.Job) corev1.ObjectReference { return jobRef(j) }

func statusEqual(a, b *batchv1.CronJobStatus) bool {
	if len(a.Active) != len(b.Active) {
		return false
	}
	for i := range a.Active {
		if a.Active[i].UID != b.Active[i].UID {
			return false
		}
	}
	return timeEqual(a.LastScheduleTime, b.LastScheduleTime) && timeEqual(a.LastSuccessfulTime, b.LastSuccessfulTime)
}

func timeEqual(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Time.Equal(b.Time)
}
