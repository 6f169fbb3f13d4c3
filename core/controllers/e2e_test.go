package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/deployment"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/job"
	"github.com/skiffhq/skiff/core/controllers/leader"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/pods"
	"github.com/skiffhq/skiff/sdk/client"
)

// fastElection keeps failover tests short.
var fastElection = leader.Timing{LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 250 * time.Millisecond}

type manager struct {
	m      *controllers.Manager
	conn   *bus.Conn
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startManager runs a controller manager on its own connection until
// stopped or the test ends.
func startManager(t *testing.T, e *testenv.Env, identity string) *manager {
	t.Helper()
	c, conn := e.Connect(t)
	mm := runManager(t, c, identity)
	mm.conn = conn
	return mm
}

func startManagerB(b *testing.B, e *testenv.Env, c *client.Client) *manager {
	return runManager(b, c, "bench")
}

func runManager(t testing.TB, c *client.Client, identity string) *manager {
	t.Helper()
	m, err := controllers.New(controllers.Config{Client: c, Identity: identity, Election: fastElection,
		JobBackoff: job.Timing{Base: 200 * time.Millisecond, Max: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mm := &manager{m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { mm.done <- m.Run(ctx) }()
	t.Cleanup(mm.stop)
	return mm
}

// stop ends the manager (it releases its lease) and waits for it; it is
// idempotent.
func (m *manager) stop() {
	m.once.Do(func() {
		m.cancel()
		if err := <-m.done; err != nil {
			panic("bug: manager ended with " + err.Error())
		}
	})
}

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}}},
		},
	}
}

// rolledOut is kubectl rollout status: nil once d has rolled out.
func rolledOut(d *appsv1.Deployment) error {
	if d.Generation > d.Status.ObservedGeneration {
		return errors.New("waiting for deployment spec update to be observed")
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == deployment.ReasonTimedOut {
			return fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	n := *d.Spec.Replicas
	switch {
	case d.Status.UpdatedReplicas < n:
		return fmt.Errorf("%d out of %d new replicas have been updated", d.Status.UpdatedReplicas, n)
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return fmt.Errorf("%d old replicas are pending termination", d.Status.Replicas-d.Status.UpdatedReplicas)
	case d.Status.AvailableReplicas < d.Status.UpdatedReplicas:
		return fmt.Errorf("%d of %d updated replicas are available", d.Status.AvailableReplicas, d.Status.UpdatedReplicas)
	}
	return nil
}

// livePods lists the pods with label app=name that are not terminating.
func livePods(t *testing.T, c *client.Client, name string) []*corev1.Pod {
	t.Helper()
	ps, _, err := client.For[*corev1.Pod](c).List(t.Context(), "default", metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(ps, func(p *corev1.Pod) bool { return p.DeletionTimestamp != nil })
}

// waitRolledOut waits until the deployment has rolled out, with exactly
// its replicas running image.
func waitRolledOut(t *testing.T, c *client.Client, name, image string, timeout time.Duration) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	testenv.Eventually(t, timeout, func() error {
		var err error
		d, err = client.For[*appsv1.Deployment](c).Get(t.Context(), "default", name)
		if err != nil {
			return err
		}
		if err := rolledOut(d); err != nil {
			return err
		}
		ps := livePods(t, c, name)
		if len(ps) != int(*d.Spec.Replicas) {
			return fmt.Errorf("%d pods, want %d", len(ps), *d.Spec.Replicas)
		}
		for _, p := range ps {
			if p.Spec.Containers[0].Image != image || !pods.Ready(p) {
				return fmt.Errorf("pod %s runs %s, ready %v", p.Name, p.Spec.Containers[0].Image, pods.Ready(p))
			}
		}
		return nil
	})
	return d
}

func updateDeployment(t *testing.T, c *client.Client, name string, mutate func(d *appsv1.Deployment)) {
	t.Helper()
	api := client.For[*appsv1.Deployment](c)
	for {
		d, err := api.Get(t.Context(), "default", name)
		if err != nil {
			t.Fatal(err)
		}
		mutate(d)
		if _, err := api.Update(t.Context(), d, metav1.UpdateOptions{}); err == nil {
			return
		} else if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

func TestDeploymentScales(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 50 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	startManager(t, e, "m1")
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), newDeployment("web", 1, "img:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	t.Logf("1 replica available in %v", time.Since(start).Round(time.Millisecond))
	for _, n := range []int32{5, 2} {
		updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Spec.Replicas = &n })
		start := time.Now()
		d := waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
		t.Logf("scaled to %d in %v", n, time.Since(start).Round(time.Millisecond))
		if d.Annotations[deployment.RevisionAnnotation] != "1" {
			t.Fatalf("scaling changed the revision: %v", d.Annotations)
		}
	}
	// One ReplicaSet, and the events kubectl describe shows.
	rss, _, err := client.For[*appsv1.ReplicaSet](e.Client).List(t.Context(), "default", metav1.ListOptions{})
	if err != nil || len(rss) != 1 {
		t.Fatalf("replica sets: %d, %v", len(rss), err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		evs, _, err := client.For[*corev1.Event](e.Client).List(t.Context(), "default", metav1.ListOptions{FieldSelector: "involvedObject.kind=Deployment,involvedObject.name=web"})
		if err != nil {
			return err
		}
		var msgs []string
		for _, ev := range evs {
			if ev.Reason == "ScalingReplicaSet" {
				msgs = append(msgs, ev.Message)
			}
		}
		sort.Strings(msgs)
		want := []string{
			fmt.Sprintf("Scaled down replica set %s from 5 to 2", rss[0].Name),
			fmt.Sprintf("Scaled up replica set %s from 0 to 1", rss[0].Name),
			fmt.Sprintf("Scaled up replica set %s from 1 to 5", rss[0].Name),
		}
		if !slices.Equal(msgs, want) {
			return fmt.Errorf("events %q, want %q", msgs, want)
		}
		return nil
	})
}

// availabilityMonitor watches pods (every change, in revision order) and
// records the lowest number of ready, non-terminating pods of app=name
// once armed.
type availabilityMonitor struct {
	mu     sync.Mutex
	armed  bool
	lowest int
	seenAt string
	ready  map[string]bool
}

func watchAvailability(t *testing.T, e *testenv.Env, name string) *availabilityMonitor {
	t.Helper()
	mon := &availabilityMonitor{lowest: 1 << 30, ready: map[string]bool{}}
	c, _ := e.Connect(t)
	onChange := func(p *corev1.Pod) {
		if p.Labels["app"] != name {
			return
		}
		mon.mu.Lock()
		defer mon.mu.Unlock()
		if pods.Ready(p) && p.DeletionTimestamp == nil {
			mon.ready[p.Name] = true
		} else {
			delete(mon.ready, p.Name)
		}
		if mon.armed && len(mon.ready) < mon.lowest {
			mon.lowest = len(mon.ready)
			mon.seenAt = fmt.Sprintf("after %s (revision %s)", p.Name, p.ResourceVersion)
		}
	}
	inf := client.NewInformer[*corev1.Pod](c, "default", client.Handlers[*corev1.Pod]{
		OnAdd: onChange, OnUpdate: func(_, p *corev1.Pod) { onChange(p) }, OnDelete: func(p *corev1.Pod) {
			mon.mu.Lock()
			delete(mon.ready, p.Name)
			if mon.armed && len(mon.ready) < mon.lowest {
				mon.lowest = len(mon.ready)
				mon.seenAt = fmt.Sprintf("after deleting %s", p.Name)
			}
			mon.mu.Unlock()
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = inf.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	return mon
}

func (m *availabilityMonitor) arm(t *testing.T, want int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.ready) != want {
			return fmt.Errorf("monitor sees %d ready pods, want %d", len(m.ready), want)
		}
		m.armed, m.lowest = true, want
		return nil
	})
}

func (m *availabilityMonitor) low() (int, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lowest, m.seenAt
}

func TestRollingUpdateNeverBelowDesired(t *testing.T) {
	e := testenv.Start(t)
	// Pods take a while to become ready, so that a controller that did not
	// wait for them would be caught.
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 150 * time.Millisecond, TerminateAfter: 100 * time.Millisecond})
	startManager(t, e, "m1")
	d := newDeployment("web", 4, "img:v1")
	zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: &zero, MaxSurge: &one}}
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	mon := watchAvailability(t, e, "web")
	mon.arm(t, 4)

	// The Deployment's own status, checked at every change too.
	c, _ := e.Connect(t)
	var statusLow sync.Map
	dinf := client.NewInformer[*appsv1.Deployment](c, "default", client.Handlers[*appsv1.Deployment]{
		OnUpdate: func(_, d *appsv1.Deployment) {
			if d.Status.AvailableReplicas < 4 {
				statusLow.Store(d.ResourceVersion, d.Status.AvailableReplicas)
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = dinf.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := dinf.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:v2" })
	got := waitRolledOut(t, e.Client, "web", "img:v2", 30*time.Second)
	t.Logf("rolled 4 replicas v1 -> v2 (maxSurge 1, maxUnavailable 0) in %v", time.Since(start).Round(time.Millisecond))
	if low, at := mon.low(); low < 4 {
		t.Fatalf("available pods fell to %d %s", low, at)
	}
	statusLow.Range(func(rv, n any) bool {
		t.Errorf("deployment status showed %d available at revision %s", n, rv)
		return true
	})
	if got.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Fatalf("revision %q, want 2", got.Annotations[deployment.RevisionAnnotation])
	}
	for _, c := range got.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && (c.Status != corev1.ConditionTrue || c.Reason != deployment.ReasonNewRSAvailable) {
			t.Fatalf("Progressing = %s/%s", c.Status, c.Reason)
		}
	}
}

// rolloutUndo does what kubectl rollout undo does: put the template of the
// ReplicaSet of toRevision (0: the previous one) back into the Deployment,
// with that ReplicaSet's annotations.
func rolloutUndo(t *testing.T, c *client.Client, name string, toRevision int64) {
	t.Helper()
	dAPI := client.For[*appsv1.Deployment](c)
	d, err := dAPI.Get(t.Context(), "default", name)
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Paused {
		t.Fatal("you cannot rollback a paused deployment; resume it first")
	}
	sel, _ := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	rss, _, err := client.For[*appsv1.ReplicaSet](c).List(t.Context(), "default", metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	rss = slices.DeleteFunc(rss, func(rs *appsv1.ReplicaSet) bool { return !owner.IsControlledBy(rs, d.UID) })
	sort.Slice(rss, func(i, j int) bool { return deployment.Revision(rss[i]) < deployment.Revision(rss[j]) })
	var to *appsv1.ReplicaSet
	if toRevision == 0 {
		if len(rss) < 2 {
			t.Fatal("no previous revision")
		}
		to = rss[len(rss)-2]
	} else {
		for _, rs := range rss {
			if deployment.Revision(rs) == toRevision {
				to = rs
			}
		}
	}
	if to == nil {
		t.Fatalf("unable to find revision %d", toRevision)
	}
	tmpl := to.Spec.Template.DeepCopy()
	delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	ann := map[string]string{}
	for k, v := range d.Annotations {
		if deployment.SkipOnRollback(k) {
			ann[k] = v
		}
	}
	for k, v := range to.Annotations {
		if !deployment.SkipOnRollback(k) {
			ann[k] = v
		}
	}
	d.Spec.Template, d.Annotations = *tmpl, ann
	if _, err := dAPI.Update(t.Context(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRollback(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 50 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	startManager(t, e, "m1")
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), newDeployment("web", 3, "img:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:v2" })
	waitRolledOut(t, e.Client, "web", "img:v2", 20*time.Second)

	start := time.Now()
	rolloutUndo(t, e.Client, "web", 0)
	d := waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	t.Logf("rolled back in %v", time.Since(start).Round(time.Millisecond))
	if rev := d.Annotations[deployment.RevisionAnnotation]; rev != "3" {
		t.Fatalf("deployment revision %q, want 3", rev)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		rss, _, err := client.For[*appsv1.ReplicaSet](e.Client).List(t.Context(), "default", metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(rss) != 2 {
			return fmt.Errorf("%d replica sets, want 2 (a rollback reuses the old one)", len(rss))
		}
		for _, rs := range rss {
			img, rev, hist := rs.Spec.Template.Spec.Containers[0].Image, rs.Annotations[deployment.RevisionAnnotation], rs.Annotations[deployment.RevisionHistoryAnnotation]
			switch {
			case img == "img:v1" && (rev != "3" || hist != "1" || *rs.Spec.Replicas != 3):
				return fmt.Errorf("v1 replica set: revision %s history %q replicas %d", rev, hist, *rs.Spec.Replicas)
			case img == "img:v2" && (rev != "2" || *rs.Spec.Replicas != 0):
				return fmt.Errorf("v2 replica set: revision %s replicas %d", rev, *rs.Spec.Replicas)
			}
		}
		return nil
	})

	// kubectl rollout restart: a template annotation starts a rollout.
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": time.Now().Format(time.RFC3339)}
	})
	d = waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	if rev := d.Annotations[deployment.RevisionAnnotation]; rev != "4" {
		t.Fatalf("after restart: revision %q, want 4", rev)
	}
}

func TestPausedRollout(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 20 * time.Millisecond})
	startManager(t, e, "m1")
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), newDeployment("web", 2, "img:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) {
		d.Spec.Paused = true
		d.Spec.Template.Spec.Containers[0].Image = "img:v2"
	})
	testenv.Eventually(t, 10*time.Second, func() error {
		d, err := client.For[*appsv1.Deployment](e.Client).Get(t.Context(), "default", "web")
		if err != nil {
			return err
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Reason == deployment.ReasonPaused && d.Status.ObservedGeneration == d.Generation {
				return nil
			}
		}
		return fmt.Errorf("not paused yet: %+v", d.Status.Conditions)
	})
	for _, p := range livePods(t, e.Client, "web") {
		if p.Spec.Containers[0].Image != "img:v1" {
			t.Fatalf("a paused deployment rolled out: pod %s runs %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Spec.Paused = false })
	waitRolledOut(t, e.Client, "web", "img:v2", 20*time.Second)
}

func TestProgressDeadline(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 20 * time.Millisecond,
		Ready: func(p *corev1.Pod) bool { return p.Spec.Containers[0].Image != "img:broken" }})
	startManager(t, e, "m1")
	d := newDeployment("web", 2, "img:v1")
	deadline := int32(2)
	d.Spec.ProgressDeadlineSeconds = &deadline
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:broken" })
	start := time.Now()
	testenv.Eventually(t, 15*time.Second, func() error {
		d, err := client.For[*appsv1.Deployment](e.Client).Get(t.Context(), "default", "web")
		if err != nil {
			return err
		}
		if err := rolledOut(d); err == nil || err.Error() != `deployment "web" exceeded its progress deadline` {
			return fmt.Errorf("rollout status: %v", err)
		}
		return nil
	})
	t.Logf("progress deadline (2s) reported after %v", time.Since(start).Round(time.Millisecond))
	// The old pods keep serving.
	ready := 0
	for _, p := range livePods(t, e.Client, "web") {
		if pods.Ready(p) {
			ready++
		}
	}
	if ready < 1 {
		t.Fatalf("%d ready pods left", ready)
	}
}

func TestRecreate(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 100 * time.Millisecond})
	startManager(t, e, "m1")
	d := newDeployment("web", 3, "img:v1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
	// Check continuously that old and new pods never run together.
	c, _ := e.Connect(t)
	var mu sync.Mutex
	images := map[string]string{}
	var overlap []string
	track := func(p *corev1.Pod, gone bool) {
		mu.Lock()
		defer mu.Unlock()
		if gone || pods.Terminal(p) {
			delete(images, p.Name)
		} else {
			images[p.Name] = p.Spec.Containers[0].Image
		}
		seen := map[string]bool{}
		for _, img := range images {
			seen[img] = true
		}
		if len(seen) > 1 {
			overlap = append(overlap, fmt.Sprintf("%v", images))
		}
	}
	inf := client.NewInformer[*corev1.Pod](c, "default", client.Handlers[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) { track(p, false) }, OnUpdate: func(_, p *corev1.Pod) { track(p, false) },
		OnDelete: func(p *corev1.Pod) { track(p, true) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = inf.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "img:v2" })
	waitRolledOut(t, e.Client, "web", "img:v2", 20*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(overlap) > 0 {
		t.Fatalf("old and new pods ran together: %v", overlap[0])
	}
}
