package statefulset_test

import (
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
	"github.com/skiffhq/skiff/core/controllers/statefulset"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

func ptr[T any](v T) *T { return &v }

// parseSet: sts [replicas=N] [parallel] [partition=N] [ondelete]
// [minReady=S] [start=N] [claims] [rolling] — rolling: the template
// changed, so the update revision r2 differs from the current r1.
func parseSet(t *testing.T, words []string) (*appsv1.StatefulSet, statefulset.Revision, statefulset.Revision) {
	a := scenario.ParseAttrs(words)
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: scenario.UID("web"), Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr(int32(a.Int("replicas", 3))),
			ServiceName:         "web",
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			MinReadySeconds:     int32(a.Int("minReady", 0)),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(a.Int("partition", 0)))}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}}},
		},
	}
	if a.Has("parallel") {
		set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	}
	if a.Has("ondelete") {
		set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	}
	if v := a.Int("start", -1); v >= 0 {
		set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: int32(v)}
	}
	if a.Has("claims") {
		set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
	}
	cur := statefulset.Revision{Name: "r1", Template: set.Spec.Template.DeepCopy()}
	upd := cur
	if a.Has("rolling") {
		set.Spec.Template.Spec.Containers[0].Image = "img:2"
		upd = statefulset.Revision{Name: "r2", Template: set.Spec.Template.DeepCopy()}
	}
	set.Status.CurrentRevision = cur.Name
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("sts: unknown attributes %v", u)
	}
	return set, cur, upd
}

// parsePod: scenario.Pod words plus rev=R (default r1).
func parsePod(t *testing.T, words []string) *corev1.Pod {
	rev := "r1"
	var rest []string
	for _, w := range words {
		if v, ok := strings.CutPrefix(w, "rev="); ok {
			rev = v
			continue
		}
		rest = append(rest, w)
	}
	p, err := scenario.Pod(rest, "StatefulSet", "web")
	if err != nil {
		t.Fatal(err)
	}
	p.Labels[history.HashLabel] = rev
	return p
}

func parseInput(t *testing.T, c *scenario.Case) statefulset.Input {
	var in statefulset.Input
	for _, l := range c.Input {
		w := strings.Fields(l)
		switch w[0] {
		case "sts":
			in.Set, in.Current, in.Update = parseSet(t, w[1:])
		case "pod":
			in.Pods = append(in.Pods, parsePod(t, w[1:]))
		default:
			t.Fatalf("%s: unknown input %q", c.Pos, w[0])
		}
	}
	in.Now = scenario.Now
	return in
}

func statusLine(st *appsv1.StatefulSetStatus) string {
	return fmt.Sprintf("replicas=%d ready=%d available=%d current=%d updated=%d currentRevision=%s updateRevision=%s",
		st.Replicas, st.ReadyReplicas, st.AvailableReplicas, st.CurrentReplicas, st.UpdatedReplicas, st.CurrentRevision, st.UpdateRevision)
}

func describe(p statefulset.Plan) string {
	var b strings.Builder
	for _, q := range p.Create {
		fmt.Fprintf(&b, "create %s rev=%s image=%s hostname=%s subdomain=%s", q.Name, q.Labels[history.HashLabel],
			q.Spec.Containers[0].Image, q.Spec.Hostname, q.Spec.Subdomain)
		for _, v := range q.Spec.Volumes {
			fmt.Fprintf(&b, " volume=%s", v.Name)
			if v.EmptyDir != nil {
				b.WriteString("(emptyDir)")
			}
		}
		b.WriteString("\n")
	}
	if len(p.Delete) > 0 {
		fmt.Fprintf(&b, "delete %s\n", scenario.Names(p.Delete))
	}
	for _, e := range p.Events {
		fmt.Fprintf(&b, "event %s %s %q\n", e.Type, e.Reason, e.Message)
	}
	if p.Waiting != "" {
		fmt.Fprintf(&b, "waiting for %s\n", p.Waiting)
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

func TestPlanScenarios(t *testing.T) {
	scenario.Run(t, "testdata/plan.txt", *update, func(t *testing.T, c *scenario.Case) string {
		return describe(statefulset.Decide(parseInput(t, c)))
	})
}

// TestRunScenarios runs a set to a steady state: each step is one sync,
// then the world moves: terminating pods go, new pods start and become
// ready (those listed in stuck= never do). Each line shows the pods by
// ordinal with their revision (lower case: not ready; * terminating).
func TestRunScenarios(t *testing.T) {
	scenario.Run(t, "testdata/run.txt", *update, func(t *testing.T, c *scenario.Case) string {
		in := parseInput(t, c)
		stuck := map[string]bool{}
		for _, n := range strings.Split(c.Arg("stuck", ""), ",") {
			stuck[n] = true
		}
		if v := c.Arg("scale", ""); v != "" {
			var n int32
			fmt.Sscan(v, &n)
			in.Set.Spec.Replicas = &n
		}
		var out strings.Builder
		now := scenario.Now
		for step := 1; step <= 40; step++ {
			now = now.Add(time.Second)
			in.Now = now
			p := statefulset.Decide(in)
			if p.Status != nil {
				in.Set.Status = *p.Status
				if p.Status.CurrentRevision == in.Update.Name {
					in.Current = in.Update
				}
			}
			if len(p.Create) == 0 && len(p.Delete) == 0 && !slices.ContainsFunc(in.Pods, func(q *corev1.Pod) bool {
				return q.DeletionTimestamp != nil || (!stuck[q.Name] && q.Status.Phase != corev1.PodRunning)
			}) {
				fmt.Fprintf(&out, "settled after %d steps: %s\n", step-1, statusLine(&in.Set.Status))
				if p.Waiting != "" {
					fmt.Fprintf(&out, "waiting for %s\n", p.Waiting)
				}
				break
			}
			in.Pods = slices.DeleteFunc(in.Pods, func(q *corev1.Pod) bool { return q.DeletionTimestamp != nil })
			for _, q := range in.Pods {
				if !stuck[q.Name] && q.Status.Phase != corev1.PodRunning {
					q.Status.Phase = corev1.PodRunning
					q.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}
				}
			}
			for _, d := range p.Delete {
				for _, q := range in.Pods {
					if q.UID == d.UID {
						at := metav1.NewTime(now)
						q.DeletionTimestamp = &at
					}
				}
			}
			for _, q := range p.Create {
				q.UID = scenario.UID(q.Name)
				q.CreationTimestamp = metav1.NewTime(now)
				q.Status.Phase = corev1.PodPending
				in.Pods = append(in.Pods, q)
			}
			var did []string
			if len(p.Delete) > 0 {
				did = append(did, "delete "+scenario.Names(p.Delete))
			}
			if len(p.Create) > 0 {
				did = append(did, "create "+scenario.Names(p.Create))
			}
			if len(did) == 0 {
				did = []string{"-"}
			}
			fmt.Fprintf(&out, "%2d: %-26s | %s\n", step, strings.Join(did, "; "), layout(in.Pods))
		}
		return out.String()
	})
}

func layout(ps []*corev1.Pod) string {
	var parts []string
	for _, q := range ps {
		s := strings.TrimPrefix(q.Name, "web-") + ":" + q.Labels[history.HashLabel]
		if q.Status.Phase == corev1.PodRunning && len(q.Status.Conditions) > 0 && q.Status.Conditions[0].Status == corev1.ConditionTrue {
			s = strings.ToUpper(s)
		}
		if q.DeletionTimestamp != nil {
			s += "*"
		}
		parts = append(parts, s)
	}
	sort.Slice(parts, func(i, j int) bool {
		var a, b int
		fmt.Sscan(strings.Split(parts[i], ":")[0], &a)
		fmt.Sscan(strings.Split(parts[j], ":")[0], &b)
		return a < b
	})
	return strings.Join(parts, " ")
}
