// Package reconcile runs level-triggered reconcile loops: a work queue of
// object keys fed by informer events, drained by N workers, each calling
// the controller's Func with a key. A Func reads the current state (from
// caches) and drives the world towards the desired state; it never relies
// on what the event was, only on what is, so that a missed or merged event
// costs nothing but latency.
//
// A key is processed by one worker at a time (the queue guarantees it).
// A Func that fails is retried with per-key exponential back-off; one that
// succeeds has its back-off reset and may ask to be called again after a
// while (Result.RequeueAfter: time-based conditions such as minReadySeconds
// or a progress deadline).
//
// Concurrency: a *Controller is safe for concurrent use; Enqueue may be
// called before Run (keys wait) and after it returned (ignored). Run owns
// the workers and returns after they have all finished.
package reconcile
