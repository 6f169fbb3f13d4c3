package controllers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/sdk/client"
)

func count[T client.Object](t *testing.T, c *client.Client, selector string) int {
	t.Helper()
	objs, _, err := client.For[T](c).List(t.Context(), "default", metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

func TestDeleteDeploymentCollectsReplicaSetsAndPods(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	startManager(t, e, "m1")
	dAPI := client.For[*appsv1.Deployment](e.Client)
	if _, err := dAPI.Create(t.Context(), newDeployment("web", 3, "img:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:v2" })
	waitRolledOut(t, e.Client, "web", "img:v2", 20*time.Second)
	if n := count[*appsv1.ReplicaSet](t, e.Client, "app=web"); n != 2 {
		t.Fatalf("%d replica sets before deletion", n)
	}
	background := metav1.DeletePropagationBackground
	if _, _, err := dAPI.Delete(t.Context(), "default", "web", metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testenv.Eventually(t, 20*time.Second, func() error {
		rs, ps := count[*appsv1.ReplicaSet](t, e.Client, "app=web"), count[*corev1.Pod](t, e.Client, "app=web")
		if rs+ps > 0 {
			return fmt.Errorf("%d replica sets and %d pods left", rs, ps)
		}
		return nil
	})
	t.Logf("deployment's replica sets and pods collected in %v", time.Since(start).Round(time.Millisecond))
}

// TestForegroundDeletion deletes a Deployment that carries the
// foregroundDeletion finalizer (as the API server will add for
// propagationPolicy=Foreground): its ReplicaSet and pods go first, then
// the Deployment.
func TestForegroundDeletion(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 200 * time.Millisecond})
	startManager(t, e, "m1")
	dAPI := client.For[*appsv1.Deployment](e.Client)
	d := newDeployment("web", 2, "img:v1")
	if _, err := dAPI.Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Finalizers = []string{metav1.FinalizerDeleteDependents} })

	// Record, from a watch, when the last pod and the Deployment go.
	c, _ := e.Connect(t)
	var mu sync.Mutex
	var podsGone, rsGone, dGone time.Time
	livePods := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	pinf := client.NewInformer[*corev1.Pod](c, "default", client.Handlers[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) { mu.Lock(); livePods[p.Name] = true; mu.Unlock() },
		OnDelete: func(p *corev1.Pod) {
			mu.Lock()
			delete(livePods, p.Name)
			if len(livePods) == 0 {
				podsGone = time.Now()
			}
			mu.Unlock()
		}})
	rinf := client.NewInformer[*appsv1.ReplicaSet](c, "default", client.Handlers[*appsv1.ReplicaSet]{
		OnDelete: func(*appsv1.ReplicaSet) { mu.Lock(); rsGone = time.Now(); mu.Unlock() }})
	dinf := client.NewInformer[*appsv1.Deployment](c, "default", client.Handlers[*appsv1.Deployment]{
		OnDelete: func(*appsv1.Deployment) { mu.Lock(); dGone = time.Now(); mu.Unlock() }})
	for _, r := range []interface{ Run(context.Context) error }{pinf, rinf, dinf} {
		wg.Go(func() { _ = r.Run(ctx) })
	}
	for _, s := range []interface{ WaitForSync(context.Context) error }{pinf, rinf, dinf} {
		if err := s.WaitForSync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	foreground := metav1.DeletePropagationForeground
	last, gone, err := dAPI.Delete(t.Context(), "default", "web", metav1.DeleteOptions{PropagationPolicy: &foreground})
	if err != nil || gone || last.DeletionTimestamp == nil {
		t.Fatalf("delete: gone %v, %v, %+v", gone, err, last.ObjectMeta)
	}
	start := time.Now()
	testenv.Eventually(t, 20*time.Second, func() error {
		_, err := dAPI.Get(t.Context(), "default", "web")
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("deployment still there (%v)", err)
		}
		return nil
	})
	t.Logf("foreground deletion done in %v", time.Since(start).Round(time.Millisecond))
	testenv.Eventually(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if dGone.IsZero() || rsGone.IsZero() || podsGone.IsZero() {
			return fmt.Errorf("watch has not seen everything go: pods %v rs %v deployment %v", podsGone, rsGone, dGone)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if dGone.Before(rsGone) {
		t.Fatalf("the deployment went (%v) before its replica set (%v)", dGone, rsGone)
	}
	if n := count[*corev1.Pod](t, e.Client, "app=web"); n != 0 {
		t.Fatalf("%d pods left", n)
	}
}

// TestOrphanDeletion deletes a Deployment that carries the orphan
// finalizer (kubectl delete --cascade=orphan, once the API server adds
// it): the ReplicaSet and pods stay, without the reference.
func TestOrphanDeletion(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	startManager(t, e, "m1")
	dAPI := client.For[*appsv1.Deployment](e.Client)
	created, err := dAPI.Create(t.Context(), newDeployment("web", 2, "img:v1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Finalizers = []string{metav1.FinalizerOrphanDependents} })
	orphan := metav1.DeletePropagationOrphan
	if _, _, err := dAPI.Delete(t.Context(), "default", "web", metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if _, err := dAPI.Get(t.Context(), "default", "web"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("deployment still there (%v)", err)
		}
		return nil
	})
	rss, _, err := client.For[*appsv1.ReplicaSet](e.Client).List(t.Context(), "default", metav1.ListOptions{})
	if err != nil || len(rss) != 1 {
		t.Fatalf("replica sets: %d, %v", len(rss), err)
	}
	if owner.References(rss[0].OwnerReferences, created.UID) {
		t.Fatalf("orphaned replica set still references the deployment: %+v", rss[0].OwnerReferences)
	}
	// The pods stay, and stay owned by the (now orphan) ReplicaSet.
	time.Sleep(300 * time.Millisecond) // give a wrong collection time to happen
	ps := livePods(t, e.Client, "web")
	if len(ps) != 2 {
		t.Fatalf("%d pods after orphaning, want 2", len(ps))
	}
	for _, p := range ps {
		if !owner.IsControlledBy(p, rss[0].UID) {
			t.Fatalf("pod %s lost its replica set: %+v", p.Name, p.OwnerReferences)
		}
	}
}

// TestCollectsDependentsOfAnyKind: a ConfigMap owned by a Service goes
// with it; one that also has a live owner stays, without the dead
// reference.
func TestCollectsDependentsOfAnyKind(t *testing.T) {
	e := testenv.Start(t)
	startManager(t, e, "m1")
	ctx := t.Context()
	svcAPI, cmAPI := client.For[*corev1.Service](e.Client), client.For[*corev1.ConfigMap](e.Client)
	mk := func(name string) *corev1.Service {
		s, err := svcAPI.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := mk("a"), mk("b")
	ref := func(s *corev1.Service) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: "v1", Kind: "Service", Name: s.Name, UID: s.UID}
	}
	for name, refs := range map[string][]metav1.OwnerReference{"only-a": {ref(a)}, "a-and-b": {ref(a), ref(b)}} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", OwnerReferences: refs}}
		if _, err := cmAPI.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A dependent whose owner never existed is collected too.
	ghost := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ghost", Namespace: "default",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: "never", UID: "no-such-uid"}}}}
	if _, err := cmAPI.Create(ctx, ghost, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svcAPI.Delete(ctx, "default", "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		for _, gone := range []string{"only-a", "ghost"} {
			if _, err := cmAPI.Get(ctx, "default", gone); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s not collected (%v)", gone, err)
			}
		}
		cm, err := cmAPI.Get(ctx, "default", "a-and-b")
		if err != nil {
			return err
		}
		if len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != b.UID {
			return fmt.Errorf("a-and-b references %+v", cm.OwnerReferences)
		}
		return nil
	})
}

func TestEndpointsFollowPods(t *testing.T) {
	e := testenv.Start(t)
	kubelet := e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 20 * time.Millisecond})
	startManager(t, e, "m1")
	ctx := t.Context()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}}}
	if _, err := client.For[*corev1.Service](e.Client).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(ctx, newDeployment("web", 3, "img:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	epAPI := client.For[*corev1.Endpoints](e.Client) //nolint:staticcheck // core/v1 Endpoints.
	check := func(ready, notReady int) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() error {
			ep, err := epAPI.Get(ctx, "default", "web")
			if err != nil {
				return err
			}
			r, nr := 0, 0
			for _, ss := range ep.Subsets {
				if len(ss.Ports) != 1 || ss.Ports[0].Port != 8080 || ss.Ports[0].Name != "http" {
					return fmt.Errorf("ports %+v", ss.Ports)
				}
				r += len(ss.Addresses)
				nr += len(ss.NotReadyAddresses)
			}
			if r != ready || nr != notReady {
				return fmt.Errorf("%d ready and %d not ready addresses, want %d and %d", r, nr, ready, notReady)
			}
			return nil
		})
	}
	check(3, 0)
	// A pod that stops being ready moves to notReadyAddresses.
	p := livePods(t, e.Client, "web")[0]
	kubelet.SetReady(p.Namespace, p.Name, false)
	check(2, 1)
	kubelet.SetReady(p.Namespace, p.Name, true)
	check(3, 0)
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { n := int32(0); d.Spec.Replicas = &n })
	check(0, 0)
	if _, _, err := client.For[*corev1.Service](e.Client).Delete(ctx, "default", "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if _, err := epAPI.Get(ctx, "default", "web"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("endpoints outlive their service (%v)", err)
		}
		return nil
	})
}
