// Package statefulset is the StatefulSet controller: pods with stable
// names <set>-<ordinal> (from spec.ordinals.start), hostname and subdomain
// (the governing Service), created and deleted as Kubernetes'
// StatefulSet controller does.
//
// OrderedReady (the default) creates ordinals in order, each Running and
// Ready (and available, with minReadySeconds) before the next, re-creates
// failed pods in place, and scales down from the highest ordinal, one at
// a time, only when every lower pod is healthy (the first unhealthy pod
// may go). Parallel does all of that at once and waits for nothing.
//
// Updates: each distinct template is a ControllerRevision (package
// history); pods carry their revision's name in controller-revision-hash.
// RollingUpdate deletes, from the highest ordinal down to
// rollingUpdate.partition, the first pod not at the update revision, once
// every pod above it is healthy, and the pod is re-created at the update
// revision; new pods below the partition get the current revision. Once
// every pod is updated and ready, status.currentRevision becomes
// status.updateRevision (as in Kubernetes, only for RollingUpdate).
// OnDelete replaces a pod only when someone deletes it. Status: replicas,
// readyReplicas, availableReplicas, currentReplicas, updatedReplicas,
// currentRevision, updateRevision, observedGeneration, collisionCount:
// what `kubectl rollout status statefulset` reads.
//
// volumeClaimTemplates are accepted but not provisioned (Skiff has no
// volume provisioner yet): each pod gets an emptyDir of the claim's name
// so that its mounts resolve, and the set gets one Warning event,
// VolumeClaimTemplatesIgnored, saying so. persistentVolumeClaimRetentionPolicy
// is therefore moot, and maxUnavailable for rolling updates (alpha in
// Kubernetes) is not honoured: one pod at a time.
//
// Decide is the pure core; Controller is the shell. It needs no
// expectations: names are stable, so a create the cache has not caught up
// with fails with AlreadyExists, and deletions carry a UID precondition.
//
// Concurrency: handlers only queue keys; Run's workers sync distinct sets
// in parallel.
package statefulset
