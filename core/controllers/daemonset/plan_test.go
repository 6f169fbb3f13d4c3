package daemonset_test

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/core/controllers/daemonset"
	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

// The current template's hash in every scenario; pods carry "old" unless
// they say hash=new.
const newHash = "new"

func intOrStr(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

// parseDS: ds [maxUnavailable=N|N%] [maxSurge=N|N%] [ondelete]
// [nodeSelector=k:v,...] [tolerate=key:Effect,...] [minReady=S]
// [hostNetwork] [generation=N]
func parseDS(t *testing.T, words []string) *appsv1.DaemonSet {
	a := scenario.ParseAttrs(words)
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: scenario.UID("agent"), Generation: int64(a.Int("generation", 1))},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}, HostNetwork: a.Has("hostNetwork"),
					NodeSelector: a.Map("nodeSelector", nil)}},
			MinReadySeconds: int32(a.Int("minReady", 0)),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr(a.Str("maxUnavailable", "1")), MaxSurge: intOrStr(a.Str("maxSurge", "0"))}},
		},
	}
	if a.Has("ondelete") {
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	}
	if v := a.Str("tolerate", ""); v != "" {
		for _, kv := range strings.Split(v, ",") {
			k, eff, _ := strings.Cut(kv, ":")
			ds.Spec.Template.Spec.Tolerations = append(ds.Spec.Template.Spec.Tolerations,
				corev1.Toleration{Key: k, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffect(eff)})
		}
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("ds: unknown attributes %v", u)
	}
	return ds
}

// parseNode: node NAME [labels=k:v,...] [taint=key:Effect,...]
func parseNode(t *testing.T, words []string) *corev1.Node {
	a := scenario.ParseAttrs(words[1:])
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: words[0], Labels: a.Map("labels", map[string]string{})}}
	if v := a.Str("taint", ""); v != "" {
		for _, kv := range strings.Split(v, ",") {
			k, eff, _ := strings.Cut(kv, ":")
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: k, Effect: corev1.TaintEffect(eff)})
		}
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("node: unknown attributes %v", u)
	}
	return n
}

// parsePod: scenario.Pod words, plus hash=H (default old) and pinned=N
// (not bound yet, pinned to node N by affinity).
func parsePod(t *testing.T, words []string) *corev1.Pod {
	hash, pinned := "old", ""
	var rest []string
	for _, w := range words {
		switch {
		case strings.HasPrefix(w, "hash="):
			hash = strings.TrimPrefix(w, "hash=")
		case strings.HasPrefix(w, "pinned="):
			pinned = strings.TrimPrefix(w, "pinned=")
		default:
			rest = append(rest, w)
		}
	}
	p, err := scenario.Pod(rest, "DaemonSet", "agent")
	if err != nil {
		t.Fatal(err)
	}
	p.Labels[history.HashLabel] = hash
	if pinned != "" {
		p.Spec.Affinity = daemonset.PinToNode(nil, pinned)
	}
	return p
}

func describe(p daemonset.Plan) string {
	var b strings.Builder
	if len(p.Create) > 0 {
		fmt.Fprintf(&b, "create on %s\n", strings.Join(p.Create, " "))
	}
	if len(p.Delete) > 0 {
		fmt.Fprintf(&b, "delete %s\n", scenario.Names(p.Delete))
	}
	for _, e := range p.Events {
		fmt.Fprintf(&b, "event %s %s %q\n", e.Type, e.Reason, e.Message)
	}
	if st := p.Status; st != nil {
		fmt.Fprintf(&b, "status %s\n", statusLine(st))
	}
	if len(p.BackedOff) > 0 {
		fmt.Fprintf(&b, "back off %s\n", strings.Join(p.BackedOff, " "))
	}
	if p.RequeueAfter > 0 {
		fmt.Fprintf(&b, "requeue after %v\n", p.RequeueAfter.Round(time.Second))
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return b.String()
}

func statusLine(st *appsv1.DaemonSetStatus) string {
	return fmt.Sprintf("desired=%d current=%d misscheduled=%d ready=%d available=%d unavailable=%d updated=%d",
		st.DesiredNumberScheduled, st.CurrentNumberScheduled, st.NumberMisscheduled, st.NumberReady,
		st.NumberAvailable, st.NumberUnavailable, st.UpdatedNumberScheduled)
}

func parseInput(t *testing.T, c *scenario.Case) (*appsv1.DaemonSet, []*corev1.Node, []*corev1.Pod) {
	ds, nodes, ps, _ := parseInputBackoff(t, c)
	return ds, nodes, ps
}

// parseInputBackoff also reads "backoff NODE delay=D last=AGO" lines.
func parseInputBackoff(t *testing.T, c *scenario.Case) (*appsv1.DaemonSet, []*corev1.Node, []*corev1.Pod, map[string]daemonset.Backoff) {
	var ds *appsv1.DaemonSet
	var nodes []*corev1.Node
	var ps []*corev1.Pod
	bo := map[string]daemonset.Backoff{}
	for _, l := range c.Input {
		w := strings.Fields(l)
		switch w[0] {
		case "backoff":
			a := scenario.ParseAttrs(w[2:])
			bo[w[1]] = daemonset.Backoff{Delay: a.Dur("delay", time.Second), Last: scenario.Now.Add(-a.Dur("last", 0))}
		case "ds":
			ds = parseDS(t, w[1:])
		case "node":
			nodes = append(nodes, parseNode(t, w[1:]))
		case "pod":
			ps = append(ps, parsePod(t, w[1:]))
		default:
			t.Fatalf("%s: unknown input %q", c.Pos, w[0])
		}
	}
	return ds, nodes, ps, bo
}

func TestPlanScenarios(t *testing.T) {
	scenario.Run(t, "testdata/plan.txt", *update, func(t *testing.T, c *scenario.Case) string {
		ds, nodes, ps, bo := parseInputBackoff(t, c)
		return describe(daemonset.Decide(daemonset.Input{DaemonSet: ds, Nodes: nodes, Pods: ps, Hash: newHash, Now: scenario.Now,
			Hold: c.Has("hold"), Backoff: bo}))
	})
}

// TestRolloutScenarios runs a DaemonSet to a steady state: each step is
// one sync, then the world moves: new pods are bound to their node, bound
// pods become ready (those on nodes listed in stuck= never do), deleted
// pods go. Each line shows the pods per node (o old, n new; lower case
// not ready, * terminating).
func TestRolloutScenarios(t *testing.T) {
	scenario.Run(t, "testdata/rollout.txt", *update, func(t *testing.T, c *scenario.Case) string {
		ds, nodes, ps := parseInput(t, c)
		stuck := map[string]bool{}
		for _, n := range strings.Split(c.Arg("stuck", ""), ",") {
			stuck[n] = true
		}
		var out strings.Builder
		seq := 0
		now := scenario.Now
		for step := 1; step <= 40; step++ {
			now = now.Add(time.Second)
			p := daemonset.Decide(daemonset.Input{DaemonSet: ds, Nodes: nodes, Pods: ps, Hash: newHash, Now: now})
			if p.Status != nil {
				ds.Status = *p.Status
			}
			if len(p.Create) == 0 && len(p.Delete) == 0 && !slices.ContainsFunc(ps, func(q *corev1.Pod) bool {
				return q.DeletionTimestamp != nil || q.Spec.NodeName == "" || (!stuck[q.Spec.NodeName] && q.Status.Phase != corev1.PodRunning)
			}) {
				fmt.Fprintf(&out, "settled after %d steps: %s\n", step-1, statusLine(&ds.Status))
				break
			}
			// The world moves: terminating pods go, pending ones run.
			ps = slices.DeleteFunc(ps, func(q *corev1.Pod) bool { return q.DeletionTimestamp != nil })
			for _, q := range ps {
				if q.Spec.NodeName == "" {
					q.Spec.NodeName = daemonset.TargetNode(q)
				} else if !stuck[q.Spec.NodeName] && q.Status.Phase != corev1.PodRunning {
					q.Status.Phase = corev1.PodRunning
					q.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)}}
				}
			}
			for _, d := range p.Delete {
				for _, q := range ps {
					if q.UID == d.UID {
						at := metav1.NewTime(now)
						q.DeletionTimestamp = &at
					}
				}
			}
			for _, n := range p.Create {
				seq++
				q := daemonset.NewPod(ds, newHash, n)
				q.Name = fmt.Sprintf("p%d", seq)
				q.UID = scenario.UID(q.Name)
				q.CreationTimestamp = metav1.NewTime(now)
				q.Status.Phase = corev1.PodPending
				ps = append(ps, q)
			}
			fmt.Fprintf(&out, "%2d: %-28s | %s\n", step, did(p), layout(nodes, ps))
		}
		return out.String()
	})
}

func did(p daemonset.Plan) string {
	var parts []string
	if len(p.Delete) > 0 {
		parts = append(parts, "delete "+scenario.Names(p.Delete))
	}
	if len(p.Create) > 0 {
		parts = append(parts, "create "+strings.Join(p.Create, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func layout(nodes []*corev1.Node, ps []*corev1.Pod) string {
	var parts []string
	for _, n := range nodes {
		s := ""
		for _, q := range ps {
			if daemonset.TargetNode(q) != n.Name {
				continue
			}
			ch := "o"
			if q.Labels[history.HashLabel] == newHash {
				ch = "n"
			}
			if q.Status.Phase == corev1.PodRunning && len(q.Status.Conditions) > 0 && q.Status.Conditions[0].Status == corev1.ConditionTrue {
				ch = strings.ToUpper(ch)
			}
			if q.DeletionTimestamp != nil {
				ch += "*"
			}
			s += ch
		}
		if s == "" {
			s = "-"
		}
		parts = append(parts, n.Name+":"+s)
	}
	return strings.Join(parts, " ")
}

func TestBackoffNext(t *testing.T) {
	now := scenario.Now
	var b daemonset.Backoff
	var got []time.Duration
	for range 12 {
		b = b.Next(now)
		got = append(got, b.Delay)
		now = now.Add(b.Delay)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("delays %v, want %v seconds", got, want)
		}
	}
	// Quiet for more than twice the maximum: back to 1 s.
	if b = b.Next(now.Add(31 * time.Minute)); b.Delay != time.Second {
		t.Fatalf("after a quiet half hour: %v, want 1s", b.Delay)
	}
}
