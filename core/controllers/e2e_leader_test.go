package controllers_test

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/sdk/client"
)

func waitLeading(t *testing.T, m *manager, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testenv.Eventually(t, timeout, func() error {
		if !m.m.Leading() {
			return fmt.Errorf("%s does not lead", m.m.Identity())
		}
		return nil
	})
	return time.Since(start)
}

func leaseHolder(t *testing.T, c *client.Client) string {
	t.Helper()
	l, err := client.For[*coordinationv1.Lease](c).Get(t.Context(), metav1.NamespaceSystem, controllers.LeaseName)
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// TestFailover runs two manager replicas: the second takes over when the
// leader stops (cleanly, releasing the lease) or crashes (its connection
// drops and the lease has to expire), and the cluster converges under it.
func TestFailover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stop  func(m *manager)
		bound time.Duration
	}{
		{"stop", func(m *manager) { m.stop() }, 2 * time.Second},
		{"crash", func(m *manager) { m.conn.Close() }, fastElection.LeaseDuration + 3*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := testenv.Start(t)
			e.StartKubelet(t, testenv.KubeletConfig{ReadyAfter: 20 * time.Millisecond, TerminateAfter: 20 * time.Millisecond})
			first := startManager(t, e, "first")
			waitLeading(t, first, 10*time.Second)
			second := startManager(t, e, "second")
			if _, err := client.For[*appsv1.Deployment](e.Client).Create(t.Context(), newDeployment("web", 2, "img:v1"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitRolledOut(t, e.Client, "web", "img:v1", 20*time.Second)
			if second.m.Leading() || leaseHolder(t, e.Client) != "first" {
				t.Fatalf("the second replica leads too, or the lease is %q", leaseHolder(t, e.Client))
			}

			tc.stop(first)
			took := waitLeading(t, second, tc.bound)
			t.Logf("%s: the second replica took over in %v", tc.name, took.Round(time.Millisecond))
			if h := leaseHolder(t, e.Client); h != "second" {
				t.Fatalf("lease holder %q", h)
			}
			start := time.Now()
			updateDeployment(t, e.Client, "web", func(d *appsv1.Deployment) {
				n := int32(4)
				d.Spec.Replicas = &n
				d.Spec.Template.Spec.Containers[0].Image = "img:v2"
			})
			waitRolledOut(t, e.Client, "web", "img:v2", 20*time.Second)
			t.Logf("%s: converged under the new leader in %v", tc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}
