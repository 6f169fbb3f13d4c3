package validation

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateWorkloadSelector checks a required, non-empty selector and returns
// it as a labels.Selector (nil when it cannot be used to match).
func validateWorkloadSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	if sel == nil {
		return nil, field.ErrorList{field.Required(fldPath, "")}
	}
	errs := validateLabelSelector(sel, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(fldPath, sel, fmt.Sprintf("empty selector is invalid for %s", kind)))
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		errs = append(errs, field.Invalid(fldPath, sel, "invalid label selector"))
		return nil, errs
	}
	return s, errs
}

// validateSelectorAndTemplate checks what every workload kind has: a
// required, non-empty selector and a pod template whose labels it matches
// (validateWorkloadSelector, validateReplicatedTemplate).
func validateSelectorAndTemplate(sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, kind string, fldPath *field.Path, opts podOpts) field.ErrorList {
	s, errs := validateWorkloadSelector(sel, strings.ToLower(kind), fldPath.Child("selector"))
	return append(errs, validateReplicatedTemplate(t, s, kind, fldPath.Child("template"), opts)...)
}

// validateSelectorUnchanged is the update rule of every workload kind
// but StatefulSet (whose spec is frozen but for a few fields).
func validateSelectorUnchanged(n, o *metav1.LabelSelector) field.ErrorList {
	return apivalidation.ValidateImmutableField(n, o, field.NewPath("spec", "selector"))
}

// counter is a status field and its value.
type counter struct {
	name  string
	value int32
}

// notAbove reports, in order, the status counters greater than limit
// (the value of the field limitName).
func notAbove(p *field.Path, limit int32, limitName string, counts ...counter) field.ErrorList {
	var errs field.ErrorList
	for _, c := range counts {
		if c.value > limit {
			errs = append(errs, field.Invalid(p.Child(c.name), c.value, "cannot be greater than "+limitName))
		}
	}
	return errs
}

// validateReplicatedTemplate checks the pod template of a Deployment,
// ReplicaSet, DaemonSet or StatefulSet: labels matching the selector, a
// valid pod spec, restartPolicy Always and no activeDeadlineSeconds.
func validateReplicatedTemplate(t *corev1.PodTemplateSpec, sel labels.Selector, kind string, fldPath *field.Path, opts podOpts) field.ErrorList {
	var errs field.ErrorList
	if sel != nil && !sel.Empty() && !sel.Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, selectorMismatchMsg))
	}
	errs = append(errs, validatePodTemplateSpec(t, fldPath, opts)...)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return errs
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := validateObjectMeta(&d.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	return append(errs, validateDeploymentSpec(&d.Spec, field.NewPath("spec"))...)
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	errs := nonNegativePtr(spec.Replicas, fldPath.Child("replicas"))
	errs = append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template, "Deployment", fldPath, podOpts{})...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	errs = append(errs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	if spec.ProgressDeadlineSeconds != nil {
		errs = append(errs, nonNegative(int64(*spec.ProgressDeadlineSeconds), fldPath.Child("progressDeadlineSeconds"))...)
		if *spec.ProgressDeadlineSeconds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), *spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		p := fldPath.Child("rollingUpdate")
		maxUnavailable, maxSurge := intstrValue(s.RollingUpdate.MaxUnavailable), intstrValue(s.RollingUpdate.MaxSurge)
		errs := validatePositiveIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
		errs = append(errs, validatePositiveIntOrPercent(maxSurge, p.Child("maxSurge"))...)
		u, _ := intOrPercent(maxUnavailable)
		su, _ := intOrPercent(maxSurge)
		if u == 0 && su == 0 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, notMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
	case "":
		return field.ErrorList{field.Required(fldPath.Child("type"), "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), s.Type,
			[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
	return nil
}

func validateDeploymentUpdate(n, o *appsv1.Deployment) field.ErrorList {
	errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, validateDeployment(n)...)
	return append(errs, validateSelectorUnchanged(n.Spec.Selector, o.Spec.Selector)...)
}

func validateDeploymentStatusUpdate(n, o *appsv1.Deployment) field.ErrorList {
	errs := validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	p := field.NewPath("status")
	st := &n.Status
	errs = append(errs, nonNegative(st.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, nonNegative(int64(st.Replicas), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(st.UpdatedReplicas), p.Child("updatedReplicas"))...)
	errs = append(errs, nonNegative(int64(st.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, nonNegative(int64(st.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, nonNegative(int64(st.UnavailableReplicas), p.Child("unavailableReplicas"))...)
	errs = append(errs, nonNegativePtr(st.TerminatingReplicas, p.Child("terminatingReplicas"))...)
	errs = append(errs, nonNegativePtr(st.CollisionCount, p.Child("collisionCount"))...)
	errs = append(errs, notAbove(p, st.Replicas, "status.replicas", counter{"updatedReplicas", st.UpdatedReplicas}, counter{"readyReplicas", st.ReadyReplicas}, counter{"availableReplicas", st.AvailableReplicas})...)
	errs = append(errs, notAbove(p, st.ReadyReplicas, "readyReplicas", counter{"availableReplicas", st.AvailableReplicas})...)
	return append(errs, collisionCountNotDecremented(st.CollisionCount, o.Status.CollisionCount, p.Child("collisionCount"))...)
}

func collisionCountNotDecremented(n, o *int32, fldPath *field.Path) field.ErrorList {
	if o == nil {
		return nil
	}
	if n == nil {
		return field.ErrorList{field.Invalid(fldPath, int32(0), "cannot be decremented")}
	}
	if *n < *o {
		return field.ErrorList{field.Invalid(fldPath, *n, "cannot be decremented")}
	}
	return nil
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := validateObjectMeta(&rs.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	fldPath := field.NewPath("spec")
	spec := &rs.Spec
	errs = append(errs, nonNegativePtr(spec.Replicas, fldPath.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	return append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template, "ReplicaSet", fldPath, podOpts{})...)
}

func validateReplicaSetUpdate(n, o *appsv1.ReplicaSet) field.ErrorList {
	errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, validateReplicaSet(n)...)
	return append(errs, validateSelectorUnchanged(n.Spec.Selector, o.Spec.Selector)...)
}

func validateReplicaSetStatusUpdate(n, o *appsv1.ReplicaSet) field.ErrorList {
	errs := validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	p := field.NewPath("status")
	st := &n.Status
	errs = append(errs, nonNegative(int64(st.Replicas), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(st.FullyLabeledReplicas), p.Child("fullyLabeledReplicas"))...)
	errs = append(errs, nonNegative(int64(st.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, nonNegative(int64(st.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, nonNegativePtr(st.TerminatingReplicas, p.Child("terminatingReplicas"))...)
	errs = append(errs, nonNegative(st.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, notAbove(p, st.Replicas, "status.replicas", counter{"fullyLabeledReplicas", st.FullyLabeledReplicas}, counter{"readyReplicas", st.ReadyReplicas}, counter{"availableReplicas", st.AvailableReplicas})...)
	return append(errs, notAbove(p, st.ReadyReplicas, "readyReplicas", counter{"availableReplicas", st.AvailableReplicas})...)
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	errs := validateObjectMeta(&ds.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	fldPath := field.NewPath("spec")
	spec := &ds.Spec
	errs = append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template, "DaemonSet", fldPath, podOpts{})...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	errs = append(errs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	return append(errs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
}

func validateDaemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		p := fldPath.Child("rollingUpdate")
		maxUnavailable, maxSurge := intstrValue(s.RollingUpdate.MaxUnavailable), intstrValue(s.RollingUpdate.MaxSurge)
		errs := validatePositiveIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
		errs = append(errs, validatePositiveIntOrPercent(maxSurge, p.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(maxUnavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(maxSurge, p.Child("maxSurge"))...)
		u, _ := intOrPercent(maxUnavailable)
		su, _ := intOrPercent(maxSurge)
		switch {
		case u != 0 && su != 0:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), maxSurge, "may not be set when maxUnavailable is non-zero"))
		case u == 0 && su == 0:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	case "":
		return field.ErrorList{field.Required(fldPath.Child("type"), "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), s.Type,
			[]appsv1.DaemonSetUpdateStrategyType{appsv1.OnDeleteDaemonSetStrategyType, appsv1.RollingUpdateDaemonSetStrategyType})}
	}
}

func validateDaemonSetUpdate(n, o *appsv1.DaemonSet) field.ErrorList {
	errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, validateDaemonSet(n)...)
	return append(errs, validateSelectorUnchanged(n.Spec.Selector, o.Spec.Selector)...)
}

func validateDaemonSetStatusUpdate(n, o *appsv1.DaemonSet) field.ErrorList {
	errs := validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	p := field.NewPath("status")
	st := &n.Status
	errs = append(errs, nonNegative(int64(st.CurrentNumberScheduled), p.Child("currentNumberScheduled"))...)
	errs = append(errs, nonNegative(int64(st.NumberMisscheduled), p.Child("numberMisscheduled"))...)
	errs = append(errs, nonNegative(int64(st.DesiredNumberScheduled), p.Child("desiredNumberScheduled"))...)
	errs = append(errs, nonNegative(int64(st.NumberReady), p.Child("numberReady"))...)
	errs = append(errs, nonNegative(st.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, nonNegative(int64(st.UpdatedNumberScheduled), p.Child("updatedNumberScheduled"))...)
	errs = append(errs, nonNegative(int64(st.NumberAvailable), p.Child("numberAvailable"))...)
	errs = append(errs, nonNegative(int64(st.NumberUnavailable), p.Child("numberUnavailable"))...)
	errs = append(errs, nonNegativePtr(st.CollisionCount, p.Child("collisionCount"))...)
	return append(errs, collisionCountNotDecremented(st.CollisionCount, o.Status.CollisionCount, p.Child("collisionCount"))...)
}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	errs := validateObjectMeta(&ss.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	return append(errs, validateStatefulSetSpec(&ss.Spec, field.NewPath("spec"))...)
}

// validateStatefulSetSpec follows Kubernetes 1.32, where serviceName is
// optional. Unlike Kubernetes it also checks a given serviceName is a DNS
// label, since it becomes every pod's spec.subdomain and a bad one would
// only fail later, at pod creation.
func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	us := &spec.UpdateStrategy
	switch us.Type {
	case "":
		errs = append(errs, field.Required(fldPath.Child("updateStrategy"), ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			errs = append(errs, field.Invalid(fldPath.Child("updateStrategy", "rollingUpdate"), us.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := us.RollingUpdate; ru != nil {
			p := fldPath.Child("updateStrategy", "rollingUpdate")
			errs = append(errs, nonNegativePtr(ru.Partition, p.Child("partition"))...)
			if ru.MaxUnavailable != nil {
				mp := p.Child("maxUnavailable")
				errs = append(errs, validatePositiveIntOrPercent(*ru.MaxUnavailable, mp)...)
				if v, _ := intOrPercent(*ru.MaxUnavailable); v == 0 {
					errs = append(errs, field.Invalid(mp, *ru.MaxUnavailable, "cannot be 0"))
				}
				errs = append(errs, notMoreThan100Percent(*ru.MaxUnavailable, mp)...)
			}
		}
	default:
		errs = append(errs, field.Invalid(fldPath.Child("updateStrategy"), *us,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if pol := spec.PersistentVolumeClaimRetentionPolicy; pol != nil {
		p := fldPath.Child("persistentVolumeClaimRetentionPolicy")
		valid := []appsv1.PersistentVolumeClaimRetentionPolicyType{appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
		errs = append(errs, validateEnum(pol.WhenDeleted, p.Child("whenDeleted"), valid...)...)
		errs = append(errs, validateEnum(pol.WhenScaled, p.Child("whenScaled"), valid...)...)
	}
	errs = append(errs, nonNegativePtr(spec.Replicas, fldPath.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	errs = append(errs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	if spec.Ordinals != nil {
		errs = append(errs, nonNegative(int64(spec.Ordinals.Start), fldPath.Child("ordinals", "start"))...)
	}
	if spec.ServiceName != "" {
		errs = append(errs, validateDNS1123Label(spec.ServiceName, fldPath.Child("serviceName"))...)
	}
	claimNames := make([]string, 0, len(spec.VolumeClaimTemplates))
	seen := map[string]bool{}
	for i := range spec.VolumeClaimTemplates {
		pvc := &spec.VolumeClaimTemplates[i]
		p := fldPath.Child("volumeClaimTemplates").Index(i)
		if pvc.Name == "" {
			errs = append(errs, field.Required(p.Child("metadata", "name"), ""))
		} else {
			errs = append(errs, validateDNS1123Label(pvc.Name, p.Child("metadata", "name"))...)
			if seen[pvc.Name] {
				errs = append(errs, field.Duplicate(p.Child("metadata", "name"), pvc.Name))
			}
			seen[pvc.Name] = true
			claimNames = append(claimNames, pvc.Name)
		}
		errs = append(errs, validatePVCSpec(&pvc.Spec, p.Child("spec"))...)
	}
	return append(errs, validateSelectorAndTemplate(spec.Selector, &spec.Template, "StatefulSet", fldPath, podOpts{extraVolumes: claimNames})...)
}

// validateStatefulSetUpdate lets only the fields Kubernetes lists change.
func validateStatefulSetUpdate(n, o *appsv1.StatefulSet) field.ErrorList {
	errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, validateStatefulSet(n)...)
	spec := n.Spec.DeepCopy()
	spec.Replicas = o.Spec.Replicas
	spec.Ordinals = o.Spec.Ordinals
	spec.Template = o.Spec.Template
	spec.UpdateStrategy = o.Spec.UpdateStrategy
	spec.RevisionHistoryLimit = o.Spec.RevisionHistoryLimit
	spec.PersistentVolumeClaimRetentionPolicy = o.Spec.PersistentVolumeClaimRetentionPolicy
	spec.MinReadySeconds = o.Spec.MinReadySeconds
	if !equality.Semantic.DeepEqual(spec, &o.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

func validateStatefulSetStatusUpdate(n, o *appsv1.StatefulSet) field.ErrorList {
	errs := validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	p := field.NewPath("status")
	st := &n.Status
	errs = append(errs, nonNegative(int64(st.Replicas), p.Child("replicas"))...)
	errs = append(errs, nonNegative(int64(st.ReadyReplicas), p.Child("readyReplicas"))...)
	errs = append(errs, nonNegative(int64(st.CurrentReplicas), p.Child("currentReplicas"))...)
	errs = append(errs, nonNegative(int64(st.UpdatedReplicas), p.Child("updatedReplicas"))...)
	errs = append(errs, nonNegative(int64(st.AvailableReplicas), p.Child("availableReplicas"))...)
	errs = append(errs, nonNegative(st.ObservedGeneration, p.Child("observedGeneration"))...)
	errs = append(errs, nonNegativePtr(st.CollisionCount, p.Child("collisionCount"))...)
	errs = append(errs, notAbove(p, st.Replicas, "status.replicas", counter{"readyReplicas", st.ReadyReplicas}, counter{"currentReplicas", st.CurrentReplicas}, counter{"updatedReplicas", st.UpdatedReplicas}, counter{"availableReplicas", st.AvailableReplicas})...)
	errs = append(errs, notAbove(p, st.ReadyReplicas, "status.readyReplicas", counter{"availableReplicas", st.AvailableReplicas})...)
	return append(errs, collisionCountNotDecremented(st.CollisionCount, o.Status.CollisionCount, p.Child("collisionCount"))...)
}
