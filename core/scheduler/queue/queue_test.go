package queue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/queue"
)

func pod(name string, prio int32) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), ResourceVersion: "1"},
		Spec: corev1.PodSpec{Priority: &prio}}
}

// run starts q.Run for the test's bubble and stops it at the end.
func run(t *testing.T, q *queue.Queue) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func pop(t *testing.T, q *queue.Queue) *queue.QueuedPod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	qp, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("pop: %v", err)
	}
	return qp
}

// empty checks that nothing is active now.
func empty(t *testing.T, q *queue.Queue) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if qp, err := q.Pop(ctx); err == nil {
		t.Fatalf("popped %s, want nothing active", qp.Pod().Name)
	}
}

func where(q *queue.Queue, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = q.Where(types.UID(n))
	}
	return out
}

func TestOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{})
		q.Add(pod("low-1", 0))
		time.Sleep(time.Millisecond)
		q.Add(pod("high", 10))
		time.Sleep(time.Millisecond)
		q.Add(pod("low-2", 0))
		var got []string
		for range 3 {
			got = append(got, pop(t, q).Pod().Name)
		}
		if d := cmp.Diff([]string{"high", "low-1", "low-2"}, got); d != "" {
			t.Errorf("pop order (-want +got):\n%s", d)
		}
		empty(t, q)
	})
}

func TestPopWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{})
		got := make(chan string, 1)
		go func() {
			qp, err := q.Pop(t.Context())
			if err != nil {
				got <- err.Error()
				return
			}
			got <- qp.Pod().Name
		}()
		synctest.Wait()
		select {
		case g := <-got:
			t.Fatalf("Pop returned %q before anything was added", g)
		default:
		}
		q.Add(pod("a", 0))
		if g := <-got; g != "a" {
			t.Fatalf("Pop = %q", g)
		}
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { _, err := q.Pop(ctx); errc <- err }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Pop after cancel: %v", err)
		}
		q.Close()
		q.Close()
		if _, err := q.Pop(t.Context()); !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("Pop after Close: %v", err)
		}
	})
}

func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{InitialBackoff: time.Second, MaxBackoff: 4 * time.Second})
		run(t, q)
		q.Add(pod("a", 0))
		// Each failed attempt (an error: no plugin rejected it) doubles the
		// wait, up to the maximum.
		for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			qp := pop(t, q)
			start := time.Now()
			q.Requeue(qp)
			if got := q.Where("a"); got != "backoff" {
				t.Fatalf("after an error: %s", got)
			}
			time.Sleep(wait - time.Millisecond)
			synctest.Wait()
			if got := q.Where("a"); got != "backoff" {
				t.Fatalf("%v into a %v back-off: %s", time.Since(start), wait, got)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			if got := q.Where("a"); got != "active" {
				t.Fatalf("%v into a %v back-off: %s", time.Since(start), wait, got)
			}
		}
	})
}

func rejected(qp *queue.QueuedPod, plugins ...string) *queue.QueuedPod {
	qp.RejectedBy = map[string]struct{}{}
	for _, p := range plugins {
		qp.RejectedBy[p] = struct{}{}
	}
	return qp
}

func TestUnschedulableMovesOnEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodeAdd := framework.ClusterEvent{Resource: framework.NodeEvent, Action: framework.Add}
		podDelete := framework.ClusterEvent{Resource: framework.AssignedPod, Action: framework.Delete}
		q := queue.New(queue.Config{
			// Fit cares about deleted pods, Taints about new nodes.
			Interested: func(qp *queue.QueuedPod, ev framework.ClusterEvent) bool {
				_, fit := qp.RejectedBy["Fit"]
				_, taints := qp.RejectedBy["Taints"]
				return fit && ev == podDelete || taints && ev == nodeAdd
			},
		})
		run(t, q)
		q.Add(pod("fit", 0))
		q.Add(pod("taints", 0))
		q.Requeue(rejected(pop(t, q), "Fit"))
		q.Requeue(rejected(pop(t, q), "Taints"))
		want := map[string]string{"fit": "unschedulable", "taints": "unschedulable"}
		if d := cmp.Diff(want, where(q, "fit", "taints")); d != "" {
			t.Fatalf("after rejections (-want +got):\n%s", d)
		}
		// An event nobody registered for moves nothing.
		q.MoveAll(framework.ClusterEvent{Resource: framework.NodeEvent, Action: framework.UpdateNodeLabel})
		if d := cmp.Diff(want, where(q, "fit", "taints")); d != "" {
			t.Fatalf("after an unrelated event (-want +got):\n%s", d)
		}
		// A node is added at once: taints is still backing off (1 s).
		q.MoveAll(nodeAdd)
		want["taints"] = "backoff"
		if d := cmp.Diff(want, where(q, "fit", "taints")); d != "" {
			t.Fatalf("after a node was added (-want +got):\n%s", d)
		}
		// A pod is deleted after the back-off: fit goes straight to active.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		q.MoveAll(podDelete)
		want = map[string]string{"fit": "active", "taints": "active"}
		if d := cmp.Diff(want, where(q, "fit", "taints")); d != "" {
			t.Fatalf("after a pod was deleted (-want +got):\n%s", d)
		}
	})
}

func TestEventInFlightIsNotMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{Interested: func(*queue.QueuedPod, framework.ClusterEvent) bool { return false }})
		q.Add(pod("a", 0))
		qp := pop(t, q)
		// While a is being scheduled a node is added: it may now fit, so
		// its failure sends it to back-off, not to wait for another event.
		q.MoveAll(framework.EventNodeAdd)
		q.Requeue(rejected(qp, "Fit"))
		if got := q.Where("a"); got != "backoff" {
			t.Fatalf("after a rejection with an event in flight: %s", got)
		}
	})
}

func TestUnschedulableTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{MaxInUnschedulable: time.Minute,
			Interested: func(*queue.QueuedPod, framework.ClusterEvent) bool { return false }})
		run(t, q)
		q.Add(pod("a", 0))
		q.Requeue(rejected(pop(t, q), "Fit"))
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if got := q.Where("a"); got != "unschedulable" {
			t.Fatalf("after 59s: %s", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := q.Where("a"); got != "active" {
			t.Fatalf("after 61s: %s", got)
		}
	})
}

func TestUpdates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{Interested: func(*queue.QueuedPod, framework.ClusterEvent) bool { return false }})
		run(t, q)
		a := pod("a", 0)
		q.Add(a)
		q.Requeue(rejected(pop(t, q), "Fit"))
		time.Sleep(2 * time.Second)
		// A status change (the scheduler's own condition) moves nothing.
		st := a.DeepCopy()
		st.ResourceVersion = "2"
		st.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
		q.Update(st)
		if got := q.Where("a"); got != "unschedulable" {
			t.Fatalf("after a status update: %s", got)
		}
		// A spec change retries it.
		spec := st.DeepCopy()
		spec.ResourceVersion, spec.Generation = "3", 2
		q.Update(spec)
		if got := q.Where("a"); got != "active" {
			t.Fatalf("after a spec update: %s", got)
		}
		if qp := pop(t, q); qp.Pod().ResourceVersion != "3" {
			t.Fatalf("popped version %s, want 3", qp.Pod().ResourceVersion)
		}
	})
}

func TestUpdateAndDeleteInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{})
		run(t, q)
		q.Add(pod("a", 0))
		qp := pop(t, q)
		newer := pod("a", 0)
		newer.ResourceVersion, newer.Generation = "2", 2
		q.Update(newer)
		if qp.Pod().ResourceVersion != "1" {
			t.Fatal("the in-flight pod changed under the scheduler")
		}
		q.Requeue(rejected(qp, "Fit"))
		if got := q.Where("a"); got != "backoff" {
			t.Fatalf("a pod changed in flight: %s, want backoff", got)
		}
		time.Sleep(2 * time.Second)
		qp = pop(t, q)
		if qp.Pod().ResourceVersion != "2" {
			t.Fatalf("requeued with version %s, want 2", qp.Pod().ResourceVersion)
		}
		q.Delete(qp.Pod())
		if got := q.Where("a"); got != "inflight" {
			t.Fatalf("deleted in flight: %s", got)
		}
		q.Requeue(qp)
		if got := q.Where("a"); got != "" {
			t.Fatalf("a pod deleted in flight was requeued: %s", got)
		}
		q.Add(pod("b", 0))
		qp = pop(t, q)
		q.Done(qp)
		if got := q.Where("b"); got != "" {
			t.Fatalf("after Done: %s", got)
		}
	})
}

func TestGates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{PreEnqueue: func(pi *framework.PodInfo) (string, *framework.Status) {
			if len(pi.Pod.Spec.SchedulingGates) > 0 {
				return "Gates", framework.NewStatus(framework.UnschedulableAndUnresolvable, "gated")
			}
			return "", nil
		}})
		run(t, q)
		g := pod("g", 0)
		g.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "x"}}
		q.Add(g)
		q.MoveAll(framework.EventNodeAdd)
		if got := q.Where("g"); got != "unschedulable" {
			t.Fatalf("gated pod after an event: %s", got)
		}
		open := pod("g", 0)
		open.ResourceVersion, open.Generation = "2", 2
		q.Update(open)
		if got := q.Where("g"); got != "active" {
			t.Fatalf("after its gates were removed: %s", got)
		}
	})
}

// TestMoveAllAsksOncePerGroup: pods rejected by the same plugins form one
// group, and an event costs one question per group, however many pods.
func TestMoveAllAsksOncePerGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		asked := 0
		q := queue.New(queue.Config{Interested: func(*queue.QueuedPod, framework.ClusterEvent) bool { asked++; return false }})
		for i := range 1000 {
			q.Add(pod(fmt.Sprint("p", i), 0))
			plugin := "Fit"
			if i%2 == 1 {
				plugin = "Taints"
			}
			q.Requeue(rejected(pop(t, q), plugin))
		}
		q.MoveAll(framework.EventNodeAdd)
		if asked != 2 {
			t.Errorf("Interested asked %d times for 2 groups of 500 pods", asked)
		}
		if _, _, u, _ := q.Counts(); u != 1000 {
			t.Errorf("%d unschedulable, want 1000", u)
		}
	})
}

// TestMove: pods named by Move leave the unschedulable pods as after an
// event that concerns them (back-off first), whatever the plugins that
// rejected them registered; one in flight backs off after its failure;
// gated pods and pods elsewhere stay where they are.
func TestMove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New(queue.Config{
			Interested: func(*queue.QueuedPod, framework.ClusterEvent) bool { return false },
			PreEnqueue: func(pi *framework.PodInfo) (string, *framework.Status) {
				if pi.Pod.Name == "gated" {
					return "Gate", framework.NewStatus(framework.UnschedulableAndUnresolvable, "gated")
				}
				return "", nil
			},
		})
		run(t, q)
		for _, name := range []string{"fresh", "waited", "flight", "gated", "bystander"} {
			q.Add(pod(name, 0))
		}
		q.Requeue(rejected(pop(t, q), "Fit")) // each pod in turn: same priority, oldest first
		q.Requeue(rejected(pop(t, q), "Fit"))
		flight := pop(t, q)
		q.Requeue(rejected(pop(t, q), "Fit"))
		want := map[string]string{"fresh": "unschedulable", "waited": "unschedulable", "flight": "inflight", "gated": "unschedulable", "bystander": "unschedulable"}
		if d := cmp.Diff(want, where(q, "fresh", "waited", "flight", "gated", "bystander")); d != "" {
			t.Fatalf("before (-want +got):\n%s", d)
		}
		q.Move([]types.UID{"fresh", "flight", "gated", "unknown"})
		want["fresh"] = "backoff"
		if d := cmp.Diff(want, where(q, "fresh", "waited", "flight", "gated", "bystander")); d != "" {
			t.Fatalf("after Move (-want +got):\n%s", d)
		}
		q.Requeue(rejected(flight, "Fit"))
		want["flight"] = "backoff"
		if d := cmp.Diff(want, where(q, "fresh", "waited", "flight", "gated", "bystander")); d != "" {
			t.Fatalf("after the in-flight pod failed (-want +got):\n%s", d)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		q.Move([]types.UID{"waited"})
		want = map[string]string{"fresh": "active", "waited": "active", "flight": "active", "gated": "unschedulable", "bystander": "unschedulable"}
		if d := cmp.Diff(want, where(q, "fresh", "waited", "flight", "gated", "bystander")); d != "" {
			t.Fatalf("after the back-off (-want +got):\n%s", d)
		}
		// A second failure without a Move waits for an event again.
		for range 3 {
			q.Requeue(rejected(pop(t, q), "Fit"))
		}
		want = map[string]string{"fresh": "unschedulable", "waited": "unschedulable", "flight": "unschedulable", "gated": "unschedulable", "bystander": "unschedulable"}
		if d := cmp.Diff(want, where(q, "fresh", "waited", "flight", "gated", "bystander")); d != "" {
			t.Fatalf("after failing again (-want +got):\n%s", d)
		}
	})
}
