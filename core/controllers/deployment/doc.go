// Package deployment is the Deployment controller: it rolls a
// Deployment's pod template out through ReplicaSets, one per template
// (named <deployment>-<pod-template-hash>), with the RollingUpdate
// (maxSurge/maxUnavailable) or Recreate strategy; it keeps revisions
// (deployment.kubernetes.io/revision on the Deployment and its
// ReplicaSets), cleans up old ReplicaSets beyond revisionHistoryLimit,
// scales proportionally when a Deployment is scaled mid-rollout, honours
// paused rollouts, and reports status and the Progressing/Available/
// ReplicaFailure conditions with Kubernetes' reasons, so that kubectl's
// rollout status, history, undo, pause, resume and restart work.
//
// Rollback is kubectl's (a client-side template change to an earlier
// ReplicaSet's template): the controller recognises the existing
// ReplicaSet by its template and makes it the new one again, with the
// next revision and the old one kept in revision-history.
//
// Decide is the pure core: one sync of kube-controller-manager's
// deployment controller, followed step by step on copies of the objects,
// returning the writes (Plan) instead of making them. Controller is the
// shell: it claims ReplicaSets (owner.Claim), runs Decide on the shared
// cache, applies the Plan through the API server and records events
// (ScalingReplicaSet, FailedCreate, SelectingAll).
//
// One deliberate difference: a scale-down counts, of each ReplicaSet's
// available pods, at most its spec.replicas, so that a ReplicaSet that was
// just scaled down, whose controller has not caught up, is not counted as
// still serving; Kubernetes counts its status as is and can, in that
// window, scale below replicas-maxUnavailable.
//
// Concurrency: handlers run on the informers' goroutines and only queue
// keys; Run's workers sync distinct Deployments in parallel, one worker per
// Deployment at a time.
package deployment
