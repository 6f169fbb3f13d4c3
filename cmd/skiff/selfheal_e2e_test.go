package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/sdk/client"
)

// TestSelfHealing runs two control plane replicas (`skiff server` on one
// NATS, the test's) and three node agents (`skiff node --runtime
// simulated`), each its own process. kill -9 of a node agent: its pods
// run elsewhere within 15 s (measured). kill -9 of the replica whose
// controllers lead: the other takes over (once the lease expires) and the
// cluster converges (a scale-up is carried out).
func TestSelfHealing(t *testing.T) {
	ns := bustest.Start(t)
	bin := buildSkiff(t)
	tmp := t.TempDir()
	var servers []*proc
	for i := range 2 {
		p := startSkiff(t, bin, tmp, "server", "--nats-url", ns.URL, "--data-dir", filepath.Join(tmp, fmt.Sprintf("server-%d", i)), "--api-listen", "")
		if _, err := p.waitOutput(60*time.Second, "control plane ready"); err != nil {
			t.Fatal(err)
		}
		servers = append(servers, p)
	}
	nodes := map[string]*proc{}
	for _, n := range []string{"n1", "n2", "n3"} {
		p := startSkiff(t, bin, tmp, "node", "--server", ns.URL, "--name", n, "--runtime", "simulated", "--state-dir", filepath.Join(tmp, n))
		if _, err := p.waitOutput(60*time.Second, "registered"); err != nil {
			t.Fatal(err)
		}
		nodes[n] = p
	}
	c, err := client.New(t.Context(), ns.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	replicas := int32(6)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}}}
	if _, err := client.For[*appsv1.Deployment](c).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// runningOn counts the ready, not terminating web pods per node.
	runningOn := func() (map[string]int, int) {
		ps, _, err := client.For[*corev1.Pod](c).List(t.Context(), "default", metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		per, total := map[string]int{}, 0
		for _, p := range ps {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !podReady(p) {
				continue
			}
			per[p.Spec.NodeName]++
			total++
		}
		return per, total
	}
	waitFor := func(timeout time.Duration, cond func() error) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			err := cond()
			if err == nil {
				return time.Since(start)
			}
			if time.Since(start) > timeout {
				t.Fatalf("after %v: %v", timeout, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor(60*time.Second, func() error {
		if per, total := runningOn(); total != int(replicas) {
			return fmt.Errorf("%d of %d running: %v", total, replicas, per)
		}
		return nil
	})
	per, _ := runningOn()
	victim := ""
	for _, n := range []string{"n1", "n2", "n3"} {
		if per[n] > 0 && victim == "" {
			victim = n
		}
	}
	t.Logf("6 replicas running: %v; killing the agent of %s (%d pods)", per, victim, per[victim])
	if err := nodes[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	healed := waitFor(60*time.Second, func() error {
		per, total := runningOn()
		if per[victim] > 0 || total != int(replicas) {
			return fmt.Errorf("running: %v", per)
		}
		return nil
	})
	per, _ = runningOn()
	fmt.Printf("self-healing: the pods of killed node %s ran elsewhere %.1f s after kill -9 (bound 15 s): %v\n", victim, healed.Seconds(), per)
	t.Logf("self-healing: %v", healed.Round(100*time.Millisecond))
	if healed > 15*time.Second {
		t.Fatalf("the lost node's pods took %v to run elsewhere, want within 15s", healed)
	}

	// Kill -9 the replica whose controllers lead.
	leading := func(p *proc) bool {
		return strings.Contains(p.stderr.String(), "msg=leading component=controllers")
	}
	var leader, other *proc
	waitFor(30*time.Second, func() error {
		for i, p := range servers {
			if leading(p) {
				leader, other = p, servers[1-i]
				return nil
			}
		}
		return fmt.Errorf("no replica leads the controllers")
	})
	schedToo := strings.Contains(leader.stderr.String(), "msg=leading component=scheduler")
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	takeover := waitFor(60*time.Second, func() error {
		if !leading(other) {
			return fmt.Errorf("the other replica does not lead yet")
		}
		return nil
	})
	fmt.Printf("controller manager failover: the other replica led %.1f s after kill -9 of the leader (which led the scheduler too: %v)\n", takeover.Seconds(), schedToo)
	replicas = 9
	for {
		cur, err := client.For[*appsv1.Deployment](c).Get(t.Context(), "default", "web")
		if err != nil {
			t.Fatal(err)
		}
		cur.Spec.Replicas = &replicas
		if _, err = client.For[*appsv1.Deployment](c).Update(t.Context(), cur, metav1.UpdateOptions{}); err == nil {
			break
		}
	}
	converged := waitFor(60*time.Second, func() error {
		per, total := runningOn()
		if per[victim] > 0 || total != int(replicas) {
			return fmt.Errorf("running: %v", per)
		}
		return nil
	})
	per, _ = runningOn()
	fmt.Printf("converged under the new leader: 9 replicas running %.1f s after the scale-up: %v\n", converged.Seconds(), per)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
