package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/wasmplugin"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
)

func quantity(v int64, unit string) resource.Quantity {
	return resource.MustParse(fmt.Sprint(v, unit))
}

func node(name string, cpu, memGi, gpus int64) *corev1.Node {
	alloc := corev1.ResourceList{corev1.ResourceCPU: quantity(cpu, ""), corev1.ResourceMemory: quantity(memGi, "Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	if gpus > 0 {
		alloc["example.com/gpu"] = quantity(gpus, "")
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc}}
}

// pod requests milliCPU and memMi (0: no request, so the scoring
// defaults count) and gpus.
func pod(name string, milliCPU, memMi, gpus int64) *corev1.Pod {
	req := corev1.ResourceList{}
	if milliCPU > 0 {
		req[corev1.ResourceCPU] = quantity(milliCPU, "m")
	}
	if memMi > 0 {
		req[corev1.ResourceMemory] = quantity(memMi, "Mi")
	}
	if gpus > 0 {
		req["example.com/gpu"] = quantity(gpus, "")
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{SchedulerName: "packing", Containers: []corev1.Container{{Name: "c", Image: "app",
			Resources: corev1.ResourceRequirements{Requests: req}}}}}
}

func load(t *testing.T, settings string) *plugins.Plugin {
	t.Helper()
	ctx := context.Background()
	h, err := plugins.New(ctx, plugins.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	p, err := h.Load(ctx, "binpack", "v1", plugintest.Build(t, "."), []byte(settings))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSameAsMostAllocated scores random clusters with the WASM plugin
// and with the built-in NodeResourcesFit in its MostAllocated strategy:
// the scores must be the same.
func TestSameAsMostAllocated(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		args     builtin.FitArgs
	}{
		{"cpu and memory", "", builtin.FitArgs{ScoringStrategy: &builtin.ScoringStrategy{Type: builtin.MostAllocated}}},
		{"weighted, with gpus", `{"resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 3}, {"name": "example.com/gpu", "weight": 5}]}`,
			builtin.FitArgs{ScoringStrategy: &builtin.ScoringStrategy{Type: builtin.MostAllocated, Resources: []builtin.ResourceSpec{
				{Name: "cpu", Weight: 1}, {Name: "memory", Weight: 3}, {Name: "example.com/gpu", Weight: 5}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wasm, err := wasmplugin.Factory(load(t, tt.settings))(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			fit, err := builtin.Registry()[builtin.NodeResourcesFitName](tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var nodes []*framework.NodeInfo
			for i := range 200 {
				ni := framework.NewNodeInfo(node(fmt.Sprint("n", i), 1+rng.Int64N(64), 1+rng.Int64N(256), rng.Int64N(3)))
				for j := range rng.IntN(20) {
					ni.AddPod(framework.NewPodInfo(pod(fmt.Sprint("n", i, "-", j), rng.Int64N(4000), rng.Int64N(16000), rng.Int64N(2))))
				}
				nodes = append(nodes, ni)
			}
			for k := range 20 {
				pi := framework.NewPodInfo(pod(fmt.Sprint("p", k), rng.Int64N(3000), rng.Int64N(8000), rng.Int64N(2)))
				want, got := make([]int64, len(nodes)), make([]int64, len(nodes))
				if st := fit.(framework.ScorePlugin).Score(context.Background(), nil, pi, nodes, want); !st.IsSuccess() {
					t.Fatal(st)
				}
				if st := wasm.(framework.ScorePlugin).Score(context.Background(), nil, pi, nodes, got); !st.IsSuccess() {
					t.Fatal(st)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("pod %d: scores (-MostAllocated +binpack):\n%s", k, diff)
				}
			}
		})
	}
}

// TestPacks schedules pods through a profile where the plugin outweighs
// LeastAllocated: they fill one node before the next.
func TestPacks(t *testing.T) {
	p := load(t, "")
	reg := builtin.Registry()
	wasmplugin.Register(reg, p)
	profile := framework.Profile{SchedulerName: "packing", Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "binpack", Weight: 5})}
	cluster := scheduler.Cluster{Nodes: []*corev1.Node{node("a", 4, 16, 0), node("b", 4, 16, 0), node("c", 4, 16, 0)}}
	var pending []*corev1.Pod
	for i := range 7 {
		pending = append(pending, pod(fmt.Sprint("p", i), 1000, 4096, 0))
	}
	placements, err := scheduler.Simulate(context.Background(), scheduler.SimulateConfig{Profiles: []framework.Profile{profile}, Registry: reg}, cluster, pending)
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, pl := range placements {
		if pl.Err != nil {
			t.Fatalf("%s: %v", pl.Pod.Name, pl.Err)
		}
		perNode[pl.Node]++
	}
	var counts []int
	for _, n := range []string{"a", "b", "c"} {
		counts = append(counts, perNode[n])
	}
	// 4 pods fill a node (4 cpu); the 5th to 7th go to a second one.
	want := map[int]int{4: 1, 3: 1, 0: 1}
	got := map[int]int{}
	for _, c := range counts {
		got[c]++
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pods per node %v (-want +got):\n%s", perNode, diff)
	}
}
