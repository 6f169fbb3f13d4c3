// Package blobs stores large immutable byte streams in a JetStream Object
// Store bucket (images pushed without a registry, uploaded plugin modules):
// objects are written once under a name their writer chooses (a content
// digest), and named links point at them so that a readable name (an image
// name:tag) can move to new content; Delete removes either. It moves bytes
// and small string metadata only; what the bytes are, and when they may
// go, is its callers' business.
//
// Errors: ErrNotFound for a missing bucket, object or link target.
//
// Concurrency: a *Store is safe for concurrent use; reads stream from the
// server chunk by chunk, so an object never has to fit in memory.
package blobs
