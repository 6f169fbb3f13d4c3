package scheduler

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// TestGenerationHammer installs generations as fast as it can while
// workers acquire and release them: no worker ever holds a generation
// whose idle hook ran, and every replaced generation goes idle exactly
// once.
func TestGenerationHammer(t *testing.T) {
	var idled sync.Map // *generation -> struct{}
	var idles atomic.Int64
	idle := func(g *generation) {
		if _, dup := idled.LoadOrStore(g, struct{}{}); dup {
			t.Error("a generation went idle twice")
		}
		idles.Add(1)
	}
	s := &Scheduler{}
	s.gen.Store(newGeneration(nil, nil, idle))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var acquired atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				g := s.acquire()
				if _, dead := idled.Load(g); dead {
					t.Error("acquired an idle generation")
				}
				acquired.Add(1)
				g.release()
			}
		})
	}
	const installs = 20000
	for range installs {
		s.install(newGeneration(nil, nil, idle))
	}
	close(stop)
	wg.Wait()
	if got := idles.Load(); got != installs {
		t.Fatalf("%d generations went idle, want %d", got, installs)
	}
	t.Logf("%d acquisitions during %d installs", acquired.Load(), installs)
}

func TestProfileFromSpec(t *testing.T) {
	reg := builtin.Registry()
	uploaded := func(n string) bool { return n == "team" || n == "binpack" }
	names := func(p framework.Profile) string {
		var out []string
		for _, c := range p.Plugins {
			s := c.Name
			if c.Weight != 0 {
				s += "×" + string(rune('0'+c.Weight))
			}
			if c.Args != nil {
				b, _ := json.Marshal(c.Args)
				s += string(b)
			}
			out = append(out, s)
		}
		return strings.Join(out, " ")
	}
	defaults := names(builtin.DefaultProfile())
	for _, tc := range []struct {
		name      string
		spec      skiffv1alpha1.SchedulerProfileSpec
		plugins   string
		refs      []wasmRef
		wantError string
	}{
		{name: "defaults", spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "s"}, plugins: defaults},
		{name: "only uploaded", spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "s",
			Builtins: skiffv1alpha1.Builtins{Disabled: []string{"*"}},
			Plugins: []skiffv1alpha1.ProfilePlugin{{Name: "team", Points: []skiffv1alpha1.ExtensionPoint{"filter"}},
				{Name: "binpack", Weight: 3, Settings: &runtime.RawExtension{Raw: []byte(`{"a":1}`)}, FailurePolicy: "Ignore"}}},
			plugins: "DefaultBinder team binpack×3",
			refs: []wasmRef{{Name: "team", Points: []skiffv1alpha1.ExtensionPoint{"filter"}},
				{Name: "binpack", Settings: []byte(`{"a":1}`), Policy: "Ignore"}}},
		{name: "a built-in disabled, one reweighted", spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "s",
			Builtins: skiffv1alpha1.Builtins{Disabled: []string{"ImageLocality", "NodeResourcesBalancedAllocation", "InterPodAffinity", "PodTopologySpread"}},
			Plugins:  []skiffv1alpha1.ProfilePlugin{{Name: "TaintToleration", Weight: 7}, {Name: "NodeResourcesFit", Settings: &runtime.RawExtension{Raw: []byte(`{"x":1}`)}}}},
			plugins: "SchedulingGates NodeName NodeUnschedulable TaintToleration×7 NodeAffinity×2 NodePorts NodeResourcesFit×1{\"x\":1} DefaultPreemption DefaultBinder"},
		{name: "unknown plugin", spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "s", Plugins: []skiffv1alpha1.ProfilePlugin{{Name: "nope"}}},
			wantError: `plugin "nope": no Plugin object or built-in plugin has that name`},
		{name: "unknown built-in disabled", spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "s", Builtins: skiffv1alpha1.Builtins{Disabled: []string{"Nope"}}},
			wantError: `builtins.disabled: "Nope" is not a built-in plugin`},
		{name: "binder disabled", spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "s", Builtins: skiffv1alpha1.Builtins{Disabled: []string{"DefaultBinder"}}},
			wantError: "builtins.disabled: DefaultBinder cannot be disabled (a profile must bind)"},
		{name: "points on a built-in", spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: "s",
			Plugins: []skiffv1alpha1.ProfilePlugin{{Name: "NodeName", Points: []skiffv1alpha1.ExtensionPoint{"filter"}}}},
			wantError: "plugin NodeName: points apply to uploaded plugins only; built-ins run at every point they implement"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, refs, err := profileFromSpec(&tc.spec, reg, uploaded)
			if tc.wantError != "" {
				if err == nil || err.Error() != tc.wantError {
					t.Fatalf("error %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.plugins, names(p)); diff != "" {
				t.Errorf("plugins (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.refs, refs); diff != "" {
				t.Errorf("refs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeReplica(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	st := skiffv1alpha1.PluginStatus{Version: "v1", State: skiffv1alpha1.PluginLoaded, Replicas: []skiffv1alpha1.PluginReplicaStatus{
		{Replica: "a", Version: "v1", Calls: 10, Errors: 1, P99Micros: 50, Updated: at(time.Minute)},
		{Replica: "gone", Calls: 99, Updated: at(time.Hour)},
	}}
	// A follower's report changes the sums, not the summary.
	mergeReplica(&st, skiffv1alpha1.PluginReplicaStatus{Replica: "b", Version: "v2", State: skiffv1alpha1.PluginRefused, Message: "bad",
		Calls: 5, P99Micros: 80, Updated: at(0)}, false, now)
	want := skiffv1alpha1.PluginStatus{Version: "v1", State: skiffv1alpha1.PluginLoaded, Calls: 15, Errors: 1, P99Micros: 80,
		Replicas: []skiffv1alpha1.PluginReplicaStatus{
			{Replica: "a", Version: "v1", Calls: 10, Errors: 1, P99Micros: 50, Updated: at(time.Minute)},
			{Replica: "b", Version: "v2", State: skiffv1alpha1.PluginRefused, Message: "bad", Calls: 5, P99Micros: 80, Updated: at(0)},
		}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("after a follower's report (-want +got):\n%s", diff)
	}
	// The leader's report sets the summary and replaces its entry.
	mergeReplica(&st, skiffv1alpha1.PluginReplicaStatus{Replica: "a", ObservedGeneration: 3, Version: "v2", State: skiffv1alpha1.PluginLoaded,
		Calls: 12, Updated: at(0)}, true, now)
	if st.Version != "v2" || st.ObservedGeneration != 3 || st.Calls != 17 || st.Errors != 0 || len(st.Replicas) != 2 {
		t.Errorf("after the leader's report: %+v", st)
	}
}
