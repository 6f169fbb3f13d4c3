package controllers_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/sdk/client"
)

var benchReplicas = flag.Int("bench-replicas", 1000, "replicas of BenchmarkDeploymentToAvailable")

// BenchmarkDeploymentToAvailable measures a Deployment of -bench-replicas
// replicas going from created to all available, with the stand-in node
// agents (which bind and report each pod: two writes per pod besides the
// controllers' own), all in one process.
func BenchmarkDeploymentToAvailable(b *testing.B) {
	n := int32(*benchReplicas)
	for i := range b.N {
		b.StopTimer()
		e := testenv.Start(b)
		var nodes []string
		for j := range 20 {
			nodes = append(nodes, fmt.Sprintf("node-%d", j))
		}
		e.StartKubelet(b, testenv.KubeletConfig{Nodes: nodes})
		c, _ := e.Connect(b)
		mgr := startManagerB(b, e, c)
		b.StartTimer()
		start := time.Now()
		name := fmt.Sprintf("web-%d", i)
		if _, err := client.For[*appsv1.Deployment](e.Client).Create(b.Context(), newDeployment(name, n, "img:v1"), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		testenv.Eventually(b, 10*time.Minute, func() error {
			d, err := client.For[*appsv1.Deployment](e.Client).Get(b.Context(), "default", name)
			if err != nil {
				return err
			}
			if d.Status.AvailableReplicas != n || d.Status.ObservedGeneration != d.Generation {
				return fmt.Errorf("%d of %d available", d.Status.AvailableReplicas, n)
			}
			return nil
		})
		took := time.Since(start)
		b.StopTimer()
		b.ReportMetric(took.Seconds(), "s-to-available")
		b.ReportMetric(float64(n)/took.Seconds(), "pods/s")
		mgr.stop()
	}
}
