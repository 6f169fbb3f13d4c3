// Package store is Skiff's state store: a key/value store with revisions
// on top of one JetStream KV bucket. It provides get, consistent list with
// its revision, create, compare-and-swap update and delete, and watch from a
// revision. It knows nothing of what the values mean.
//
// Keys are "."-separated tokens (build them with subjects.Token); a key's
// revision is the bucket stream's sequence number of its last write, so
// revisions are bucket-wide, strictly increasing, and comparable across keys.
//
// Watch guarantees: events arrive in revision order. A watcher that falls
// behind may not see every intermediate value of a key (the bucket keeps
// Config.History values per key), but it always sees each key's latest value
// and every deletion, because a deletion is a tombstone that stays in the
// bucket until Compact removes it after Config.TombstoneRetention. Compact
// records the revision it compacted to; a watch or list continuation from
// an older revision fails with ErrTooOld, and so does a running watcher
// that lags far enough behind that a tombstone it has not yet delivered
// could have been compacted. ErrTooOld means: list again, then watch from
// the list's revision.
//
// Concurrency: a *Store is safe for concurrent use. Each Watcher owns one
// JetStream consumer and one goroutine, which Stop ends.
package store
