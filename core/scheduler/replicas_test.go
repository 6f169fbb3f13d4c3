package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/plan"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

// TestSwapInEveryReplica runs two scheduler replicas with uploaded
// plugins: both load the Plugin's version and report it on the Plugin's
// status; a new version is swapped in by both; the leader answers dry
// runs over NATS through the WASM plugin; when the leader dies, the other
// replica schedules with the version it already runs.
func TestSwapInEveryReplica(t *testing.T) {
	team := plugintest.Build(t, teamPkg)
	e := start(t)
	ctx := t.Context()
	mods := &memModules{m: map[string][]byte{}}
	digest := mods.add(team)
	for _, n := range []*corev1.Node{teamNode("blue-1", "blue"), teamNode("red-1", "red")} {
		if _, err := client.For[*corev1.Node](e.c).Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pls := client.For[*skiffv1alpha1.Plugin](e.c)
	settings := map[string]string{"v1": "", "v2": `{"label":"team"}`}
	if _, err := pls.Create(ctx, pluginObject("team", digest, len(team), "v1", settings), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sp := &skiffv1alpha1.SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: "teams"},
		Spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "teams", Plugins: []skiffv1alpha1.ProfilePlugin{{Name: "team"}}}}
	if _, err := client.For[*skiffv1alpha1.SchedulerProfile](e.c).Create(ctx, sp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	conn := e.ns.Connect(t)
	// run starts a replica; its stop is idempotent.
	run := func(id string) (*scheduler.Scheduler, func()) {
		c, err := client.New(ctx, e.ns.Connect(t))
		if err != nil {
			t.Fatal(err)
		}
		s, err := scheduler.New(scheduler.Config{Client: c, Identity: id, Logger: testLogger(t), Conn: conn,
			PodInitialBackoff: 100 * time.Millisecond, PodMaxBackoff: time.Second,
			LeaderElection: scheduler.LeaderElection{Timing: fastElection, KeepOnCancel: true},
			Modules:        mods, Host: plugins.Config{CacheDir: t.TempDir(), CallTimeout: 5 * time.Second}, StatusInterval: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			if err := s.Run(rctx); err != nil {
				t.Errorf("replica %s: %v", id, err)
			}
			close(done)
		}()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return s, stop
	}
	a, stopA := run("a")
	b, stopB := run("b")
	serving := func(version string) func() error {
		return func() error {
			p, err := pls.Get(ctx, "", "team")
			if err != nil {
				return err
			}
			var got []string
			for _, r := range p.Status.Replicas {
				if r.Version == version && r.State == skiffv1alpha1.PluginLoaded && r.ObservedGeneration == p.Generation {
					got = append(got, r.Replica)
				}
			}
			if strings.Join(got, ",") != "a,b" {
				return fmt.Errorf("replicas serving %s: %v (status %+v)", version, got, p.Status)
			}
			return nil
		}
	}
	eventually(t, 3*time.Minute, serving("v1"))
	setSpec(t, pls, "team", pluginObject("team", digest, len(team), "v2", settings).Spec)
	eventually(t, 2*time.Minute, serving("v2"))

	// The leader answers a dry run through the plugin.
	var resp *plan.Response
	eventually(t, 30*time.Second, func() error {
		var err error
		resp, err = plan.Ask(ctx, conn, []*corev1.Pod{teamPod("dry", "red")}, 0)
		return err
	})
	leader := a
	if !a.Leading() {
		leader = b
	}
	if len(resp.Pods) != 1 || resp.Pods[0].Node != "red-1" || resp.Replica != leader.Identity() ||
		len(resp.Pods[0].Rejected) != 1 || resp.Pods[0].Rejected[0].Plugin != "team" {
		t.Fatalf("plan: %+v", resp)
	}
	if _, err := client.For[*corev1.Pod](e.c).Get(ctx, "default", "dry"); err == nil {
		t.Fatal("the dry run created its pod")
	}

	// Kill the leader; the other replica schedules with v2.
	other := b
	if leader == a {
		stopA()
	} else {
		stopB()
		other = a
	}
	if _, err := client.For[*corev1.Pod](e.c).Create(ctx, teamPod("after", "blue"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "after", 60*time.Second); got != "blue-1" {
		t.Fatalf("after the failover the pod went to %s", got)
	}
	if !other.Leading() {
		t.Fatalf("%s does not lead", other.Identity())
	}
}

// TestSwapRetriesRejectedPods: a pod the serving version rejects waits
// among the unschedulable pods; the version that accepts it is swapped
// in, and the pod is retried and bound at once (not at the queue's
// periodic flush).
func TestSwapRetriesRejectedPods(t *testing.T) {
	team := plugintest.Build(t, teamPkg)
	e := start(t)
	ctx := t.Context()
	mods := &memModules{m: map[string][]byte{}}
	digest := mods.add(team)
	n := teamNode("squad-node", "")
	delete(n.Labels, "team")
	n.Labels["squad"] = "green"
	if _, err := client.For[*corev1.Node](e.c).Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pls := client.For[*skiffv1alpha1.Plugin](e.c)
	settings := map[string]string{"v1": "", "v2": `{"label":"squad"}`}
	if _, err := pls.Create(ctx, pluginObject("team", digest, len(team), "v1", settings), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sp := &skiffv1alpha1.SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: "teams"},
		Spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "teams", Plugins: []skiffv1alpha1.ProfilePlugin{{Name: "team"}}}}
	if _, err := client.For[*skiffv1alpha1.SchedulerProfile](e.c).Create(ctx, sp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := scheduler.New(scheduler.Config{Client: e.c, Identity: "s", Logger: testLogger(t),
		PodInitialBackoff: 100 * time.Millisecond, PodMaxBackoff: time.Second, LeaderElection: scheduler.LeaderElection{Disabled: true},
		Modules: mods, Host: plugins.Config{CallTimeout: 5 * time.Second}, StatusInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })

	pods := client.For[*corev1.Pod](e.c)
	if _, err := pods.Create(ctx, teamPod("green", "green"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, func() error {
		p, err := pods.Get(ctx, "default", "green")
		if err != nil {
			return err
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable &&
				strings.Contains(c.Message, "didn't match the pod's team") {
				return nil
			}
		}
		return fmt.Errorf("green not rejected by the team plugin yet: %+v", p.Status.Conditions)
	})
	setSpec(t, pls, "team", pluginObject("team", digest, len(team), "v2", settings).Spec)
	if got := boundTo(t, e, "green", 60*time.Second); got != "squad-node" {
		t.Fatalf("green bound to %s", got)
	}
}
