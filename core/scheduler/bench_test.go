package scheduler

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// benchCluster is nodes across 3 zones, each already running 10 pods.
func benchCluster(b *testing.B, nodes int) *engine {
	b.Helper()
	profiles, err := buildProfiles([]framework.Profile{builtin.DefaultProfile()}, builtin.Registry(), framework.Options{})
	if err != nil {
		b.Fatal(err)
	}
	e := newEngine(profiles, 1)
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	for i := range nodes {
		name := fmt.Sprintf("node-%05d", i)
		e.cache.AddNode(&corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				corev1.LabelHostname: name, corev1.LabelTopologyZone: fmt.Sprint("zone-", i%3), "pool": "general"}},
			Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc},
		})
		for j := range 10 {
			p := benchPod(fmt.Sprintf("running-%d-%d", i, j), "app", j)
			p.Spec.NodeName = name
			e.cache.AddPod(p)
		}
	}
	return e
}

func withPriority(p *corev1.Pod, prio int32) *corev1.Pod {
	p.Spec.Priority = &prio
	return p
}

func benchPod(name, app string, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
			Labels: map[string]string{"app": fmt.Sprint(app, i%10)}},
		Spec: corev1.PodSpec{SchedulerName: builtin.DefaultSchedulerName, Containers: []corev1.Container{{Name: "c", Image: "app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}}}},
	}
}

// benchScheduleOne runs scheduling cycles (snapshot update, PreFilter,
// Filter, PreScore, Score, selection, assume, Reserve, Permit) for pods
// made by mk; the pod assumed 1,000 cycles earlier is forgotten each time,
// so that the cluster stays the same size however long it runs.
func benchScheduleOne(b *testing.B, nodes int, mk func(i int) *corev1.Pod) {
	benchScheduleOneWith(b, nodes, func(*engine) {}, mk)
}

// benchScheduleOneWith is benchScheduleOne on a cluster that setup
// changes first.
func benchScheduleOneWith(b *testing.B, nodes int, setup func(*engine), mk func(i int) *corev1.Pod) {
	e := benchCluster(b, nodes)
	setup(e)
	fw := e.profiles[builtin.DefaultSchedulerName]
	const ring = 1000
	infos := make([]*framework.PodInfo, 0, 4*ring)
	for i := range cap(infos) {
		infos = append(infos, framework.NewPodInfo(mk(i)))
	}
	placed := make([]*reserved, ring)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		slot := i % ring
		if old := placed[slot]; old != nil {
			e.undo(ctx, old)
		}
		r, err := e.schedulingCycle(ctx, fw, infos[i%len(infos)], false)
		if err != nil {
			b.Fatal(err)
		}
		placed[slot] = r
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pods/s")
}

// BenchmarkScheduleOne measures one scheduling cycle of the default
// profile for a pod with cpu and memory requests (kube-scheduler's
// SchedulingBasic) over 500 and 5,000 nodes.
func BenchmarkScheduleOne(b *testing.B) {
	for _, nodes := range []int{500, 5000} {
		b.Run(fmt.Sprintf("basic/nodes=%d", nodes), func(b *testing.B) {
			benchScheduleOne(b, nodes, func(i int) *corev1.Pod { return benchPod(fmt.Sprint("p-", i), "web", i) })
		})
	}
	for _, nodes := range []int{500, 5000} {
		// One node in ten has a pending pod of higher priority nominated
		// to it: those nodes are filtered a second time with it added.
		b.Run(fmt.Sprintf("nominated/nodes=%d", nodes), func(b *testing.B) {
			benchScheduleOneWith(b, nodes, func(e *engine) {
				for i := 0; i < nodes; i += 10 {
					p := withPriority(benchPod(fmt.Sprint("nominated-", i), "batch", i), 1000)
					e.cache.NominatePod(framework.NewPodInfo(p), fmt.Sprintf("node-%05d", i))
				}
			}, func(i int) *corev1.Pod { return benchPod(fmt.Sprint("p-", i), "web", i) })
		})
	}
	for _, nodes := range []int{500, 5000} {
		b.Run(fmt.Sprintf("spread/nodes=%d", nodes), func(b *testing.B) {
			benchScheduleOne(b, nodes, func(i int) *corev1.Pod {
				p := benchPod(fmt.Sprint("p-", i), "web", i)
				p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
					MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
					LabelSelector: &metav1.LabelSelector{MatchLabels: p.Labels}}}
				return p
			})
		})
	}
	for _, nodes := range []int{500, 5000} {
		b.Run(fmt.Sprintf("antiaffinity/nodes=%d", nodes), func(b *testing.B) {
			benchScheduleOne(b, nodes, func(i int) *corev1.Pod {
				p := benchPod(fmt.Sprint("p-", i), "web", i)
				p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
					PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1,
						PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: corev1.LabelHostname,
							LabelSelector: &metav1.LabelSelector{MatchLabels: p.Labels}}}}}}
				return p
			})
		})
	}
}
