package validation

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podOpts says where a pod spec sits.
type podOpts struct {
	// isPod is set when the spec is a Pod's own rather than a template's;
	// a few rules (image whitespace, host-network ports) apply to pods only.
	isPod bool
	// extraVolumes names volumes the owner supplies beside spec.volumes
	// (a StatefulSet's volumeClaimTemplates), which mounts may reference.
	extraVolumes []string
}

// validatePodCreate is Validate for a Pod.
func validatePodCreate(pod *corev1.Pod) field.ErrorList {
	errs := validatePodMetaAndSpec(pod)
	specPath := field.NewPath("spec")
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) != 0 {
		errs = append(errs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

// validatePodMetaAndSpec holds the checks a pod gets on create and update.
func validatePodMetaAndSpec(pod *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := validateObjectMeta(&pod.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validatePodAnnotations(pod.Annotations, &pod.Spec, metaPath().Child("annotations"))...)
	errs = append(errs, validatePodSpec(&pod.Spec, &pod.ObjectMeta, specPath, podOpts{isPod: true})...)
	if pod.Spec.ServiceAccountName == "" {
		for vi, vol := range pod.Spec.Volumes {
			if vol.Projected == nil {
				continue
			}
			for si, src := range vol.Projected.Sources {
				if src.ServiceAccountToken != nil {
					p := specPath.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken")
					errs = append(errs, field.Forbidden(p, "must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	return errs
}

// validatePodAnnotations checks the annotations Kubernetes gives meaning to
// on pods.
func validatePodAnnotations(annotations map[string]string, spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if v, ok := annotations[corev1.MirrorPodAnnotationKey]; ok && spec.NodeName == "" {
		errs = append(errs, field.Invalid(fldPath.Key(corev1.MirrorPodAnnotationKey), v, "must set spec.nodeName if mirror pod annotation is set"))
	}
	if v, ok := annotations[corev1.PodDeletionCost]; ok {
		if _, err := strconv.ParseInt(v, 10, 32); err != nil || strings.TrimSpace(v) != v {
			errs = append(errs, field.Invalid(fldPath.Key(corev1.PodDeletionCost), v, "must be a 32bit integer"))
		}
	}
	return errs
}

// validatePodTemplateSpec checks a pod template embedded in a workload.
func validatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path, opts podOpts) field.ErrorList {
	errs := metavalidation.ValidateLabels(t.Labels, fldPath.Child("labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("annotations"))...)
	errs = append(errs, validatePodAnnotations(t.Annotations, &t.Spec, fldPath.Child("annotations"))...)
	errs = append(errs, validatePodSpec(&t.Spec, nil, fldPath.Child("spec"), opts)...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return errs
}

// validatePodSpec checks a pod spec, wherever it sits. podMeta is the pod's
// metadata when the spec is a pod's own, else nil.
func validatePodSpec(spec *corev1.PodSpec, podMeta *metav1.ObjectMeta, fldPath *field.Path, opts podOpts) field.ErrorList {
	var errs field.ErrorList
	gracePeriod := spec.TerminationGracePeriodSeconds
	if gracePeriod == nil {
		errs = append(errs, field.Required(fldPath.Child("terminationGracePeriodSeconds"), ""))
	} else {
		errs = append(errs, nonNegative(*gracePeriod, fldPath.Child("terminationGracePeriodSeconds"))...)
	}

	vols, vErrs := validateVolumes(spec.Volumes, podMeta, fldPath.Child("volumes"))
	errs = append(errs, vErrs...)
	for _, name := range opts.extraVolumes {
		if _, ok := vols[name]; !ok {
			vols[name] = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}
		}
	}
	claimNames, cErrs := validatePodResourceClaims(spec.ResourceClaims, fldPath.Child("resourceClaims"))
	errs = append(errs, cErrs...)

	errs = append(errs, validateContainers(spec.Containers, vols, claimNames, gracePeriod, fldPath.Child("containers"), opts)...)
	errs = append(errs, validateInitContainers(spec.InitContainers, spec.Containers, vols, claimNames, gracePeriod, fldPath.Child("initContainers"), opts)...)
	errs = append(errs, validateEphemeralContainers(spec.EphemeralContainers, spec.Containers, spec.InitContainers, vols, claimNames, fldPath.Child("ephemeralContainers"), opts)...)
	if spec.Resources != nil {
		rPath := fldPath.Child("resources")
		if len(spec.Resources.Claims) > 0 {
			errs = append(errs, field.Forbidden(rPath.Child("claims"), "claims cannot be set for Resources at pod-level"))
		}
		r := *spec.Resources
		r.Claims = nil
		errs = append(errs, validateResourceRequirements(&r, claimNames, rPath)...)
	}
	errs = append(errs, validateHostNetworkPorts(spec, fldPath, opts)...)
	errs = append(errs, validateRestartPolicy(spec.RestartPolicy, fldPath.Child("restartPolicy"))...)
	errs = append(errs, validateDNSPolicy(spec.DNSPolicy, fldPath.Child("dnsPolicy"))...)
	errs = append(errs, metavalidation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	errs = append(errs, validatePodSecurityContext(spec.SecurityContext, fldPath.Child("securityContext"))...)
	errs = append(errs, validateImagePullSecrets(spec.ImagePullSecrets, fldPath.Child("imagePullSecrets"))...)
	errs = append(errs, validateAffinity(spec.Affinity, fldPath.Child("affinity"))...)
	errs = append(errs, validatePodDNSConfig(spec.DNSConfig, spec.DNSPolicy, fldPath.Child("dnsConfig"))...)
	for i, g := range spec.ReadinessGates {
		errs = append(errs, validateQualifiedName(string(g.ConditionType), fldPath.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	errs = append(errs, validateSchedulingGates(spec.SchedulingGates, fldPath.Child("schedulingGates"))...)
	errs = append(errs, validateTopologySpreadConstraints(spec.TopologySpreadConstraints, fldPath.Child("topologySpreadConstraints"))...)
	if spec.ServiceAccountName != "" {
		errs = append(errs, validateName(spec.ServiceAccountName, apivalidation.ValidateServiceAccountName, fldPath.Child("serviceAccountName"))...)
	}
	if spec.NodeName != "" {
		errs = append(errs, validateName(spec.NodeName, apivalidation.NameIsDNSSubdomain, fldPath.Child("nodeName"))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), v, utilvalidation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if spec.Hostname != "" {
		errs = append(errs, validateDNS1123Label(spec.Hostname, fldPath.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, validateDNS1123Label(spec.Subdomain, fldPath.Child("subdomain"))...)
	}
	errs = append(errs, validateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	for i, ha := range spec.HostAliases {
		p := fldPath.Child("hostAliases").Index(i)
		errs = append(errs, validateIP(ha.IP, p.Child("ip"))...)
		for j, h := range ha.Hostnames {
			errs = append(errs, validateDNS1123Subdomain(h, p.Child("hostnames").Index(j))...)
		}
	}
	if spec.PriorityClassName != "" {
		errs = append(errs, validateName(spec.PriorityClassName, apivalidation.NameIsDNSSubdomain, fldPath.Child("priorityClassName"))...)
	}
	if spec.RuntimeClassName != nil {
		errs = append(errs, validateName(*spec.RuntimeClassName, apivalidation.NameIsDNSSubdomain, fldPath.Child("runtimeClassName"))...)
	}
	if spec.PreemptionPolicy != nil {
		errs = append(errs, validateEnum(*spec.PreemptionPolicy, fldPath.Child("preemptionPolicy"), corev1.PreemptLowerPriority, corev1.PreemptNever)...)
	}
	if spec.Overhead != nil {
		errs = append(errs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: spec.Overhead}, nil, fldPath.Child("overhead"))...)
	}
	if spec.OS != nil {
		errs = append(errs, validateEnum(spec.OS.Name, fldPath.Child("os", "name"), corev1.Linux, corev1.Windows)...)
	}
	return errs
}

// validateEnum reports a required value outside valid as Required or
// NotSupported; valid is listed in the message in the order given.
func validateEnum[T ~string](value T, fldPath *field.Path, valid ...T) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !slices.Contains(valid, value) {
		return field.ErrorList{field.NotSupported(fldPath, value, valid)}
	}
	return nil
}

func validateRestartPolicy(p corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	return validateEnum(p, fldPath, corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)
}

func validateDNSPolicy(p corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	return validateEnum(p, fldPath, corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)
}

// jsonName returns the JSON name of a struct field.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" || name == "-" {
		return f.Name
	}
	return name
}

func validatePodResourceClaims(claims []corev1.PodResourceClaim, fldPath *field.Path) (map[string]bool, field.ErrorList) {
	var errs field.ErrorList
	names := map[string]bool{}
	for i, c := range claims {
		p := fldPath.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case names[c.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		default:
			errs = append(errs, validateDNS1123Label(c.Name, p.Child("name"))...)
			names[c.Name] = true
		}
		switch {
		case c.ResourceClaimName != nil && c.ResourceClaimTemplateName != nil:
			errs = append(errs, field.Invalid(p, c, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
		case c.ResourceClaimName == nil && c.ResourceClaimTemplateName == nil:
			errs = append(errs, field.Invalid(p, c, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
		}
		if c.ResourceClaimName != nil {
			errs = append(errs, validateName(*c.ResourceClaimName, apivalidation.NameIsDNSSubdomain, p.Child("resourceClaimName"))...)
		}
		if c.ResourceClaimTemplateName != nil {
			errs = append(errs, validateName(*c.ResourceClaimTemplateName, apivalidation.NameIsDNSSubdomain, p.Child("resourceClaimTemplateName"))...)
		}
	}
	return names, errs
}

// validateHostNetworkPorts requires hostPort to equal containerPort in a
// host-network pod (a template may leave hostPort unset).
func validateHostNetworkPorts(spec *corev1.PodSpec, fldPath *field.Path, opts podOpts) field.ErrorList {
	if !spec.HostNetwork {
		return nil
	}
	var errs field.ErrorList
	for i, c := range spec.Containers {
		for j, port := range c.Ports {
			if (opts.isPod || port.HostPort != 0) && port.HostPort != port.ContainerPort {
				errs = append(errs, field.Invalid(fldPath.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"),
					port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return errs
}

func validateImagePullSecrets(secrets []corev1.LocalObjectReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range secrets {
		if s != (corev1.LocalObjectReference{Name: s.Name}) {
			errs = append(errs, field.Invalid(fldPath.Index(i), s, "only name may be set"))
		}
	}
	return errs
}

func validatePodDNSConfig(c *corev1.PodDNSConfig, policy corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	if policy == corev1.DNSNone {
		if c == nil {
			return field.ErrorList{field.Required(fldPath, "must provide `dnsConfig` when `dnsPolicy` is None")}
		}
		if len(c.Nameservers) == 0 {
			return field.ErrorList{field.Required(fldPath.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")}
		}
	}
	if c == nil {
		return nil
	}
	var errs field.ErrorList
	if len(c.Nameservers) > 3 {
		errs = append(errs, field.Invalid(fldPath.Child("nameservers"), c.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range c.Nameservers {
		errs = append(errs, validateIP(ns, fldPath.Child("nameservers").Index(i))...)
	}
	if len(c.Searches) > 32 {
		errs = append(errs, field.Invalid(fldPath.Child("searches"), c.Searches, "must not have more than 32 search paths"))
	}
	if len(strings.Join(c.Searches, " ")) > 2048 {
		errs = append(errs, field.Invalid(fldPath.Child("searches"), c.Searches, "must not have more than 2048 characters (including spaces) in the search list"))
	}
	for i, s := range c.Searches {
		if s == "." {
			continue
		}
		s = strings.TrimSuffix(s, ".")
		for _, msg := range utilvalidation.IsDNS1123SubdomainWithUnderscore(s) {
			errs = append(errs, field.Invalid(fldPath.Child("searches").Index(i), s, msg))
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

// updatablePodSpecFields is the list Kubernetes prints when a pod update
// touches anything else.
func updatablePodSpecFields() []string {
	return []string{
		"`spec.containers[*].image`",
		"`spec.initContainers[*].image`",
		"`spec.activeDeadlineSeconds`",
		"`spec.tolerations` (only additions to existing tolerations)",
		"`spec.schedulingGates` (only deletions)",
		"`spec.nodeName` (only from unset)",
	}
}

// validatePodUpdate is ValidateUpdate for a Pod. Beyond Kubernetes' list of
// mutable fields it lets spec.nodeName go from unset to a node, so a binder
// may assign a pod with an ordinary update; once set it is immutable.
func validatePodUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	errs := validateMetaUpdate(&newPod.ObjectMeta, &oldPod.ObjectMeta)
	errs = append(errs, validatePodMetaAndSpec(newPod)...)
	annPath := metaPath().Child("annotations")
	if oldPod.Annotations[corev1.MirrorPodAnnotationKey] != newPod.Annotations[corev1.MirrorPodAnnotationKey] {
		errs = append(errs, field.Forbidden(annPath.Key(corev1.MirrorPodAnnotationKey), "may not add, remove or update mirror pod annotation"))
	}
	specPath := field.NewPath("spec")
	newSpec, oldSpec := &newPod.Spec, &oldPod.Spec

	if len(newSpec.Containers) != len(oldSpec.Containers) {
		return append(errs, field.Forbidden(specPath.Child("containers"), "pod updates may not add or remove containers"))
	}
	if len(newSpec.InitContainers) != len(oldSpec.InitContainers) {
		return append(errs, field.Forbidden(specPath.Child("initContainers"), "pod updates may not add or remove containers"))
	}

	adsPath := specPath.Child("activeDeadlineSeconds")
	if newSpec.ActiveDeadlineSeconds != nil {
		v := *newSpec.ActiveDeadlineSeconds
		if oldSpec.ActiveDeadlineSeconds != nil && *oldSpec.ActiveDeadlineSeconds < v {
			errs = append(errs, field.Invalid(adsPath, v, "must be less than or equal to previous value"))
		}
	} else if oldSpec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(adsPath, newSpec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	for _, old := range oldSpec.Tolerations {
		found := false
		for _, t := range newSpec.Tolerations {
			o := old
			o.TolerationSeconds = t.TolerationSeconds
			if equality.Semantic.DeepEqual(o, t) {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, field.Forbidden(specPath.Child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"))
			break
		}
	}

	oldGates := map[string]bool{}
	for _, g := range oldSpec.SchedulingGates {
		oldGates[g.Name] = true
	}
	for i, g := range newSpec.SchedulingGates {
		if !oldGates[g.Name] {
			errs = append(errs, field.Forbidden(specPath.Child("schedulingGates").Index(i).Child("name"),
				fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}

	if oldSpec.NodeName != "" && newSpec.NodeName != oldSpec.NodeName {
		errs = append(errs, field.Invalid(specPath.Child("nodeName"), newSpec.NodeName, fieldImmutableErrorMsg))
	}

	if podSpecEqual(newSpec, oldSpec) {
		return errs
	}
	munged := newSpec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = oldSpec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = oldSpec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = oldSpec.ActiveDeadlineSeconds
	munged.Tolerations = oldSpec.Tolerations
	munged.SchedulingGates = oldSpec.SchedulingGates
	munged.NodeName = oldSpec.NodeName
	if podSpecEqual(oldSpec, munged) {
		return errs
	}
	if changed := changedFields(oldSpec, munged); len(changed) > 0 {
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s; changed: %s",
			strings.Join(updatablePodSpecFields(), ","), strings.Join(changed, ", "))))
	}
	return errs
}

// podSpecEqual compares two specs by their protobuf encodings, which are
// deterministic (map keys sorted) and far cheaper to compare than a
// reflective deep equal; it falls back to the semantic deep equal if
// encoding fails.
func podSpecEqual(a, b *corev1.PodSpec) bool {
	ba, errA := a.Marshal()
	bb, errB := b.Marshal()
	if errA != nil || errB != nil {
		return equality.Semantic.DeepEqual(a, b)
	}
	return bytes.Equal(ba, bb)
}

// changedFields names the pod spec fields that differ, down to the field of
// a single container.
func changedFields(oldSpec, newSpec *corev1.PodSpec) []string {
	var out []string
	ov, nv := reflect.ValueOf(oldSpec).Elem(), reflect.ValueOf(newSpec).Elem()
	t := ov.Type()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		of, nf := ov.Field(i), nv.Field(i)
		if equality.Semantic.DeepEqual(of.Interface(), nf.Interface()) {
			continue
		}
		if (name == "containers" || name == "initContainers") && of.Len() == nf.Len() {
			for j := range of.Len() {
				oc, nc := of.Index(j), nf.Index(j)
				ct := oc.Type()
				for k := range ct.NumField() {
					if !equality.Semantic.DeepEqual(oc.Field(k).Interface(), nc.Field(k).Interface()) {
						out = append(out, fmt.Sprintf("spec.%s[%d].%s", name, j, jsonName(ct.Field(k))))
					}
				}
			}
			continue
		}
		out = append(out, "spec."+name)
	}
	return out
}

// podPhases lists the phases a pod may report.
func podPhases() []corev1.PodPhase {
	return []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown}
}

// validatePodStatusUpdate is ValidateStatusUpdate for a Pod.
func validatePodStatusUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	errs := validateMetaStatusUpdate(&newPod.ObjectMeta, &oldPod.ObjectMeta)
	statusPath := field.NewPath("status")
	st := &newPod.Status
	if newPod.Spec.NodeName != oldPod.Spec.NodeName {
		errs = append(errs, field.Forbidden(statusPath.Child("nodeName"), "may not be changed directly"))
	}
	if st.Phase != "" && !slices.Contains(podPhases(), st.Phase) {
		errs = append(errs, field.NotSupported(statusPath.Child("phase"), st.Phase, podPhases()))
	}
	for i, c := range st.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady:
		default:
			errs = append(errs, validateQualifiedName(string(c.Type), statusPath.Child("conditions").Index(i).Child("type"))...)
		}
	}
	if st.NominatedNodeName != "" && st.NominatedNodeName != oldPod.Status.NominatedNodeName {
		errs = append(errs, validateName(st.NominatedNodeName, apivalidation.NameIsDNSSubdomain, statusPath.Child("nominatedNodeName"))...)
	}
	if st.ObservedGeneration < 0 {
		errs = append(errs, field.Invalid(statusPath.Child("observedGeneration"), st.ObservedGeneration, "must be a non-negative integer"))
	}
	if oldPod.Status.QOSClass != "" {
		errs = append(errs, apivalidation.ValidateImmutableField(st.QOSClass, oldPod.Status.QOSClass, statusPath.Child("qosClass"))...)
	}
	errs = append(errs, validateContainerStateTransition(st.ContainerStatuses, oldPod.Status.ContainerStatuses, statusPath.Child("containerStatuses"), oldPod.Spec.RestartPolicy, nil)...)
	errs = append(errs, validateContainerStateTransition(st.InitContainerStatuses, oldPod.Status.InitContainerStatuses, statusPath.Child("initContainerStatuses"), oldPod.Spec.RestartPolicy, oldPod.Spec.InitContainers)...)
	errs = append(errs, validateContainerStateTransition(st.EphemeralContainerStatuses, oldPod.Status.EphemeralContainerStatuses, statusPath.Child("ephemeralContainerStatuses"), corev1.RestartPolicyNever, nil)...)

	podIPs := make([]string, 0, len(st.PodIPs))
	for _, ip := range st.PodIPs {
		podIPs = append(podIPs, ip.IP)
	}
	errs = append(errs, validateStatusIPs(st.PodIP, podIPs, statusPath.Child("podIP"), statusPath.Child("podIPs"))...)
	hostIPs := make([]string, 0, len(st.HostIPs))
	for _, ip := range st.HostIPs {
		hostIPs = append(hostIPs, ip.IP)
	}
	errs = append(errs, validateStatusIPs(st.HostIP, hostIPs, statusPath.Child("hostIP"), statusPath.Child("hostIPs"))...)
	return errs
}

// validateStatusIPs checks a primary IP and its list: each valid, the list
// led by the primary, at most one per family, no duplicates.
func validateStatusIPs(primary string, ips []string, primaryPath, listPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if primary != "" {
		errs = append(errs, validateIP(primary, primaryPath)...)
	}
	if len(ips) == 0 {
		return errs
	}
	if ips[0] != primary {
		errs = append(errs, field.Invalid(listPath.Index(0).Child("ip"), ips[0], fmt.Sprintf("must be equal to `%s`", primaryPath.String()[len("status."):])))
	}
	for i, ip := range ips {
		errs = append(errs, validateIP(ip, listPath.Index(i).Child("ip"))...)
	}
	if len(ips) > 1 {
		if !dualStack(ips) || len(ips) > 2 {
			errs = append(errs, field.Invalid(listPath, ips, "may specify no more than one IP for each IP family"))
		}
		seen := map[string]bool{}
		for i, ip := range ips {
			if seen[ip] {
				errs = append(errs, field.Duplicate(listPath.Index(i), ip))
			}
			seen[ip] = true
		}
	}
	return errs
}

// validateContainerStateTransition forbids a terminated container from
// coming back when the pod will not restart it. inits, when given, lets
// restartable (sidecar) init containers restart.
func validateContainerStateTransition(newStatuses, oldStatuses []corev1.ContainerStatus, fldPath *field.Path, restartPolicy corev1.RestartPolicy, inits []corev1.Container) field.ErrorList {
	if restartPolicy == corev1.RestartPolicyAlways {
		return nil
	}
	var errs field.ErrorList
	for i, old := range oldStatuses {
		if old.State.Terminated == nil {
			continue
		}
		if old.State.Terminated.ExitCode != 0 && restartPolicy == corev1.RestartPolicyOnFailure {
			continue
		}
		sidecar := false
		for _, c := range inits {
			if c.Name == old.Name {
				sidecar = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
				break
			}
		}
		if sidecar {
			continue
		}
		for _, n := range newStatuses {
			if n.Name == old.Name && n.State.Terminated == nil {
				errs = append(errs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}
