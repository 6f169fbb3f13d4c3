package job_test

import (
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
	"github.com/skiffhq/skiff/core/controllers/job"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

var timing = job.Timing{Base: 10 * time.Second, Max: 60 * time.Second}

func ptr[T any](v T) *T { return &v }

// parseJob: job [completions=N|nocompletions] [parallelism=N] [backoffLimit=N]
// [deadline=S] [ttl=S] [suspend] [started=AGO] [succeeded=N] [failed=N]
// [uncounted=s:NAME,f:NAME] [condition=TYPE:REASON:AGO,...] [restart=OnFailure]
func parseJob(t *testing.T, words []string) *batchv1.Job {
	a := scenario.ParseAttrs(words)
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: scenario.UID("pi")},
		Spec: batchv1.JobSpec{
			Parallelism:  ptr(int32(a.Int("parallelism", 1))),
			BackoffLimit: ptr(int32(a.Int("backoffLimit", 6))),
			Suspend:      ptr(a.Has("suspend")),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicy(a.Str("restart", "Never")),
				Containers: []corev1.Container{{Name: "c", Image: "img"}}}},
		},
		Status: batchv1.JobStatus{Succeeded: int32(a.Int("succeeded", 0)), Failed: int32(a.Int("failed", 0))},
	}
	if !a.Has("nocompletions") {
		j.Spec.Completions = ptr(int32(a.Int("completions", 1)))
	}
	if v := a.Int("deadline", -1); v >= 0 {
		j.Spec.ActiveDeadlineSeconds = ptr(int64(v))
	}
	if v := a.Int("ttl", -1); v >= 0 {
		j.Spec.TTLSecondsAfterFinished = ptr(int32(v))
	}
	if a.Has("started") {
		st := metav1.NewTime(scenario.Now.Add(-a.Dur("started", 0)))
		j.Status.StartTime = &st
	}
	if v := a.Str("uncounted", ""); v != "" {
		j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
		for _, e := range strings.Split(v, ",") {
			kind, name, _ := strings.Cut(e, ":")
			if kind == "s" {
				j.Status.UncountedTerminatedPods.Succeeded = append(j.Status.UncountedTerminatedPods.Succeeded, scenario.UID(name))
			} else {
				j.Status.UncountedTerminatedPods.Failed = append(j.Status.UncountedTerminatedPods.Failed, scenario.UID(name))
			}
		}
	}
	if v := a.Str("condition", ""); v != "" {
		for _, e := range strings.Split(v, ",") {
			parts := strings.Split(e, ":")
			ago, err := time.ParseDuration(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			at := metav1.NewTime(scenario.Now.Add(-ago))
			j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: batchv1.JobConditionType(parts[0]),
				Status: corev1.ConditionTrue, Reason: parts[1], LastTransitionTime: at, LastProbeTime: at})
		}
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("job: unknown attributes %v", u)
	}
	return j
}

// parsePod: a pod of the Job, tracked unless "untracked".
func parsePod(t *testing.T, words []string) *corev1.Pod {
	var rest []string
	untracked := false
	for _, w := range words {
		if w == "untracked" {
			untracked = true
			continue
		}
		rest = append(rest, w)
	}
	p, err := scenario.Pod(rest, "Job", "pi")
	if err != nil {
		t.Fatal(err)
	}
	p.OwnerReferences[0].APIVersion = "batch/v1"
	if !untracked {
		p.Finalizers = []string{job.TrackingFinalizer}
	}
	return p
}

func describe(j *batchv1.Job, names map[types.UID]string, p job.Plan) string {
	var b strings.Builder
	if p.Create > 0 {
		fmt.Fprintf(&b, "create %d\n", p.Create)
	}
	if len(p.Delete) > 0 {
		fmt.Fprintf(&b, "delete %s\n", scenario.Names(p.Delete))
	}
	if len(p.Untrack) > 0 {
		fmt.Fprintf(&b, "untrack %s\n", scenario.Names(p.Untrack))
	}
	if p.DeleteJob {
		b.WriteString("delete job\n")
	}
	for _, e := range p.Events {
		fmt.Fprintf(&b, "event %s %s %q\n", e.Type, e.Reason, e.Message)
	}
	if st := p.Status; st != nil {
		fmt.Fprintf(&b, "status %s\n", statusLine(st, names))
		for _, c := range st.Conditions {
			fmt.Fprintf(&b, "  condition %s=%s %s\n", c.Type, c.Status, c.Reason)
		}
	}
	if p.RequeueAfter > 0 {
		fmt.Fprintf(&b, "requeue after %v\n", p.RequeueAfter.Round(time.Second))
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

func statusLine(st *batchv1.JobStatus, names map[types.UID]string) string {
	s := fmt.Sprintf("active=%d ready=%d terminating=%d succeeded=%d failed=%d", st.Active, deref(st.Ready), deref(st.Terminating), st.Succeeded, st.Failed)
	if u := st.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		var parts []string
		for _, uid := range u.Succeeded {
			parts = append(parts, "s:"+names[uid])
		}
		for _, uid := range u.Failed {
			parts = append(parts, "f:"+names[uid])
		}
		s += " uncounted=" + strings.Join(parts, ",")
	}
	if st.StartTime != nil {
		s += " started"
	}
	if st.CompletionTime != nil {
		s += " completed"
	}
	return s
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func TestPlanScenarios(t *testing.T) {
	scenario.Run(t, "testdata/plan.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var j *batchv1.Job
		var ps []*corev1.Pod
		var b job.Backoff
		names := map[types.UID]string{}
		for _, l := range c.Input {
			w := strings.Fields(l)
			switch w[0] {
			case "job":
				j = parseJob(t, w[1:])
			case "pod":
				p := parsePod(t, w[1:])
				ps = append(ps, p)
			case "backoff":
				a := scenario.ParseAttrs(w[1:])
				b = job.Backoff{Failures: a.Int("failures", 0), Last: scenario.Now.Add(-a.Dur("last", 0))}
			default:
				t.Fatalf("%s: unknown input %q", c.Pos, w[0])
			}
		}
		for _, p := range ps {
			names[p.UID] = p.Name
		}
		if u := j.Status.UncountedTerminatedPods; u != nil {
			for _, uid := range append(slices.Clone(u.Succeeded), u.Failed...) {
				if _, ok := names[uid]; !ok {
					names[uid] = strings.TrimPrefix(string(uid), "uid-")
				}
			}
		}
		return describe(j, names, job.Decide(job.Input{Job: j, Pods: ps, Backoff: b, Timing: timing, Now: scenario.Now, Hold: c.Has("hold")}))
	})
}

// TestRunScenarios runs Jobs to the end: each step is one sync, then the
// pods move on: Pending pods start, running pods finish (after `run`
// steps) with the next outcome of the script (S succeeded, F failed),
// deleted pods go once untracked.
func TestRunScenarios(t *testing.T) {
	scenario.Run(t, "testdata/run.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var j *batchv1.Job
		for _, l := range c.Input {
			if w := strings.Fields(l); w[0] == "job" {
				j = parseJob(t, w[1:])
			}
		}
		outcomes := strings.Split(c.Arg("outcomes", "S"), ",")
		runFor := atoi(t, c.Arg("run", "1"))
		var ps []*corev1.Pod
		age := map[types.UID]int{}
		names := map[types.UID]string{}
		var b job.Backoff
		now := scenario.Now
		seq := 0
		var out strings.Builder
		counted := map[types.UID]int{}
		for step := 1; step <= 80; step++ {
			now = now.Add(time.Second)
			p := job.Decide(job.Input{Job: j, Pods: ps, Backoff: b, Timing: timing, Now: now})
			b = b.Next(&p, now)
			idle := p.Status == nil && p.Create == 0 && len(p.Delete) == 0 && len(p.Untrack) == 0 && !p.DeleteJob
			if idle && p.RequeueAfter > 0 {
				now = now.Add(p.RequeueAfter - time.Second)
				fmt.Fprintf(&out, "    (waits %v)\n", p.RequeueAfter.Round(time.Second))
				continue
			}
			if idle && !slices.ContainsFunc(ps, func(p *corev1.Pod) bool {
				return p.Status.Phase == corev1.PodPending || p.Status.Phase == corev1.PodRunning
			}) {
				fmt.Fprintf(&out, "settled after %d steps\n", step-1)
				break
			}
			var did []string
			if p.Status != nil {
				before := j.Status
				j.Status = *p.Status
				for _, uid := range p.Status.UncountedTerminatedPods.Succeeded {
					counted[uid] = 0
				}
				_ = before
			}
			for _, u := range p.Untrack {
				for _, q := range ps {
					if q.UID == u.UID {
						q.Finalizers = nil
					}
				}
			}
			if len(p.Untrack) > 0 {
				did = append(did, "untrack "+scenario.Names(p.Untrack))
			}
			for _, d := range p.Delete {
				for _, q := range ps {
					if q.UID == d.UID && q.DeletionTimestamp == nil {
						at := metav1.NewTime(now)
						q.DeletionTimestamp = &at
					}
				}
			}
			if len(p.Delete) > 0 {
				did = append(did, "delete "+scenario.Names(p.Delete))
			}
			for range p.Create {
				seq++
				name := fmt.Sprintf("p%d", seq)
				q, err := scenario.Pod([]string{name, "phase=Pending", "owner=pi"}, "Job", "")
				if err != nil {
					t.Fatal(err)
				}
				q.OwnerReferences[0].APIVersion = "batch/v1"
				q.Finalizers = []string{job.TrackingFinalizer}
				ps = append(ps, q)
				names[q.UID] = name
			}
			if p.Create > 0 {
				did = append(did, fmt.Sprintf("create %d", p.Create))
			}
			if p.DeleteJob {
				did = append(did, "delete job")
			}
			for _, e := range p.Events {
				if e.Reason != "SuccessfulCreate" && e.Reason != "SuccessfulDelete" {
					did = append(did, "event "+e.Reason)
				}
			}
			// The pods move on.
			ps = slices.DeleteFunc(ps, func(q *corev1.Pod) bool { return q.DeletionTimestamp != nil && len(q.Finalizers) == 0 })
			for _, q := range ps {
				switch {
				case q.DeletionTimestamp != nil:
				case q.Status.Phase == corev1.PodPending:
					q.Status.Phase = corev1.PodRunning
				case q.Status.Phase == corev1.PodRunning:
					age[q.UID]++
					if age[q.UID] >= runFor {
						o := outcomes[0]
						if len(outcomes) > 1 {
							outcomes = outcomes[1:]
						}
						if o == "S" {
							q.Status.Phase = corev1.PodSucceeded
						} else {
							q.Status.Phase = corev1.PodFailed
						}
					}
				}
			}
			var phases []string
			for _, q := range ps {
				ph := string(q.Status.Phase)[:1]
				if q.DeletionTimestamp != nil {
					ph = "D"
				}
				if len(q.Finalizers) > 0 {
					ph += "*"
				}
				phases = append(phases, names[q.UID]+":"+ph)
			}
			sort.Strings(phases)
			if len(did) == 0 {
				did = []string{"status"}
			}
			cond := ""
			for _, c := range j.Status.Conditions {
				if c.Status == corev1.ConditionTrue {
					cond += " " + string(c.Type)
				}
			}
			fmt.Fprintf(&out, "%2d: %-40s | %-32s | %s%s\n", step, strings.Join(did, ", "), strings.Join(phases, " "), statusLine(&j.Status, names), cond)
			if p.DeleteJob {
				break
			}
		}
		return out.String()
	})
}

func atoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
