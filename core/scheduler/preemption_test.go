package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/sdk/client"
)

func withPriority(p *corev1.Pod, prio int32) *corev1.Pod {
	p.Spec.Priority = &prio
	return p
}

// TestPreemption: two nodes full of low-priority pods; a high-priority
// pod preempts one of them: the victim is deleted gracefully (and gets a
// Preempted event), the pod is nominated to the victim's node, and once
// the victim is gone (its node agent would confirm; the test does) the
// pod is bound there. The other low-priority pod is left alone.
func TestPreemption(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	for _, n := range []*corev1.Node{node("n1", "2"), node("n2", "2")} {
		if _, err := client.For[*corev1.Node](e.c).Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := runScheduler(t, e, "s1")
	pods := client.For[*corev1.Pod](e.c)
	lowOn := map[string]string{}
	for _, name := range []string{"low-1", "low-2"} {
		p := pod(name, "2")
		p.Spec.TerminationGracePeriodSeconds = new(int64(30))
		if _, err := pods.Create(ctx, withPriority(p, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		lowOn[boundTo(t, e, name, 30*time.Second)] = name
	}
	if _, err := pods.Create(ctx, withPriority(pod("high", "2"), 1000), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var nominated, victim string
	eventually(t, 30*time.Second, func() error {
		h, err := pods.Get(ctx, "default", "high")
		if err != nil {
			return err
		}
		if nominated = h.Status.NominatedNodeName; nominated == "" {
			return fmt.Errorf("high is not nominated (conditions %v)", h.Status.Conditions)
		}
		victim = lowOn[nominated]
		v, err := pods.Get(ctx, "default", victim)
		if err != nil {
			return err
		}
		if v.DeletionTimestamp == nil {
			return fmt.Errorf("victim %s on %s is not being deleted", victim, nominated)
		}
		return nil
	})
	if evs := events(t, e, victim, "Preempted"); len(evs) != 1 {
		t.Errorf("victim %s has %d Preempted events, want 1", victim, len(evs))
	}
	// While the victim terminates, the pod waits instead of preempting
	// the other one.
	if h, _ := pods.Get(ctx, "default", "high"); h.Spec.NodeName != "" {
		t.Fatalf("high bound to %s while the victim still runs", h.Spec.NodeName)
	}
	// The node agent confirms the victim's end.
	if _, _, err := pods.Delete(ctx, "default", victim, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "high", 30*time.Second); got != nominated {
		t.Errorf("high bound to %s, want its nominated node %s", got, nominated)
	}
	for n, name := range lowOn {
		if name == victim {
			continue
		}
		p, err := pods.Get(ctx, "default", name)
		if err != nil || p.DeletionTimestamp != nil || p.Spec.NodeName != n {
			t.Errorf("bystander %s: %v, %+v", name, err, p)
		}
	}
	if st := r.s.Stats(); st.Preemptions < 1 {
		t.Errorf("stats %+v: want a preemption", st)
	}
}
