// Package blob stores immutable byte blobs by name in a JetStream Object
// Store bucket: the uploaded WebAssembly modules live here, named by their
// digest. A blob is written once and read whole; Put of a name that exists
// with the same content is a no-op.
//
// Store is safe for concurrent use and starts no goroutines.
package blob
