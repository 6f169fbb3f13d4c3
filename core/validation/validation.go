package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// Default fills in, in place, the defaults Kubernetes applies on create for
// the object's kind: the v1 defaulting functions, plus what the create
// strategies and the built-in admission plugins always add (a Pod's service
// account, priority and QoS class; a Namespace's finalizer and phase; a Job's
// generated selector once metadata.uid is set). It never sets uid,
// timestamps or resourceVersion. Calling it twice is harmless.
//
// Unknown kinds and nil objects are left alone.
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		if o != nil {
			defaultNamespace(o)
		}
	case *corev1.Pod:
		if o != nil {
			defaultPod(o)
		}
	case *corev1.Node:
		if o != nil {
			defaultNode(o)
		}
	case *corev1.Secret:
		if o != nil {
			defaultSecret(o)
		}
	case *corev1.Service:
		if o != nil {
			defaultService(o)
		}
	case *corev1.Endpoints: //nolint:staticcheck // Skiff serves core/v1 Endpoints, deprecated but still part of the API.
		if o != nil {
			defaultEndpoints(o)
		}
	case *appsv1.Deployment:
		if o != nil {
			defaultDeployment(o)
		}
	case *appsv1.ReplicaSet:
		if o != nil {
			defaultReplicaSet(o)
		}
	case *appsv1.DaemonSet:
		if o != nil {
			defaultDaemonSet(o)
		}
	case *appsv1.StatefulSet:
		if o != nil {
			defaultStatefulSet(o)
		}
	case *batchv1.Job:
		if o != nil {
			defaultJob(o)
		}
	case *batchv1.CronJob:
		if o != nil {
			defaultCronJob(o)
		}
	}
}

// Validate checks a new object of a supported kind (metadata and spec) and
// returns every problem found, each with its field path, as Kubernetes does on
// create. The object is expected to have been through Default. An empty list
// means the object is valid; unknown kinds yield nil. Validate does not modify
// obj.
func Validate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Namespace:
		if o == nil {
			return nilObject(obj)
		}
		return validateNamespace(o)
	case *corev1.Pod:
		if o == nil {
			return nilObject(obj)
		}
		return validatePodCreate(o)
	case *corev1.Node:
		if o == nil {
			return nilObject(obj)
		}
		return validateNode(o)
	case *corev1.ConfigMap:
		if o == nil {
			return nilObject(obj)
		}
		return validateConfigMap(o)
	case *corev1.Secret:
		if o == nil {
			return nilObject(obj)
		}
		return validateSecret(o)
	case *corev1.Service:
		if o == nil {
			return nilObject(obj)
		}
		return validateService(o)
	case *corev1.Endpoints: //nolint:staticcheck // Skiff serves core/v1 Endpoints, deprecated but still part of the API.
		if o == nil {
			return nilObject(obj)
		}
		return validateEndpoints(o)
	case *corev1.Event:
		if o == nil {
			return nilObject(obj)
		}
		return validateEvent(o)
	case *corev1.ServiceAccount:
		if o == nil {
			return nilObject(obj)
		}
		return validateServiceAccount(o)
	case *coordinationv1.Lease:
		if o == nil {
			return nilObject(obj)
		}
		return validateLease(o)
	case *appsv1.Deployment:
		if o == nil {
			return nilObject(obj)
		}
		return validateDeployment(o)
	case *appsv1.ReplicaSet:
		if o == nil {
			return nilObject(obj)
		}
		return validateReplicaSet(o)
	case *appsv1.DaemonSet:
		if o == nil {
			return nilObject(obj)
		}
		return validateDaemonSet(o)
	case *appsv1.StatefulSet:
		if o == nil {
			return nilObject(obj)
		}
		return validateStatefulSet(o)
	case *batchv1.Job:
		if o == nil {
			return nilObject(obj)
		}
		return validateJob(o)
	case *batchv1.CronJob:
		if o == nil {
			return nilObject(obj)
		}
		return validateCronJobCreate(o)
	case *skiffv1alpha1.Plugin:
		if o == nil {
			return nilObject(obj)
		}
		return validatePlugin(o)
	case *skiffv1alpha1.SchedulerProfile:
		if o == nil {
			return nilObject(obj)
		}
		return validateSchedulerProfile(o)
	}
	return nil
}

// ValidateUpdate checks newObj against oldObj for an update of the main
// resource: the fields Kubernetes makes immutable, plus the creation-time
// checks of Validate applied to newObj (with the few relaxations Kubernetes
// grants existing objects, such as a CronJob name longer than 52 characters).
// Both objects must be of the same kind; a mismatch or a nil object is
// reported as an internal error. Unknown kinds yield nil. Neither object is
// modified.
func ValidateUpdate(newObj, oldObj runtime.Object) field.ErrorList {
	switch n := newObj.(type) {
	case *corev1.Namespace:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateNamespaceUpdate(n, o)
	case *corev1.Pod:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validatePodUpdate(n, o)
	case *corev1.Node:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateNodeUpdate(n, o)
	case *corev1.ConfigMap:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateConfigMapUpdate(n, o)
	case *corev1.Secret:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateSecretUpdate(n, o)
	case *corev1.Service:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateServiceUpdate(n, o)
	case *corev1.Endpoints: //nolint:staticcheck // Skiff serves core/v1 Endpoints, deprecated but still part of the API.
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return append(validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateEndpoints(n)...)
	case *corev1.Event:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return append(validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateEvent(n)...)
	case *corev1.ServiceAccount:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return append(validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateServiceAccount(n)...)
	case *coordinationv1.Lease:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return append(validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta), validateLease(n)...)
	case *appsv1.Deployment:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateDeploymentUpdate(n, o)
	case *appsv1.ReplicaSet:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateReplicaSetUpdate(n, o)
	case *appsv1.DaemonSet:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateDaemonSetUpdate(n, o)
	case *appsv1.StatefulSet:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateStatefulSetUpdate(n, o)
	case *batchv1.Job:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateJobUpdate(n, o)
	case *batchv1.CronJob:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateCronJobUpdate(n, o)
	case *skiffv1alpha1.Plugin:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validatePluginUpdate(n, o)
	case *skiffv1alpha1.SchedulerProfile:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateSchedulerProfileUpdate(n, o)
	}
	return nil
}

// ValidateStatusUpdate checks a write to the status subresource: metadata
// identity (name, namespace and uid must match oldObj) and well-formed
// metadata, plus the status rules of the kind (known phases, counters that
// are non-negative and consistent, IP addresses, container state
// transitions). The spec is not checked: as in Kubernetes, the caller keeps
// the stored spec on a status write. Kinds without a status subresource
// (ConfigMap, Secret, Endpoints, Event, ServiceAccount, Lease) get the
// metadata checks only. A kind mismatch or a nil object is reported as an
// internal error; unknown kinds yield nil.
func ValidateStatusUpdate(newObj, oldObj runtime.Object) field.ErrorList {
	switch n := newObj.(type) {
	case *corev1.Namespace:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateNamespaceStatusUpdate(n, o)
	case *corev1.Pod:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validatePodStatusUpdate(n, o)
	case *corev1.Node:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateNodeStatusUpdate(n, o)
	case *corev1.Service:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateServiceStatusUpdate(n, o)
	case *corev1.ConfigMap:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *corev1.Secret:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *corev1.Endpoints: //nolint:staticcheck // Skiff serves core/v1 Endpoints, deprecated but still part of the API.
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *corev1.Event:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *corev1.ServiceAccount:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *coordinationv1.Lease:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *appsv1.Deployment:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateDeploymentStatusUpdate(n, o)
	case *appsv1.ReplicaSet:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateReplicaSetStatusUpdate(n, o)
	case *appsv1.DaemonSet:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateDaemonSetStatusUpdate(n, o)
	case *appsv1.StatefulSet:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateStatefulSetStatusUpdate(n, o)
	case *batchv1.Job:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateJobStatusUpdate(n, o)
	case *batchv1.CronJob:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *skiffv1alpha1.Plugin:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	case *skiffv1alpha1.SchedulerProfile:
		o, errs := pair(n, oldObj)
		if errs != nil {
			return errs
		}
		return validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	}
	return nil
}

// pair checks that newObj is non-nil and that oldObj is a non-nil object of
// the same type, and returns oldObj as that type. On failure it returns the
// internal error to report.
func pair[T runtime.Object](newObj T, oldObj runtime.Object) (T, field.ErrorList) {
	var zero T
	if any(newObj) == any(zero) {
		return zero, field.ErrorList{field.InternalError(nil, fmt.Errorf("new object is a nil %T", newObj))}
	}
	o, ok := oldObj.(T)
	if !ok {
		return zero, field.ErrorList{field.InternalError(nil, fmt.Errorf("old object is a %T, want %T", oldObj, newObj))}
	}
	if any(o) == any(zero) {
		return zero, field.ErrorList{field.InternalError(nil, fmt.Errorf("old object is a nil %T", o))}
	}
	return o, nil
}

// nilObject reports a typed nil handed to Validate.
func nilObject(obj runtime.Object) field.ErrorList {
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("object is a nil %T", obj))}
}
