package validation

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxClientIPAffinitySeconds is Kubernetes' cap on ClientIP affinity.
const maxClientIPAffinitySeconds = 86400

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

// validateService is Validate for a Service. Names are DNS-1035 labels (they
// must start with a letter), as in Kubernetes, because they become
// environment variable prefixes and DNS names.
func validateService(svc *corev1.Service) field.ErrorList {
	errs := validateObjectMeta(&svc.ObjectMeta, true, apivalidation.NameIsDNS1035Label)
	spec := &svc.Spec
	specPath := field.NewPath("spec")

	if len(spec.Ports) == 0 && !isHeadless(svc) && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(svc) {
			errs = append(errs, field.Invalid(specPath.Child("clusterIP"), spec.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if len(spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// A CNAME may end with a dot to mark it fully qualified.
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			errs = append(errs, validateDNS1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
	}

	portsPath := specPath.Child("ports")
	names := map[string]bool{}
	type protoPort struct {
		proto corev1.Protocol
		port  int32
	}
	seenPorts := map[protoPort]bool{}
	seenNodePorts := map[protoPort]bool{}
	for i := range spec.Ports {
		sp := &spec.Ports[i]
		p := portsPath.Index(i)
		errs = append(errs, validateServicePort(sp, len(spec.Ports) > 1, names, p)...)
		if spec.Type == corev1.ServiceTypeClusterIP && sp.NodePort != 0 {
			errs = append(errs, field.Forbidden(p.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
		if sp.NodePort != 0 {
			errs = append(errs, validatePortNum(sp.NodePort, p.Child("nodePort"))...)
			k := protoPort{sp.Protocol, sp.NodePort}
			if seenNodePorts[k] {
				errs = append(errs, field.Duplicate(p.Child("nodePort"), sp.NodePort))
			}
			seenNodePorts[k] = true
		}
		k := protoPort{sp.Protocol, sp.Port}
		if seenPorts[k] {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("%d/%s", sp.Port, sp.Protocol)))
		}
		seenPorts[k] = true
	}

	if spec.Selector != nil {
		errs = append(errs, metavalidation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	errs = append(errs, validateEnum(spec.SessionAffinity, specPath.Child("sessionAffinity"), corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone)...)
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		errs = append(errs, validateClientIPAffinityConfig(spec.SessionAffinityConfig, specPath.Child("sessionAffinityConfig"))...)
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), "must not be set when session affinity is None"))
		}
	}
	if spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, validateClusterIPs(spec, specPath)...)
	}
	for i, ip := range spec.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if e := validateIP(ip, p); len(e) > 0 {
			errs = append(errs, e...)
		} else {
			errs = append(errs, validateNonSpecialIP(ip, p)...)
		}
	}
	errs = append(errs, validateEnum(spec.Type, specPath.Child("type"),
		corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort)...)
	if spec.Type != corev1.ServiceTypeLoadBalancer {
		if len(spec.LoadBalancerSourceRanges) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("loadBalancerSourceRanges"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.AllocateLoadBalancerNodePorts != nil {
			errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
		}
		if spec.LoadBalancerClass != nil {
			errs = append(errs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		}
	} else {
		for i, r := range spec.LoadBalancerSourceRanges {
			if _, err := netip.ParsePrefix(strings.TrimSpace(r)); err != nil {
				errs = append(errs, field.Invalid(specPath.Child("loadBalancerSourceRanges").Index(i), r, "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 "))
			}
		}
		if spec.AllocateLoadBalancerNodePorts == nil {
			errs = append(errs, field.Required(specPath.Child("allocateLoadBalancerNodePorts"), ""))
		}
		if spec.LoadBalancerClass != nil {
			errs = append(errs, validateQualifiedName(*spec.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
		}
	}

	if !externallyAccessible(svc) {
		if spec.ExternalTrafficPolicy != "" {
			errs = append(errs, field.Invalid(specPath.Child("externalTrafficPolicy"), spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	} else {
		errs = append(errs, validateEnum(spec.ExternalTrafficPolicy, specPath.Child("externalTrafficPolicy"),
			corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal)...)
	}
	needsHealthCheck := spec.Type == corev1.ServiceTypeLoadBalancer && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if !needsHealthCheck && spec.HealthCheckNodePort != 0 {
		errs = append(errs, field.Invalid(specPath.Child("healthCheckNodePort"), spec.HealthCheckNodePort,
			"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	} else if spec.HealthCheckNodePort != 0 {
		errs = append(errs, validatePortNum(spec.HealthCheckNodePort, specPath.Child("healthCheckNodePort"))...)
	}
	if spec.InternalTrafficPolicy == nil {
		if spec.Type != corev1.ServiceTypeExternalName {
			errs = append(errs, field.Required(specPath.Child("internalTrafficPolicy"), ""))
		}
	} else {
		errs = append(errs, validateEnum(*spec.InternalTrafficPolicy, specPath.Child("internalTrafficPolicy"),
			corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal)...)
	}
	if spec.TrafficDistribution != nil {
		valid := []string{corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode}
		if !slices.Contains(valid, *spec.TrafficDistribution) {
			errs = append(errs, field.NotSupported(specPath.Child("trafficDistribution"), *spec.TrafficDistribution, valid))
		}
	}
	return errs
}

func validateServicePort(sp *corev1.ServicePort, requireName bool, names map[string]bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case requireName && sp.Name == "":
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	case sp.Name != "":
		errs = append(errs, validateDNS1123Label(sp.Name, fldPath.Child("name"))...)
		if names[sp.Name] {
			errs = append(errs, field.Duplicate(fldPath.Child("name"), sp.Name))
		}
		names[sp.Name] = true
	}
	errs = append(errs, validatePortNum(sp.Port, fldPath.Child("port"))...)
	errs = append(errs, validateProtocol(sp.Protocol, fldPath.Child("protocol"))...)
	errs = append(errs, validatePortNumOrName(sp.TargetPort, fldPath.Child("targetPort"))...)
	if sp.AppProtocol != nil {
		errs = append(errs, validateQualifiedName(*sp.AppProtocol, fldPath.Child("appProtocol"))...)
	}
	return errs
}

func validateClientIPAffinityConfig(c *corev1.SessionAffinityConfig, fldPath *field.Path) field.ErrorList {
	const when = "when session affinity type is ClientIP"
	switch {
	case c == nil:
		return field.ErrorList{field.Required(fldPath, when)}
	case c.ClientIP == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP"), when)}
	case c.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP", "timeoutSeconds"), when)}
	}
	if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
		return field.ErrorList{field.Invalid(fldPath.Child("clientIP", "timeoutSeconds"), t,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
	}
	return nil
}

// validateClusterIPs checks clusterIP and clusterIPs for a non-ExternalName
// service: "None" or valid addresses, clusterIPs led by clusterIP, at most
// one per family, and an IP family policy that fits.
func validateClusterIPs(spec *corev1.ServiceSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	ipPath := specPath.Child("clusterIP")
	ipsPath := specPath.Child("clusterIPs")
	if spec.ClusterIP != "" && spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, validateIP(spec.ClusterIP, ipPath)...)
	}
	if len(spec.ClusterIPs) > 0 && spec.ClusterIP != spec.ClusterIPs[0] {
		errs = append(errs, field.Invalid(ipsPath.Index(0), spec.ClusterIPs[0], "must match `clusterIP`"))
	}
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		errs = append(errs, validateIP(ip, ipsPath.Index(i))...)
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	} else if len(spec.ClusterIPs) == 2 && !dualStack(spec.ClusterIPs) {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
	}
	if pol := spec.IPFamilyPolicy; pol != nil {
		errs = append(errs, validateEnum(*pol, specPath.Child("ipFamilyPolicy"),
			corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack)...)
		if *pol == corev1.IPFamilyPolicySingleStack && (len(spec.ClusterIPs) > 1 || len(spec.IPFamilies) > 1) {
			errs = append(errs, field.Invalid(specPath.Child("ipFamilyPolicy"), *pol, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
		}
	}
	seen := map[corev1.IPFamily]bool{}
	for i, f := range spec.IPFamilies {
		p := specPath.Child("ipFamilies").Index(i)
		errs = append(errs, validateEnum(f, p, corev1.IPv4Protocol, corev1.IPv6Protocol)...)
		if seen[f] {
			errs = append(errs, field.Duplicate(p, f))
		}
		seen[f] = true
	}
	return errs
}

// validateServiceUpdate adds the immutability of allocated cluster IPs: they
// may not change once set, except when the service becomes or stops being
// ExternalName, or stays headless.
func validateServiceUpdate(n, o *corev1.Service) field.ErrorList {
	errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, validateService(n)...)
	if n.Spec.Type == corev1.ServiceTypeExternalName || o.Spec.Type == corev1.ServiceTypeExternalName {
		return errs
	}
	if isHeadless(n) && isHeadless(o) {
		return errs
	}
	specPath := field.NewPath("spec")
	if o.Spec.ClusterIP != "" && n.Spec.ClusterIP != o.Spec.ClusterIP {
		errs = append(errs, field.Invalid(specPath.Child("clusterIP"), n.Spec.ClusterIP, fieldImmutableErrorMsg))
	}
	oldIPs, newIPs := o.Spec.ClusterIPs, n.Spec.ClusterIPs
	ipsPath := specPath.Child("clusterIPs")
	switch {
	case len(oldIPs) == len(newIPs):
		for i := range oldIPs {
			if oldIPs[i] != newIPs[i] {
				errs = append(errs, field.Invalid(ipsPath.Index(i), newIPs, "may not change once set"))
			}
		}
	case len(oldIPs) > len(newIPs):
		if len(newIPs) == 0 {
			errs = append(errs, field.Invalid(ipsPath.Index(0), newIPs, "primary clusterIP can not be unset"))
		} else if newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(ipsPath.Index(0), newIPs, "may not change once set"))
		}
		if len(newIPs) == 1 && (n.Spec.IPFamilyPolicy == nil || *n.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			errs = append(errs, field.Invalid(ipsPath.Index(0), newIPs, "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	default:
		if len(oldIPs) > 0 && newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(ipsPath.Index(0), newIPs, "may not change once set"))
		}
	}
	return errs
}

// validateServiceStatusUpdate checks the load balancer status.
func validateServiceStatusUpdate(n, o *corev1.Service) field.ErrorList {
	errs := validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	ingPath := field.NewPath("status", "loadBalancer", "ingress")
	for i, ing := range n.Status.LoadBalancer.Ingress {
		p := ingPath.Index(i)
		if ing.IP != "" {
			errs = append(errs, validateIP(ing.IP, p.Child("ip"))...)
		}
		if ing.IPMode != nil {
			if ing.IP == "" {
				errs = append(errs, field.Forbidden(p.Child("ipMode"), "may not be specified when `ip` is not set"))
			} else {
				errs = append(errs, validateEnum(*ing.IPMode, p.Child("ipMode"), corev1.LoadBalancerIPModeProxy, corev1.LoadBalancerIPModeVIP)...)
			}
		}
		if ing.Hostname != "" {
			errs = append(errs, validateDNS1123Subdomain(ing.Hostname, p.Child("hostname"))...)
			if _, err := netip.ParseAddr(ing.Hostname); err == nil {
				errs = append(errs, field.Invalid(p.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
		for j, ps := range ing.Ports {
			pp := p.Child("ports").Index(j)
			errs = append(errs, validatePortNum(ps.Port, pp.Child("port"))...)
			errs = append(errs, validateProtocol(ps.Protocol, pp.Child("protocol"))...)
		}
	}
	return errs
}

func validateEndpoints(ep *corev1.Endpoints) field.ErrorList { //nolint:staticcheck // Skiff serves core/v1 Endpoints, deprecated but still part of the API.
	errs := validateObjectMeta(&ep.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	subsetsPath := field.NewPath("subsets")
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		p := subsetsPath.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], p.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], p.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			port := &ss.Ports[j]
			pp := p.Child("ports").Index(j)
			switch {
			case len(ss.Ports) > 1 && port.Name == "":
				errs = append(errs, field.Required(pp.Child("name"), ""))
			case port.Name != "":
				errs = append(errs, validateDNS1123Label(port.Name, pp.Child("name"))...)
			}
			errs = append(errs, validatePortNum(port.Port, pp.Child("port"))...)
			errs = append(errs, validateProtocol(port.Protocol, pp.Child("protocol"))...)
			if port.AppProtocol != nil {
				errs = append(errs, validateQualifiedName(*port.AppProtocol, pp.Child("appProtocol"))...)
			}
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, fldPath *field.Path) field.ErrorList { //nolint:staticcheck // Skiff serves core/v1 Endpoints, deprecated but still part of the API.
	errs := validateIP(a.IP, fldPath.Child("ip"))
	if len(errs) == 0 {
		errs = append(errs, validateNonSpecialIP(a.IP, fldPath.Child("ip"))...)
	}
	if a.Hostname != "" {
		errs = append(errs, validateDNS1123Label(a.Hostname, fldPath.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, validateName(*a.NodeName, apivalidation.NameIsDNSSubdomain, fldPath.Child("nodeName"))...)
	}
	return errs
}
