package builtin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// DefaultPreemption is kube-scheduler's preemption, as a PostFilter
// plugin that only decides: when no node fits a pod, it looks for the
// node where evicting the fewest, least important lower-priority pods
// makes the pod fit, and returns that node and those victims (the
// scheduler evicts them and nominates the node; the pod is retried when
// they are gone).
//
// On each node rejected for a reason evictions can remove (Unschedulable,
// not UnschedulableAndUnresolvable), it removes every pod of lower
// priority, checks that the pod then passes the profile's filters, and
// adds the removed pods back, most important first, as long as the pod
// still fits ("reprieve"): those that cannot come back are the victims.
// Among nodes, it prefers (as kube-scheduler) the lowest highest victim
// priority, then the fewest victims, then the lowest sum of priorities,
// then the latest-started victims, then the node name. The filters it
// tries count the pods already nominated to the node with a priority at
// least the pod's (Handle.RunFilters), so it never counts on room such a
// pod is owed; pods nominated there with a lower priority are neither
// counted nor victims (the scheduler takes their nomination away when it
// nominates the pod there).
//
// When no node works, the result asks for the pod's nomination to be
// cleared (PostFilterResult.ClearNomination), as kube-scheduler does: the
// room it was nominated for is gone (a pod of higher priority took it)
// and no eviction makes another. A pod not eligible to preempt (policy
// Never, or lower-priority pods on its nominated node still terminating)
// keeps its nomination.
//
// Differences from kube-scheduler: PodDisruptionBudgets are not considered (Skiff has none); plugins whose
// Filter reads state computed at PreFilter over the whole cluster
// (InterPodAffinity, PodTopologySpread) see the state before the
// evictions and without the nominated pods, so preemption never relies
// on evictions changing what they decide; a pod whose nominated node
// still has terminating lower-priority pods waits for them instead of
// preempting again.
type DefaultPreemption struct {
	h framework.Handle
}

var _ framework.PostFilterPlugin = (*DefaultPreemption)(nil)

func newDefaultPreemption(args any, h framework.Handle) (framework.Plugin, error) {
	return &DefaultPreemption{h: h}, noArgs(args)
}

// Name implements framework.Plugin.
func (*DefaultPreemption) Name() string { return DefaultPreemptionName }

// candidate is a node and the pods to evict there.
type candidate struct {
	node    string
	victims []*framework.PodInfo
}

// PostFilter implements framework.PostFilterPlugin.
func (pl *DefaultPreemption) PostFilter(ctx context.Context, state *framework.CycleState, pod *framework.PodInfo, d *framework.Diagnosis) (*framework.PostFilterResult, *framework.Status) {
	if p := pod.Pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption: not eligible due to preemptionPolicy=Never")
	}
	prio := framework.PodPriority(pod.Pod)
	if nn := pod.Pod.Status.NominatedNodeName; nn != "" {
		if ni := state.Nodes().Get(nn); ni != nil && slices.ContainsFunc(ni.Pods, func(p *framework.PodInfo) bool {
			return p.Pod.DeletionTimestamp != nil && framework.PodPriority(p.Pod) < prio
		}) {
			return nil, framework.NewStatus(framework.Unschedulable, "preemption: not eligible due to a terminating pod on the nominated node")
		}
	}
	names := make([]string, 0, len(d.NodeToStatus))
	for name := range d.NodeToStatus {
		names = append(names, name)
	}
	slices.Sort(names)
	var best *candidate
	unhelpful, noVictims := 0, 0
	for _, name := range names {
		if d.NodeToStatus[name].Code() != framework.Unschedulable {
			unhelpful++
			continue
		}
		ni := state.Nodes().Get(name)
		if ni == nil || ni.Node() == nil {
			unhelpful++
			continue
		}
		c, ok := pl.victimsOn(ctx, state, pod, ni, prio)
		if !ok {
			noVictims++
			continue
		}
		if ctx.Err() != nil {
			return nil, framework.AsStatus(ctx.Err())
		}
		if best == nil || better(c, best) {
			best = c
		}
	}
	if best == nil {
		var parts []string
		if noVictims > 0 {
			parts = append(parts, fmt.Sprintf("%d No preemption victims found for incoming pod", noVictims))
		}
		if unhelpful > 0 {
			parts = append(parts, fmt.Sprintf("%d Preemption is not helpful for scheduling", unhelpful))
		}
		slices.Sort(parts) // as kube-scheduler sorts its reasons
		return &framework.PostFilterResult{ClearNomination: true}, framework.NewStatus(framework.Unschedulable,
			fmt.Sprintf("preemption: 0/%d nodes are available: %s", len(state.Nodes().List()), strings.Join(parts, ", ")))
	}
	res := &framework.PostFilterResult{NominatedNodeName: best.node}
	names = names[:0]
	for _, v := range best.victims {
		res.Victims = append(res.Victims, v.Pod)
		names = append(names, v.Pod.Namespace+"/"+v.Pod.Name)
	}
	return res, framework.NewStatus(framework.Success,
		fmt.Sprintf("preemption: nominated node %s, evicting %s", best.node, strings.Join(names, ", ")))
}

// victimsOn finds the victims on ni, if evicting lower-priority pods
// makes pod fit there.
func (pl *DefaultPreemption) victimsOn(ctx context.Context, state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, prio int32) (*candidate, bool) {
	var lower []*framework.PodInfo
	for _, p := range ni.Pods {
		if framework.PodPriority(p.Pod) < prio && p.Pod.DeletionTimestamp == nil {
			lower = append(lower, p)
		}
	}
	if len(lower) == 0 {
		return nil, false
	}
	trial := ni.Clone()
	trial.Generation = 0 // a what-if: never cached by plugins
	for _, p := range lower {
		trial.RemovePod(p)
	}
	if !pl.h.RunFilters(ctx, state, pod, trial).IsSuccess() {
		return nil, false
	}
	// Reprieve the most important first (then the earliest started).
	slices.SortStableFunc(lower, func(a, b *framework.PodInfo) int {
		return cmp.Or(cmp.Compare(framework.PodPriority(b.Pod), framework.PodPriority(a.Pod)), startTime(a.Pod).Compare(startTime(b.Pod)))
	})
	c := &candidate{node: ni.Name()}
	for _, p := range lower {
		trial.AddPod(p)
		if !pl.h.RunFilters(ctx, state, pod, trial).IsSuccess() {
			trial.RemovePod(p)
			c.victims = append(c.victims, p)
		}
	}
	return c, true
}

// better reports whether a is a better candidate than b.
func better(a, b *candidate) bool {
	maxPrio := func(c *candidate) int32 {
		m := int32(-1 << 31)
		for _, v := range c.victims {
			m = max(m, framework.PodPriority(v.Pod))
		}
		return m
	}
	sum := func(c *candidate) int64 {
		var s int64
		for _, v := range c.victims {
			s += int64(framework.PodPriority(v.Pod)) + 1<<31 // keep negative priorities ordered
		}
		return s
	}
	latest := func(c *candidate) int64 {
		var t int64
		for _, v := range c.victims {
			t = max(t, startTime(v.Pod).UnixNano())
		}
		return t
	}
	if x, y := maxPrio(a), maxPrio(b); x != y {
		return x < y
	}
	if x, y := len(a.victims), len(b.victims); x != y {
		return x < y
	}
	if x, y := sum(a), sum(b); x != y {
		return x < y
	}
	if x, y := latest(a), latest(b); x != y {
		return x > y
	}
	return a.node < b.node
}

func startTime(p *corev1.Pod) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return p.CreationTimestamp.Time
}
