package wasmplugin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/wasmplugin"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
)

const (
	hostilePkg  = "../../../plugins/testdata/hostile"
	noimportPkg = "../../../plugins/testdata/noimport"
	teamPkg     = "../../../examples/plugins/team"
	binpackPkg  = "../../../examples/plugins/binpack"
)

func TestMain(m *testing.M) {
	plugintest.Prebuild(hostilePkg, teamPkg, binpackPkg, noimportPkg)
	os.Exit(m.Run())
}

func testNode(name string, labels map[string]string) *corev1.Node {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	l := map[string]string{corev1.LabelHostname: name}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}, Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc}}
}

func testPod(name, scheduler string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations},
		Spec: corev1.PodSpec{SchedulerName: scheduler, Containers: []corev1.Container{{Name: "c", Image: "app",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
}

// TestHostileGuestsInTheScheduler runs pods through the real framework
// with a hostile plugin in two profiles: one that fails pods when the
// plugin fails, one that ignores it. Each kind of misbehaviour fails
// (or is ignored for) only the pod that provoked it; every other pod is
// scheduled, and the host counts each failure.
func TestHostileGuestsInTheScheduler(t *testing.T) {
	// "pure": the same guest claiming purity, so that its answers are
	// cached: no failure may be.
	for _, settings := range []string{"ok", "pure"} {
		t.Run(settings, func(t *testing.T) { testHostileGuests(t, settings) })
	}
}

func testHostileGuests(t *testing.T, settings string) {
	h := plugintest.NewHost(t, plugins.Config{CallTimeout: 500 * time.Millisecond, MemoryLimit: 16 << 20})
	p := plugintest.Load(t, h, "hostile", hostilePkg, settings)
	if p.Info().Pure != (settings == "pure") {
		t.Fatalf("info %+v", p.Info())
	}
	reg := builtin.Registry()
	wasmplugin.Register(reg, p)
	profiles := []framework.Profile{
		{SchedulerName: "fail", Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "hostile"})},
		{SchedulerName: "ignore", Plugins: append(builtin.DefaultPlugins(),
			framework.PluginConfig{Name: "hostile", Args: []byte(`{"failurePolicy": "Ignore"}`)})},
	}
	var nodes []*corev1.Node
	for i := range 5 {
		nodes = append(nodes, testNode(fmt.Sprint("node-", i), nil))
	}
	modes := map[string]plugins.Kind{
		"loop": plugins.KindTimeout, "bomb": plugins.KindMemory, "trap": plugins.KindTrap, "panic": plugins.KindTrap,
		"exit": plugins.KindTrap, "garbage": plugins.KindBadOutput, "outside": plugins.KindBadOutput,
		"short": plugins.KindBadOutput, "range": plugins.KindBadOutput, "error": plugins.KindGuest,
	}
	var pending []*corev1.Pod
	for _, profile := range []string{"fail", "ignore"} {
		for mode := range modes {
			pending = append(pending, testPod(profile+"-"+mode, profile, map[string]string{"hostile": mode}),
				testPod(profile+"-after-"+mode, profile, nil))
		}
	}
	start := time.Now()
	placements, err := scheduler.Simulate(t.Context(), scheduler.SimulateConfig{Profiles: profiles, Registry: reg},
		scheduler.Cluster{Nodes: nodes}, pending)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pods in %v", len(pending), time.Since(start))
	for _, pl := range placements {
		mode := pl.Pod.Annotations["hostile"]
		if mode == "" || pl.Pod.Spec.SchedulerName == "ignore" {
			if pl.Err != nil || pl.Node == "" {
				t.Errorf("%s: not scheduled: %v", pl.Pod.Name, pl.Err)
			}
			continue
		}
		var fe *framework.PluginError
		var pe *plugins.Error
		if !errors.As(pl.Err, &fe) || !errors.As(pl.Err, &pe) || pe.Kind != modes[mode] || fe.Plugin != "hostile" {
			t.Errorf("%s: node %q, err %v; want a %v plugin error", pl.Pod.Name, pl.Node, pl.Err, modes[mode])
		}
	}
	st := p.Stats()
	t.Logf("stats: %+v", st)
	// Fail: one failure per pod (the first failing point ends its cycle);
	// Ignore: filter and score both fail, except for "range" (score only).
	want := map[plugins.Kind]int64{}
	for mode, kind := range modes {
		want[kind] += 1 + 2
		if mode == "range" {
			want[kind]--
		}
	}
	for kind, n := range want {
		if st.Errors[kind] != n {
			t.Errorf("%d %v errors counted, want %d", st.Errors[kind], kind, n)
		}
	}
}

// TestRefusedSwapKeepsScheduling swaps a filter to a module that cannot
// be instantiated: the swap is refused and counted, and pods keep being
// placed by the old version.
func TestRefusedSwapKeepsScheduling(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{})
	p := plugintest.Load(t, h, "team", teamPkg, "")
	reg := builtin.Registry()
	wasmplugin.Register(reg, p)
	profile := framework.Profile{SchedulerName: "teams", Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "team"})}
	cluster := scheduler.Cluster{Nodes: []*corev1.Node{testNode("blue", map[string]string{"team": "blue"}), testNode("red", map[string]string{"team": "red"})}}
	if err := p.Swap(t.Context(), "v2", plugintest.Build(t, noimportPkg), nil); !errors.Is(err, plugins.ErrInstantiate) {
		t.Fatalf("Swap: %v", err)
	}
	placements, err := scheduler.Simulate(t.Context(), scheduler.SimulateConfig{Profiles: []framework.Profile{profile}, Registry: reg},
		cluster, []*corev1.Pod{testPod("p", "teams", map[string]string{"skiff.dev/team": "red"})})
	if err != nil {
		t.Fatal(err)
	}
	if placements[0].Node != "red" || p.Info().Version != "v1" || p.Stats().Errors[plugins.KindInstantiate] != 1 {
		t.Errorf("placed on %q (%v), version %s, stats %+v", placements[0].Node, placements[0].Err, p.Info().Version, p.Stats())
	}
}

// TestSwapWhileScheduling swaps the score plugin between two settings
// while a simulation schedules pods: every pod is placed.
func TestSwapWhileScheduling(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{CallTimeout: 5 * time.Second})
	p := plugintest.Load(t, h, "binpack", binpackPkg, "")
	reg := builtin.Registry()
	wasmplugin.Register(reg, p)
	profile := framework.Profile{SchedulerName: "packing", Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "binpack", Weight: 3})}
	var nodes []*corev1.Node
	for i := range 50 {
		nodes = append(nodes, testNode(fmt.Sprint("node-", i), nil))
	}
	var pending []*corev1.Pod
	for i := range 300 {
		pending = append(pending, testPod(fmt.Sprint("p", i), "packing", nil))
	}
	wasm := plugintest.Build(t, binpackPkg)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			settings := `{"resources": [{"name": "cpu"}]}`
			if i%2 == 1 {
				settings = ""
			}
			if err := p.Swap(context.Background(), fmt.Sprint("v", i+2), wasm, []byte(settings)); err != nil {
				t.Error(err)
				return
			}
			swaps.Add(1)
		}
	})
	// Schedule until several swaps happened during the runs.
	runs := 0
	for ; runs < 200 && swaps.Load() < 4; runs++ {
		placements, err := scheduler.Simulate(t.Context(), scheduler.SimulateConfig{Profiles: []framework.Profile{profile}, Registry: reg},
			scheduler.Cluster{Nodes: nodes}, pending)
		if err != nil {
			t.Fatal(err)
		}
		for _, pl := range placements {
			if pl.Err != nil {
				t.Fatalf("%s: %v", pl.Pod.Name, pl.Err)
			}
		}
	}
	close(done)
	wg.Wait()
	if swaps.Load() < 4 {
		t.Errorf("only %d swaps happened during %d runs", swaps.Load(), runs)
	}
	t.Logf("%d runs of %d pods, %d swaps, stats %+v", runs, len(pending), swaps.Load(), p.Stats())
}

func TestArgs(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{})
	f := wasmplugin.Factory(plugintest.Load(t, h, "team", teamPkg, ""))
	for _, bad := range []any{[]byte(`{"failurePolicy": "Sometimes"}`), []byte(`{"policy": "Fail"}`), 7} {
		if _, err := f(bad, nil); err == nil {
			t.Errorf("args %v accepted", bad)
		}
	}
	pl, err := f(wasmplugin.Args{FailurePolicy: wasmplugin.Ignore}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pl.(framework.ScorePlugin); ok {
		t.Error("a filter-only module became a score plugin")
	}
	if _, ok := pl.(framework.FilterPlugin); !ok || pl.Name() != "team" {
		t.Error("not a filter plugin named team")
	}
	if ev := pl.(framework.EnqueueExtensions).EventsToRegister(); len(ev) != 1 || !strings.Contains(ev[0].Action.String(), "UpdateNodeLabel") {
		t.Errorf("events %v, want node label changes", ev)
	}
}
