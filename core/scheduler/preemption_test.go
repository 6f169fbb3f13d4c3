package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/plugins"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

func withPriority(p *corev1.Pod, prio int32) *corev1.Pod {
	p.Spec.Priority = &prio
	return p
}

// TestPreemption: two nodes full of low-priority pods; a high-priority
// pod preempts one of them: the victim is deleted gracefully (and gets a
// Preempted event), the pod is nominated to the victim's node, and once
// the victim is gone (its node agent would confirm; the test does) the
// pod is bound there. The other low-priority pod is left alone.
func TestPreemption(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	for _, n := range []*corev1.Node{node("n1", "2"), node("n2", "2")} {
		if _, err := client.For[*corev1.Node](e.c).Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r := runScheduler(t, e, "s1")
	pods := client.For[*corev1.Pod](e.c)
	lowOn := map[string]string{}
	for _, name := range []string{"low-1", "low-2"} {
		p := pod(name, "2")
		p.Spec.TerminationGracePeriodSeconds = new(int64(30))
		if _, err := pods.Create(ctx, withPriority(p, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		lowOn[boundTo(t, e, name, 30*time.Second)] = name
	}
	if _, err := pods.Create(ctx, withPriority(pod("high", "2"), 1000), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var nominated, victim string
	eventually(t, 30*time.Second, func() error {
		h, err := pods.Get(ctx, "default", "high")
		if err != nil {
			return err
		}
		if nominated = h.Status.NominatedNodeName; nominated == "" {
			return fmt.Errorf("high is not nominated (conditions %v)", h.Status.Conditions)
		}
		victim = lowOn[nominated]
		v, err := pods.Get(ctx, "default", victim)
		if err != nil {
			return err
		}
		if v.DeletionTimestamp == nil {
			return fmt.Errorf("victim %s on %s is not being deleted", victim, nominated)
		}
		return nil
	})
	if evs := events(t, e, victim, "Preempted"); len(evs) != 1 {
		t.Errorf("victim %s has %d Preempted events, want 1", victim, len(evs))
	}
	// While the victim terminates, the pod waits instead of preempting
	// the other one.
	if h, _ := pods.Get(ctx, "default", "high"); h.Spec.NodeName != "" {
		t.Fatalf("high bound to %s while the victim still runs", h.Spec.NodeName)
	}
	// The node agent confirms the victim's end.
	if _, _, err := pods.Delete(ctx, "default", victim, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "high", 30*time.Second); got != nominated {
		t.Errorf("high bound to %s, want its nominated node %s", got, nominated)
	}
	for n, name := range lowOn {
		if name == victim {
			continue
		}
		p, err := pods.Get(ctx, "default", name)
		if err != nil || p.DeletionTimestamp != nil || p.Spec.NodeName != n {
			t.Errorf("bystander %s: %v, %+v", name, err, p)
		}
	}
	if st := r.s.Stats(); st.Preemptions < 1 {
		t.Errorf("stats %+v: want a preemption", st)
	}
}

// hold is a Permit plugin that turns away the pods it holds (by name),
// as if their binding could not start yet. A held pod that finds its
// nominated node free is assumed there, turned away, and forgotten within
// its own cycle, so every other cycle sees it nominated, not placed: the
// nomination alone keeps its room, for as long as the test needs, however
// slow the machine. It answers with an error rather than a rejection so
// that the pod is retried after its back-off instead of waiting for a
// cluster event. It counts the pods it turned away: a held pod turned
// away has found its room free in the scheduler's cache.
type hold struct {
	mu     sync.Mutex
	held   map[string]bool
	turned map[string]int
}

const holdName = "Hold"

func newHold(names ...string) *hold {
	h := &hold{held: map[string]bool{}, turned: map[string]int{}}
	for _, n := range names {
		h.held[n] = true
	}
	return h
}

func (h *hold) Name() string { return holdName }

func (h *hold) Permit(_ context.Context, _ *framework.CycleState, p *framework.PodInfo, _ string) (*framework.Status, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.held[p.Pod.Name] {
		return nil, 0
	}
	h.turned[p.Pod.Name]++
	return framework.AsStatus(errors.New("held by the test")), 0
}

func (h *hold) release(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.held, name)
}

// waitTurnedAway waits until the held pod name was turned away once.
func (h *hold) waitTurnedAway(t *testing.T, name string) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.turned[name] == 0 {
			return fmt.Errorf("%s has not reached Permit", name)
		}
		return nil
	})
}

// registry is the built-in registry with the hold plugin.
func (h *hold) registry() framework.Registry {
	reg := builtin.Registry()
	reg[holdName] = func(any, framework.Handle) (framework.Plugin, error) { return h, nil }
	return reg
}

// configure runs the default profile with the hold plugin.
func (h *hold) configure(c *scheduler.Config) {
	prof := builtin.DefaultProfile()
	prof.Plugins = append(prof.Plugins, framework.PluginConfig{Name: holdName})
	c.Registry, c.Profiles = h.registry(), []framework.Profile{prof}
}

func createNodes(t *testing.T, e *env, nodes ...*corev1.Node) {
	t.Helper()
	for _, n := range nodes {
		if _, err := client.For[*corev1.Node](e.c).Create(t.Context(), n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// onNode makes p fit only node.
func onNode(p *corev1.Pod, node string) *corev1.Pod {
	p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
	return p
}

// nominated waits until preemptor is nominated to node and each victim is
// being deleted, and returns the preemptor.
func nominated(t *testing.T, pods *client.Typed[*corev1.Pod], preemptor, node string, victims ...string) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	eventually(t, 30*time.Second, func() error {
		p, err := pods.Get(t.Context(), "default", preemptor)
		if err != nil {
			return err
		}
		if p.Status.NominatedNodeName != node {
			return fmt.Errorf("%s is nominated to %q, want %s (conditions %v)", preemptor, p.Status.NominatedNodeName, node, p.Status.Conditions)
		}
		for _, name := range victims {
			v, err := pods.Get(t.Context(), "default", name)
			if err != nil {
				return err
			}
			if v.DeletionTimestamp == nil {
				return fmt.Errorf("victim %s is not being deleted", name)
			}
		}
		got = p
		return nil
	})
	return got
}

// finish ends a terminating victim, as its node agent would, and waits
// until it is gone.
func finish(t *testing.T, pods *client.Typed[*corev1.Pod], name string) {
	t.Helper()
	if _, _, err := pods.Delete(t.Context(), "default", name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if _, err := pods.Get(t.Context(), "default", name); !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: %v, want it gone", name, err)
		}
		return nil
	})
}

// preemptForHigh builds n1 (4 cpu) and n2 (2 cpu), binds a 3-cpu victim
// of priority 0 to n1 (the only node it fits), and creates high (3 cpu,
// priority 1000, held: see hold), which can only preempt it. It returns
// once high is nominated to n1, the victim (which the test deletes, as
// its node agent would) is gone, and high was turned away at Permit: the
// scheduler has seen n1 free and high nominated there. From then on only
// the nomination keeps n1's room for high, until the test releases it.
// With schedulerName set, high is of that profile, which the caller
// provides, with the hold plugin (holdName), through change.
func preemptForHigh(t *testing.T, e *env, schedulerName string, change func(*scheduler.Config)) (*client.Typed[*corev1.Pod], *replica, *hold) {
	t.Helper()
	ctx := t.Context()
	createNodes(t, e, node("n1", "4"), node("n2", "2"))
	h := newHold("high")
	r := runSchedulerWith(t, e, "s1", func(c *scheduler.Config) {
		h.configure(c)
		if change != nil {
			change(c)
		}
	})
	pods := client.For[*corev1.Pod](e.c)
	victim := pod("victim", "3")
	victim.Spec.TerminationGracePeriodSeconds = new(int64(30))
	if _, err := pods.Create(ctx, withPriority(victim, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "victim", 30*time.Second); got != "n1" {
		t.Fatalf("victim bound to %s, want n1", got)
	}
	high := withPriority(pod("high", "3"), 1000)
	high.Spec.SchedulerName = schedulerName
	if _, err := pods.Create(ctx, high, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nominated(t, pods, "high", "n1", "victim")
	finish(t, pods, "victim")
	h.waitTurnedAway(t, "high")
	return pods, r, h
}

// TestNominatedPodKeepsItsRoom: once the victim of a preemption is gone,
// a pod of lower priority than the preemptor that would fit in the room
// it freed (and that LeastAllocated would put there) is placed elsewhere
// while the preemptor cannot bind yet, and the preemptor then lands on
// its nominated node.
func TestNominatedPodKeepsItsRoom(t *testing.T) {
	e := start(t)
	pods, _, h := preemptForHigh(t, e, "", nil)
	if _, err := pods.Create(t.Context(), withPriority(pod("mid", "2"), 500), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "mid", 30*time.Second); got != "n2" {
		t.Errorf("mid bound to %s, want n2: n1's room is high's", got)
	}
	h.release("high")
	if got := boundTo(t, e, "high", 30*time.Second); got != "n1" {
		t.Errorf("high bound to %s, want its nominated node n1", got)
	}
}

// TestHigherPriorityTakesNominatedRoom: a pod of higher priority than the
// nominated one does not count it (as in kube-scheduler), so it may take
// the room; the nominated pod, with no lower-priority pod left to evict,
// then stays pending and says why.
func TestHigherPriorityTakesNominatedRoom(t *testing.T) {
	e := start(t)
	pods, _, _ := preemptForHigh(t, e, "", nil)
	ctx := t.Context()
	if _, err := pods.Create(ctx, withPriority(pod("top", "3"), 2000), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "top", 30*time.Second); got != "n1" {
		t.Errorf("top bound to %s, want n1", got)
	}
	eventually(t, 30*time.Second, func() error {
		h, err := pods.Get(ctx, "default", "high")
		if err != nil {
			return err
		}
		if h.Spec.NodeName != "" {
			t.Fatalf("high bound to %s, want it pending", h.Spec.NodeName)
		}
		if c := scheduledCondition(h); c == nil || c.Reason != corev1.PodReasonUnschedulable || !strings.Contains(c.Message, noVictims) {
			return fmt.Errorf("high's PodScheduled condition %+v, want Unschedulable: %s", c, noVictims)
		}
		return nil
	})
}

// noVictims is why high fails once top has its room.
const noVictims = "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."

// TestStaleNominationIsCleared: when the room a nominated pod waits for
// is taken by a pod of higher priority and preemption finds no other,
// the nomination is cleared, in the status and in the scheduler (as
// kube-scheduler does): a pod of lower priority that fits only in what
// is left of the room (and would count the nominated pod there) is then
// placed there.
func TestStaleNominationIsCleared(t *testing.T) {
	e := start(t)
	pods, r, _ := preemptForHigh(t, e, "", nil)
	ctx := t.Context()
	if _, err := pods.Create(ctx, withPriority(pod("top", "3"), 2000), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "top", 30*time.Second); got != "n1" {
		t.Fatalf("top bound to %s, want n1", got)
	}
	eventually(t, 30*time.Second, func() error {
		h, err := pods.Get(ctx, "default", "high")
		if err != nil {
			return err
		}
		if c := scheduledCondition(h); c == nil || !strings.Contains(c.Message, noVictims) {
			return fmt.Errorf("high's PodScheduled condition %+v, want: %s", c, noVictims)
		}
		if h.Status.NominatedNodeName != "" {
			return fmt.Errorf("high is still nominated to %s", h.Status.NominatedNodeName)
		}
		if n := r.s.NominatedTo(h.UID); n != "" {
			return fmt.Errorf("the scheduler still has high nominated to %s", n)
		}
		return nil
	})
	if _, err := pods.Create(ctx, onNode(withPriority(pod("low", "1"), 500), "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "low", 30*time.Second); got != "n1" {
		t.Errorf("low bound to %s, want n1", got)
	}
}

// TestPreemptionTakesLowerNominations: a pod nominated to a node loses
// its nomination when a pod of higher priority preempts on that node (as
// kube-scheduler's prepareCandidate does), at once, while the evictions
// that made its own room may still be terminating. mid (priority 500)
// preempts v1 on n1 and is held; then top (priority 2000) preempts v2,
// which stays terminating, on n1. mid's own attempts could not clear its
// nomination meanwhile: with a terminating victim on its nominated node,
// it is not eligible to preempt (kube's ModeNoop).
func TestPreemptionTakesLowerNominations(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	createNodes(t, e, node("n1", "4"), node("n2", "2"))
	h := newHold("mid")
	r := runSchedulerWith(t, e, "s1", h.configure)
	pods := client.For[*corev1.Pod](e.c)
	for _, v := range []*corev1.Pod{pod("v1", "3"), onNode(pod("v2", "1"), "n1")} {
		v.Spec.TerminationGracePeriodSeconds = new(int64(600)) // never over during the test
		if _, err := pods.Create(ctx, withPriority(v, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := boundTo(t, e, v.Name, 30*time.Second); got != "n1" {
			t.Fatalf("%s bound to %s, want n1", v.Name, got)
		}
	}
	if _, err := pods.Create(ctx, withPriority(pod("mid", "3"), 500), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mid := nominated(t, pods, "mid", "n1", "v1")
	finish(t, pods, "v1")
	h.waitTurnedAway(t, "mid")
	if n := r.s.NominatedTo(mid.UID); n != "n1" {
		t.Fatalf("the scheduler has mid nominated to %q, want n1", n)
	}

	if _, err := pods.Create(ctx, withPriority(pod("top", "4"), 2000), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nominated(t, pods, "top", "n1", "v2")
	eventually(t, 30*time.Second, func() error {
		m, err := pods.Get(ctx, "default", "mid")
		if err != nil {
			return err
		}
		if m.Status.NominatedNodeName != "" {
			return fmt.Errorf("mid is still nominated to %s", m.Status.NominatedNodeName)
		}
		if n := r.s.NominatedTo(m.UID); n != "" {
			return fmt.Errorf("the scheduler still has mid nominated to %s", n)
		}
		return nil
	})
	if v2, err := pods.Get(ctx, "default", "v2"); err != nil || v2.DeletionTimestamp == nil {
		t.Fatalf("v2 should still be terminating: %v, %+v", err, v2)
	}
}

// TestRemovedProfileDropsNominations: when the SchedulerProfile of a
// nominated pod is deleted, the pod is no longer this scheduler's, and
// its nomination stops keeping its room: a pod of another profile that
// LeastAllocated puts there is placed there.
func TestRemovedProfileDropsNominations(t *testing.T) {
	const other = "other"
	e := start(t)
	ctx := t.Context()
	profiles := client.For[*skiffv1alpha1.SchedulerProfile](e.c)
	sp := &skiffv1alpha1.SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: other},
		Spec: skiffv1alpha1.SchedulerProfileSpec{SchedulerName: other, Plugins: []skiffv1alpha1.ProfilePlugin{{Name: holdName}}}}
	if _, err := profiles.Create(ctx, sp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods, r, _ := preemptForHigh(t, e, other, func(c *scheduler.Config) {
		c.Modules = &memModules{m: map[string][]byte{}} // uploaded profiles, without uploaded plugins
		c.Host = plugins.Config{CacheDir: t.TempDir()}
	})
	high, err := pods.Get(ctx, "default", "high")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := profiles.Delete(ctx, "", other, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if n := r.s.NominatedTo(high.UID); n != "" {
			return fmt.Errorf("the scheduler still has high nominated to %s", n)
		}
		return nil
	})
	if _, err := pods.Create(ctx, withPriority(pod("mid", "2"), 500), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := boundTo(t, e, "mid", 30*time.Second); got != "n1" {
		t.Errorf("mid bound to %s, want n1: high's nomination went with its profile", got)
	}
}
