// Package validation owns the admission-independent rules Kubernetes applies to
// every write of a built-in object: the defaults filled in on create (Default)
// and the checks that turn a bad object into a 422 with field paths (Validate,
// ValidateUpdate, ValidateStatusUpdate).
//
// It covers the kinds Skiff serves from k8s.io/api: core/v1 Namespace, Pod,
// Node, ConfigMap, Secret, Service, Endpoints, Event and ServiceAccount;
// coordination/v1 Lease; apps/v1 Deployment, ReplicaSet, DaemonSet and
// StatefulSet; batch/v1 Job and CronJob. Checks, field paths and messages follow
// the Kubernetes API server's own validation (pkg/apis/*/validation) as closely
// as is practical; where this package knowingly differs, the function doing
// the check says so.
//
// Contract with the caller (the API server):
//   - Call Default before Validate, as Kubernetes decodes with defaulting
//     before it validates. Validate reports fields that Default would have
//     filled (for example spec.dnsPolicy) as Required.
//   - Resolve metadata.generateName and assign metadata.uid before calling
//     Validate; a missing name is reported as Required. For a Job, Default
//     derives the selector from metadata.uid, so call it once the UID is set.
//   - ValidateUpdate and ValidateStatusUpdate expect both objects to have been
//     through Default. Server-owned metadata (resourceVersion, timestamps,
//     generation) is the caller's business and is not checked here, except
//     that name, namespace and a non-empty uid may not change.
//   - Default is idempotent and may run on updates too. It re-adds the
//     create-time values (a Namespace's "kubernetes" finalizer, a Pod's
//     service account), so removing that finalizer must bypass it.
//   - For the status subresource the caller keeps the stored spec, as
//     Kubernetes does; ValidateStatusUpdate checks metadata identity and the
//     status only.
//
// Knowingly different from Kubernetes: an update may set a Pod's
// spec.nodeName once (binding by update), and the "pod updates may not
// change fields" error names the changed fields instead of printing a diff;
// a StatefulSet's serviceName, when set, must be a DNS label; the ConfigMap
// size error sits at "data" rather than at the empty path. Not covered:
// alpha features (toleration operators Lt/Gt, stop signals, file env
// sources beyond their required fields), sysctls, AppArmor and seccomp
// annotations, Windows-only pod rules, and the fields of legacy in-tree
// volume plugins (counted as a volume source, not inspected).
//
// Kinds this package does not know are left alone by Default and yield no
// errors from the Validate functions. Nil objects never panic: Default ignores
// them and the Validate functions report an internal error.
//
// The package is pure: no I/O (other than time.LoadLocation for CronJob time
// zones, which reads the system time zone database), no goroutines, no
// package-level mutable state. Every function is safe for concurrent use;
// Default mutates only the object it is given.
package validation
