package framework

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// PodInfo is a pod with what the plugins need from it computed once: its
// requests, host ports, node selector and pod (anti-)affinity terms. It is
// immutable once made; a changed pod gets a new PodInfo.
type PodInfo struct {
	Pod *corev1.Pod
	// Namespace, Labels and Terminating (deletionTimestamp set) copy the
	// pod's, next to the rest of the PodInfo: scans over every pod of the
	// cluster (topology spread, affinity) read only these.
	Namespace   string
	Labels      labels.Set
	Terminating bool
	// Requests are the pod's effective requests (PodRequests).
	Requests Resource
	// NonZeroMilliCPU and NonZeroMemory are the cpu and memory requests
	// with the scoring defaults for containers that set none.
	NonZeroMilliCPU, NonZeroMemory int64
	// HostPorts are the host ports its containers and sidecars ask for.
	HostPorts []HostPort
	// NodeSelector is spec.nodeSelector with the required node affinity.
	NodeSelector *NodeSelector
	// PreferredNodeTerms are the preferred node affinity terms.
	PreferredNodeTerms []PreferredNodeTerm
	// Required and preferred pod affinity and anti-affinity terms.
	RequiredAffinity, RequiredAntiAffinity   []AffinityTerm
	PreferredAffinity, PreferredAntiAffinity []WeightedAffinityTerm
	// ParseErr is set when a selector of the pod could not be parsed
	// (the API server's validation keeps that from happening); plugins
	// that need the broken part report it as an error.
	ParseErr error
}

// PodPriority is a pod's spec.priority, 0 when unset (the API server
// fills it in from the pod's PriorityClass on create). Every priority
// comparison of the scheduler (queue order, preemption, nominated pods)
// goes through it.
func PodPriority(p *corev1.Pod) int32 {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority
	}
	return 0
}

// HostPort is a host port a container binds. IP is "0.0.0.0" for every
// address; Protocol is never empty.
type HostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

// Conflicts reports whether p and o cannot both be bound on one node.
func (p HostPort) Conflicts(o HostPort) bool {
	return p.Port == o.Port && p.Protocol == o.Protocol &&
		(p.IP == o.IP || p.IP == anyIP || o.IP == anyIP)
}

const anyIP = "0.0.0.0"

// AffinityTerm is a parsed pod (anti-)affinity term: which pods it
// selects (namespaces and labels) and the topology key that groups nodes.
type AffinityTerm struct {
	Namespaces        map[string]struct{}
	NamespaceSelector labels.Selector // labels.Nothing() when unset
	Selector          labels.Selector
	TopologyKey       string
}

// WeightedAffinityTerm is a preferred term with its weight (1-100).
type WeightedAffinityTerm struct {
	AffinityTerm
	Weight int32
}

// Matches reports whether the term selects pod, whose namespace has
// labels nsLabels.
func (t *AffinityTerm) Matches(pod *PodInfo, nsLabels labels.Set) bool {
	if _, ok := t.Namespaces[pod.Namespace]; ok || t.NamespaceSelector.Matches(nsLabels) {
		return t.Selector.Matches(pod.Labels)
	}
	return false
}

// NewPodInfo computes a pod's PodInfo. It never fails: a selector that
// does not parse is recorded in ParseErr and matches nothing.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod, Namespace: pod.Namespace, Labels: labels.Set(pod.Labels), Terminating: pod.DeletionTimestamp != nil,
		Requests: PodRequests(pod, RequestOptions{})}
	nz := PodRequests(pod, RequestOptions{NonZero: true})
	pi.NonZeroMilliCPU, pi.NonZeroMemory = nz.MilliCPU, nz.Memory
	pi.HostPorts = hostPorts(pod)
	var errs []error
	ns, err := newNodeSelector(pod)
	errs = append(errs, err)
	pi.NodeSelector = ns
	if a := pod.Spec.Affinity; a != nil {
		if na := a.NodeAffinity; na != nil {
			for _, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
				nt, err := newNodeTerm(&t.Preference)
				errs = append(errs, err)
				if err == nil && !nt.empty() {
					pi.PreferredNodeTerms = append(pi.PreferredNodeTerms, PreferredNodeTerm{nodeTerm: nt, Weight: t.Weight})
				}
			}
		}
		if pa := a.PodAffinity; pa != nil {
			pi.RequiredAffinity, err = affinityTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			errs = append(errs, err)
			pi.PreferredAffinity, err = weightedTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
			errs = append(errs, err)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			pi.RequiredAntiAffinity, err = affinityTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution)
			errs = append(errs, err)
			pi.PreferredAntiAffinity, err = weightedTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
			errs = append(errs, err)
		}
	}
	pi.ParseErr = errors.Join(errs...)
	return pi
}

// HasAffinity is true when the pod has pod affinity or anti-affinity
// terms, required or preferred.
func (pi *PodInfo) HasAffinity() bool {
	return len(pi.RequiredAffinity)+len(pi.RequiredAntiAffinity)+len(pi.PreferredAffinity)+len(pi.PreferredAntiAffinity) > 0
}

func hostPorts(pod *corev1.Pod) []HostPort {
	var out []HostPort
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := HostPort{IP: p.HostIP, Protocol: p.Protocol, Port: p.HostPort}
			if hp.IP == "" {
				hp.IP = anyIP
			}
			if hp.Protocol == "" {
				hp.Protocol = corev1.ProtocolTCP
			}
			out = append(out, hp)
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	return out
}

func affinityTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm) ([]AffinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]AffinityTerm, 0, len(terms))
	var errs []error
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i])
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

func weightedTerms(pod *corev1.Pod, terms []corev1.WeightedPodAffinityTerm) ([]WeightedAffinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]WeightedAffinityTerm, 0, len(terms))
	var errs []error
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i].PodAffinityTerm)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, WeightedAffinityTerm{AffinityTerm: t, Weight: terms[i].Weight})
	}
	return out, errors.Join(errs...)
}

// newAffinityTerm parses a term of pod. A term with neither namespaces
// nor a namespace selector selects pods of the pod's own namespace;
// matchLabelKeys and mismatchLabelKeys add the pod's own label values to
// the selector. A term that does not parse selects nothing.
func newAffinityTerm(pod *corev1.Pod, t *corev1.PodAffinityTerm) (AffinityTerm, error) {
	at := AffinityTerm{TopologyKey: t.TopologyKey, Selector: labels.Nothing(), NamespaceSelector: labels.Nothing()}
	at.Namespaces = make(map[string]struct{}, max(1, len(t.Namespaces)))
	for _, n := range t.Namespaces {
		at.Namespaces[n] = struct{}{}
	}
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		at.Namespaces[pod.Namespace] = struct{}{}
	}
	if t.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			return at, fmt.Errorf("namespaceSelector: %w", err)
		}
		at.NamespaceSelector = s
	}
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return at, fmt.Errorf("labelSelector: %w", err)
	}
	if t.LabelSelector != nil {
		sel, err = withLabelKeys(sel, pod.Labels, t.MatchLabelKeys, t.MismatchLabelKeys)
		if err != nil {
			return at, err
		}
	}
	at.Selector = sel
	return at, nil
}

// withLabelKeys adds "key in (pod's value)" for each matchLabelKey and
// "key notin (pod's value)" for each mismatchLabelKey the pod has.
func withLabelKeys(sel labels.Selector, podLabels map[string]string, match, mismatch []string) (labels.Selector, error) {
	for _, keys := range []struct {
		keys []string
		op   selection.Operator
	}{{match, selection.In}, {mismatch, selection.NotIn}} {
		for _, k := range keys.keys {
			v, ok := podLabels[k]
			if !ok {
				continue
			}
			r, err := labels.NewRequirement(k, keys.op, []string{v})
			if err != nil {
				return labels.Nothing(), fmt.Errorf("label key %q: %w", k, err)
			}
			sel = sel.Add(*r)
		}
	}
	return sel, nil
}

// NodeSelector is a pod's required node placement: spec.nodeSelector and
// the required node affinity terms (any one of which must match).
type NodeSelector struct {
	labels   map[string]string
	terms    []nodeTerm
	hasTerms bool
}

// PreferredNodeTerm is a preferred node affinity term and its weight.
type PreferredNodeTerm struct {
	nodeTerm
	Weight int32
}

// nodeTerm is a parsed NodeSelectorTerm: label requirements and
// metadata.name requirements, all of which must hold.
type nodeTerm struct {
	sel    labels.Selector // nil when the term has no matchExpressions
	fields []nameRequirement
	bad    bool // did not parse: matches nothing
}

type nameRequirement struct {
	in    bool
	names map[string]struct{}
}

func newNodeSelector(pod *corev1.Pod) (*NodeSelector, error) {
	ns := &NodeSelector{labels: pod.Spec.NodeSelector}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ns, nil
	}
	ns.hasTerms = true
	var errs []error
	for i := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		t, err := newNodeTerm(&a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[i])
		errs = append(errs, err)
		ns.terms = append(ns.terms, t)
	}
	return ns, errors.Join(errs...)
}

func newNodeTerm(t *corev1.NodeSelectorTerm) (nodeTerm, error) {
	var nt nodeTerm
	if len(t.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, e := range t.MatchExpressions {
			var op selection.Operator
			switch e.Operator {
			case corev1.NodeSelectorOpIn:
				op = selection.In
			case corev1.NodeSelectorOpNotIn:
				op = selection.NotIn
			case corev1.NodeSelectorOpExists:
				op = selection.Exists
			case corev1.NodeSelectorOpDoesNotExist:
				op = selection.DoesNotExist
			case corev1.NodeSelectorOpGt:
				op = selection.GreaterThan
			case corev1.NodeSelectorOpLt:
				op = selection.LessThan
			default:
				nt.bad = true
				return nt, fmt.Errorf("node selector operator %q", e.Operator)
			}
			r, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				nt.bad = true
				return nt, fmt.Errorf("node selector requirement: %w", err)
			}
			sel = sel.Add(*r)
		}
		nt.sel = sel
	}
	for _, f := range t.MatchFields {
		if f.Key != "metadata.name" {
			nt.bad = true
			return nt, fmt.Errorf("node field selector key %q is not supported", f.Key)
		}
		nr := nameRequirement{names: make(map[string]struct{}, len(f.Values))}
		switch f.Operator {
		case corev1.NodeSelectorOpIn:
			nr.in = true
		case corev1.NodeSelectorOpNotIn:
		default:
			nt.bad = true
			return nt, fmt.Errorf("node field selector operator %q", f.Operator)
		}
		for _, v := range f.Values {
			nr.names[v] = struct{}{}
		}
		nt.fields = append(nt.fields, nr)
	}
	return nt, nil
}

func (t *nodeTerm) empty() bool { return t.sel == nil && len(t.fields) == 0 && !t.bad }

// Matches reports whether node satisfies the term. A term without
// requirements, or one that did not parse, matches nothing.
func (t *nodeTerm) Matches(node *corev1.Node) bool {
	if t.bad || t.empty() {
		return false
	}
	if t.sel != nil && !t.sel.Matches(labels.Set(node.Labels)) {
		return false
	}
	for _, f := range t.fields {
		if _, ok := f.names[node.Name]; ok != f.in {
			return false
		}
	}
	return true
}

// Matches reports whether node satisfies spec.nodeSelector and, if the
// pod has required node affinity, at least one of its terms.
func (s *NodeSelector) Matches(node *corev1.Node) bool {
	for k, v := range s.labels {
		if got, ok := node.Labels[k]; !ok || got != v {
			return false
		}
	}
	if !s.hasTerms {
		return true
	}
	for i := range s.terms {
		if s.terms[i].Matches(node) {
			return true
		}
	}
	return false
}

// IsEmpty is true when the selector matches every node.
func (s *NodeSelector) IsEmpty() bool { return len(s.labels) == 0 && !s.hasTerms }

// NodeNames returns the only nodes the selector can match when every
// required term names nodes with "metadata.name In"; ok is false
// otherwise.
func (s *NodeSelector) NodeNames() (names map[string]struct{}, ok bool) {
	if !s.hasTerms || len(s.terms) == 0 {
		return nil, false
	}
	out := map[string]struct{}{}
	for i := range s.terms {
		var in map[string]struct{}
		for _, f := range s.terms[i].fields {
			if f.in {
				in = f.names
				break
			}
		}
		if in == nil {
			return nil, false
		}
		for n := range in {
			out[n] = struct{}{}
		}
	}
	return out, true
}
