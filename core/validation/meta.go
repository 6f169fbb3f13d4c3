package validation

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages shared with Kubernetes, kept identical so clients that match on
// them keep working.
const (
	isNegativeErrorMsg     = apivalidation.IsNegativeErrorMsg
	fieldImmutableErrorMsg = apivalidation.FieldImmutableErrorMsg
	isNotIntegerErrorMsg   = "must be an integer"
	isNotPositiveErrorMsg  = "must be greater than zero"
	selectorMismatchMsg    = "`selector` does not match template `labels`"
	fileModeErrorMsg       = "must be a number between 0 and 0777 (octal), both inclusive"
)

// metaPath is the root of every object's metadata errors.
func metaPath() *field.Path { return field.NewPath("metadata") }

// validateObjectMeta checks an object's metadata on create: name present and
// of the kind's format, namespace required or forbidden, labels, annotations
// (including the 256 KiB total), owner references and finalizers.
func validateObjectMeta(meta *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(meta, namespaced, nameFn, metaPath())
	return append(errs, validateKubeFinalizerNames(meta.Finalizers, metaPath().Child("finalizers"))...)
}

// validateKubeFinalizerNames applies Kubernetes' extra rule for finalizer
// names: one without a domain must be a standard one.
func validateKubeFinalizerNames(finalizers []string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		errs = append(errs, validateKubeFinalizerName(f, fldPath.Index(i))...)
	}
	return errs
}

func validateKubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	if strings.Contains(name, "/") {
		return nil
	}
	switch name {
	case string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents:
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified")}
}

// validateMetaUpdate checks the metadata fields an update may not change. It
// deliberately leaves resourceVersion, generation and timestamps to the
// caller, which owns them. An empty new uid is read as "not sent" (Kubernetes
// copies the stored one in that case).
func validateMetaUpdate(newMeta, oldMeta *metav1.ObjectMeta) field.ErrorList {
	var errs field.ErrorList
	fldPath := metaPath()
	if oldMeta.DeletionTimestamp != nil {
		errs = append(errs, apivalidation.ValidateNoNewFinalizers(newMeta.Finalizers, oldMeta.Finalizers, fldPath.Child("finalizers"))...)
	}
	errs = append(errs, apivalidation.ValidateImmutableField(newMeta.Name, oldMeta.Name, fldPath.Child("name"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(newMeta.Namespace, oldMeta.Namespace, fldPath.Child("namespace"))...)
	if newMeta.UID != "" {
		errs = append(errs, apivalidation.ValidateImmutableField(newMeta.UID, oldMeta.UID, fldPath.Child("uid"))...)
	}
	return errs
}

// validateMetaStatusUpdate is validateMetaUpdate plus the format checks of
// the new metadata that a main-resource update gets from Validate.
func validateMetaStatusUpdate(newMeta, oldMeta *metav1.ObjectMeta) field.ErrorList {
	errs := validateMetaUpdate(newMeta, oldMeta)
	fldPath := metaPath()
	errs = append(errs, metavalidation.ValidateLabels(newMeta.Labels, fldPath.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(newMeta.Annotations, fldPath.Child("annotations"))...)
	errs = append(errs, apivalidation.ValidateOwnerReferences(newMeta.OwnerReferences, fldPath.Child("ownerReferences"))...)
	errs = append(errs, apivalidation.ValidateFinalizers(newMeta.Finalizers, fldPath.Child("finalizers"))...)
	return errs
}

// nameIsPathSegment accepts any name that can be a URL path segment, the only
// rule core/v1 Events have for their names.
func nameIsPathSegment(name string, prefix bool) []string {
	var errs []string
	if !prefix && (name == "." || name == "..") {
		errs = append(errs, fmt.Sprintf("may not be '%s'", name))
	}
	for _, illegal := range []string{"/", "%"} {
		if strings.Contains(name, illegal) {
			errs = append(errs, fmt.Sprintf("may not contain '%s'", illegal))
		}
	}
	return errs
}

// validateDNS1123Label reports value as Invalid unless it is a DNS-1123 label.
func validateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// validateDNS1123Subdomain reports value as Invalid unless it is a DNS-1123
// subdomain.
func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// validateQualifiedName reports value as Invalid unless it is a qualified
// name (an optional DNS prefix, a slash, and a label-like name).
func validateQualifiedName(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// validateName reports value as Invalid when nameFn rejects it.
func validateName(value string, nameFn apivalidation.ValidateNameFunc, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range nameFn(value, false) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

// nonNegative reports value as Invalid when it is below zero.
func nonNegative(value int64, fldPath *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(value, fldPath)
}

// nonNegativePtr is nonNegative for an optional int32 field.
func nonNegativePtr(value *int32, fldPath *field.Path) field.ErrorList {
	if value == nil {
		return nil
	}
	return nonNegative(int64(*value), fldPath)
}

// validatePortNumOrName checks a port given as a number (1-65535) or an
// IANA_SVC_NAME.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range utilvalidation.IsValidPortNum(int(port.IntVal)) {
			errs = append(errs, field.Invalid(fldPath, port.IntVal, msg))
		}
	case intstr.String:
		for _, msg := range utilvalidation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(fldPath, port.StrVal, msg))
		}
	default:
		errs = append(errs, field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type)))
	}
	return errs
}

// validatePortNum checks a required port number.
func validatePortNum(port int32, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsValidPortNum(int(port)) {
		errs = append(errs, field.Invalid(fldPath, port, msg))
	}
	return errs
}

// supportedProtocols lists the protocols a port may use, sorted.
func supportedProtocols() []corev1.Protocol {
	return []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
}

// validateProtocol checks a port protocol, which Default fills in.
func validateProtocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !slices.Contains(supportedProtocols(), p) {
		return field.ErrorList{field.NotSupported(fldPath, p, supportedProtocols())}
	}
	return nil
}

// validateLabelSelector checks a selector strictly (label values too).
func validateLabelSelector(sel *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	return metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, fldPath)
}

// validateIP checks an IP address in canonical or legacy-tolerated form.
func validateIP(value string, fldPath *field.Path) field.ErrorList {
	return utilvalidation.IsValidIP(fldPath, value)
}

// validateNonSpecialIP rejects addresses an endpoint or external IP may not
// use: unspecified, loopback and link-local ones.
func validateNonSpecialIP(value string, fldPath *field.Path) field.ErrorList {
	ip, err := netip.ParseAddr(value)
	if err != nil {
		return nil // reported by validateIP
	}
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified():
		return field.ErrorList{field.Invalid(fldPath, value, fmt.Sprintf("may not be unspecified (%v)", ip))}
	case ip.IsLoopback():
		return field.ErrorList{field.Invalid(fldPath, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case ip.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(fldPath, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case ip.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(fldPath, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

// dualStack reports whether ips hold at least one IPv4 and one IPv6 address.
// Unparseable addresses are ignored (validateIP reports them).
func dualStack(ips []string) bool {
	var v4, v6 bool
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if ip.Unmap().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4 && v6
}

// dualStackCIDRs is dualStack for CIDR strings.
func dualStackCIDRs(cidrs []string) bool {
	var v4, v6 bool
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if p.Addr().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4 && v6
}

// intOrPercent returns the value of an int-or-percent field and whether it
// was a well-formed percentage.
func intOrPercent(v intstr.IntOrString) (value int, isPercent bool) {
	if v.Type == intstr.String {
		if len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
			return 0, false
		}
		n := 0
		for _, c := range v.StrVal[:len(v.StrVal)-1] {
			n = n*10 + int(c-'0')
			if n > math.MaxInt32 {
				n = math.MaxInt32
			}
		}
		return n, true
	}
	return int(v.IntVal), false
}

// validatePositiveIntOrPercent checks a non-negative integer or a percentage.
func validatePositiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range utilvalidation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fldPath, v, msg))
		}
	case intstr.Int:
		errs = append(errs, nonNegative(int64(v.IntVal), fldPath)...)
	default:
		errs = append(errs, field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%')"))
	}
	return errs
}

// notMoreThan100Percent rejects a percentage above 100%.
func notMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	value, isPercent := intOrPercent(v)
	if !isPercent || value <= 100 {
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
}

// intstrValue dereferences an optional int-or-percent field; nil reads as 0,
// as it does once Kubernetes converts it to its internal form.
func intstrValue(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

// sortedKeys returns the keys of m in order, so errors come out in a stable
// order.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
