// Package cache is the scheduler's picture of the cluster: every node
// with the pods assigned to it, bound or assumed, and the namespaces'
// labels. Informer handlers feed it; the scheduling cycle assumes a pod
// on its chosen node before the binding returns, so that the next cycle
// already counts it, and forgets it if the binding fails.
//
// Snapshots are what cycles read. UpdateSnapshot copies into a Snapshot
// only the nodes that changed since it was last updated (nodes are kept
// in a list ordered by last change, so this is proportional to the
// changes, not to the cluster); a Snapshot is then read without locks.
//
// The cache is also kube-scheduler's nominator: it holds the pending
// pods that preemption nominated to a node, and snapshots list them by
// node (framework.NominatedLister) so that cycles of other pods leave
// them the room. A pod the cache assumes leaves the nominated pods, and
// comes back to them if it is forgotten. Nominations end when the
// scheduler clears them: one at a time (RemoveNominatedPod), or those of
// lower priority on a node a preemptor was just nominated to
// (RemoveNominatedBelow).
//
// Invariants: a pod is on at most one node; an assumed pod stays until
// the informer confirms it (AddPod with a node), it is forgotten, or it is
// removed. A snapshot never lists a pod both on a node and among the
// nominated pods. Nodes are listed zone by zone, round robin, so that
// looking at a share of the nodes looks at every zone.
//
// Concurrency: a Cache is safe for concurrent use (one mutex, which the
// nominations share, so that a snapshot's nodes and nominated pods are
// taken at the same instant). A Snapshot
// is not: it belongs to the goroutine running scheduling cycles, which
// updates it between cycles.
package cache
