// Package controllers is Skiff's controller manager: the reconcile loops
// that turn desired state into running pods and keep it so (ReplicaSet,
// Deployment, DaemonSet, StatefulSet, Job, CronJob, the garbage collector,
// Endpoints, node lifecycle, and modulegc, which deletes uploaded plugin
// modules no Plugin references) and the expiry of Events, run by one active
// replica among several (leader election on a kube-system Lease). RunOn is
// the entry point of a core/controlplane.Component.
//
// A Manager campaigns for the lease; while it holds it, it builds a fresh
// shared cache (one informer per kind, shared by every controller), waits
// for its first list, runs the controllers, and stops them all when the
// lease is lost or its context ends. Nothing survives a term: the next one
// starts from a fresh cache, so a replica that lost the lease never acts
// on what it saw while leading.
//
// The subpackages are the parts: queue (rate-limited work queue), expect
// (expectations), leader (election), cache (shared informers), reconcile
// (workers), events (recorder), owner and pods (shared rules), dependents
// (which owner a dependent's event concerns), podcontrol (pod writes with
// expectations), history (ControllerRevisions), and one package per
// controller, each a pure planning core inside a thin shell.
//
// Concurrency: Run owns every goroutine it starts and returns after they
// have all ended.
package controllers
