package replicaset_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/events"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/pods"
	"github.com/skiffhq/skiff/core/controllers/replicaset"
	"github.com/skiffhq/skiff/sdk/client"
)

// run starts the ReplicaSet controller against e until the test ends.
func run(t *testing.T, e *testenv.Env) {
	t.Helper()
	c, _ := e.Connect(t)
	set := cache.New(c)
	rec := events.New(events.Config{Client: c, Host: "test"})
	ctl := replicaset.New(replicaset.Config{Cache: set, Events: rec})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = set.Run(ctx) })
	wg.Go(func() { _ = rec.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	if err := set.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = ctl.Run(ctx) })
}

func newRS(name string, n int32) *appsv1.ReplicaSet {
	labels := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}}}},
	}
}

// ownedPods lists the live pods rs controls.
func ownedPods(t *testing.T, c *client.Client, rs *appsv1.ReplicaSet) (active, terminating int) {
	t.Helper()
	ps, _, err := client.For[*corev1.Pod](c).List(t.Context(), rs.Namespace, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if owner.IsControlledBy(p, rs.UID) {
			if p.DeletionTimestamp != nil {
				terminating++
			} else {
				active++
			}
		}
	}
	return active, terminating
}

func TestReplicaSetEndToEnd(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 50 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	run(t, e)
	ctx := t.Context()
	rsAPI := client.For[*appsv1.ReplicaSet](e.Client)
	podAPI := client.For[*corev1.Pod](e.Client)

	// An orphan that matches is adopted and counts towards the replicas.
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}}}
	if _, err := podAPI.Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Once it runs and is ready it outranks any new pod: whether the
	// controller sees it before or after its first creations, it keeps it.
	testenv.Eventually(t, 10*time.Second, func() error {
		p, err := podAPI.Get(ctx, "default", "orphan")
		if err != nil || !pods.Ready(p) {
			return fmt.Errorf("orphan not ready: %v", err)
		}
		return nil
	})
	rs, err := rsAPI.Create(ctx, newRS("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitStatus := func(want int32) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() error {
			cur, err := rsAPI.Get(ctx, "default", "web")
			if err != nil {
				return err
			}
			st := cur.Status
			active, terminating := ownedPods(t, e.Client, rs)
			if st.Replicas != want || st.ReadyReplicas != want || st.AvailableReplicas != want || st.ObservedGeneration != cur.Generation ||
				active != int(want) || terminating != 0 {
				return fmt.Errorf("want %d: status %+v, %d active and %d terminating pods", want, st, active, terminating)
			}
			return nil
		})
	}
	waitStatus(3)
	t.Logf("3 replicas available in %v", time.Since(start))
	p, err := podAPI.Get(ctx, "default", "orphan")
	if err != nil {
		t.Fatalf("orphan: %v", err)
	}
	if !owner.IsControlledBy(p, rs.UID) {
		t.Fatalf("orphan not adopted: %+v", p.OwnerReferences)
	}

	for _, n := range []int32{7, 2, 0, 1} {
		cur, err := rsAPI.Get(ctx, "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		cur.Spec.Replicas = &n
		if _, err := rsAPI.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		waitStatus(n)
		t.Logf("scaled to %d in %v", n, time.Since(start))
	}

	// A pod deleted behind the controller's back is replaced.
	ps, _, _ := podAPI.List(ctx, "default", metav1.ListOptions{})
	for _, p := range ps {
		zero := int64(0)
		if _, _, err := podAPI.Delete(ctx, "default", p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
	}
	waitStatus(1)

	// A pod relabelled out of the selector is released and replaced.
	ps, _, _ = podAPI.List(ctx, "default", metav1.ListOptions{})
	var mine *corev1.Pod
	for _, p := range ps {
		if owner.IsControlledBy(p, rs.UID) && p.DeletionTimestamp == nil {
			mine = p
		}
	}
	mine.Labels = map[string]string{"app": "elsewhere"}
	if _, err := podAPI.Update(ctx, mine, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(1)
	testenv.Eventually(t, 10*time.Second, func() error {
		p, err := podAPI.Get(ctx, "default", mine.Name)
		if err != nil {
			return err
		}
		if len(p.OwnerReferences) != 0 {
			return fmt.Errorf("not released: %+v", p.OwnerReferences)
		}
		return nil
	})

	// The controller told what it did.
	testenv.Eventually(t, 10*time.Second, func() error {
		evs, _, err := client.For[*corev1.Event](e.Client).List(ctx, "default", metav1.ListOptions{})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, ev := range evs {
			if ev.InvolvedObject.Kind == "ReplicaSet" && ev.InvolvedObject.Name == "web" && ev.InvolvedObject.UID == rs.UID &&
				ev.Source.Component == replicaset.Name {
				seen[ev.Reason] = true
			}
		}
		if !seen["SuccessfulCreate"] || !seen["SuccessfulDelete"] {
			return fmt.Errorf("events seen: %v", seen)
		}
		return nil
	})
}

// TestNoOvercreation checks the expectations: a ReplicaSet scaled to 50
// at once gets 50 pods, not more, although many pod events arrive while
// its creates are in flight.
func TestNoOvercreation(t *testing.T) {
	e := testenv.Start(t)
	run(t, e)
	ctx := t.Context()
	rs, err := client.For[*appsv1.ReplicaSet](e.Client).Create(ctx, newRS("big", 50), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if a, _ := ownedPods(t, e.Client, rs); a != 50 {
			return fmt.Errorf("%d pods", a)
		}
		return nil
	})
	// And it stays at 50.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if a, _ := ownedPods(t, e.Client, rs); a != 50 {
			t.Fatalf("%d pods, want 50", a)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
