// Package nodelifecycle is the node lifecycle controller: it notices
// nodes whose heartbeats stop, marks them lost, and moves their pods
// away, so that their controllers replace them elsewhere.
//
// A heartbeat is a renewal of the node's Lease in kube-node-lease, or a
// new lastHeartbeatTime in its Ready condition; the controller judges
// their age by its own clock (when it saw each one), as Kubernetes does,
// so that node clocks do not matter. GracePeriod after the last heartbeat
// the node's conditions become Unknown (NodeStatusUnknown), it is tainted
// node.kubernetes.io/unreachable (NoSchedule and NoExecute; not-ready for
// Ready=False), its pods are marked not ready, and each pod is evicted
// (deleted) when its toleration of the taint runs out: at once without
// one, DefaultToleration for the two node taints, never when it tolerates
// them without limit. A node that reports Ready again loses the taints.
//
// Health, Taints, Evictions and NotReady are the pure core; Controller
// the shell.
//
// Concurrency: handlers record heartbeats and queue node names; the
// heartbeat map has its own mutex, held only around map access.
package nodelifecycle
