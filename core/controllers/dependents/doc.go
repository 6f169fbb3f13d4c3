// Package dependents turns the events of the objects a controller owns
// (its dependents: pods, ReplicaSets) into work for the owners they
// concern: the cached owner a dependent's controller reference names, or,
// for an orphan, the owners whose selector matches it and may adopt it.
//
// Owners answers those two questions from the shared cache, and its
// Changed and Updated queue the owners an add, delete or update concerns
// (Updated by kube-controller-manager's rules: resyncs, moved controller
// references and relabelled orphans). Expecting wires a pod informer for
// a controller that keeps expectations the simple way (the DaemonSet and
// Job controllers): it observes the creations and deletions of the
// owners' pods and queues their keys. The ReplicaSet controller observes
// its expectations by kube-controller-manager's finer rules (a pod first
// seen terminating, a relabelled pod deleted) and composes its handlers
// from Owners itself.
//
// Concurrency: Owners holds no state and reads only the cache; the
// handlers run on the informer's goroutine like any other.
package dependents
