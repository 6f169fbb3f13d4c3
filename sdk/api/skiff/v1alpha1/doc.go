// Package v1alpha1 is Skiff's own API group, skiff.dev/v1alpha1: the
// kinds Kubernetes has no equivalent for. Plugin describes an uploaded
// WebAssembly module and its versions (the module bytes live in the
// JetStream Object Store, named by digest); SchedulerProfile is a
// scheduling policy that pods select by spec.schedulerName, made of
// built-in and uploaded plugins.
//
// Both kinds are cluster-scoped, stored as JSON (they have no protobuf
// encoding), and have a status subresource that the schedulers write.
// The types follow Kubernetes' API conventions: spec is desired state,
// status is observed state, and every type has a hand-written deep copy
// (zz_deepcopy.go).
package v1alpha1
