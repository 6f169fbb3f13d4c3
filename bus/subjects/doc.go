// Package subjects is the one place where Skiff's NATS subject, queue group
// and JetStream bucket names are spelled. Every component builds its
// subjects through these functions so that a rename is one change.
//
// Layout (a trailing ">" is a NATS wildcard):
//
//	skiff.api.<op>          API server operations (request/reply, queue "apiserver")
//	skiff.node.<name>.>     everything addressed to one node agent
//	skiff.node.<name>.logs  the node's container logs (request/reply, see PodLogs)
//	skiff.events.>          cluster events
//
// JetStream buckets: objects, leases, nodepods, ipalloc (KV) and images
// (Object Store).
//
// Subject tokens that carry names are escaped with Token, since
// Kubernetes names may contain ".", NATS's separator.
package subjects
