package scheduler

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// The informers' handlers: assigned pods go to the cache, pending pods of
// this scheduler's profiles to the queue (and, when preemption nominated
// them to a node, to the cache's nominated pods), and each change that
// can make a waiting pod fit is announced to the queue. They run on the
// informers' goroutines.

func assigned(p *corev1.Pod) bool { return p.Spec.NodeName != "" }

// pending reports whether p waits for this scheduler to place it: not
// assigned, of one of its profiles, not being deleted, not finished.
func (s *Scheduler) pending(p *corev1.Pod) bool {
	return !assigned(p) && s.responsible(p) && p.DeletionTimestamp == nil && !terminal(p)
}

func (s *Scheduler) addPod(p *corev1.Pod) {
	switch {
	case assigned(p):
		if terminal(p) {
			return
		}
		s.eng.cache.AddPod(p)
		s.queue.MoveAll(framework.EventAssignedPodAdd)
	case s.pending(p):
		s.queue.Add(p)
		s.nominate(nil, p)
	}
}

func (s *Scheduler) updatePod(old, cur *corev1.Pod) {
	if !assigned(cur) {
		if s.pending(cur) {
			s.queue.Update(cur)
			s.nominate(old, cur)
		} else {
			s.queue.Delete(cur)
			s.eng.cache.RemoveNominatedPod(cur.UID)
		}
		return
	}
	if !assigned(old) {
		s.queue.Delete(old) // bound, by this scheduler or another
	}
	if terminal(cur) {
		// A finished pod takes no room any more.
		s.eng.cache.RemovePod(cur)
		s.queue.MoveAll(framework.EventAssignedPodDelete)
		return
	}
	s.eng.cache.UpdatePod(cur)
	if !assigned(old) {
		s.queue.MoveAll(framework.EventAssignedPodAdd)
		return
	}
	if act := podActions(old, cur); act != 0 {
		s.queue.MoveAll(framework.ClusterEvent{Resource: framework.AssignedPod, Action: act})
	}
}

func (s *Scheduler) deletePod(p *corev1.Pod) {
	if !assigned(p) {
		s.queue.Delete(p)
		s.eng.cache.RemoveNominatedPod(p.UID)
		return
	}
	s.eng.cache.RemovePod(p)
	s.queue.MoveAll(framework.EventAssignedPodDelete)
}

// nominate follows a pending pod's status.nominatedNodeName into the
// cache (old is nil for a new pod). An update where neither old nor cur
// has one keeps the nomination the cache has: it may be one that
// preemption just made and whose status write has not landed yet (as
// kube-scheduler's nominator does). Assigned pods leave the nominated
// pods in the cache itself.
func (s *Scheduler) nominate(old, cur *corev1.Pod) {
	switch {
	case cur.Status.NominatedNodeName != "":
		s.eng.cache.NominatePod(framework.NewPodInfo(cur), cur.Status.NominatedNodeName)
	case old != nil && old.Status.NominatedNodeName != "":
		s.eng.cache.RemoveNominatedPod(cur.UID)
	}
}

// podActions says what changed in an assigned pod that other pods'
// placement depends on.
func podActions(old, cur *corev1.Pod) framework.ActionType {
	var a framework.ActionType
	if !maps.Equal(old.Labels, cur.Labels) {
		a |= framework.UpdatePodLabel
	}
	o, c := framework.PodRequests(old, framework.RequestOptions{}), framework.PodRequests(cur, framework.RequestOptions{})
	if o.MilliCPU != c.MilliCPU || o.Memory != c.Memory || o.EphemeralStorage != c.EphemeralStorage || !maps.Equal(o.Scalar, c.Scalar) {
		a |= framework.UpdatePodRequest
	}
	return a
}

func (s *Scheduler) addNode(n *corev1.Node) {
	s.eng.cache.AddNode(n)
	s.queue.MoveAll(framework.EventNodeAdd)
}

func (s *Scheduler) updateNode(old, cur *corev1.Node) {
	s.eng.cache.UpdateNode(cur)
	if act := nodeActions(old, cur); act != 0 {
		s.queue.MoveAll(framework.ClusterEvent{Resource: framework.NodeEvent, Action: act})
	}
}

func (s *Scheduler) deleteNode(n *corev1.Node) {
	s.eng.cache.RemoveNode(n.Name)
	s.queue.MoveAll(framework.ClusterEvent{Resource: framework.NodeEvent, Action: framework.Delete})
}

// nodeActions says what changed in a node that placement depends on;
// heartbeats (condition times) change nothing.
func nodeActions(old, cur *corev1.Node) framework.ActionType {
	var a framework.ActionType
	if !equality.Semantic.DeepEqual(old.Status.Allocatable, cur.Status.Allocatable) {
		a |= framework.UpdateNodeAllocatable
	}
	if !maps.Equal(old.Labels, cur.Labels) {
		a |= framework.UpdateNodeLabel
	}
	if !equality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) {
		a |= framework.UpdateNodeTaint
	}
	if old.Spec.Unschedulable != cur.Spec.Unschedulable {
		a |= framework.UpdateNodeUnschedulable
	}
	cond := func(n *corev1.Node) []string {
		out := make([]string, 0, len(n.Status.Conditions))
		for _, c := range n.Status.Conditions {
			out = append(out, string(c.Type)+"="+string(c.Status))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(cond(old), cond(cur)) {
		a |= framework.UpdateNodeCondition
	}
	return a
}

func (s *Scheduler) setNamespace(ns *corev1.Namespace) { s.eng.cache.SetNamespace(ns) }

func (s *Scheduler) updateNamespace(old, cur *corev1.Namespace) {
	s.eng.cache.SetNamespace(cur)
	if !maps.Equal(old.Labels, cur.Labels) {
		s.queue.MoveAll(framework.ClusterEvent{Resource: framework.NamespaceEvent, Action: framework.Update})
	}
}

func (s *Scheduler) deleteNamespace(ns *corev1.Namespace) { s.eng.cache.RemoveNamespace(ns.Name) }
