package endpoints

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/core/controllers/pods"
)

// MaxAddresses is how many addresses one Endpoints object holds, as in
// Kubernetes; beyond it the addresses are truncated and the object says
// so (OverCapacityAnnotation).
const MaxAddresses = 1000

// OverCapacityAnnotation marks an Endpoints object whose addresses were
// truncated.
const OverCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"

// Managed reports whether the controller manages svc's Endpoints: it has
// a selector and is not an ExternalName service. The Endpoints of other
// services are their users'.
func Managed(svc *corev1.Service) bool {
	return svc.Spec.Selector != nil && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// Desired is the Endpoints object for svc given the pods of its namespace
// (those its selector matches are used): ready pods' addresses in
// addresses, the others' in notReadyAddresses (all in addresses with
// publishNotReadyAddresses), each with the ports its targetPorts resolve
// to (a number, or a named container port of the same protocol); a pod
// without an IP, terminating or finished is left out. Addresses that share
// a set of ports share a subset. Desired returns nil if the controller
// does not manage svc.
//
//nolint:staticcheck // Skiff serves core/v1 Endpoints, deprecated but still part of the API.
func Desired(svc *corev1.Service, candidates []*corev1.Pod) *corev1.Endpoints {
	if !Managed(svc) {
		return nil
	}
	sel := labels.SelectorFromValidatedSet(svc.Spec.Selector)
	publishNotReady := svc.Spec.PublishNotReadyAddresses
	type entry struct {
		addr  corev1.EndpointAddress
		ready bool
		ports []corev1.EndpointPort
	}
	var entries []entry
	for _, p := range candidates {
		if p.Namespace != svc.Namespace || !sel.Matches(labels.Set(p.Labels)) || !include(p, publishNotReady) {
			continue
		}
		addr := corev1.EndpointAddress{IP: podIP(p), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}}
		if p.Spec.NodeName != "" {
			node := p.Spec.NodeName
			addr.NodeName = &node
		}
		if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name && p.Namespace == svc.Namespace {
			addr.Hostname = p.Spec.Hostname
		}
		e := entry{addr: addr, ready: publishNotReady || pods.Ready(p)}
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP != corev1.ClusterIPNone {
				continue // a service without ports gets addresses only if headless
			}
			entries = append(entries, e)
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, ok := FindPort(p, sp)
			if !ok {
				continue
			}
			e.ports = append(e.ports, corev1.EndpointPort{Name: sp.Name, Port: num, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
		}
		if len(e.ports) > 0 {
			entries = append(entries, e)
		}
	}
	// Group the addresses by their set of ports.
	subsets := map[string]*corev1.EndpointSubset{}
	var keys []string
	total := 0
	truncated := false
	slices.SortFunc(entries, func(a, b entry) int {
		if a.ready != b.ready { // ready addresses are kept first when truncating
			if a.ready {
				return -1
			}
			return 1
		}
		return compareAddr(&a.addr, &b.addr)
	})
	for _, e := range entries {
		if total >= MaxAddresses {
			truncated = true
			break
		}
		total++
		sortPorts(e.ports)
		k := portsKey(e.ports)
		ss, ok := subsets[k]
		if !ok {
			ss = &corev1.EndpointSubset{Ports: e.ports}
			subsets[k] = ss
			keys = append(keys, k)
		}
		if e.ready {
			ss.Addresses = append(ss.Addresses, e.addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, e.addr)
		}
	}
	slices.Sort(keys)
	ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: endpointsLabels(svc)}}
	for _, k := range keys {
		ss := subsets[k]
		slices.SortFunc(ss.Addresses, func(a, b corev1.EndpointAddress) int { return compareAddr(&a, &b) })
		slices.SortFunc(ss.NotReadyAddresses, func(a, b corev1.EndpointAddress) int { return compareAddr(&a, &b) })
		ep.Subsets = append(ep.Subsets, *ss)
	}
	if truncated {
		ep.Annotations = map[string]string{OverCapacityAnnotation: "truncated"}
	}
	return ep
}

// include reports whether p belongs in a service's endpoints at all.
func include(p *corev1.Pod, publishNotReady bool) bool {
	if podIP(p) == "" {
		return false
	}
	if !publishNotReady && p.DeletionTimestamp != nil {
		return false
	}
	switch p.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return !pods.Terminal(p)
	case corev1.RestartPolicyOnFailure:
		return p.Status.Phase != corev1.PodSucceeded
	}
	return true
}

func podIP(p *corev1.Pod) string {
	if p.Status.PodIP != "" {
		return p.Status.PodIP
	}
	if len(p.Status.PodIPs) > 0 {
		return p.Status.PodIPs[0].IP
	}
	return ""
}

// FindPort resolves a service port's targetPort for pod p: a number is
// itself; a name is the container port of that name and protocol (in the
// containers, or in init containers that run alongside, i.e. sidecars).
func FindPort(p *corev1.Pod, sp *corev1.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		n := tp.IntVal
		if n == 0 {
			n = sp.Port
		}
		return n, true
	}
	if tp.StrVal == "" {
		return sp.Port, true
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	find := func(cs []corev1.Container, sidecarsOnly bool) (int32, bool) {
		for _, c := range cs {
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, port := range c.Ports {
				pp := port.Protocol
				if pp == "" {
					pp = corev1.ProtocolTCP
				}
				if port.Name == tp.StrVal && pp == proto {
					return port.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if n, ok := find(p.Spec.Containers, false); ok {
		return n, true
	}
	return find(p.Spec.InitContainers, true)
}

func endpointsLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if k != corev1.IsHeadlessService {
			out[k] = v
		}
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func compareAddr(a, b *corev1.EndpointAddress) int {
	if c := strings.Compare(a.IP, b.IP); c != 0 {
		return c
	}
	var ua, ub string
	if a.TargetRef != nil {
		ua = string(a.TargetRef.UID)
	}
	if b.TargetRef != nil {
		ub = string(b.TargetRef.UID)
	}
	return strings.Compare(ua, ub)
}

func sortPorts(ps []corev1.EndpointPort) {
	slices.SortFunc(ps, func(a, b corev1.EndpointPort) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return int(a.Port - b.Port)
		}
		return strings.Compare(string(a.Protocol), string(b.Protocol))
	})
}

func portsKey(ps []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s/%d/%s;", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}

// Equal reports whether two Endpoints objects say the same (subsets,
// labels, the over-capacity annotation).
//
//nolint:staticcheck // core/v1 Endpoints.
func Equal(a, b *corev1.Endpoints) bool {
	return apiequality.Semantic.DeepEqual(a.Subsets, b.Subsets) &&
		apiequality.Semantic.DeepEqual(a.Labels, b.Labels) &&
		a.Annotations[OverCapacityAnnotation] == b.Annotations[OverCapacityAnnotation]
}
