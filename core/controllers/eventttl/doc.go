// Package eventttl expires core/v1 Events, as kube-apiserver's --event-ttl
// does: an Event whose last activity is TTL (default one hour) or more in
// the past is deleted through the API server, so that watchers see an
// ordinary DELETED event and the bucket, every watcher's memory and every
// list stop growing with the cluster's age.
//
// An Event's last activity (Activity) is the latest of its lastTimestamp,
// eventTime and series.lastObservedTime, or its creationTimestamp when
// none of them is set; a repeat that bumps the count moves it forward.
// Due, the pure core, picks from the known Events those that have expired,
// oldest first, at most a batch of them. Controller is the shell: it keeps
// a small index of every Event (namespace, name, uid, resourceVersion,
// last activity) fed by its own watch of the store, not the full objects,
// and every Interval runs a pass that deletes what Due picks, each
// deletion conditional on the uid and resourceVersion the index holds (an
// Event updated or re-created meanwhile is left for the index to catch
// up), paced at Rate deletions per second. A pass that leaves expired
// Events behind is followed at once by the next, still paced, so a backlog
// of any size drains at Rate without one burst of deletions.
//
// Only the leading controller manager runs it; a deletion another replica
// or a user made first is counted as gone, not as an error.
//
// Concurrency: Run owns two goroutines (the watch and the passes) and
// returns after both have ended. The index has its own mutex, held only
// around map access; passes are serialized by a second one, never taken
// while the index's is held.
package eventttl
