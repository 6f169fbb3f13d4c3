// Package plan is skiff plan's protocol and its client side: Pods turns a
// manifest into the pods it would create (Pods as they are; Deployments,
// ReplicaSets, StatefulSets and Jobs as their pod template times their
// replicas or parallelism), Ask sends them to the leading scheduler
// (subject subjects.SchedulerPlan) and Print shows the answer.
//
// The scheduler answers by running its live profiles (uploaded WASM
// plugins included) over a copy of its cache, one pod after another so
// that each sees the earlier ones placed, and creates nothing. The
// scheduler side lives in package scheduler; this package knows nothing
// of it, only the wire types.
package plan
