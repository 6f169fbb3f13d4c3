package controllers_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/nodelifecycle"
	"github.com/skiffhq/skiff/core/controllers/pods"
	"github.com/skiffhq/skiff/sdk/client"
)

// TestLostNodePodsComeBackElsewhere kills one node's agent and measures
// how long until the Deployment again has all its replicas ready, all on
// the other nodes, with the default timing (which must make it within
// 15 s).
func TestLostNodePodsComeBackElsewhere(t *testing.T) {
	e := testenv.Start(t)
	kubelet := e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 100 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	startManager(t, e, "m1")
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), newDeployment("web", 6, "img:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	var onLost int
	for _, p := range livePods(t, e.Client, "web") {
		if p.Spec.NodeName == "node-2" {
			onLost++
		}
	}
	if onLost == 0 {
		t.Fatal("no pod on node-2 to lose")
	}
	kubelet.Kill("node-2")
	lost := time.Now()
	testenv.Eventually(t, 30*time.Second, func() error {
		ready := 0
		for _, p := range livePods(t, e.Client, "web") {
			if p.Spec.NodeName != "node-2" && pods.Ready(p) {
				ready++
			}
		}
		if ready < 6 {
			return fmt.Errorf("%d of 6 pods ready on live nodes", ready)
		}
		return nil
	})
	took := time.Since(lost)
	t.Logf("node-2 lost with %d of 6 pods: all 6 ready elsewhere %v later (grace %v + toleration %v)",
		onLost, took.Round(time.Millisecond), nodelifecycle.DefaultTiming.GracePeriod, nodelifecycle.DefaultTiming.DefaultToleration)
	if took > 15*time.Second {
		t.Fatalf("took %v, want at most 15s", took)
	}
	n, err := client.For[*corev1.Node](e.Client).Get(t.Context(), "", "node-2")
	if err != nil {
		t.Fatal(err)
	}
	if nodelifecycle.ReadyStatus(n) != corev1.ConditionUnknown ||
		!slices.ContainsFunc(n.Spec.Taints, func(tt corev1.Taint) bool {
			return tt.Key == corev1.TaintNodeUnreachable && tt.Effect == corev1.TaintEffectNoExecute
		}) {
		t.Fatalf("node-2: ready %s, taints %+v", nodelifecycle.ReadyStatus(n), n.Spec.Taints)
	}
	// The live nodes were left alone.
	for _, name := range []string{"node-1", "node-3"} {
		n, err := client.For[*corev1.Node](e.Client).Get(t.Context(), "", name)
		if err != nil {
			t.Fatal(err)
		}
		if nodelifecycle.ReadyStatus(n) != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
			t.Fatalf("%s: ready %s, taints %+v", name, nodelifecycle.ReadyStatus(n), n.Spec.Taints)
		}
	}
}
