// Package podcontrol creates and deletes the pods of a controller that
// keeps expectations (ReplicaSet, DaemonSet, Job): Kubernetes' PodControl
// and the bookkeeping every such controller does around it.
//
// A Control raises the owner's expectations before it writes, lowers them
// again for each write that will never be observed (it failed, or was not
// tried), and records the SuccessfulCreate / FailedCreate /
// SuccessfulDelete / FailedDelete events. Creations run in slow-start
// batches (1, 2, 4, ...) that stop at the first batch with a failure, so
// that a controller whose creates all fail (quota, a bad template) sends
// one request, not hundreds; deletions run all at once.
//
// Controllers that need no expectations (StatefulSet: stable names) or
// write other kinds (Deployment, CronJob) write for themselves.
//
// Concurrency: a Control holds no state of its own; its methods are safe
// for concurrent use and return after every write they started has ended.
package podcontrol
