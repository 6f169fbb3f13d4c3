// Package replicaset is the ReplicaSet controller: it keeps as many pods
// running as each ReplicaSet's spec.replicas asks for, adopting the
// orphans its selector matches and releasing the pods it stops matching,
// and reports replicas, fullyLabeledReplicas, readyReplicas,
// availableReplicas (with minReadySeconds), terminatingReplicas,
// observedGeneration and the ReplicaFailure condition.
//
// The decisions are pure: Plan (how many pods to create, which to delete,
// in Kubernetes' deletion order, RankForDeletion) and Status. Controller is
// the shell that reads the shared cache, claims pods (owner.Claim), writes
// through the API server and records events (SuccessfulCreate,
// FailedCreate, SuccessfulDelete, FailedDelete).
//
// While creations or deletions it made are not yet in its cache
// (expect.Expectations), the controller updates status but does not plan
// again, so that it never creates a second round of pods for the same
// shortfall. Pods are created in slow-start batches (1, 2, 4, ...) that stop
// at the first failure.
//
// Concurrency: handlers run on the informers' goroutines and only queue
// keys; Run's workers sync distinct ReplicaSets in parallel, one worker per
// ReplicaSet at a time.
package replicaset
