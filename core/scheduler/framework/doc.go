// Package framework is the scheduling framework: the extension points a
// scheduler plugin implements (PreEnqueue, PreFilter, Filter, PostFilter,
// PreScore, Score with NormalizeScore, Reserve/Unreserve, Permit, PreBind,
// Bind, PostBind), the node and pod views plugins read (NodeInfo,
// PodInfo), and Framework, which runs one profile's plugins over a
// snapshot of the cluster.
//
// Calls are batched. Filter and Score receive every candidate node of a
// pod in one call and answer per node (a status per node, a score per
// node), so that a plugin that is expensive to enter (a WebAssembly guest)
// is entered once per pod and extension point, never once per node. The
// built-in Go plugins use the same interfaces.
//
// Nominated pods: when the Lister a cycle runs over is a NominatedLister,
// a node with pods nominated to it of at least the incoming pod's
// priority passes Filter only if it passes both as it is and on a copy
// with those pods added (Generation 0), as kube-scheduler's
// RunFilterPluginsWithNominatedPods. Plugins that judge from PreFilter
// state over the whole cluster do not see the nominated pods.
//
// Invariants: NodeInfo and PodInfo values handed to plugins are immutable
// snapshots; plugins must not modify them, nor the Kubernetes objects
// they point to. A Status returned by a plugin may be shared between
// nodes and cycles; the framework never modifies one.
//
// Concurrency: a Framework is safe for concurrent use once built; each
// scheduling cycle has its own CycleState. Plugins are called from the
// goroutine running the cycle, one extension point at a time, so a plugin
// must be safe for concurrent use only across cycles (the scheduling cycle
// of one pod runs while the binding cycles of earlier pods do). The
// waiting-pods map (Permit) has its own mutex and calls no plugin while
// holding it.
package framework
