package wasmplugin_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
)

// TestCachedAnswers follows the answer cache of a pure plugin (the team
// filter) through the cases that must and must not reach the guest: a
// pod like an earlier one is answered from the cache, a pod of another
// team is not, a node whose labels change is sent alone, a node whose
// pods change is not sent at all (the filter does not read resources),
// and a swap drops every answer.
func TestCachedAnswers(t *testing.T) {
	h := plugintest.NewHost(t, pluginsConfig())
	p := plugintest.Load(t, h, "team", teamPkg, "")
	if in := p.Info(); !in.Pure {
		t.Fatalf("team is not pure: %+v", in)
	}
	f := wasmPlugin(t, p).(framework.FilterPlugin)
	mk := func(name, team string) *framework.NodeInfo {
		ni := framework.NewNodeInfo(testNode(name, map[string]string{"team": team, "other": map[string]string{"blue": "red", "red": "blue"}[team]}))
		ni.Generation = 1
		return ni
	}
	nodes := []*framework.NodeInfo{mk("n1", "blue"), mk("n2", "red"), mk("n3", "blue")}
	filter := func(team string) []string {
		t.Helper()
		st := make([]*framework.Status, len(nodes))
		pod := framework.NewPodInfo(testPod("p-"+team, "", map[string]string{"skiff.dev/team": team}))
		if s := f.Filter(context.Background(), framework.NewCycleState(nil), pod, nodes, st); !s.IsSuccess() {
			t.Fatal(s)
		}
		var passed []string
		for i, s := range st {
			if s.IsSuccess() {
				passed = append(passed, nodes[i].Name())
			}
		}
		return passed
	}
	calls := func() int64 { return p.Stats().Calls }
	step := func(what, team string, want []string, wantCalls int64) {
		t.Helper()
		before := calls()
		got := filter(team)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: passed (-want +got):\n%s", what, diff)
		}
		if n := calls() - before; n != wantCalls {
			t.Errorf("%s: %d guest calls, want %d", what, n, wantCalls)
		}
	}
	step("first blue pod", "blue", []string{"n1", "n3"}, 1)
	step("second blue pod", "blue", []string{"n1", "n3"}, 0)
	step("first red pod", "red", []string{"n2"}, 1)

	// A pod lands on n1: a new generation, the same labels.
	pi := framework.NewPodInfo(testPod("running", "", nil))
	pi.Pod.Spec.NodeName = "n1"
	nodes[0].AddPod(pi)
	nodes[0].Generation++
	step("blue pod after n1 took a pod", "blue", []string{"n1", "n3"}, 0)

	// n3 is relabelled: only n3 is asked about.
	relabelled := nodes[2].Node().DeepCopy()
	relabelled.Labels["team"] = "red"
	nodes[2].SetNode(relabelled)
	nodes[2].Generation++
	step("blue pod after n3 turned red", "blue", []string{"n1"}, 1)

	// A new version (other settings: the label "other") answers anew.
	if err := p.Swap(t.Context(), "v2", plugintest.Build(t, teamPkg), []byte(`{"label": "other"}`)); err != nil {
		t.Fatal(err)
	}
	step("blue pod after the swap", "blue", []string{"n2"}, 1)
}

// TestPodSectionsBlanked: a pure plugin's pod record carries only the
// sections it declared, so two pods that differ elsewhere share answers
// (here, pods of one team with different names and labels).
func TestPodSectionsBlanked(t *testing.T) {
	h := plugintest.NewHost(t, pluginsConfig())
	p := plugintest.Load(t, h, "team", teamPkg, "")
	f := wasmPlugin(t, p).(framework.FilterPlugin)
	ni := framework.NewNodeInfo(testNode("n1", map[string]string{"team": "blue"}))
	ni.Generation = 1
	for i, name := range []string{"a", "b", "c"} {
		pod := testPod(name, "", map[string]string{"skiff.dev/team": "blue"})
		pod.Labels = map[string]string{"app": name}
		pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
		st := make([]*framework.Status, 1)
		if s := f.Filter(context.Background(), framework.NewCycleState(nil), framework.NewPodInfo(pod), []*framework.NodeInfo{ni}, st); !s.IsSuccess() || !st[0].IsSuccess() {
			t.Fatalf("pod %s: %v %v", name, s, st[0])
		}
		if got := p.Stats().Calls; got != 1 {
			t.Errorf("after pod %d: %d guest calls, want 1", i+1, got)
		}
	}
}

func pluginsConfig() plugins.Config { return plugins.Config{CallTimeout: 5 * time.Second} }

// TestHammerCache runs filters of a pure plugin from several goroutines
// over two snapshots of the same node names with different labels (as a
// scheduler and a `skiff plan` simulation would), so that slots are
// shared by NodeInfos whose records differ and the cache is filled and
// invalidated concurrently: every answer must be the right one for its
// snapshot.
func TestHammerCache(t *testing.T) {
	h := plugintest.NewHost(t, pluginsConfig())
	p := plugintest.Load(t, h, "team", teamPkg, "")
	f := wasmPlugin(t, p).(framework.FilterPlugin)
	const n = 60
	snaps := make([][]*framework.NodeInfo, 2)
	for s := range snaps {
		for i := range n {
			ni := framework.NewNodeInfo(testNode(fmt.Sprint("n", i), map[string]string{"team": teams[(i+s)%3]}))
			ni.Generation = int64(s + 1)
			snaps[s] = append(snaps[s], ni)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			st := make([]*framework.Status, n)
			for k := range 150 {
				s, team := (g+k)%2, teams[(g*7+k)%3]
				clear(st)
				pod := framework.NewPodInfo(testPod(fmt.Sprint("p", g, "-", k), "", map[string]string{"skiff.dev/team": team}))
				if s := f.Filter(context.Background(), framework.NewCycleState(nil), pod, snaps[s], st); !s.IsSuccess() {
					t.Error(s)
					return
				}
				for i, ni := range snaps[s] {
					if want := ni.Node().Labels["team"] == team; st[i].IsSuccess() != want {
						t.Errorf("goroutine %d, cycle %d, snapshot %d, node %s (team %s), pod team %s: passed %v",
							g, k, s, ni.Name(), ni.Node().Labels["team"], team, st[i].IsSuccess())
						return
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d guest calls for 600 filters", p.Stats().Calls)
}
