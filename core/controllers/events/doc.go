// Package events records what controllers do as core/v1 Events about the
// objects they act on (involvedObject set, source the controller), so that
// `kubectl describe` and `kubectl get events` show them.
//
// Recording never blocks a controller: events go through a bounded buffer
// to one writer (Run) and are dropped, and counted, when it is full. Like
// client-go's correlator, the writer
//   - counts a repeat of the same event (same object, type, reason,
//     message and source) within ten minutes in the stored Event's count
//     and lastTimestamp instead of creating another;
//   - combines, past ten different messages of one reason about one object
//     within ten minutes, the further ones into a single Event
//     ("(combined from similar events): ..."), so that a ReplicaSet that
//     creates 10,000 pods does not write 10,000 Events;
//   - drops an object's events beyond a burst of 25, refilled one per five
//     minutes (the spam filter), counting them as dropped.
//
// Concurrency: a *Recorder and the views Named returns are safe for
// concurrent use; Run must be called once and owns the writer.
package events
