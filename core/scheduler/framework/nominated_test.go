package framework_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// nominatedLister is a lister whose nodes have pods nominated to them.
type nominatedLister struct {
	lister
	pods map[string][]*framework.PodInfo
}

var _ framework.NominatedLister = nominatedLister{}

func (l nominatedLister) HasNominatedPods() bool { return len(l.pods) > 0 }
func (l nominatedLister) NominatedPods(node string) []*framework.PodInfo {
	return l.pods[node]
}

// taken rejects the nodes that have a pod whose name starts with "big",
// and records the generation of every node it judges (the framework's
// what-if copies have 0).
type taken struct{ gens []int64 }

func (*taken) Name() string { return "Taken" }
func (o *taken) Filter(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, st []*framework.Status) *framework.Status {
	for i, ni := range nodes {
		o.gens = append(o.gens, ni.Generation)
		if slices.ContainsFunc(ni.Pods, func(p *framework.PodInfo) bool { return strings.HasPrefix(p.Pod.Name, "big") }) {
			st[i] = framework.NewStatus(framework.Unschedulable, "node(s) were taken")
		}
	}
	return nil
}

// trials counts the what-if copies among the nodes it judged.
func (o *taken) trials() int {
	n := 0
	for _, g := range o.gens {
		if g == 0 {
			n++
		}
	}
	return n
}

func withPriority(name string, prio int32) *framework.PodInfo {
	pi := podInfo(name)
	pi.Pod.Spec.Priority = &prio
	return pi
}

// numbered is n nodes with generations 1 to n.
func numbered(n int) lister {
	l := nodes(n)
	for i, ni := range l {
		ni.Generation = int64(i + 1)
	}
	return l
}

// TestFilterCountsNominatedPods: a node passes only if the filters pass
// with the pods nominated to it of equal or higher priority added, and
// the extra check runs on what-if copies (generation 0) of those nodes
// alone. A rejection found that way is reported like any other.
func TestFilterCountsNominatedPods(t *testing.T) {
	waiting := withPriority("big-waiting", 100)
	on1 := func(pis ...*framework.PodInfo) framework.Lister {
		return nominatedLister{lister: numbered(4), pods: map[string][]*framework.PodInfo{"n0001": pis}}
	}
	all := []string{"n0000", "n0001", "n0002", "n0003"}
	for _, tt := range []struct {
		name         string
		nodes        framework.Lister
		pod          *framework.PodInfo
		wantFeasible []string
		wantRejected []string
		wantTrials   int
	}{
		{name: "lower priority: not on the nominated node", nodes: on1(waiting), pod: withPriority("p", 10),
			wantFeasible: []string{"n0000", "n0002", "n0003"}, wantRejected: []string{"n0001"}, wantTrials: 1},
		{name: "equal priority: likewise", nodes: on1(waiting), pod: withPriority("p", 100),
			wantFeasible: []string{"n0000", "n0002", "n0003"}, wantRejected: []string{"n0001"}, wantTrials: 1},
		{name: "unset priority is 0", nodes: on1(waiting), pod: podInfo("p"),
			wantFeasible: []string{"n0000", "n0002", "n0003"}, wantRejected: []string{"n0001"}, wantTrials: 1},
		{name: "higher priority: may take the room", nodes: on1(waiting), pod: withPriority("p", 1000),
			wantFeasible: all},
		{name: "the nominated pod itself", nodes: on1(waiting), pod: waiting, wantFeasible: all},
		{name: "only lower-priority nominated pods", nodes: on1(withPriority("big-low", 5)), pod: withPriority("p", 10),
			wantFeasible: all},
		{name: "one of several counts", nodes: on1(withPriority("big-low", 5), waiting), pod: withPriority("p", 10),
			wantFeasible: []string{"n0000", "n0002", "n0003"}, wantRejected: []string{"n0001"}, wantTrials: 1},
		{name: "a lister without nominated pods", nodes: numbered(4), pod: withPriority("p", 10), wantFeasible: all},
		{name: "several nodes, some still fit", nodes: nominatedLister{lister: numbered(4), pods: map[string][]*framework.PodInfo{
			"n0000": {withPriority("big-a", 100)}, "n0001": {withPriority("small", 100)}, "n0003": {withPriority("big-b", 100)}}},
			pod: withPriority("p", 10), wantFeasible: []string{"n0001", "n0002"}, wantRejected: []string{"n0000", "n0003"}, wantTrials: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			filter := &taken{}
			f := build(t, framework.Profile{}, filter)
			res, err := f.SchedulePod(t.Context(), framework.NewCycleState(tt.nodes), tt.pod, framework.ScheduleOptions{RecordScores: true})
			if err != nil {
				t.Fatal(err)
			}
			var feasible, rejected []string
			for _, s := range res.Scores {
				feasible = append(feasible, s.Name)
			}
			for _, r := range res.Rejected {
				rejected = append(rejected, r.Node)
				if r.Plugin != "Taken" || r.Status.Message() != "node(s) were taken" {
					t.Errorf("rejection %+v", r)
				}
			}
			slices.Sort(feasible)
			if d := cmp.Diff(tt.wantFeasible, feasible); d != "" {
				t.Errorf("feasible (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantRejected, rejected); d != "" {
				t.Errorf("rejected (-want +got):\n%s", d)
			}
			if res.Evaluated != 4 || res.Feasible != len(tt.wantFeasible) {
				t.Errorf("evaluated %d, feasible %d", res.Evaluated, res.Feasible)
			}
			if got := filter.trials(); got != tt.wantTrials {
				t.Errorf("%d what-if copies filtered, want %d (generations %v)", got, tt.wantTrials, filter.gens)
			}
		})
	}
}

// TestNominatedRejectionMessage: when the nominated pods are what leaves
// no room, the message counts the nodes like any other rejection.
func TestNominatedRejectionMessage(t *testing.T) {
	nodes := nominatedLister{lister: numbered(2), pods: map[string][]*framework.PodInfo{
		"n0000": {withPriority("big-a", 100)}, "n0001": {withPriority("big-b", 100)}}}
	f := build(t, framework.Profile{}, &taken{})
	_, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes), withPriority("p", 10), framework.ScheduleOptions{})
	var fe *framework.FitError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FitError", err)
	}
	if got, want := fe.Error(), "0/2 nodes are available: 2 node(s) were taken."; got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
	if _, ok := fe.Diagnosis.UnschedulablePlugins["Taken"]; !ok {
		t.Errorf("unschedulable plugins %v, want OnePod", fe.Diagnosis.UnschedulablePlugins)
	}
}

// TestRunFiltersCountsNominatedPods: RunFilters (what preemption tries
// its evictions with) and the nominated node's fast path count the pods
// nominated there too.
func TestRunFiltersCountsNominatedPods(t *testing.T) {
	first, second := withPriority("big-first", 100), withPriority("big-second", 10)
	first.Pod.Status.NominatedNodeName = "n0001"
	second.Pod.Status.NominatedNodeName = "n0001"
	nodes := nominatedLister{lister: numbered(4), pods: map[string][]*framework.PodInfo{"n0001": {first, second}}}
	filter := &taken{}
	f := build(t, framework.Profile{}, filter)
	ctx := t.Context()

	// A what-if copy, as preemption makes one.
	trial := nodes.Get("n0001").Clone()
	trial.Generation = 0
	state := framework.NewCycleState(nodes)
	if st := f.RunFilters(ctx, state, withPriority("low", 10), trial); st.Message() != "node(s) were taken" {
		t.Errorf("RunFilters for a lower-priority pod: %v, want a rejection", st)
	}
	if st := f.RunFilters(ctx, state, withPriority("high", 1000), trial); !st.IsSuccess() {
		t.Errorf("RunFilters for a higher-priority pod: %v", st)
	}
	if st := f.RunFilters(ctx, state, first, trial); !st.IsSuccess() {
		t.Errorf("RunFilters for the first nominated pod (second has a lower priority): %v", st)
	}

	// The first goes to its nominated node at once; the second, whose
	// room there the first takes, looks elsewhere.
	res, err := f.SchedulePod(ctx, framework.NewCycleState(nodes), first, framework.ScheduleOptions{})
	if err != nil || res.Node != "n0001" || res.Evaluated != 1 {
		t.Errorf("first: %+v, %v; want n0001 after 1 node", res, err)
	}
	res, err = f.SchedulePod(ctx, framework.NewCycleState(nodes), second, framework.ScheduleOptions{})
	if err != nil || res.Node == "n0001" || res.Node == "" {
		t.Errorf("second: %+v, %v; want a node other than n0001", res, err)
	}
}
