package framework_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// lister is a fixed list of nodes.
type lister []*framework.NodeInfo

func (l lister) List() []*framework.NodeInfo { return l }
func (l lister) Get(name string) *framework.NodeInfo {
	for _, ni := range l {
		if ni.Name() == name {
			return ni
		}
	}
	return nil
}
func (lister) WithAffinity() []*framework.NodeInfo             { return nil }
func (lister) WithRequiredAntiAffinity() []*framework.NodeInfo { return nil }
func (lister) NamespaceLabels(string) labels.Set               { return nil }
func (lister) ImageNodes(string) int                           { return 0 }

func nodes(n int) lister {
	out := make(lister, n)
	for i := range out {
		out[i] = framework.NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%04d", i)}})
	}
	return out
}

func podInfo(name string) *framework.PodInfo {
	return framework.NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)}})
}

// batch is a plugin that, like a WebAssembly guest, wants to be entered
// once per pod and extension point: it records every call and the number
// of nodes it got, rejects the nodes reject says, and scores by score.
type batch struct {
	name    string
	calls   []string
	reject  func(ni *framework.NodeInfo) *framework.Status
	score   func(ni *framework.NodeInfo) int64
	filterE *framework.Status
}

func (b *batch) Name() string { return b.name }
func (b *batch) Filter(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, st []*framework.Status) *framework.Status {
	b.calls = append(b.calls, fmt.Sprintf("Filter(%d)", len(nodes)))
	if b.filterE != nil {
		return b.filterE
	}
	for i, ni := range nodes {
		if b.reject != nil {
			st[i] = b.reject(ni)
		}
	}
	return nil
}
func (b *batch) Score(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	b.calls = append(b.calls, fmt.Sprintf("Score(%d)", len(nodes)))
	for i, ni := range nodes {
		if b.score != nil {
			scores[i] = b.score(ni)
		}
	}
	return nil
}

func build(t *testing.T, p framework.Profile, plugins ...framework.Plugin) *framework.Framework {
	t.Helper()
	r := framework.Registry{}
	enable := len(p.Plugins) == 0
	for _, pl := range plugins {
		r[pl.Name()] = func(any, framework.Handle) (framework.Plugin, error) { return pl, nil }
		if enable {
			p.Plugins = append(p.Plugins, framework.PluginConfig{Name: pl.Name()})
		}
	}
	if p.SchedulerName == "" {
		p.SchedulerName = "test"
	}
	f, err := framework.New(p, r, framework.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func nodeIndex(ni *framework.NodeInfo) int {
	var i int
	fmt.Sscanf(ni.Name(), "n%d", &i)
	return i
}

// TestBatchedCalls checks the plugin contract: one Filter call per batch
// with all of the batch's nodes that earlier filters kept, one Score call
// per pod with all feasible nodes.
func TestBatchedCalls(t *testing.T) {
	odd := &batch{name: "Odd", reject: func(ni *framework.NodeInfo) *framework.Status {
		if nodeIndex(ni)%2 == 1 {
			return framework.NewStatus(framework.Unschedulable, "odd")
		}
		return nil
	}}
	guest := &batch{name: "Guest", score: func(ni *framework.NodeInfo) int64 { return int64(nodeIndex(ni) % 100) }}
	f := build(t, framework.Profile{}, odd, guest)
	res, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(50)), podInfo("p"), framework.ScheduleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 50 nodes are below the 100 minimum: every node is filtered at once.
	if d := cmp.Diff([]string{"Filter(50)", "Score(25)"}, odd.calls); d != "" {
		t.Errorf("Odd's calls (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"Filter(25)", "Score(25)"}, guest.calls); d != "" {
		t.Errorf("Guest's calls (-want +got):\n%s", d)
	}
	if res.Node != "n0048" || res.Evaluated != 50 || res.Feasible != 25 {
		t.Errorf("result %+v, want n0048 after 50 evaluated, 25 feasible", res)
	}
}

// TestFeasibleNodesToFind: with 1,000 nodes and half of them rejected,
// the cycle looks for 42% (the adaptive default) in a few batches, not
// node by node, and starts where it is told.
func TestFeasibleNodesToFind(t *testing.T) {
	for _, tt := range []struct {
		percentage int32
		nodes      int
		want       int
	}{
		{0, 50, 50}, {0, 100, 100}, {0, 1000, 420}, {0, 5000, 500}, {0, 6250, 312}, {0, 100000, 5000},
		{10, 500, 100}, {50, 1000, 500}, {100, 1000, 1000},
	} {
		if got := framework.NumFeasibleNodesToFind(tt.percentage, tt.nodes); got != tt.want {
			t.Errorf("NumFeasibleNodesToFind(%d, %d) = %d, want %d", tt.percentage, tt.nodes, got, tt.want)
		}
	}
	odd := &batch{name: "Odd", reject: func(ni *framework.NodeInfo) *framework.Status {
		if nodeIndex(ni)%2 == 1 {
			return framework.NewStatus(framework.Unschedulable, "odd")
		}
		return nil
	}}
	f := build(t, framework.Profile{}, odd, &batch{name: "Score"})
	res, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(1000)), podInfo("p"), framework.ScheduleOptions{Start: 990})
	if err != nil {
		t.Fatal(err)
	}
	if res.Feasible != 420 {
		t.Errorf("feasible %d, want 420", res.Feasible)
	}
	if len(odd.calls) > 3 {
		t.Errorf("%d filter calls %v, want a few batches", len(odd.calls), odd.calls)
	}
	// Ties go to the first node looked at without a rand: n0990.
	if res.Node != "n0990" {
		t.Errorf("node %s, want n0990 (the start)", res.Node)
	}
}

func TestFitErrorMessage(t *testing.T) {
	cpu := framework.NewStatus(framework.Unschedulable, "Insufficient cpu")
	taint := framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) had untolerated taint {key: value}")
	both := framework.NewStatus(framework.Unschedulable, "Insufficient cpu", "Insufficient memory")
	f := build(t, framework.Profile{}, &batch{name: "F", reject: func(ni *framework.NodeInfo) *framework.Status {
		return []*framework.Status{cpu, cpu, taint, taint, both}[nodeIndex(ni)]
	}})
	_, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(5)), podInfo("p"), framework.ScheduleOptions{})
	var fe *framework.FitError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FitError", err)
	}
	const want = "0/5 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {key: value}, 3 Insufficient cpu."
	if fe.Error() != want {
		t.Errorf("message\n got %q\nwant %q", fe.Error(), want)
	}
	if _, ok := fe.Diagnosis.UnschedulablePlugins["F"]; !ok || len(fe.Diagnosis.NodeToStatus) != 5 {
		t.Errorf("diagnosis %+v", fe.Diagnosis)
	}
	if _, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(0)), podInfo("p"), framework.ScheduleOptions{}); err == nil || err.Error() != framework.NoNodesMessage {
		t.Errorf("no nodes: %v", err)
	}
}

type scorer struct {
	name string
	fn   func(i int) int64
}

func (s *scorer) Name() string { return s.name }
func (s *scorer) Score(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	for i, ni := range nodes {
		scores[i] = s.fn(nodeIndex(ni))
	}
	return nil
}

type normalizing struct{ scorer }

func (n *normalizing) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, scores []int64) *framework.Status {
	for i := range scores {
		scores[i] /= 10
	}
	return nil
}

func TestScoresAndWeights(t *testing.T) {
	a := &scorer{name: "A", fn: func(i int) int64 { return int64(10 * i) }}                    // 0, 10, 20
	b := &normalizing{scorer{name: "B", fn: func(i int) int64 { return int64(1000 - 500*i) }}} // 100, 50, 0 once normalized
	f := build(t, framework.Profile{Plugins: []framework.PluginConfig{{Name: "A", Weight: 1}, {Name: "B", Weight: 3}}}, a, b)
	res, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(3)), podInfo("p"), framework.ScheduleOptions{RecordScores: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []framework.NodeScore{
		{Name: "n0000", Total: 300, Plugins: []framework.PluginScore{{"A", 0, 1}, {"B", 100, 3}}},
		{Name: "n0001", Total: 160, Plugins: []framework.PluginScore{{"A", 10, 1}, {"B", 50, 3}}},
		{Name: "n0002", Total: 20, Plugins: []framework.PluginScore{{"A", 20, 1}, {"B", 0, 3}}},
	}
	if d := cmp.Diff(want, res.Scores); d != "" || res.Node != "n0000" {
		t.Errorf("node %s, scores (-want +got):\n%s", res.Node, d)
	}
	bad := &scorer{name: "Bad", fn: func(int) int64 { return 101 }}
	f = build(t, framework.Profile{}, bad)
	_, err = f.SchedulePod(t.Context(), framework.NewCycleState(nodes(3)), podInfo("p"), framework.ScheduleOptions{})
	var pe *framework.PluginError
	if !errors.As(err, &pe) || pe.Plugin != "Bad" || !strings.Contains(err.Error(), "outside [0, 100]") {
		t.Errorf("out-of-range score: %v", err)
	}
}

func TestPluginErrorsAbort(t *testing.T) {
	broken := &batch{name: "Broken", filterE: framework.AsStatus(errors.New("guest trapped"))}
	f := build(t, framework.Profile{}, broken)
	_, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(3)), podInfo("p"), framework.ScheduleOptions{})
	var pe *framework.PluginError
	if !errors.As(err, &pe) || pe.Plugin != "Broken" || pe.Point != "Filter" || !strings.Contains(err.Error(), "guest trapped") {
		t.Errorf("err = %v", err)
	}
	// A node status that is neither a pass nor a rejection is an error too.
	odd := &batch{name: "Odd", reject: func(*framework.NodeInfo) *framework.Status { return framework.NewStatus(framework.Wait) }}
	f = build(t, framework.Profile{}, odd)
	if _, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(3)), podInfo("p"), framework.ScheduleOptions{}); !errors.As(err, &pe) {
		t.Errorf("Wait as a filter verdict: %v", err)
	}
}

// skipper skips its own filter in PreFilter.
type skipper struct {
	prefilter
	batch
}

func (s *skipper) Name() string { return s.prefilter.name }

type prefilter struct {
	name string
	res  *framework.PreFilterResult
	st   *framework.Status
}

func (p *prefilter) Name() string { return p.name }
func (p *prefilter) PreFilter(context.Context, *framework.CycleState, *framework.PodInfo, []*framework.NodeInfo) (*framework.PreFilterResult, *framework.Status) {
	return p.res, p.st
}

func TestPreFilter(t *testing.T) {
	// A narrowing result limits the nodes filtered.
	narrow := &prefilter{name: "Narrow", res: &framework.PreFilterResult{NodeNames: map[string]struct{}{"n0002": {}, "n0007": {}, "gone": {}}}}
	counter := &batch{name: "Count"}
	f := build(t, framework.Profile{}, narrow, counter)
	res, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(10)), podInfo("p"), framework.ScheduleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"Filter(2)", "Score(2)"}, counter.calls); d != "" || res.Evaluated != 2 {
		t.Errorf("evaluated %d; calls (-want +got):\n%s", res.Evaluated, d)
	}
	// A rejection rejects the pod on every node, with its message.
	reject := &prefilter{name: "Reject", st: framework.NewStatus(framework.UnschedulableAndUnresolvable, "pod has no chance")}
	f = build(t, framework.Profile{}, reject, &batch{name: "Count"})
	_, err = f.SchedulePod(t.Context(), framework.NewCycleState(nodes(4)), podInfo("p"), framework.ScheduleOptions{})
	if err == nil || err.Error() != "0/4 nodes are available: pod has no chance." {
		t.Errorf("prefilter rejection: %v", err)
	}
	// Skip skips that plugin's own Filter only.
	sk := &skipper{prefilter: prefilter{name: "Skipper", st: framework.NewStatus(framework.Skip)},
		batch: batch{name: "Skipper", reject: func(*framework.NodeInfo) *framework.Status {
			return framework.NewStatus(framework.Unschedulable, "should not run")
		}}}
	r := framework.Registry{"Skipper": func(any, framework.Handle) (framework.Plugin, error) { return sk, nil }}
	f, err = framework.New(framework.Profile{SchedulerName: "s", Plugins: []framework.PluginConfig{{Name: "Skipper"}}}, r, framework.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(4)), podInfo("p"), framework.ScheduleOptions{}); err != nil {
		t.Errorf("skipped filter ran: %v", err)
	}
}

// permit waits for Allow or Reject, or times out.
type permit struct {
	name    string
	timeout time.Duration
}

func (p *permit) Name() string { return p.name }
func (p *permit) Permit(context.Context, *framework.CycleState, *framework.PodInfo, string) (*framework.Status, time.Duration) {
	return framework.NewStatus(framework.Wait), p.timeout
}

func TestPermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := build(t, framework.Profile{}, &permit{name: "Gang", timeout: 10 * time.Second})
		state := framework.NewCycleState(nodes(1))
		wait := func(pi *framework.PodInfo) chan error {
			if err := f.RunPermit(t.Context(), state, pi, "n0000"); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- f.WaitOnPermit(t.Context(), pi) }()
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("returned before a verdict: %v", err)
			default:
			}
			return done
		}
		allowed := podInfo("allowed")
		allowed.Pod.UID = "a"
		done := wait(allowed)
		f.WaitingPods().Get("a").Allow("Gang")
		if err := <-done; err != nil {
			t.Errorf("allowed: %v", err)
		}
		rejected := podInfo("rejected")
		rejected.Pod.UID = "r"
		done = wait(rejected)
		f.WaitingPods().Get("r").Reject("Gang", "group incomplete")
		var rj *framework.Rejection
		if err := <-done; !errors.As(err, &rj) || rj.Status.Message() != "group incomplete" {
			t.Errorf("rejected: %v", err)
		}
		late := podInfo("late")
		late.Pod.UID = "l"
		done = wait(late)
		time.Sleep(10 * time.Second)
		if err := <-done; !errors.As(err, &rj) || !strings.Contains(err.Error(), "timeout") {
			t.Errorf("timed out: %v", err)
		}
		if f.WaitingPods().Get("l") != nil {
			t.Error("a decided pod is still waiting")
		}
	})
}

// reserve fails for pods named "no" and records Unreserve calls.
type reserve struct {
	name       string
	unreserved []string
}

func (r *reserve) Name() string { return r.name }
func (r *reserve) Reserve(_ context.Context, _ *framework.CycleState, p *framework.PodInfo, _ string) *framework.Status {
	if p.Pod.Name == "no" && r.name == "Second" {
		return framework.NewStatus(framework.Unschedulable, "quota")
	}
	return nil
}
func (r *reserve) Unreserve(_ context.Context, _ *framework.CycleState, p *framework.PodInfo, _ string) {
	r.unreserved = append(r.unreserved, p.Pod.Name)
}

func TestReserveFailureUnreservesAll(t *testing.T) {
	first, second := &reserve{name: "First"}, &reserve{name: "Second"}
	f := build(t, framework.Profile{Plugins: []framework.PluginConfig{{Name: "First"}, {Name: "Second"}}}, first, second)
	state := framework.NewCycleState(nodes(1))
	if err := f.RunReserve(t.Context(), state, podInfo("yes"), "n0000"); err != nil {
		t.Fatal(err)
	}
	err := f.RunReserve(t.Context(), state, podInfo("no"), "n0000")
	var rj *framework.Rejection
	if !errors.As(err, &rj) || rj.Plugin != "Second" {
		t.Fatalf("err = %v", err)
	}
	if len(first.unreserved) != 1 || len(second.unreserved) != 1 {
		t.Errorf("unreserved: first %v, second %v", first.unreserved, second.unreserved)
	}
}

func TestNewRejectsBadProfiles(t *testing.T) {
	r := framework.Registry{"A": func(any, framework.Handle) (framework.Plugin, error) { return &batch{name: "A"}, nil }}
	for _, p := range []framework.Profile{
		{Plugins: []framework.PluginConfig{{Name: "A"}}},
		{SchedulerName: "s", Plugins: []framework.PluginConfig{{Name: "Nope"}}},
		{SchedulerName: "s", Plugins: []framework.PluginConfig{{Name: "A"}, {Name: "A"}}},
		{SchedulerName: "s", Plugins: []framework.PluginConfig{{Name: "A", Weight: -1}}},
		{SchedulerName: "s", PercentageOfNodesToScore: ptr(int32(101))},
	} {
		if _, err := framework.New(p, r, framework.Options{}); err == nil {
			t.Errorf("profile %+v accepted", p)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	req := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	}
	for _, tt := range []struct {
		name string
		spec corev1.PodSpec
		want int64 // millicores
	}{
		{"containers add up", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1")}, {Resources: req("500m")}}}, 1500},
		{"a bigger init container wins", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1")}},
			InitContainers: []corev1.Container{{Resources: req("2")}}}, 2000},
		{"sidecars run beside everything after them", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1")}},
			InitContainers: []corev1.Container{{Resources: req("1"), RestartPolicy: &always}, {Resources: req("2")}}}, 3000},
		{"overhead", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1")}},
			Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}, 1250},
		{"pod-level requests", corev1.PodSpec{Containers: []corev1.Container{{Resources: req("1")}},
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("3")}}}, 3000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := framework.PodRequests(&corev1.Pod{Spec: tt.spec}, framework.RequestOptions{})
			if got.MilliCPU != tt.want {
				t.Errorf("cpu = %dm, want %dm", got.MilliCPU, tt.want)
			}
		})
	}
	nz := framework.PodRequests(&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{}, {Resources: req("0")}}}}, framework.RequestOptions{NonZero: true})
	if nz.MilliCPU != framework.DefaultMilliCPURequest || nz.Memory != 2*framework.DefaultMemoryRequest {
		t.Errorf("non-zero requests: %+v (an explicit 0 stays 0)", nz)
	}
}

func TestPodPriority(t *testing.T) {
	for _, tt := range []struct {
		name     string
		priority *int32
		want     int32
	}{
		{"unset is 0", nil, 0},
		{"set", ptr(int32(1000)), 1000},
		{"negative", ptr(int32(-5)), -5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := framework.PodPriority(&corev1.Pod{Spec: corev1.PodSpec{Priority: tt.priority}}); got != tt.want {
				t.Errorf("PodPriority = %d, want %d", got, tt.want)
			}
		})
	}
}

// postFilter answers with a fixed result and status.
type postFilter struct {
	name string
	res  *framework.PostFilterResult
	st   *framework.Status
}

func (p *postFilter) Name() string { return p.name }
func (p *postFilter) PostFilter(context.Context, *framework.CycleState, *framework.PodInfo, *framework.Diagnosis) (*framework.PostFilterResult, *framework.Status) {
	return p.res, p.st
}

// TestPostFilterNominations: what the PostFilter plugins decide about the
// pod's nomination reaches the Diagnosis. The plugins run in order until
// one succeeds; a plugin's nomination wins, and a request to clear the
// nomination, from a rejection as well as from a success, holds unless a
// later plugin nominates.
func TestPostFilterNominations(t *testing.T) {
	rejected := framework.NewStatus(framework.Unschedulable, "no")
	unresolvable := framework.NewStatus(framework.UnschedulableAndUnresolvable, "never")
	unnominate := &framework.PostFilterResult{ClearNomination: true}
	nominate := &framework.PostFilterResult{NominatedNodeName: "n0000", Victims: []*corev1.Pod{podInfo("v").Pod}}
	type want struct {
		Nominated string
		Victims   int
		Clear     bool
	}
	for _, tt := range []struct {
		name    string
		plugins []*postFilter
		want    want
	}{
		{name: "no result keeps the nomination", plugins: []*postFilter{{res: nil, st: rejected}}},
		{name: "an empty result keeps it", plugins: []*postFilter{{res: &framework.PostFilterResult{}, st: nil}}},
		{name: "a rejection may clear it", plugins: []*postFilter{{res: unnominate, st: rejected}}, want: want{Clear: true}},
		{name: "so may an unresolvable one", plugins: []*postFilter{{res: unnominate, st: unresolvable}}, want: want{Clear: true}},
		{name: "and a success without a node", plugins: []*postFilter{{res: unnominate, st: nil}}, want: want{Clear: true}},
		{name: "a nomination", plugins: []*postFilter{{res: nominate, st: nil}}, want: want{Nominated: "n0000", Victims: 1}},
		{name: "a later nomination overrides a clear", plugins: []*postFilter{{res: unnominate, st: rejected}, {res: nominate, st: nil}},
			want: want{Nominated: "n0000", Victims: 1}},
		{name: "a later rejection without result keeps the clear", plugins: []*postFilter{{res: unnominate, st: rejected}, {res: nil, st: rejected}},
			want: want{Clear: true}},
		{name: "a nomination on a rejection counts for nothing", plugins: []*postFilter{{res: nominate, st: rejected}}},
		{name: "the first success ends the run", plugins: []*postFilter{{res: nil, st: nil}, {res: unnominate, st: rejected}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			all := []framework.Plugin{&batch{name: "F", reject: func(*framework.NodeInfo) *framework.Status { return rejected }}}
			for i, pl := range tt.plugins {
				pl.name = fmt.Sprint("P", i)
				all = append(all, pl)
			}
			f := build(t, framework.Profile{}, all...)
			_, err := f.SchedulePod(t.Context(), framework.NewCycleState(nodes(2)), podInfo("p"), framework.ScheduleOptions{})
			var fe *framework.FitError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a FitError", err)
			}
			d := fe.Diagnosis
			if diff := cmp.Diff(tt.want, want{Nominated: d.NominatedNodeName, Victims: len(d.Victims), Clear: d.ClearNomination}); diff != "" {
				t.Errorf("diagnosis (-want +got):\n%s", diff)
			}
		})
	}
}
