// Package images brings images to nodes without a registry: Push stores an
// image archive (docker save or OCI layout tar) in the cluster's JetStream
// Object Store (bucket subjects.ImagesBucket) as an OCI archive under its
// manifest digest, with each name:tag a link to it; a node's Puller,
// hooked in where the agent pulls, imports an image from there on demand,
// by digest, once, and falls back to the runtime's own registry pull for
// images the store does not hold. docs/images.md describes the layout.
//
// Invariants: an object's name is the digest of the manifest it holds, so
// the runtime's image ID after an import equals it, and an import is
// skipped when the runtime already has that digest under the wanted name.
// Concurrent pulls of the same digest and name share one download and
// import.
//
// Concurrency: a *Puller is safe for concurrent use; one mutex guards its
// bound bucket and its table of imports in flight, and is never held while
// reading from NATS or calling the runtime.
package images
