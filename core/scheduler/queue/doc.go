// Package queue is the scheduling queue: the pods waiting for a node.
//
// A pod is in exactly one of three places, or in flight (popped, its
// cycle running):
//
//   - active: ready to be scheduled, highest priority first, then oldest;
//   - back-off: failed recently and waits initial×2^(attempts-1), capped,
//     before it becomes active again;
//   - unschedulable: no node fits and nothing has changed since; a cluster
//     event that one of the plugins that rejected it registered for (a
//     node added, a pod deleted...) moves it to back-off or active, and so
//     does waiting longer than MaxInUnschedulable, and so does Move,
//     which names the pods (the scheduler's own news about them, such as
//     a nomination taken away, is no cluster event). Pods held back by a
//     PreEnqueue plugin (scheduling gates) wait here too, until they are
//     updated.
//
// An event that happens while a pod is in flight sends it to back-off
// rather than to unschedulable if its attempt fails, so that the event is
// not missed.
//
// Concurrency: a Queue is safe for concurrent use; one mutex guards it.
// Pop blocks until a pod is active or its context ends; Run is the one
// goroutine that moves pods out of back-off when their time comes, and
// it returns when its context ends.
package queue
