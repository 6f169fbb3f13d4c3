package scheduler_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/scheduler"
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

// nominatedBackoff is how long a pod waits after a failed attempt in the
// nominated-room tests: the window in which a pod created once the
// victim is gone is scheduled before the nominated pod is retried.
const nominatedBackoff = 3 * time.Second

// preemptForHigh builds n1 (4 cpu) and n2 (2 cpu), binds a 3-cpu victim
// of priority 0 to n1 (the only node it fits), and creates high (3 cpu,
// priority 1000), which can only preempt it. It returns once high is
// nominated to n1 and the victim, which the test deletes as its node
// agent would, is gone. high then waits out nominatedBackoff before it
// is retried; the room on n1 is free for it, as far as the nodes go.
func preemptForHigh(t *testing.T) (*env, *client.Typed[*corev1.Pod]) {
	t.Helper()
	e := start(t)
	ctx := t.Context()
	for _, n := range []*corev1.Node{node("n1", "4"), node("n2", "2")} {
		if _, err := client.For[*corev1.Node](e.c).Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runSchedulerWith(t, e, "s1", func(c *scheduler.Config) {
		c.PodInitialBackoff, c.PodMaxBackoff = nominatedBackoff, nominatedBackoff
	})
	pods := client.For[*corev1.Pod](e.c)
	victim := pod("victim", "3")
	victim.Spec.TerminationGracePeriodSeconds = new(int64(30))
	if _, err := pods.Create(ctx, withPriority(victim, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "victim", 30*time.Second); got != "n1" {
		t.Fatalf("victim bound to %s, want n1", got)
	}
	if _, err := pods.Create(ctx, withPriority(pod("high", "3"), 1000), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		h, err := pods.Get(ctx, "default", "high")
		if err != nil {
			return err
		}
		if h.Status.NominatedNodeName != "n1" {
			return fmt.Errorf("high is nominated to %q, want n1 (conditions %v)", h.Status.NominatedNodeName, h.Status.Conditions)
		}
		v, err := pods.Get(ctx, "default", "victim")
		if err != nil {
			return err
		}
		if v.DeletionTimestamp == nil {
			return fmt.Errorf("the victim is not being deleted")
		}
		return nil
	})
	if _, _, err := pods.Delete(ctx, "default", "victim", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if _, err := pods.Get(ctx, "default", "victim"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("victim: %v, want it gone", err)
		}
		return nil
	})
	return e, pods
}

// TestNominatedPodKeepsItsRoom: once the victim of a preemption is gone,
// a pod of lower priority than the preemptor that would fit in the room
// it freed (and that LeastAllocated would put there) is placed elsewhere
// while the preemptor waits out its back-off, and the preemptor then
// lands on its nominated node.
func TestNominatedPodKeepsItsRoom(t *testing.T) {
	e, pods := preemptForHigh(t)
	if _, err := pods.Create(t.Context(), withPriority(pod("mid", "2"), 500), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "mid", 30*time.Second); got != "n2" {
		t.Errorf("mid bound to %s, want n2: n1's room is high's", got)
	}
	if got := boundTo(t, e, "high", 30*time.Second); got != "n1" {
		t.Errorf("high bound to %s, want its nominated node n1", got)
	}
}

// TestHigherPriorityTakesNominatedRoom: a pod of higher priority than the
// nominated one does not count it (as in kube-scheduler), so it may take
// the room; the nominated pod, with no lower-priority pod left to evict,
// then stays pending and says why.
func TestHigherPriorityTakesNominatedRoom(t *testing.T) {
	e, pods := preemptForHigh(t)
	ctx := t.Context()
	if _, err := pods.Create(ctx, withPriority(pod("top", "3"), 2000), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "top", 30*time.Second); got != "n1" {
		t.Errorf("top bound to %s, want n1", got)
	}
	const why = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
	eventually(t, 30*time.Second, func() error {
		h, err := pods.Get(ctx, "default", "high")
		if err != nil {
			return err
		}
		if h.Spec.NodeName != "" {
			t.Fatalf("high bound to %s, want it pending", h.Spec.NodeName)
		}
		if c := scheduledCondition(h); c == nil || c.Reason != corev1.PodReasonUnschedulable || !strings.Contains(c.Message, why) {
			return fmt.Errorf("high's PodScheduled condition %+v, want Unschedulable: %s", c, why)
		}
		return nil
	})
}
