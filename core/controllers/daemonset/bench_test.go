package daemonset_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/daemonset"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

// BenchmarkDecide is one sync of a DaemonSet rolling out over 1,000
// nodes, each with one ready old pod: the cost every pod or node event of
// a large cluster pays.
func BenchmarkDecide(b *testing.B) {
	ds := parseDS(&testing.T{}, []string{"maxUnavailable=10%"})
	var nodes []*corev1.Node
	var ps []*corev1.Pod
	for i := range 1000 {
		name := fmt.Sprintf("n%04d", i)
		nodes = append(nodes, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"zone": "a"}},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectPreferNoSchedule}}}})
		p, err := scenario.Pod([]string{"p" + name, "node=" + name, "ready"}, "DaemonSet", "agent")
		if err != nil {
			b.Fatal(err)
		}
		p.Labels["controller-revision-hash"] = "old"
		ps = append(ps, p)
	}
	b.ReportAllocs()
	for b.Loop() {
		p := daemonset.Decide(daemonset.Input{DaemonSet: ds, Nodes: nodes, Pods: ps, Hash: newHash, Now: scenario.Now})
		if len(p.Delete) != 100 {
			b.Fatalf("deleted %d, want 100", len(p.Delete))
		}
	}
}
