package cache_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/cache"
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

func node(name, zone string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110")}}}
	if zone != "" {
		n.Labels[corev1.LabelTopologyZone] = zone
	}
	return n
}

func pod(name, node string, cpu string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}}}}
}

// view is what a snapshot says: per node, its pods and requested cpu.
type nodeView struct {
	Pods []string
	CPU  int64
}

func view(s *cache.Snapshot) map[string]nodeView {
	out := map[string]nodeView{}
	for _, ni := range s.List() {
		var pods []string
		for _, p := range ni.Pods {
			pods = append(pods, p.Pod.Name)
		}
		sort.Strings(pods)
		out[ni.Name()] = nodeView{Pods: pods, CPU: ni.Requested.MilliCPU}
	}
	return out
}

func podNames(pis []*framework.PodInfo) []string {
	var out []string
	for _, pi := range pis {
		out = append(out, pi.Pod.Name)
	}
	return out
}

func names(nis []*framework.NodeInfo) []string {
	var out []string
	for _, ni := range nis {
		out = append(out, ni.Name())
	}
	return out
}

func TestAssumeConfirmForget(t *testing.T) {
	c := cache.New()
	c.AddNode(node("a", ""))
	c.AddNode(node("b", ""))
	s := cache.NewSnapshot()
	p := pod("p", "", "1")
	assumed := *p
	assumed.Spec.NodeName = "a"
	if err := c.AssumePod(framework.NewPodInfo(&assumed), "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.AssumePod(framework.NewPodInfo(&assumed), "a"); !errors.Is(err, cache.ErrAssumed) {
		t.Fatalf("assume twice: %v", err)
	}
	c.UpdateSnapshot(s)
	if d := cmp.Diff(map[string]nodeView{"a": {Pods: []string{"p"}, CPU: 1000}, "b": {}}, view(s)); d != "" {
		t.Fatalf("after assume (-want +got):\n%s", d)
	}
	if !c.IsAssumed("p") {
		t.Fatal("not assumed")
	}
	// The informer says it is bound to b (someone else's binding won).
	bound := *p
	bound.Spec.NodeName = "b"
	c.AddPod(&bound)
	if c.IsAssumed("p") {
		t.Error("still assumed after the informer confirmed it")
	}
	if err := c.ForgetPod(&assumed); !errors.Is(err, cache.ErrNotAssumed) {
		t.Errorf("forget a confirmed pod: %v", err)
	}
	c.UpdateSnapshot(s)
	if d := cmp.Diff(map[string]nodeView{"a": {}, "b": {Pods: []string{"p"}, CPU: 1000}}, view(s)); d != "" {
		t.Fatalf("after confirmation (-want +got):\n%s", d)
	}
	// Forgetting an assumed pod frees its node.
	q := pod("q", "a", "2")
	if err := c.AssumePod(framework.NewPodInfo(q), "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.ForgetPod(q); err != nil {
		t.Fatal(err)
	}
	c.UpdateSnapshot(s)
	if d := cmp.Diff(map[string]nodeView{"a": {}, "b": {Pods: []string{"p"}, CPU: 1000}}, view(s)); d != "" {
		t.Fatalf("after forget (-want +got):\n%s", d)
	}
}

func TestNodesWithoutObjects(t *testing.T) {
	c := cache.New()
	s := cache.NewSnapshot()
	// A pod seen before its node: accounted, not listed.
	c.AddPod(pod("early", "late", "1"))
	c.UpdateSnapshot(s)
	if len(s.List()) != 0 || s.Get("late") != nil {
		t.Fatalf("a node without object is listed: %v", names(s.List()))
	}
	c.AddNode(node("late", ""))
	c.UpdateSnapshot(s)
	if d := cmp.Diff(map[string]nodeView{"late": {Pods: []string{"early"}, CPU: 1000}}, view(s)); d != "" {
		t.Fatalf("once the node came (-want +got):\n%s", d)
	}
	// The node goes, its pod stays until removed.
	c.RemoveNode("late")
	c.UpdateSnapshot(s)
	if len(s.List()) != 0 {
		t.Fatalf("removed node listed: %v", names(s.List()))
	}
	if n, p, _ := c.Counts(); n != 0 || p != 1 {
		t.Fatalf("counts %d nodes, %d pods", n, p)
	}
	c.RemovePod(pod("early", "late", "1"))
	if n, p, _ := c.Counts(); n != 0 || p != 0 {
		t.Fatalf("counts %d nodes, %d pods", n, p)
	}
}

func TestZonesRoundRobin(t *testing.T) {
	c := cache.New()
	for _, n := range []*corev1.Node{node("a2", "a"), node("b1", "b"), node("a1", "a"), node("c1", "c"), node("a3", "a"), node("x", "")} {
		c.AddNode(n)
	}
	s := cache.NewSnapshot()
	c.UpdateSnapshot(s)
	if d := cmp.Diff([]string{"x", "a1", "b1", "c1", "a2", "a3"}, names(s.List())); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}

// nominatedView is what a snapshot says of nominated pods: per node, their
// names in the order listed.
func nominatedView(s *cache.Snapshot) map[string][]string {
	out := map[string][]string{}
	for _, n := range []string{"a", "b", "gone"} {
		for _, pi := range s.NominatedPods(n) {
			out[n] = append(out[n], pi.Pod.Name)
		}
	}
	return out
}

// TestNominations walks pods through the nominator's life: nominated by
// preemption or the informer, moved, set aside while assumed and
// restored when forgotten, and dropped when bound, removed or cleared;
// each step's snapshot must list exactly the pods still waiting.
func TestNominations(t *testing.T) {
	c := cache.New()
	c.AddNode(node("a", ""))
	c.AddNode(node("b", ""))
	s := cache.NewSnapshot()
	pending := func(name string) *framework.PodInfo { return framework.NewPodInfo(pod(name, "", "1")) }
	assumed := func(name, node string) *framework.PodInfo { return framework.NewPodInfo(pod(name, node, "1")) }
	withPriority := func(name string, prio int32) *framework.PodInfo {
		p := pod(name, "", "1")
		p.Spec.Priority = &prio
		return framework.NewPodInfo(p)
	}
	below := func(t *testing.T, node string, prio int32, want ...string) {
		t.Helper()
		if d := cmp.Diff(want, podNames(c.RemoveNominatedBelow(node, prio))); d != "" {
			t.Errorf("RemoveNominatedBelow(%s, %d) (-want +got):\n%s", node, prio, d)
		}
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
		want map[string][]string
	}{
		{name: "none", do: func(*testing.T) {}, want: map[string][]string{}},
		{name: "nominate", do: func(*testing.T) {
			c.NominatePod(pending("p"), "a")
			c.NominatePod(pending("q"), "a")
			c.NominatePod(pending("r"), "b")
		}, want: map[string][]string{"a": {"p", "q"}, "b": {"r"}}},
		{name: "the same again changes nothing", do: func(*testing.T) { c.NominatePod(pending("q"), "a") },
			want: map[string][]string{"a": {"p", "q"}, "b": {"r"}}},
		{name: "move to another node", do: func(*testing.T) { c.NominatePod(pending("q"), "b") },
			want: map[string][]string{"a": {"p"}, "b": {"q", "r"}}},
		{name: "a node without object keeps its nominations", do: func(*testing.T) { c.NominatePod(pending("x"), "gone") },
			want: map[string][]string{"a": {"p"}, "b": {"q", "r"}, "gone": {"x"}}},
		{name: "cleared", do: func(*testing.T) { c.RemoveNominatedPod("x"); c.RemoveNominatedPod("never-nominated") },
			want: map[string][]string{"a": {"p"}, "b": {"q", "r"}}},
		{name: "assumed elsewhere: set aside", do: func(t *testing.T) {
			if err := c.AssumePod(assumed("p", "b"), "b"); err != nil {
				t.Fatal(err)
			}
		}, want: map[string][]string{"b": {"q", "r"}}},
		{name: "an update while assumed does not list it", do: func(*testing.T) { c.NominatePod(pending("p"), "a") },
			want: map[string][]string{"b": {"q", "r"}}},
		{name: "forgotten: restored", do: func(t *testing.T) {
			if err := c.ForgetPod(pod("p", "b", "1")); err != nil {
				t.Fatal(err)
			}
		}, want: map[string][]string{"a": {"p"}, "b": {"q", "r"}}},
		{name: "cleared while assumed: not restored", do: func(t *testing.T) {
			if err := c.AssumePod(assumed("q", "b"), "b"); err != nil {
				t.Fatal(err)
			}
			c.RemoveNominatedPod("q")
			if err := c.ForgetPod(pod("q", "b", "1")); err != nil {
				t.Fatal(err)
			}
		}, want: map[string][]string{"a": {"p"}, "b": {"r"}}},
		{name: "bound (informer)", do: func(*testing.T) { c.AddPod(pod("r", "b", "1")) },
			want: map[string][]string{"a": {"p"}}},
		{name: "a bound pod is not nominated", do: func(*testing.T) { c.NominatePod(pending("r"), "a") },
			want: map[string][]string{"a": {"p"}}},
		{name: "assumed then confirmed", do: func(t *testing.T) {
			if err := c.AssumePod(assumed("p", "a"), "a"); err != nil {
				t.Fatal(err)
			}
			c.AddPod(pod("p", "a", "1"))
			if err := c.ForgetPod(pod("p", "a", "1")); !errors.Is(err, cache.ErrNotAssumed) {
				t.Fatalf("forget a confirmed pod: %v", err)
			}
		}, want: map[string][]string{}},
		{name: "removed", do: func(*testing.T) {
			c.NominatePod(pending("y"), "a")
			c.RemovePod(pod("y", "", "1"))
		}, want: map[string][]string{}},
		{name: "clearing says whether there was a nomination", do: func(t *testing.T) {
			c.NominatePod(pending("z"), "a")
			if !c.RemoveNominatedPod("z") {
				t.Error("RemoveNominatedPod of a nominated pod: false")
			}
			if c.RemoveNominatedPod("z") {
				t.Error("RemoveNominatedPod again: true")
			}
			if err := c.AssumePod(assumed("z", "b"), "b"); err != nil {
				t.Fatal(err)
			}
			c.NominatePod(pending("z"), "a")
			if !c.RemoveNominatedPod("z") {
				t.Error("RemoveNominatedPod of an assumed pod with a nomination set aside: false")
			}
			if err := c.ForgetPod(pod("z", "b", "1")); err != nil {
				t.Fatal(err)
			}
		}, want: map[string][]string{}},
		{name: "a pod nominated to a takes the nominations of lower priority there", do: func(t *testing.T) {
			c.NominatePod(withPriority("lo0", 0), "a")
			c.NominatePod(withPriority("lo1", 499), "a")
			c.NominatePod(withPriority("eq", 500), "a")
			c.NominatePod(withPriority("hi", 1000), "a")
			c.NominatePod(withPriority("lob", 0), "b")
			below(t, "a", 500, "lo0", "lo1")
			below(t, "a", 500)
		}, want: map[string][]string{"a": {"eq", "hi"}, "b": {"lob"}}},
		{name: "an assumed pod keeps the nomination it set aside", do: func(t *testing.T) {
			c.NominatePod(withPriority("lo2", 0), "a")
			if err := c.AssumePod(assumed("lo2", "b"), "b"); err != nil {
				t.Fatal(err)
			}
			below(t, "a", 500)
			if err := c.ForgetPod(pod("lo2", "b", "1")); err != nil {
				t.Fatal(err)
			}
		}, want: map[string][]string{"a": {"eq", "hi", "lo2"}, "b": {"lob"}}},
	}
	for _, st := range steps {
		st.do(t)
		c.UpdateSnapshot(s)
		if d := cmp.Diff(st.want, nominatedView(s)); d != "" {
			t.Fatalf("%s: nominated pods (-want +got):\n%s", st.name, d)
		}
		if got, want := s.HasNominatedPods(), len(st.want) > 0; got != want {
			t.Errorf("%s: HasNominatedPods %v, want %v", st.name, got, want)
		}
		fresh := cache.NewSnapshot()
		c.UpdateSnapshot(fresh)
		if d := cmp.Diff(nominatedView(fresh), nominatedView(s)); d != "" {
			t.Errorf("%s: incremental snapshot differs from a fresh one (-fresh +incremental):\n%s", st.name, d)
		}
	}
	// The snapshot's nodes never count the nominated pods themselves.
	if d := cmp.Diff(map[string]nodeView{"a": {Pods: []string{"p"}, CPU: 1000}, "b": {Pods: []string{"r"}, CPU: 1000}}, view(s)); d != "" {
		t.Errorf("nodes (-want +got):\n%s", d)
	}
}

// TestSnapshotHammer changes the cache from several goroutines while
// another keeps a snapshot up to date; at the end the incremental
// snapshot must equal a fresh one, and the affinity lists must be right.
// All along, no snapshot may list a pod both on a node and among the
// nominated pods.
func TestSnapshotHammer(t *testing.T) {
	c := cache.New()
	const nodes, writers, ops = 30, 4, 2000
	for i := range nodes {
		c.AddNode(node(fmt.Sprint("n", i), fmt.Sprint("z", i%3)))
	}
	s := cache.NewSnapshot()
	stop := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.UpdateSnapshot(s)
				placed := map[types.UID]bool{}
				for _, ni := range s.List() {
					_ = ni.Requested.MilliCPU + int64(len(ni.Pods))
					for _, p := range ni.Pods {
						placed[p.Pod.UID] = true
					}
				}
				for _, ni := range s.List() {
					for _, np := range s.NominatedPods(ni.Name()) {
						if placed[np.Pod.UID] {
							t.Errorf("pod %s is both on a node and nominated to %s", np.Pod.Name, ni.Name())
							return
						}
					}
				}
			}
		}
	})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range ops {
				name := fmt.Sprintf("p%d-%d", w, rng.IntN(50))
				p := pod(name, fmt.Sprint("n", rng.IntN(nodes)), "100m")
				if rng.IntN(4) == 0 {
					p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
						RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: corev1.LabelHostname}}}}
				}
				p.Spec.Priority = new(int32(rng.IntN(3)))
				switch rng.IntN(8) {
				case 0, 1:
					c.AddPod(p)
				case 2:
					c.RemovePod(p)
				case 3:
					_ = c.AssumePod(framework.NewPodInfo(p), p.Spec.NodeName)
				case 4:
					_ = c.ForgetPod(p)
				case 5:
					waiting := *p
					waiting.Spec.NodeName = ""
					c.NominatePod(framework.NewPodInfo(&waiting), fmt.Sprint("n", rng.IntN(nodes)))
				case 6:
					c.RemoveNominatedPod(p.UID)
				case 7:
					c.RemoveNominatedBelow(fmt.Sprint("n", rng.IntN(nodes)), int32(rng.IntN(3)))
				}
				if i%500 == 0 {
					c.UpdateNode(node(fmt.Sprint("n", rng.IntN(nodes)), fmt.Sprint("z", rng.IntN(3))))
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	reader.Wait()
	c.UpdateSnapshot(s)
	fresh := cache.NewSnapshot()
	c.UpdateSnapshot(fresh)
	if d := cmp.Diff(view(fresh), view(s)); d != "" {
		t.Fatalf("incremental snapshot differs from a fresh one (-fresh +incremental):\n%s", d)
	}
	if d := cmp.Diff(names(fresh.List()), names(s.List())); d != "" {
		t.Fatalf("order differs (-fresh +incremental):\n%s", d)
	}
	for _, ni := range fresh.List() {
		if d := cmp.Diff(podNames(fresh.NominatedPods(ni.Name())), podNames(s.NominatedPods(ni.Name()))); d != "" {
			t.Errorf("%s: nominated pods differ (-fresh +incremental):\n%s", ni.Name(), d)
		}
	}
	var want []string
	for _, ni := range fresh.List() {
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			want = append(want, ni.Name())
		}
		var cpu int64
		for _, p := range ni.Pods {
			cpu += p.Requests.MilliCPU
		}
		if cpu != ni.Requested.MilliCPU {
			t.Errorf("%s: requested %dm, its pods %dm", ni.Name(), ni.Requested.MilliCPU, cpu)
		}
	}
	got := names(s.WithRequiredAntiAffinity())
	slices.Sort(want)
	slices.Sort(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("nodes with anti-affinity pods (-want +got):\n%s", d)
	}
}

func TestImagesAndNamespaces(t *testing.T) {
	c := cache.New()
	withImage := func(name string, images ...string) *corev1.Node {
		n := node(name, "")
		for _, img := range images {
			n.Status.Images = append(n.Status.Images, corev1.ContainerImage{Names: []string{img}, SizeBytes: 100})
		}
		return n
	}
	c.AddNode(withImage("a", "x:1", "y:1"))
	c.AddNode(withImage("b", "x:1"))
	c.SetNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"team": "a"}}})
	s := cache.NewSnapshot()
	c.UpdateSnapshot(s)
	if s.ImageNodes("x:1") != 2 || s.ImageNodes("y:1") != 1 || s.NamespaceLabels("team")["team"] != "a" {
		t.Fatalf("images x %d y %d, namespace %v", s.ImageNodes("x:1"), s.ImageNodes("y:1"), s.NamespaceLabels("team"))
	}
	c.UpdateNode(withImage("a", "y:1"))
	c.RemoveNode("b")
	c.RemoveNamespace("team")
	c.UpdateSnapshot(s)
	if s.ImageNodes("x:1") != 0 || s.ImageNodes("y:1") != 1 || s.NamespaceLabels("team") != nil {
		t.Fatalf("after changes: images x %d y %d, namespace %v", s.ImageNodes("x:1"), s.ImageNodes("y:1"), s.NamespaceLabels("team"))
	}
}
