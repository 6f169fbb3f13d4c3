// Package builtin holds the scheduler's built-in Go plugins, the registry
// that names them and the default profile, which enables them with the
// weights of kube-scheduler's defaults.
//
// Every plugin implements the framework's batched interfaces: Filter and
// Score see all candidate nodes of a pod in one call. Rejection reasons
// and scores follow kube-scheduler (v1.37) so that messages and placements
// read as Kubernetes users expect; where a plugin differs, its doc comment
// says how.
//
// Concurrency: plugins keep no per-pod state outside the CycleState and
// are safe for concurrent use. The statuses they return for rejected
// nodes are shared, immutable values.
package builtin
