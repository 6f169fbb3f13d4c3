package wasmplugin_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

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

// The same policy, built in: the example plugins written as Go plugins.

// goTeam is examples/plugins/team in Go.
type goTeam struct{}

var teamMismatch = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match the pod's team")

func (goTeam) Name() string { return "go-team" }

func (goTeam) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	team, ok := pod.Pod.Annotations["skiff.dev/team"]
	if !ok {
		return nil
	}
	for i, ni := range nodes {
		if ni.Node().Labels["team"] != team {
			statuses[i] = teamMismatch
		}
	}
	return nil
}

// goBinpack is examples/plugins/binpack in Go: NodeResourcesFit's
// MostAllocated score, without its filter.
type goBinpack struct{ fit framework.ScorePlugin }

func newGoBinpack() goBinpack {
	fit, err := builtin.Registry()[builtin.NodeResourcesFitName](builtin.FitArgs{ScoringStrategy: &builtin.ScoringStrategy{Type: builtin.MostAllocated}}, nil)
	if err != nil {
		panic(err)
	}
	return goBinpack{fit.(framework.ScorePlugin)}
}

func (goBinpack) Name() string { return "go-binpack" }

func (g goBinpack) Score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	return g.fit.Score(ctx, s, pod, nodes, scores)
}

var teams = []string{"blue", "red", "green"}

// realisticNode is labelled as a cloud provider labels nodes, with the
// annotations a node agent sets.
func realisticNode(i int) *corev1.Node {
	name := fmt.Sprintf("node-%05d", i)
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
			corev1.LabelTopologyZone: fmt.Sprint("zone-", i%3), corev1.LabelTopologyRegion: "region-1",
			corev1.LabelInstanceTypeStable: "m5.8xlarge", "team": teams[i%3],
		}, Annotations: map[string]string{
			"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
		}},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc},
	}
}

func benchPod(name, team, scheduler string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"skiff.dev/team": team}},
		Spec: corev1.PodSpec{SchedulerName: scheduler, Containers: []corev1.Container{{Name: "c", Image: "app:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}}}},
	}
}

// nodeInfos are n nodes running 10 pods each, with distinct generations
// (as the scheduler's cache gives them), so the adapter caches records.
func nodeInfos(n int) []*framework.NodeInfo {
	out := make([]*framework.NodeInfo, n)
	for i := range out {
		ni := framework.NewNodeInfo(realisticNode(i))
		for j := range 10 {
			p := benchPod(fmt.Sprintf("running-%d-%d", i, j), teams[i%3], "")
			p.Spec.NodeName = ni.Name()
			ni.AddPod(framework.NewPodInfo(p))
		}
		ni.Generation = int64(i + 1)
		out[i] = ni
	}
	return out
}

func loadExamples(b testing.TB) (team, binpack *plugins.Plugin) {
	h := plugintest.NewHost(b, plugins.Config{})
	return plugintest.Load(b, h, "team", teamPkg, ""), plugintest.Load(b, h, "binpack", binpackPkg, "")
}

func wasmPlugin(b testing.TB, p *plugins.Plugin) framework.Plugin {
	pl, err := wasmplugin.Factory(p)(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return pl
}

// BenchmarkWASMFilter times one Filter call with every node of a
// cluster, the team filter as a WASM module and as a Go plugin. Each
// call has a new CycleState (a new pod's cycle), so the WASM adapter
// encodes the pod each time; node records come from its cache.
func BenchmarkWASMFilter(b *testing.B) {
	team, _ := loadExamples(b)
	filters := []struct {
		name string
		pl   framework.FilterPlugin
	}{{"builtin", goTeam{}}, {"wasm", wasmPlugin(b, team).(framework.FilterPlugin)}}
	for _, n := range []int{500, 5000} {
		nodes := nodeInfos(n)
		pod := framework.NewPodInfo(benchPod("web", "blue", ""))
		for _, f := range filters {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, f.name), func(b *testing.B) {
				statuses := make([]*framework.Status, n)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					clear(statuses)
					if st := f.pl.Filter(ctx, framework.NewCycleState(nil), pod, nodes, statuses); !st.IsSuccess() {
						b.Fatal(st)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
			})
		}
	}
}

// BenchmarkWASMScore times one Score call, the bin-packing score as a
// WASM module and as the built-in NodeResourcesFit MostAllocated.
func BenchmarkWASMScore(b *testing.B) {
	_, binpack := loadExamples(b)
	scorers := []struct {
		name string
		pl   framework.ScorePlugin
	}{{"builtin", newGoBinpack()}, {"wasm", wasmPlugin(b, binpack).(framework.ScorePlugin)}}
	for _, n := range []int{500, 5000} {
		nodes := nodeInfos(n)
		pod := framework.NewPodInfo(benchPod("web", "blue", ""))
		for _, s := range scorers {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, s.name), func(b *testing.B) {
				scores := make([]int64, n)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					clear(scores)
					if st := s.pl.Score(ctx, framework.NewCycleState(nil), pod, nodes, scores); !st.IsSuccess() {
						b.Fatal(st)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
			})
		}
	}
}

// policy returns the profiles of the team + bin-packing policy built in
// and as WASM, and the registry that has both.
func policy(b testing.TB) ([]framework.Profile, framework.Registry) {
	team, binpack := loadExamples(b)
	reg := builtin.Registry()
	wasmplugin.Register(reg, team, binpack)
	reg["go-team"] = func(any, framework.Handle) (framework.Plugin, error) { return goTeam{}, nil }
	reg["go-binpack"] = func(any, framework.Handle) (framework.Plugin, error) { return newGoBinpack(), nil }
	return []framework.Profile{
		{SchedulerName: "builtin", Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "go-team"}, framework.PluginConfig{Name: "go-binpack", Weight: 5})},
		{SchedulerName: "wasm", Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "team"}, framework.PluginConfig{Name: "binpack", Weight: 5})},
	}, reg
}

func policyPods(scheduler string, n int) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = benchPod(fmt.Sprint("p", i), teams[i%3], scheduler)
	}
	return pods
}

func clusterOf(n int) scheduler.Cluster {
	var c scheduler.Cluster
	for i := range n {
		c.Nodes = append(c.Nodes, realisticNode(i))
	}
	return c
}

// TestSameAsBuiltin schedules the same pods with the policy built in and
// as WASM: every pod lands on the same node.
func TestSameAsBuiltin(t *testing.T) {
	profiles, reg := policy(t)
	cluster := clusterOf(60)
	cfg := scheduler.SimulateConfig{Profiles: profiles, Registry: reg, Seed: 7}
	place := func(name string) []string {
		placements, err := scheduler.Simulate(context.Background(), cfg, cluster, policyPods(name, 300))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, pl := range placements {
			if pl.Err != nil {
				t.Fatalf("%s: %v", pl.Pod.Name, pl.Err)
			}
			out = append(out, pl.Pod.Name+"→"+pl.Node)
		}
		return out
	}
	if diff := cmp.Diff(place("builtin"), place("wasm")); diff != "" {
		t.Errorf("placements (-builtin +wasm):\n%s", diff)
	}
}

// BenchmarkSchedule schedules pods through the whole decision core
// (scheduler.Simulate: snapshot, every extension point of the default
// profile plus the team filter and the bin-packing score, assume) with
// the policy built in and as WASM, and reports pods per second.
func BenchmarkSchedule(b *testing.B) {
	profiles, reg := policy(b)
	for _, n := range []int{500, 5000} {
		cluster := clusterOf(n)
		for _, name := range []string{"builtin", "wasm"} {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, name), func(b *testing.B) {
				const perRun = 1000
				pods := policyPods(name, perRun)
				cfg := scheduler.SimulateConfig{Profiles: profiles, Registry: reg, Seed: 7}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := scheduler.Simulate(context.Background(), cfg, cluster, pods); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*perRun)/b.Elapsed().Seconds(), "pods/s")
			})
		}
	}
}

// BenchmarkScheduleAB is BenchmarkSchedule with the two policies
// interleaved, run after run, so that a shared machine's changing load
// falls on both alike; it reports each one's pods per second and the
// WASM policy's throughput as a percentage of the built-in one's.
func BenchmarkScheduleAB(b *testing.B) {
	profiles, reg := policy(b)
	for _, n := range []int{500, 5000} {
		cluster := clusterOf(n)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			const perRun = 1000
			var took, cpu [2]time.Duration
			pods := [2][]*corev1.Pod{policyPods("builtin", perRun), policyPods("wasm", perRun)}
			cfg := scheduler.SimulateConfig{Profiles: profiles, Registry: reg, Seed: 7}
			b.ReportAllocs()
			for b.Loop() {
				for i := range pods {
					start, cpu0 := time.Now(), cpuTime()
					if _, err := scheduler.Simulate(context.Background(), cfg, cluster, pods[i]); err != nil {
						b.Fatal(err)
					}
					took[i] += time.Since(start)
					cpu[i] += cpuTime() - cpu0
				}
			}
			b.ReportMetric(float64(b.N*perRun)/took[0].Seconds(), "builtin-pods/s")
			b.ReportMetric(float64(b.N*perRun)/took[1].Seconds(), "wasm-pods/s")
			b.ReportMetric(100*took[0].Seconds()/took[1].Seconds(), "wasm-%")
			// The same from the process's CPU time, which other processes
			// on the machine disturb less than elapsed time.
			b.ReportMetric(100*cpu[0].Seconds()/cpu[1].Seconds(), "wasm-cpu-%")
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
