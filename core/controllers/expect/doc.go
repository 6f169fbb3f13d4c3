// Package expect records the writes a controller has made and not yet seen
// come back through its informers, so that it does not act twice on a
// state its own writes are about to change (kube-controller-manager's
// "expectations").
//
// A controller that creates n pods for a ReplicaSet calls ExpectCreations
// with n before creating them; each pod the informer then delivers lowers
// the count (CreationObserved), as does each create that fails. Until the
// count reaches zero the controller's cache is behind its own writes and
// Satisfied reports false: the controller may update status but must not
// create or delete more. Deletions are tracked by UID, so that a deletion
// is counted once whether the informer shows the pod terminating, gone, or
// both. An expectation older than the TTL (default 5 minutes) is
// considered satisfied, so that a lost event cannot wedge a controller.
//
// Concurrency: an *Expectations is safe for concurrent use.
package expect
