package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/daemonset"
	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/pods"
	"github.com/skiffhq/skiff/sdk/client"
)

// startManagerWith runs a manager with cfg (Client, Identity and Election
// filled in) until the test ends.
func startManagerWith(t *testing.T, e *testenv.Env, cfg controllers.Config) {
	t.Helper()
	c, _ := e.Connect(t)
	cfg.Client, cfg.Identity, cfg.Election = c, "m1", fastElection
	m, err := controllers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

func update[T client.Object](t *testing.T, c *client.Client, ns, name string, mutate func(T)) {
	t.Helper()
	api := client.For[T](c)
	for {
		obj, err := api.Get(t.Context(), ns, name)
		if err != nil {
			t.Fatal(err)
		}
		mutate(obj)
		if _, err := api.Update(t.Context(), obj, metav1.UpdateOptions{}); err == nil {
			return
		} else if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

func TestDaemonSetRunsOnEveryNodeAndRollsOut(t *testing.T) {
	e := testenv.Start(t)
	nodes := []string{"node-1", "node-2", "node-3"}
	e.StartKubelet(t, testenv.KubeletConfig{Nodes: nodes, ReadyAfter: 50 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	// A cordoned node still gets its daemon (the default tolerations); a
	// node tainted NoSchedule does not.
	update(t, e.Client, "", "node-2", func(n *corev1.Node) { n.Spec.Unschedulable = true })
	update(t, e.Client, "", "node-3", func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	})
	startManagerWith(t, e, controllers.Config{})
	labels := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agent:v1"}}}}}}
	if _, err := client.For[*appsv1.DaemonSet](e.Client).Create(t.Context(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDS := func(image string, want []string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, func() error {
			got, err := client.For[*appsv1.DaemonSet](e.Client).Get(t.Context(), "default", "agent")
			if err != nil {
				return err
			}
			st := got.Status
			if st.ObservedGeneration < got.Generation || st.DesiredNumberScheduled != int32(len(want)) ||
				st.UpdatedNumberScheduled != st.DesiredNumberScheduled || st.NumberAvailable != st.DesiredNumberScheduled {
				return fmt.Errorf("status %+v", st)
			}
			var on []string
			for _, p := range livePods(t, e.Client, "agent") {
				if p.Spec.Containers[0].Image != image || !pods.Ready(p) {
					return fmt.Errorf("pod %s: %s ready=%v", p.Name, p.Spec.Containers[0].Image, pods.Ready(p))
				}
				if daemonset.TargetNode(p) != p.Spec.NodeName {
					return fmt.Errorf("pod %s pinned to %s, bound to %s", p.Name, daemonset.TargetNode(p), p.Spec.NodeName)
				}
				on = append(on, p.Spec.NodeName)
			}
			slices.Sort(on)
			if !slices.Equal(on, want) {
				return fmt.Errorf("pods on %v, want %v", on, want)
			}
			return nil
		})
	}
	waitDS("agent:v1", []string{"node-1", "node-2"})
	// The taint goes: node-3 gets its daemon.
	update(t, e.Client, "", "node-3", func(n *corev1.Node) { n.Spec.Taints = nil })
	waitDS("agent:v1", nodes)
	update(t, e.Client, "default", "agent", func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.Containers[0].Image = "agent:v2" })
	start := time.Now()
	waitDS("agent:v2", nodes)
	t.Logf("rolled out to 3 nodes in %v", time.Since(start).Round(time.Millisecond))
	revs, _, err := client.For[*appsv1.ControllerRevision](e.Client).List(t.Context(), "default", metav1.ListOptions{LabelSelector: "app=agent"})
	if err != nil || len(revs) != 2 {
		t.Fatalf("controller revisions: %d, %v", len(revs), err)
	}
}

func TestStatefulSetOrderedScaleAndUpdate(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 50 * time.Millisecond, TerminateAfter: 50 * time.Millisecond})
	startManagerWith(t, e, controllers.Config{})
	// Watch the order pods are created in.
	var order []string
	created := make(chan string, 100)
	inf := client.NewInformer[*corev1.Pod](e.Client, "default", client.Handlers[*corev1.Pod]{OnAdd: func(p *corev1.Pod) { created <- p.Name }})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = inf.Run(ctx) }()
	labels := map[string]string{"app": "db"}
	three := int32(3)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{Replicas: &three, ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "db:v1"}}}}}}
	if _, err := client.For[*appsv1.StatefulSet](e.Client).Create(t.Context(), sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait := func(n int, image string) *appsv1.StatefulSet {
		t.Helper()
		var got *appsv1.StatefulSet
		testenv.Eventually(t, 30*time.Second, func() error {
			var err error
			got, err = client.For[*appsv1.StatefulSet](e.Client).Get(t.Context(), "default", "db")
			if err != nil {
				return err
			}
			st := got.Status
			if st.ObservedGeneration < got.Generation || st.Replicas != int32(n) || st.ReadyReplicas != int32(n) ||
				st.UpdatedReplicas != int32(n) || st.CurrentRevision != st.UpdateRevision {
				return fmt.Errorf("status %+v", st)
			}
			ps := livePods(t, e.Client, "db")
			if len(ps) != n {
				return fmt.Errorf("%d pods", len(ps))
			}
			for _, p := range ps {
				if p.Spec.Containers[0].Image != image || p.Labels[history.HashLabel] != st.UpdateRevision {
					return fmt.Errorf("pod %s at %s", p.Name, p.Spec.Containers[0].Image)
				}
			}
			return nil
		})
		return got
	}
	wait(3, "db:v1")
	for len(order) < 3 {
		select {
		case name := <-created:
			order = append(order, name)
		case <-time.After(30 * time.Second):
			t.Fatalf("pods created so far: %v, want 3", order)
		}
	}
	if want := []string{"db-0", "db-1", "db-2"}; !slices.Equal(order, want) {
		t.Fatalf("created in order %v, want %v", order, want)
	}
	first := wait(3, "db:v1").Status.UpdateRevision
	update(t, e.Client, "default", "db", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "db:v2" })
	if got := wait(3, "db:v2"); got.Status.CurrentRevision == first {
		t.Fatalf("revision did not change: %s", first)
	}
	// The update re-created db-2, db-1, db-0 in that order.
	order = nil
	for len(order) < 3 {
		select {
		case name := <-created:
			order = append(order, name)
		case <-time.After(30 * time.Second):
			t.Fatalf("pods created so far: %v, want 3", order)
		}
	}
	if want := []string{"db-2", "db-1", "db-0"}; !slices.Equal(order, want) {
		t.Fatalf("updated in order %v, want %v", order, want)
	}
	one := int32(1)
	update(t, e.Client, "default", "db", func(s *appsv1.StatefulSet) { s.Spec.Replicas = &one })
	wait(1, "db:v2")
	if ps := livePods(t, e.Client, "db"); ps[0].Name != "db-0" {
		t.Fatalf("kept %s, want db-0", ps[0].Name)
	}
}

// TestCronJobFires runs the controllers on a clock set just before a
// minute boundary, so that `* * * * *` fires in about a second.
func TestCronJobFires(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 50 * time.Millisecond, RunFor: 100 * time.Millisecond})
	base := time.Now()
	offset := base.Truncate(time.Minute).Add(time.Minute).Sub(base) - 1500*time.Millisecond
	startManagerWith(t, e, controllers.Config{Now: func() time.Time { return time.Now().Add(offset) }})
	one := int32(1)
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default"},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", ConcurrencyPolicy: batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: &one,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}},
				Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "tick"}}}}}}}}
	if _, err := client.For[*batchv1.CronJob](e.Client).Create(t.Context(), cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		got, err := client.For[*batchv1.CronJob](e.Client).Get(t.Context(), "default", "tick")
		if err != nil {
			return err
		}
		if got.Status.LastScheduleTime == nil || got.Status.LastSuccessfulTime == nil || len(got.Status.Active) != 0 {
			return fmt.Errorf("status %+v", got.Status)
		}
		jobs, _, err := client.For[*batchv1.Job](e.Client).List(t.Context(), "default", metav1.ListOptions{})
		if err != nil {
			return err
		}
		want := fmt.Sprintf("tick-%d", got.Status.LastScheduleTime.Unix()/60)
		if len(jobs) != 1 || jobs[0].Name != want {
			return fmt.Errorf("jobs %v, want [%s]", names(jobs), want)
		}
		return nil
	})
	t.Logf("fired and completed %v after the test started", time.Since(base).Round(time.Millisecond))
}

func names[T client.Object](objs []T) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetName()
	}
	return out
}

// TestCronJobConcurrencyPolicies drives the CronJob shell with a clock
// the test moves a minute at a time (and pokes the CronJobs so that they
// sync at once): Replace deletes the running Job for the next one, Forbid
// starts none while one runs, and their Jobs never finish here.
func TestCronJobConcurrencyPolicies(t *testing.T) {
	e := testenv.Start(t)
	e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, RunFor: time.Hour, TerminateAfter: 20 * time.Millisecond})
	var now atomic.Pointer[time.Time]
	set := func(t time.Time) { now.Store(&t) }
	set(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second))
	startManagerWith(t, e, controllers.Config{Now: func() time.Time { return *now.Load() }})
	for _, policy := range []batchv1.ConcurrencyPolicy{batchv1.ReplaceConcurrent, batchv1.ForbidConcurrent} {
		name := strings.ToLower(string(policy))
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: batchv1.CronJobSpec{Schedule: "* * * * *", ConcurrencyPolicy: policy,
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "x"}}}}}}}}
		if _, err := client.For[*batchv1.CronJob](e.Client).Create(t.Context(), cj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// jobsOf lists the CronJob's Jobs that are not being deleted, and
	// its active list.
	jobsOf := func(name string) (live []string, active []string) {
		jobs, _, err := client.For[*batchv1.Job](e.Client).List(t.Context(), "default", metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if strings.HasPrefix(j.Name, name+"-") && j.DeletionTimestamp == nil {
				live = append(live, j.Name)
			}
		}
		cj, err := client.For[*batchv1.CronJob](e.Client).Get(t.Context(), "default", name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range cj.Status.Active {
			active = append(active, r.Name)
		}
		slices.Sort(live)
		slices.Sort(active)
		return live, active
	}
	want := func(name string, jobs ...string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() error {
			live, active := jobsOf(name)
			if !slices.Equal(live, jobs) || !slices.Equal(active, jobs) {
				return fmt.Errorf("%s: jobs %v, active %v, want %v", name, live, active, jobs)
			}
			return nil
		})
	}
	first := now.Load().Truncate(time.Minute)
	jobName := func(name string, t time.Time) string { return fmt.Sprintf("%s-%d", name, t.Unix()/60) }
	want("replace", jobName("replace", first))
	want("forbid", jobName("forbid", first))
	for i := 1; i <= 2; i++ {
		set(now.Load().Add(time.Minute))
		for _, name := range []string{"replace", "forbid"} {
			update(t, e.Client, "default", name, func(cj *batchv1.CronJob) {
				cj.Annotations = map[string]string{"poke": strconv.Itoa(i)}
			})
		}
		want("replace", jobName("replace", first.Add(time.Duration(i)*time.Minute)))
		want("forbid", jobName("forbid", first))
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		evs, _, err := client.For[*corev1.Event](e.Client).List(t.Context(), "default", metav1.ListOptions{FieldSelector: "involvedObject.kind=CronJob,involvedObject.name=forbid"})
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if ev.Reason == "JobAlreadyActive" {
				return nil
			}
		}
		return errors.New("no JobAlreadyActive event on forbid")
	})
}
