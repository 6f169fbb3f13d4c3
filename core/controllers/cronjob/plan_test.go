package cronjob_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/cronjob"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

func ptr[T any](v T) *T { return &v }

// at parses a time: an RFC 3339 time, or a duration before scenario.Now
// ("5m" is 5 minutes ago).
func at(t *testing.T, s string) time.Time {
	if ts, err := time.Parse(time.RFC3339, s); err == nil {
		return ts
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return scenario.Now.Add(-d)
}

// parseCronJob: cj [schedule=S (underscores for spaces)] [tz=ZONE]
// [created=T] [last=T] [deadline=S] [policy=Allow|Forbid|Replace]
// [suspend] [keep=N] [keepFailed=N] [active=NAME,...] [lastSuccess=T]
func parseCronJob(t *testing.T, words []string) *batchv1.CronJob {
	a := scenario.ParseAttrs(words)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: scenario.UID("tick"),
			CreationTimestamp: metav1.NewTime(at(t, a.Str("created", "24h")))},
		Spec: batchv1.CronJobSpec{
			Schedule:                   strings.ReplaceAll(a.Str("schedule", "*/5_*_*_*_*"), "_", " "),
			ConcurrencyPolicy:          batchv1.ConcurrencyPolicy(a.Str("policy", "Allow")),
			Suspend:                    ptr(a.Has("suspend")),
			SuccessfulJobsHistoryLimit: ptr(int32(a.Int("keep", 3))),
			FailedJobsHistoryLimit:     ptr(int32(a.Int("keepFailed", 1))),
			JobTemplate: batchv1.JobTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{Name: "c", Image: "img"}}}}}},
		},
	}
	if v := a.Str("tz", ""); v != "" {
		cj.Spec.TimeZone = &v
	}
	if v := a.Str("last", ""); v != "" {
		lt := metav1.NewTime(at(t, v))
		cj.Status.LastScheduleTime = &lt
	}
	if v := a.Str("lastSuccess", ""); v != "" {
		lt := metav1.NewTime(at(t, v))
		cj.Status.LastSuccessfulTime = &lt
	}
	if v := a.Int("deadline", -1); v >= 0 {
		cj.Spec.StartingDeadlineSeconds = ptr(int64(v))
	}
	if v := a.Str("active", ""); v != "" {
		for _, n := range strings.Split(v, ",") {
			cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{Kind: "Job", Namespace: "default", Name: n, UID: scenario.UID(n)})
		}
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("cj: unknown attributes %v", u)
	}
	return cj
}

// parseJob: job NAME [created=T] [complete=T|failed=T] [deleting]
func parseJob(t *testing.T, words []string) *batchv1.Job {
	a := scenario.ParseAttrs(words[1:])
	yes := true
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: words[0], Namespace: "default", UID: scenario.UID(words[0]),
		CreationTimestamp: metav1.NewTime(at(t, a.Str("created", "1h"))),
		OwnerReferences:   []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "tick", UID: scenario.UID("tick"), Controller: &yes}}}}
	if v := a.Str("complete", ""); v != "" {
		ct := metav1.NewTime(at(t, v))
		j.Status.CompletionTime = &ct
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	}
	if a.Str("failed", "") != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
	}
	if a.Has("deleting") {
		dt := metav1.NewTime(scenario.Now)
		j.DeletionTimestamp = &dt
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("job: unknown attributes %v", u)
	}
	return j
}

func describe(p cronjob.Plan) string {
	var b strings.Builder
	if len(p.Delete) > 0 {
		fmt.Fprintf(&b, "delete %s\n", scenario.Names(p.Delete))
	}
	if j := p.Create; j != nil {
		fmt.Fprintf(&b, "create %s scheduled=%s\n", j.Name, j.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
	}
	for _, e := range p.Events {
		fmt.Fprintf(&b, "event %s %s %q\n", e.Type, e.Reason, e.Message)
	}
	if st := p.Status; st != nil {
		fmt.Fprintf(&b, "status %s\n", statusLine(st))
	}
	if p.RequeueAfter > 0 {
		fmt.Fprintf(&b, "requeue after %v\n", p.RequeueAfter.Round(time.Second))
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

func statusLine(st *batchv1.CronJobStatus) string {
	var active []string
	for _, r := range st.Active {
		active = append(active, r.Name)
	}
	s := "active=[" + strings.Join(active, ",") + "]"
	if st.LastScheduleTime != nil {
		s += " lastSchedule=" + st.LastScheduleTime.UTC().Format(time.RFC3339)
	}
	if st.LastSuccessfulTime != nil {
		s += " lastSuccessful=" + st.LastSuccessfulTime.UTC().Format(time.RFC3339)
	}
	return s
}

func TestPlanScenarios(t *testing.T) {
	scenario.Run(t, "testdata/plan.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var in cronjob.Input
		for _, l := range c.Input {
			w := strings.Fields(l)
			switch w[0] {
			case "cj":
				in.CronJob = parseCronJob(t, w[1:])
			case "job":
				in.Jobs = append(in.Jobs, parseJob(t, w[1:]))
			default:
				t.Fatalf("%s: unknown input %q", c.Pos, w[0])
			}
		}
		in.Now = scenario.Now
		if v := c.Arg("now", ""); v != "" {
			in.Now = at(t, v)
		}
		return describe(cronjob.Decide(in))
	})
}

func TestJobName(t *testing.T) {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
	if got, want := cronjob.JobName(cj, time.Date(2024, 1, 1, 0, 1, 0, 0, time.UTC)), "hello-28401121"; got != want {
		t.Fatalf("JobName = %s, want %s", got, want)
	}
}
