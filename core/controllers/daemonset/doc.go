// Package daemonset is the DaemonSet controller: one daemon pod on every
// node that should run one, as Kubernetes' DaemonSet controller does.
//
// A node should run a daemon pod when the template's nodeName (if any),
// nodeSelector and required node affinity match it and the pod tolerates
// its NoSchedule and NoExecute taints, counting the tolerations every
// daemon pod gets (not-ready and unreachable NoExecute; disk, memory and
// PID pressure, unschedulable, and network-unavailable for hostNetwork,
// NoSchedule). A pod already there keeps running through a new NoSchedule
// taint; an untolerated NoExecute taint or a mismatch removes it.
//
// Pods are placed as Kubernetes does since 1.12: the controller does not
// set spec.nodeName; it pins the pod's required node affinity to
// "metadata.name In [node]" and the scheduler binds it (and so checks
// resources). Failed pods are deleted and replaced (after a back-off, see
// below); a node with two daemon pods keeps the oldest (with maxSurge, the
// oldest old one and the oldest new one until the new one is available).
//
// Updates: each distinct template is a ControllerRevision (package
// history) whose hash is the controller-revision-hash label of its pods,
// so `kubectl rollout history/undo daemonset` work. RollingUpdate replaces
// old pods node by node within maxUnavailable (rounded up), or with
// maxSurge starts the new pod beside the old one and deletes the old one
// once the new one is available; OnDelete replaces a pod only when it is
// deleted. Status: desiredNumberScheduled, currentNumberScheduled,
// numberMisscheduled, numberReady, numberAvailable (minReadySeconds),
// numberUnavailable, updatedNumberScheduled, observedGeneration,
// collisionCount: what `kubectl rollout status daemonset` reads.
//
// Decide is the pure core (nodes in name order, so decisions are
// repeatable); Controller is the shell: it claims pods, keeps revisions,
// creates pods in slow-start batches, deletes, writes status and records
// events (SuccessfulCreate, FailedCreate, SuccessfulDelete, FailedDelete,
// FailedDaemonPod). A failed daemon pod is replaced after a per-node
// back-off kept in memory (1 s doubling to 15 min, as Kubernetes), so that
// a node that keeps rejecting it is not hammered.
//
// Concurrency: handlers only queue keys; Run's workers sync distinct
// DaemonSets in parallel; the back-off map is guarded by one mutex, held
// only to copy or update it.
package daemonset
