// Package bus owns Skiff's connection to NATS: it starts an embedded
// nats-server with JetStream when no external server is given, and it holds
// the one NATS connection each process uses for request/reply and for the
// JetStream state store (package bus/store).
//
// bus knows nothing of Kubernetes objects: it moves bytes and headers.
// Subject names live in package bus/subjects.
//
// Concurrency: a *Conn is safe for use by many goroutines; Serve runs its
// handlers on a bounded pool of goroutines and returns only when they have
// all finished. An *Embedded server is started by Start and stopped by
// Shutdown, which is idempotent.
package bus
