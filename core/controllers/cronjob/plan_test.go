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

// TestRunScenarios runs a CronJob through simulated time: each sync is
// one Decide; the next sync is at its RequeueAfter or when a Job ends
// (its Job's update wakes the controller), whichever is first; Jobs run
// for run= (default 1m) and succeed; the run ends at for= (default 1h).
func TestRunScenarios(t *testing.T) {
	scenario.Run(t, "testdata/run.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var cj *batchv1.CronJob
		for _, l := range c.Input {
			if w := strings.Fields(l); w[0] == "cj" {
				cj = parseCronJob(t, w[1:])
			}
		}
		runFor, err := time.ParseDuration(c.Arg("run", "1m"))
		if err != nil {
			t.Fatal(err)
		}
		total, err := time.ParseDuration(c.Arg("for", "1h"))
		if err != nil {
			t.Fatal(err)
		}
		now := scenario.Now
		if v := c.Arg("start", ""); v != "" {
			now = at(t, v)
		}
		end := now.Add(total)
		var jobs []*batchv1.Job
		var out strings.Builder
		for step := 0; step < 500 && !now.After(end); step++ {
			// Jobs that ran long enough finish.
			for _, j := range jobs {
				if done, _ := finishedJob(j); !done && !now.Before(j.CreationTimestamp.Add(runFor)) {
					ct := metav1.NewTime(j.CreationTimestamp.Add(runFor))
					j.Status.CompletionTime = &ct
					j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
				}
			}
			p := cronjob.Decide(cronjob.Input{CronJob: cj, Jobs: jobs, Now: now})
			var did []string
			for _, d := range p.Delete {
				jobs = slicesDelete(jobs, d)
				did = append(did, "delete "+d.Name)
			}
			if p.Status != nil {
				cj.Status = *p.Status
			}
			if j := p.Create; j != nil {
				j.UID = scenario.UID(j.Name)
				j.CreationTimestamp = metav1.NewTime(now)
				jobs = append(jobs, j)
				cj.Status.Active = append(cj.Status.Active, cronjob.JobRef(j))
				did = append(did, "create "+j.Name)
			}
			for _, e := range p.Events {
				did = append(did, e.Reason)
			}
			if len(did) > 0 {
				fmt.Fprintf(&out, "%s %s | %s\n", now.Format("15:04:05.0"), strings.Join(did, ", "), statusLine(&cj.Status))
			}
			next := time.Time{}
			if p.RequeueAfter > 0 {
				next = now.Add(p.RequeueAfter)
			}
			for _, j := range jobs {
				if done, _ := finishedJob(j); !done {
					if f := j.CreationTimestamp.Add(runFor); next.IsZero() || f.Before(next) {
						next = f
					}
				}
			}
			if next.IsZero() {
				out.WriteString("no more syncs\n")
				break
			}
			now = next
		}
		return out.String()
	})
}

func finishedJob(j *batchv1.Job) (bool, batchv1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			return true, c.Type
		}
	}
	return false, ""
}

func slicesDelete(js []*batchv1.Job, d *batchv1.Job) []*batchv1.Job {
	var out []*batchv1.Job
	for _, j := range js {
		if j.UID != d.UID {
			out = append(out, j)
		}
	}
	return out
}
