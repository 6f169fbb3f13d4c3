// Package agent is Skiff's node agent, the kubelet of one node: it
// registers the node's Node object, renews its Lease in kube-node-lease
// (every 2 s by default) and reports the node's status, receives the
// pods bound to the node, and drives a runtime.Runtime so that each pod
// runs as its spec says, reporting pod status as the kubelet does.
//
// A node reads only its own pods: it lists and watches its prefix of the
// node index (bucket subjects.NodePodsBucket, keys api.NodePodKey), one
// JetStream consumer per node, and writes pod status, pod deletions, the
// Lease and the Node through the API server (sdk/client). Many agents can
// share one connection, one client and one bound index store: that is how
// one process runs thousands of simulated nodes.
//
// Each pod has a worker goroutine that is level-triggered: woken by a pod
// change, a runtime event or a timer, it reads the pod's latest state and
// the runtime's, asks lifecycle.Decide what to do, does it, and writes
// lifecycle.Status when it changed. The decisions are pure
// (nodes/lifecycle); this package is the shell around them.
//
// Pod files: with Config.VolumeDir the agent keeps each pod's volumes
// (emptyDir, configMap, secret, downwardAPI, projected), its /etc/hosts
// and its containers' termination message files under
// <VolumeDir>/<pod uid>, written atomically, and removes
// them when the pod is gone (also for pods deleted while it was down);
// hostPath volumes are checked, never removed. A configMap or secret that
// a container needs and that is missing is its CreateContainerConfigError.
//
// Restarts: the runtime keeps the agent's labels on sandboxes and
// containers, so a restarted agent finds what it ran by pod UID: its
// workers adopt running containers instead of starting new ones, and pods
// that disappeared meanwhile are cleaned up. Back-offs and probe results
// live in memory and start afresh, as the kubelet's do.
//
// Concurrency: Run owns every goroutine it starts (heartbeat, node
// status, runtime events, the pod watch and one worker per pod) and
// returns after they have all ended. Agent.mu guards the worker table and
// is taken inside runtime event callbacks, so the agent never calls the
// runtime while holding it; each worker's mu guards only the latest pod
// state handed to it.
package agent
