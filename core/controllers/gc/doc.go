// Package gc is the garbage collector: it deletes objects whose owners
// (metadata.ownerReferences) are gone, and carries out the two
// propagation policies that need it, through the finalizers an owner
// being deleted carries:
//
//   - background (the default): once an owner is gone, each of its
//     dependents that has no other live owner is deleted (and its own
//     dependents after it, in turn);
//   - foreground (finalizer foregroundDeletion): the owner stays, with its
//     deletionTimestamp, while its dependents that block it
//     (blockOwnerDeletion) are deleted; then the finalizer comes off and
//     the API server removes the owner;
//   - orphan (finalizer orphan): the owner's references are removed from
//     its dependents, then the finalizer, and the dependents stay.
//
// The decisions are pure: Judge (the fate of an object, from the state of
// each of its owner references) and Drain (when a foreground owner may
// go). Collector is the shell: it watches every served kind but Events
// (a shared informer per kind, indexed by owner UID), queues the objects
// whose owners look absent or deleting, confirms absence with a read from
// the API server (an owner the cache does not know may just not have
// arrived yet), and writes through the API server: deletions with a UID
// precondition, so that an object re-created under the same name is never
// taken for its predecessor.
//
// Concurrency: handlers run on the informers' goroutines and only queue
// keys; two reconcile loops (judge, orphan) each run Workers workers.
package gc
