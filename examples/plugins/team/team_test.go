package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/wasmplugin"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	"github.com/skiffhq/skiff/sdk/plugin"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// TestFilterNative runs the filter function natively, as a plugin author
// would unit-test it.
func TestFilterNative(t *testing.T) {
	pod := plugin.NewPod(&abi.Pod{Name: "p", Annotations: map[string]string{"skiff.dev/team": "blue"}})
	nodes := []plugin.Node{
		plugin.NewNode(&abi.Node{Name: "blue", Labels: map[string]string{"team": "blue"}}),
		plugin.NewNode(&abi.Node{Name: "red", Labels: map[string]string{"team": "red"}}),
		plugin.NewNode(&abi.Node{Name: "none"}),
	}
	verdicts := make([]plugin.Verdict, 3)
	if err := filter(pod, nodes, verdicts); err != nil {
		t.Fatal(err)
	}
	want := []plugin.Verdict{{}, plugin.RejectUnresolvable(reason), plugin.RejectUnresolvable(reason)}
	if diff := cmp.Diff(want, verdicts); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
}

func node(name, team string) *corev1.Node {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Capacity: alloc, Allocatable: alloc}}
	if team != "" {
		n.Labels["team"] = team
	}
	return n
}

func pod(name, team, scheduler string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{SchedulerName: scheduler, Containers: []corev1.Container{{Name: "c", Image: "app"}}}}
	if team != "" {
		p.Annotations = map[string]string{"skiff.dev/team": team}
	}
	return p
}

// TestTeamFilter builds the plugin as WASM, loads it in the host, puts it
// in a profile through the adapter and schedules pods with the real
// framework: each team's pods land on its nodes, a team without nodes
// gets the Kubernetes-style reason, pods without a team go anywhere.
func TestTeamFilter(t *testing.T) {
	ctx := context.Background()
	h, err := plugins.New(ctx, plugins.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	p, err := h.Load(ctx, "team", "v1", plugintest.Build(t, "."), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info := p.Info(); !info.Filter || info.Score || info.NodeFields != abi.FieldLabels {
		t.Fatalf("Info() = %+v", info)
	}
	reg := builtin.Registry()
	wasmplugin.Register(reg, p)
	profile := framework.Profile{SchedulerName: "teams", Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "team"})}

	cluster := scheduler.Cluster{Nodes: []*corev1.Node{node("blue-1", "blue"), node("blue-2", "blue"), node("red-1", "red"), node("shared", "")}}
	var pending []*corev1.Pod
	for i := range 4 {
		pending = append(pending, pod(fmt.Sprint("blue-", i), "blue", "teams"), pod(fmt.Sprint("red-", i), "red", "teams"))
	}
	pending = append(pending, pod("green", "green", "teams"), pod("anyone", "", "teams"))
	placements, err := scheduler.Simulate(ctx, scheduler.SimulateConfig{Profiles: []framework.Profile{profile}, Registry: reg}, cluster, pending)
	if err != nil {
		t.Fatal(err)
	}
	for _, pl := range placements {
		team := pl.Pod.Annotations["skiff.dev/team"]
		switch team {
		case "blue", "red":
			if pl.Err != nil || cluster.Nodes[indexOf(cluster.Nodes, pl.Node)].Labels["team"] != team {
				t.Errorf("%s: node %q, err %v; want a %s node", pl.Pod.Name, pl.Node, pl.Err, team)
			}
		case "green":
			want := "0/4 nodes are available: 4 node(s) didn't match the pod's team."
			// Preemption adds its own sentence after the filters' one, as
			// kube-scheduler does.
			if pl.Err == nil || !strings.HasPrefix(pl.Err.Error(), want) {
				t.Errorf("green: node %q, err %v; want %q", pl.Node, pl.Err, want)
			}
		default:
			if pl.Err != nil {
				t.Errorf("%s: %v", pl.Pod.Name, pl.Err)
			}
		}
	}
	if st := p.Stats(); st.Calls == 0 || len(st.Errors) != 0 {
		t.Errorf("Stats() = %+v", st)
	}
}

func indexOf(nodes []*corev1.Node, name string) int {
	for i, n := range nodes {
		if n.Name == name {
			return i
		}
	}
	return 0
}

func TestSettings(t *testing.T) {
	ctx := context.Background()
	h, err := plugins.New(ctx, plugins.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	wasm := plugintest.Build(t, ".")
	for _, bad := range []string{`{"label": ""}`, `{"color": "blue"}`, `[`} {
		if _, err := h.Load(ctx, "team", "v1", wasm, []byte(bad)); err == nil {
			t.Errorf("settings %s accepted", bad)
		}
	}
	p, err := h.Load(ctx, "team", "v1", wasm, []byte(`{"annotation": "example.com/owner", "label": "owner"}`))
	if err != nil {
		t.Fatal(err)
	}
	b := &plugins.Records{Pod: abi.AppendPod(nil, &abi.Pod{Name: "p", Annotations: map[string]string{"example.com/owner": "ann"}})}
	for _, owner := range []string{"ann", "bob"} {
		b.Nodes = append(b.Nodes, abi.AppendNode(nil, &abi.Node{Name: owner, Labels: map[string]string{"owner": owner}}, abi.AllFields))
	}
	var res plugins.FilterResult
	if err := p.Filter(ctx, b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Verdicts[0].Code() != abi.Pass || res.Verdicts[1].Code() != abi.UnschedulableAndUnresolvable {
		t.Errorf("verdicts %v, want ann's node only", res.Verdicts)
	}
}
