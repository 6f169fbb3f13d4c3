package replicaset_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/replicaset"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

// input parses a case's "rs" and "pod" lines (and "failure" for status).
func input(t *testing.T, c *scenario.Case) (*appsv1.ReplicaSet, []*corev1.Pod, *replicaset.Failure) {
	t.Helper()
	var (
		rs      *appsv1.ReplicaSet
		ps      []*corev1.Pod
		failure *replicaset.Failure
	)
	for _, l := range c.Input {
		w := strings.Fields(l)
		switch w[0] {
		case "rs":
			a := scenario.ParseAttrs(w[1:])
			n := int32(a.Int("replicas", 1))
			sel := a.Map("selector", map[string]string{"app": "web"})
			rs = &appsv1.ReplicaSet{
				ObjectMeta: metav1.ObjectMeta{Name: "rs", Namespace: "default", UID: scenario.UID("rs"), Generation: int64(a.Int("gen", 1))},
				Spec: appsv1.ReplicaSetSpec{Replicas: &n, MinReadySeconds: int32(a.Int("minReady", 0)),
					Selector: &metav1.LabelSelector{MatchLabels: sel},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: a.Map("template", sel)}}},
			}
			if a.Has("deleting") {
				now := metav1.NewTime(scenario.Now)
				rs.DeletionTimestamp = &now
			}
			if a.Has("failing") {
				rs.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate"}}
			}
			if u := a.Unused(); len(u) > 0 {
				t.Fatalf("%s: rs: unknown attributes %v", c.Pos, u)
			}
		case "pod":
			p, err := scenario.Pod(w[1:], "ReplicaSet", "rs")
			if err != nil {
				t.Fatalf("%s: %v", c.Pos, err)
			}
			ps = append(ps, p)
		case "failure":
			failure = &replicaset.Failure{Message: strings.Join(w[1:], " ")}
		default:
			t.Fatalf("%s: unknown input %q", c.Pos, w[0])
		}
	}
	if rs == nil {
		t.Fatalf("%s: no rs line", c.Pos)
	}
	return rs, ps, failure
}

func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/replicaset.txt", *update, func(t *testing.T, c *scenario.Case) string {
		rs, ps, failure := input(t, c)
		switch c.Cmd {
		case "plan":
			create, remove := replicaset.Plan(rs, ps)
			switch {
			case create > 0:
				return fmt.Sprintf("create %d", create)
			case len(remove) > 0:
				return "delete " + scenario.Names(remove)
			}
			return "nothing"
		case "rank":
			return scenario.Names(replicaset.RankForDeletion(ps))
		case "status":
			st, next := replicaset.Status(rs, ps, scenario.Now, failure)
			var b strings.Builder
			fmt.Fprintf(&b, "replicas=%d fullyLabeled=%d ready=%d available=%d terminating=%d observedGeneration=%d",
				st.Replicas, st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas, *st.TerminatingReplicas, st.ObservedGeneration)
			for _, cond := range st.Conditions {
				fmt.Fprintf(&b, "\ncondition %s=%s reason=%s message=%q", cond.Type, cond.Status, cond.Reason, cond.Message)
			}
			if next > 0 {
				fmt.Fprintf(&b, "\nrecheck in %v", next.Round(time.Second))
			}
			return b.String()
		case "claim":
			sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
			if err != nil {
				t.Fatal(err)
			}
			cl := owner.Claim(rs, sel, ps)
			return fmt.Sprintf("owned: %s\nadopt: %s\nrelease: %s", scenario.Names(cl.Owned), scenario.Names(cl.Adopt), scenario.Names(cl.Release))
		}
		t.Fatalf("%s: unknown command %q", c.Pos, c.Cmd)
		return ""
	})
}

func TestPodFromTemplate(t *testing.T) {
	n := int32(1)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f", Namespace: "prod", UID: "u1"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &n, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}}},
	}
	p := replicaset.PodFromTemplate(rs)
	ref := owner.ControllerOf(p)
	if p.GenerateName != "web-7d9f-" || p.Namespace != "prod" || p.Labels["app"] != "web" || p.Annotations["a"] != "b" ||
		ref == nil || ref.UID != "u1" || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || !*ref.BlockOwnerDeletion {
		t.Fatalf("pod = %+v", p.ObjectMeta)
	}
	p.Labels["app"] = "changed"
	if rs.Spec.Template.Labels["app"] != "web" {
		t.Fatal("the pod shares the template's labels")
	}
}
