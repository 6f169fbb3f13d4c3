package builtin_test

import (
	"encoding/json"
	"testing"

	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// The placement behaviour of the plugins is in the scenario files
// (core/scheduler/scenario/testdata); these tests cover building them.

func TestDefaultProfileBuilds(t *testing.T) {
	f, err := framework.New(builtin.DefaultProfile(), builtin.Registry(), framework.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Plugins()), len(builtin.DefaultPlugins()); got != want {
		t.Errorf("%d plugins, want %d", got, want)
	}
	if !f.HasBinder() {
		t.Error("the default profile cannot bind")
	}
	for name := range builtin.Registry() {
		p := framework.Profile{SchedulerName: "one", Plugins: []framework.PluginConfig{{Name: name, Args: json.RawMessage(`{}`)}}}
		if _, err := framework.New(p, builtin.Registry(), framework.Options{}); err != nil {
			t.Errorf("%s with empty arguments: %v", name, err)
		}
	}
}

func TestArguments(t *testing.T) {
	for _, tt := range []struct {
		plugin string
		args   any
		ok     bool
	}{
		{builtin.NodeResourcesFitName, builtin.FitArgs{ScoringStrategy: &builtin.ScoringStrategy{Type: builtin.MostAllocated}}, true},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"scoringStrategy": {"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 3}]}}`), true},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"scoringStrategy": {"type": "Cheapest"}}`), false},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"scoringStrategy": {"resources": [{"name": "cpu", "weight": 101}]}}`), false},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"scoringStrategy": {"resources": [{"name": "cpu"}, {"name": "cpu"}]}}`), false},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"scoringStrategy": {"type": "RequestedToCapacityRatio"}}`), false},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [{"utilization": 50, "score": 10}, {"utilization": 40, "score": 0}]}}}`), false},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"ignoredResourceGroups": ["example.com/x"]}`), false},
		{builtin.NodeResourcesFitName, json.RawMessage(`{"unknownField": 1}`), false},
		{builtin.InterPodAffinityName, json.RawMessage(`{"hardPodAffinityWeight": 5}`), true},
		{builtin.InterPodAffinityName, json.RawMessage(`{"hardPodAffinityWeight": 500}`), false},
		{builtin.BalancedAllocationName, builtin.BalancedAllocationArgs{Resources: []builtin.ResourceSpec{{Name: "cpu"}, {Name: "example.com/gpu"}}}, true},
		{builtin.TaintTolerationName, json.RawMessage(`{"x": 1}`), false},
		{builtin.TaintTolerationName, 42, false},
	} {
		p := framework.Profile{SchedulerName: "s", Plugins: []framework.PluginConfig{{Name: tt.plugin, Args: tt.args}}}
		_, err := framework.New(p, builtin.Registry(), framework.Options{})
		if (err == nil) != tt.ok {
			t.Errorf("%s with %v: err = %v, want ok %v", tt.plugin, tt.args, err, tt.ok)
		}
	}
}
