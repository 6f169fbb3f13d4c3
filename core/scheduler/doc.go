// Package scheduler is Skiff's scheduler: it watches pods, nodes and
// namespaces through informers, keeps its own cache of the nodes and the
// pods assigned to them, queues the pods that wait for a node, and binds
// each to the node its profile's plugins choose, through the API server.
//
// Simulate is the decision core on its own: the same scheduling cycles
// over a cluster given as objects, with no API calls. Scheduler.Run is the
// shell around it: informers feed the cache and the queue; one goroutine
// runs scheduling cycles, one pod at a time; each placed pod is assumed in
// the cache at once (so the next cycle sees it) and bound in its own
// goroutine (the binding cycle: Permit wait, PreBind, Bind, PostBind); a
// failed binding forgets the pod and requeues it. A pod for which
// preemption made room is nominated to that node in the cache at once
// (and from its status.nominatedNodeName by the informer), so that the
// cycles of pods of no higher priority leave it the room; pods of lower
// priority nominated to that node lose their nominations, and a pod for
// which preemption later finds no node loses its own (in the cache at
// once, and in its status), as with kube-scheduler. An
// unschedulable pod gets a PodScheduled=False condition (reason
// Unschedulable and the Kubernetes-style message) and a FailedScheduling
// event; a bound pod a Scheduled event.
//
// Several replicas may run: a Lease (kube-system/skiff-scheduler by
// default) elects one; the others keep their caches warm and take over
// when the leader's lease lapses.
//
// With Config.Modules, profiles also come from the API: every replica
// watches Plugin and SchedulerProfile objects (skiff.dev/v1alpha1), loads
// each Plugin's version into its wazero host (a version that fails to
// load is refused and the previous one keeps serving), builds the
// SchedulerProfiles' frameworks, and installs them as a new generation.
// A scheduling cycle (and a dry run, Plan) holds the generation it
// started with to its end; a generation's modules are closed when its
// last user releases it. Each replica reports its plugins' state and
// counters onto the Plugin objects, at a bounded rate. The leader answers
// dry runs (skiff plan) on Config.Conn. See docs/plugins.md.
//
// Concurrency: Run owns every goroutine it starts (informers, the queue's
// timer, status writers, the election, the scheduling loop and the
// binding cycles) and returns once they have ended. The scheduling loop
// alone uses the engine's snapshot; the cache and the queue have their own
// locks and are never held together. The uploaded-plugin side (dynamic)
// runs on its own reconcile goroutine and a status reporter; its lock
// order is dynamic.mu before dynamic.refMu, with reportMu a leaf, and
// refMu is never held across I/O or a module load, so that the
// scheduling loop, which may release a generation, never waits on one.
package scheduler
