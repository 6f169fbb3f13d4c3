package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of Skiff's own kinds.
const GroupName = "skiff.dev"

// SchemeGroupVersion is the group version of this package's kinds.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// AddToScheme registers the kinds of this package in s.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion, &Plugin{}, &PluginList{}, &SchedulerProfile{}, &SchedulerProfileList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}

// PluginKind says which component loads a plugin.
type PluginKind string

// Plugin kinds.
const (
	// KindScheduler plugins are scheduler Filter and Score plugins.
	KindScheduler PluginKind = "scheduler"
)

// FailurePolicy says what a failed call (trap, timeout, bad answer) of a
// plugin means.
type FailurePolicy string

// Failure policies.
const (
	// FailurePolicyFail fails the pod's scheduling cycle; the pod is
	// retried after a back-off.
	FailurePolicyFail FailurePolicy = "Fail"
	// FailurePolicyIgnore treats the call as having no opinion.
	FailurePolicyIgnore FailurePolicy = "Ignore"
)

// Plugin is an uploaded WebAssembly module and its versions. Its name is
// the name profiles refer to it by.
type Plugin struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PluginSpec   `json:"spec"`
	Status PluginStatus `json:"status,omitempty"`
}

// PluginSpec is the version of a plugin that should run, and the ones
// that ran before.
type PluginSpec struct {
	// Kind is the component that loads the plugin: "scheduler".
	Kind PluginKind `json:"kind"`
	// Version names the version that should run ("v1", "v2", ...); it is
	// one of History's.
	Version string `json:"version"`
	// Digest is the module's "sha256:<hex>", its name in the Object Store.
	Digest string `json:"digest"`
	// Size is the module's size in bytes.
	Size int64 `json:"size"`
	// Settings are passed to the module when it loads (its configure
	// export), as JSON; the module refuses bad ones and the version is
	// then not loaded.
	Settings *runtime.RawExtension `json:"settings,omitempty"`
	// FailurePolicy applies to failed calls: Fail (the default) or Ignore.
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`
	// History lists every version pushed, oldest first (bounded: the
	// oldest are dropped past MaxHistory), for rollback.
	History []PluginVersion `json:"history,omitempty"`
}

// MaxHistory bounds PluginSpec.History.
const MaxHistory = 20

// PluginVersion is one pushed version of a plugin.
type PluginVersion struct {
	Version  string                `json:"version"`
	Digest   string                `json:"digest"`
	Size     int64                 `json:"size"`
	Settings *runtime.RawExtension `json:"settings,omitempty"`
	// Pushed is when the version was pushed.
	Pushed metav1.Time `json:"pushed,omitempty"`
}

// PluginState is how a plugin's wanted version fares in a replica.
type PluginState string

// Plugin states.
const (
	// PluginLoaded: the wanted version is loaded and serving.
	PluginLoaded PluginState = "Loaded"
	// PluginRefused: the wanted version failed to load (bad module, bad
	// settings, module missing from the store); the previous version, if
	// any, keeps serving.
	PluginRefused PluginState = "Refused"
)

// PluginStatus is what the schedulers observe of a plugin: one entry per
// scheduler replica, and a summary.
type PluginStatus struct {
	// ObservedGeneration is the metadata.generation of the spec that the
	// leading replica's State describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Version is the version the leading replica serves ("" if none).
	Version string `json:"version,omitempty"`
	// State is the leading replica's state of spec.version.
	State PluginState `json:"state,omitempty"`
	// Message says why a version was refused.
	Message string `json:"message,omitempty"`
	// Calls, Errors and P99 sum (Calls, Errors) or take the worst (P99)
	// of the replicas.
	Calls  int64 `json:"calls,omitempty"`
	Errors int64 `json:"errors,omitempty"`
	// P99 is the calls' 99th percentile latency, in microseconds.
	P99Micros int64 `json:"p99Micros,omitempty"`
	// LastError is the latest call failure any replica reported.
	LastError string `json:"lastError,omitempty"`
	// Replicas are the replicas' reports, by replica name.
	Replicas []PluginReplicaStatus `json:"replicas,omitempty"`
}

// PluginReplicaStatus is one scheduler replica's report on a plugin.
type PluginReplicaStatus struct {
	// Replica is the scheduler replica's identity.
	Replica string `json:"replica"`
	// ObservedGeneration is the generation of the spec State describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Version and Digest are what the replica serves.
	Version string      `json:"version,omitempty"`
	Digest  string      `json:"digest,omitempty"`
	State   PluginState `json:"state,omitempty"`
	Message string      `json:"message,omitempty"`
	Calls   int64       `json:"calls,omitempty"`
	Errors  int64       `json:"errors,omitempty"`
	// P99Micros is the replica's 99th percentile call latency in µs.
	P99Micros int64 `json:"p99Micros,omitempty"`
	// LastError is the replica's latest call failure.
	LastError string `json:"lastError,omitempty"`
	// Updated is when the replica wrote this entry.
	Updated metav1.Time `json:"updated,omitempty"`
}

// PluginList is a list of Plugins.
type PluginList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Plugin `json:"items"`
}

// SchedulerProfile is a scheduling policy: pods whose spec.schedulerName
// is the profile's run through its plugins.
type SchedulerProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   SchedulerProfileSpec   `json:"spec"`
	Status SchedulerProfileStatus `json:"status,omitempty"`
}

// SchedulerProfileSpec lists a profile's plugins.
type SchedulerProfileSpec struct {
	// SchedulerName is the spec.schedulerName of the pods the profile
	// schedules; "default-scheduler" replaces the built-in default
	// profile.
	SchedulerName string `json:"schedulerName"`
	// Builtins says which of the default built-in plugins run.
	Builtins Builtins `json:"builtins,omitempty"`
	// Plugins are enabled after the built-ins, in order: uploaded plugins
	// (by Plugin name) and built-ins (by their Kubernetes name, to set a
	// weight or settings).
	Plugins []ProfilePlugin `json:"plugins,omitempty"`
	// PercentageOfNodesToScore (1-100) overrides the scheduler's.
	PercentageOfNodesToScore *int32 `json:"percentageOfNodesToScore,omitempty"`
}

// Builtins selects the default built-in plugins (kube-scheduler's
// default profile). The zero value enables them all.
type Builtins struct {
	// Disabled names built-ins not to run; "*" disables every one but
	// DefaultBinder (a profile must bind).
	Disabled []string `json:"disabled,omitempty"`
}

// ExtensionPoint is a scheduling framework extension point.
type ExtensionPoint string

// Extension points an uploaded plugin can serve.
const (
	PointFilter ExtensionPoint = "filter"
	PointScore  ExtensionPoint = "score"
)

// ProfilePlugin enables one plugin in a profile.
type ProfilePlugin struct {
	// Name is a Plugin object's name or a built-in's.
	Name string `json:"name"`
	// Points restricts an uploaded plugin to some of the extension points
	// its module implements ("filter", "score"); empty means all of them.
	// Built-ins run at every point they implement.
	Points []ExtensionPoint `json:"points,omitempty"`
	// Weight multiplies the plugin's scores (0 means 1).
	Weight int32 `json:"weight,omitempty"`
	// Settings override, for this profile, an uploaded plugin's
	// spec.settings, or are a built-in's arguments (as in
	// KubeSchedulerConfiguration's pluginConfig).
	Settings *runtime.RawExtension `json:"settings,omitempty"`
	// FailurePolicy overrides the Plugin's for this profile.
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`
}

// SchedulerProfileStatus is what the leading scheduler observes of a
// profile.
type SchedulerProfileStatus struct {
	// ObservedGeneration is the generation the state describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// State is Active (the profile schedules) or Refused (it could not be
	// built; Message says why, and the previous build, if any, keeps
	// scheduling).
	State   string `json:"state,omitempty"`
	Message string `json:"message,omitempty"`
	// Plugins are the uploaded plugins' versions in use, "name@version".
	Plugins []string `json:"plugins,omitempty"`
}

// Profile states.
const (
	ProfileActive  = "Active"
	ProfileRefused = "Refused"
)

// SchedulerProfileList is a list of SchedulerProfiles.
type SchedulerProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SchedulerProfile `json:"items"`
}
