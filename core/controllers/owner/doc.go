// Package owner decides which objects a controller owns: controller
// owner references, and the claim rules by which a controller adopts the
// orphans its selector matches and releases the objects it no longer
// matches (Kubernetes' ControllerRefManager), as pure functions.
//
// Claim decides; a Claimer writes the adoptions and releases through the
// two API calls it needs (a small Getter and Updater, which *client.Typed
// satisfies). Before it adopts, it makes sure the owner object is still
// the one the controller read (same UID, not being deleted), reading it
// afresh from the API server, so that a deleted and re-created owner does
// not adopt what its predecessor's garbage collection is about to remove.
//
// Concurrency: the functions are pure; a Claimer holds no state and is
// safe for concurrent use when its Getter and Updater are.
package owner
