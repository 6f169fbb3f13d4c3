package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

const (
	teamPkg    = "github.com/skiffhq/skiff/examples/plugins/team"
	binpackPkg = "github.com/skiffhq/skiff/examples/plugins/binpack"
)

// memModules serves modules from memory, as the Object Store would.
type memModules struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (m *memModules) add(wasm []byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := plugins.Digest(wasm)
	m.m[d] = wasm
	return d
}

func (m *memModules) Module(_ context.Context, digest string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.m[digest]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("module %s: not found", digest)
}

func raw(s string) *runtime.RawExtension {
	if s == "" {
		return nil
	}
	return &runtime.RawExtension{Raw: []byte(s)}
}

// pluginObject is a Plugin whose versions have the given settings, with
// current as its version.
func pluginObject(name, digest string, size int, current string, settings map[string]string) *skiffv1alpha1.Plugin {
	p := &skiffv1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: skiffv1alpha1.PluginSpec{Kind: skiffv1alpha1.KindScheduler}}
	for _, v := range []string{"v1", "v2", "v3"} {
		s, ok := settings[v]
		if !ok {
			continue
		}
		p.Spec.History = append(p.Spec.History, skiffv1alpha1.PluginVersion{Version: v, Digest: digest, Size: int64(size), Settings: raw(s)})
		if v == current {
			p.Spec.Version, p.Spec.Digest, p.Spec.Size, p.Spec.Settings = v, digest, int64(size), raw(s)
		}
	}
	return p
}

func teamNode(name, team string) *corev1.Node {
	n := node(name, "64")
	n.Labels["team"] = team
	return n
}

func teamPod(name, team string) *corev1.Pod {
	p := pod(name, "10m")
	p.Spec.SchedulerName = "teams"
	p.Annotations = map[string]string{"skiff.dev/team": team}
	return p
}

// TestUploadedPluginsHotSwap hammers the swap: a SchedulerProfile runs
// the team filter and the binpack score, uploaded as WASM; the team
// plugin's version is swapped back and forth ten times (each swap loads
// a module anew: the versions' settings differ) while pods are created.
// Every pod lands on its team's nodes and none fails a cycle. Then a version whose settings the module refuses is refused,
// the status says why, and the previous version keeps scheduling.
func TestUploadedPluginsHotSwap(t *testing.T) {
	team, binpack := plugintest.Build(t, teamPkg), plugintest.Build(t, binpackPkg)
	e := start(t)
	ctx := t.Context()
	mods := &memModules{m: map[string][]byte{}}
	teamDigest, binpackDigest := mods.add(team), mods.add(binpack)
	for _, n := range []*corev1.Node{teamNode("blue-1", "blue"), teamNode("blue-2", "blue"), teamNode("red-1", "red"), teamNode("red-2", "red"), node("other", "64")} {
		if _, err := client.For[*corev1.Node](e.c).Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pls := client.For[*skiffv1alpha1.Plugin](e.c)
	settings := map[string]string{"v1": "", "v2": `{"label":"team","annotation":"skiff.dev/team"}`, "v3": `{"label":""}`}
	good := map[string]string{"v1": settings["v1"], "v2": settings["v2"]}
	if _, err := pls.Create(ctx, pluginObject("team", teamDigest, len(team), "v1", good), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pls.Create(ctx, pluginObject("binpack", binpackDigest, len(binpack), "v1", map[string]string{"v1": ""}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sp := &skiffv1alpha1.SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: "teams"}, Spec: skiffv1alpha1.SchedulerProfileSpec{
		SchedulerName: "teams", Plugins: []skiffv1alpha1.ProfilePlugin{{Name: "team"}, {Name: "binpack", Weight: 5}}}}
	if _, err := client.For[*skiffv1alpha1.SchedulerProfile](e.c).Create(ctx, sp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := scheduler.New(scheduler.Config{Client: e.c, Identity: "swap", Logger: testLogger(t),
		PodInitialBackoff: 100 * time.Millisecond, PodMaxBackoff: time.Second, LeaderElection: scheduler.LeaderElection{Disabled: true},
		Modules: mods, Host: plugins.Config{CacheDir: t.TempDir(), CallTimeout: 5 * time.Second}, StatusInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	eventually(t, 60*time.Second, func() error {
		got, err := client.For[*skiffv1alpha1.SchedulerProfile](e.c).Get(ctx, "", "teams")
		if err != nil {
			return err
		}
		if got.Status.State != skiffv1alpha1.ProfileActive {
			return fmt.Errorf("profile status %+v", got.Status)
		}
		return nil
	})

	// Ten rounds: swap the team plugin to the other version, create 30
	// pods while the scheduler loads it and swaps, wait until it serves.
	podsAPI := client.For[*corev1.Pod](e.c)
	const rounds, perRound = 10, 30
	for r := range rounds {
		v := []string{"v2", "v1"}[r%2]
		setSpec(t, pls, "team", pluginObject("team", teamDigest, len(team), v, good).Spec)
		for i := range perRound {
			k := r*perRound + i
			if _, err := podsAPI.Create(ctx, teamPod(fmt.Sprintf("p%03d", k), []string{"blue", "red"}[k%2]), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 60*time.Second, func() error {
			p, err := pls.Get(ctx, "", "team")
			if err != nil {
				return err
			}
			if p.Status.ObservedGeneration < p.Generation || p.Status.Version != v || p.Status.State != skiffv1alpha1.PluginLoaded {
				return fmt.Errorf("team status %+v, want %s loaded", p.Status, v)
			}
			return nil
		})
	}
	const n = rounds * perRound
	checkPlaced := func(prefix string, count int) {
		t.Helper()
		eventually(t, 120*time.Second, func() error {
			for i := range count {
				name := fmt.Sprintf("%s%03d", prefix, i)
				p, err := podsAPI.Get(ctx, "default", name)
				if err != nil {
					return err
				}
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
						t.Fatalf("pod %s failed a scheduling cycle: %s: %s", name, c.Reason, c.Message)
					}
				}
				if p.Spec.NodeName == "" {
					return fmt.Errorf("pod %s is not bound yet", name)
				}
				want := p.Annotations["skiff.dev/team"]
				if want+"-" != p.Spec.NodeName[:len(want)+1] {
					t.Fatalf("pod %s of team %s is on %s", name, want, p.Spec.NodeName)
				}
			}
			return nil
		})
	}
	checkPlaced("p", n)
	if st := s.Stats(); st.Errors != 0 || st.Unschedulable != 0 {
		t.Errorf("scheduler stats %+v: want no errors and no unschedulable pods", st)
	}

	// A version the module refuses: refused, and the previous one serves.
	all := map[string]string{"v1": settings["v1"], "v2": settings["v2"], "v3": settings["v3"]}
	setSpec(t, pls, "team", pluginObject("team", teamDigest, len(team), "v3", all).Spec)
	var served string
	eventually(t, 60*time.Second, func() error {
		p, err := pls.Get(ctx, "", "team")
		if err != nil {
			return err
		}
		if p.Status.ObservedGeneration < p.Generation || p.Status.State != skiffv1alpha1.PluginRefused || p.Status.Message == "" {
			return fmt.Errorf("team status %+v, want v3 refused", p.Status)
		}
		served = p.Status.Version
		return nil
	})
	if served != "v1" && served != "v2" {
		t.Fatalf("after the refusal, version %q serves, want the previous one", served)
	}
	for i := range 20 {
		if _, err := podsAPI.Create(ctx, teamPod(fmt.Sprintf("q%03d", i), []string{"blue", "red"}[i%2]), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	checkPlaced("q", 20)
}

// setSpec replaces a Plugin's spec, retrying on conflicts.
func setSpec(t *testing.T, pls *client.Typed[*skiffv1alpha1.Plugin], name string, spec skiffv1alpha1.PluginSpec) {
	t.Helper()
	if err := updateSpec(t.Context(), pls, name, spec); err != nil {
		t.Fatal(err)
	}
}

func updateSpec(ctx context.Context, pls *client.Typed[*skiffv1alpha1.Plugin], name string, spec skiffv1alpha1.PluginSpec) error {
	for {
		cur, err := pls.Get(ctx, "", name)
		if err != nil {
			return err
		}
		cur.Spec = spec
		_, err = pls.Update(ctx, cur, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}
