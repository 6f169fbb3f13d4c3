// Package dependents turns the events of the objects a controller owns
// (its dependents: pods, ReplicaSets) into work for the owners they
// concern: the cached owner a dependent's controller reference names, or,
// for an orphan, the owners whose selector matches it and may adopt it.
//
// Owners answers those two questions from the shared cache. Expecting
// wires a pod informer for a controller that keeps expectations (the
// DaemonSet and Job controllers): it observes the creations and deletions
// of the owners' pods and queues their keys. Controllers whose handlers
// differ in meaning (the ReplicaSet's, which follows
// kube-controller-manager's label- and resourceVersion-sensitive rules,
// the StatefulSet's, which keeps no expectations) use Owners alone.
//
// Concurrency: Owners holds no state and reads only the cache; the
// handlers run on the informer's goroutine like any other.
package dependents
