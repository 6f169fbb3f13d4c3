// Package queue is the controllers' work queue: a set of keys waiting to be
// processed, with per-key exponential back-off for keys that keep failing.
//
// Invariants, as in Kubernetes' workqueue:
//   - a key is queued at most once (adding a queued key does nothing);
//   - a key is processed by at most one worker at a time: a key added while
//     it is being processed is queued again when Done is called for it;
//   - keys come out in the order they were first added.
//
// AddAfter and AddRateLimited hold a key back for a while (one pending
// timer per key, the earliest wins); Forget resets a key's failure count.
//
// Concurrency: a *Queue is safe for concurrent use. It starts no goroutine
// of its own; delayed keys use runtime timers, which ShutDown stops.
// ShutDown is idempotent; after it Get returns shutdown=true at once and
// adds are ignored.
package queue
