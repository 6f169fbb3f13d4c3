// Package owner decides which objects a controller owns: controller
// owner references, and the claim rules by which a controller adopts the
// orphans its selector matches and releases the objects it no longer
// matches (Kubernetes' ControllerRefManager), as pure functions.
//
// Claim decides; the caller writes the adoptions and releases. Before it
// adopts, a controller must make sure its owner object is still the one
// it read (same UID, not being deleted), reading it afresh from the API
// server, so that a deleted and re-created owner does not adopt what its
// predecessor's garbage collection is about to remove.
package owner
