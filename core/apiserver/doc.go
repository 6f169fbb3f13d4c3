// Package apiserver is Skiff's API server: the only writer of cluster
// state. It validates and defaults objects, sets the metadata the server
// owns (uid, creationTimestamp, generation, resourceVersion), keeps spec and
// status writes apart, enforces optimistic concurrency with the store's
// revisions, and answers with Kubernetes errors (*errors.StatusError from
// k8s.io/apimachinery, which carry the Status body).
//
// One implementation, several doors: Server's methods are the operations;
// ServeNATS exposes them over NATS request/reply in a queue group so that
// several replicas share the load; the HTTPS door (Kubernetes REST) calls
// the same methods.
//
// Concurrency: a *Server is safe for concurrent use and keeps no state
// that replicas would have to share: everything lives in the store. Run
// owns the background loops (namespace finalization, tombstone
// compaction); ServeNATS owns its handler goroutines. Both return when
// their context ends.
package apiserver
