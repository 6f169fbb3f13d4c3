package framework

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// NodeInfo is a node with the pods assigned to it (bound or assumed) and
// what they take: requested resources, host ports, pods with affinity
// terms. Plugins receive NodeInfos of a snapshot and must not modify
// them; the mutating methods are for the scheduler's cache.
type NodeInfo struct {
	node *corev1.Node
	// Pods are the pods on the node, bound or assumed, in no order.
	Pods []*PodInfo
	// PodsWithAffinity are the Pods with any pod (anti-)affinity term;
	// PodsWithRequiredAntiAffinity those with a required anti-affinity
	// term.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	// UsedPorts are the host ports the Pods bind (one entry per binding).
	UsedPorts []HostPort
	// Requested is the sum of the Pods' requests; NonZeroRequested the
	// same with the scoring defaults (cpu and memory only).
	Requested        Resource
	NonZeroRequested Resource
	// Allocatable is the node's allocatable resources.
	Allocatable Resource
	// ImageSizes maps each name of each image the node reports
	// (status.images) to the image's size in bytes; nil without images.
	ImageSizes map[string]int64
	// Generation increases with every change to the node or its pods.
	Generation int64
}

// NewNodeInfo returns the NodeInfo of node with no pods; node may be nil
// for pods whose node is not known yet.
func NewNodeInfo(node *corev1.Node) *NodeInfo {
	ni := &NodeInfo{}
	ni.SetNode(node)
	return ni
}

// Node is the node object; nil while only pods of a node not (or no
// longer) seen are known.
func (ni *NodeInfo) Node() *corev1.Node { return ni.node }

// Name is the node's name, "" without a node.
func (ni *NodeInfo) Name() string {
	if ni.node == nil {
		return ""
	}
	return ni.node.Name
}

// SetNode replaces the node object (and its allocatable resources).
func (ni *NodeInfo) SetNode(node *corev1.Node) {
	ni.node = node
	ni.Allocatable, ni.ImageSizes = Resource{}, nil
	if node == nil {
		return
	}
	ni.Allocatable = NewResource(node.Status.Allocatable)
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			if ni.ImageSizes == nil {
				ni.ImageSizes = make(map[string]int64, len(node.Status.Images))
			}
			ni.ImageSizes[name] = img.SizeBytes
		}
	}
}

// AddPod accounts pi on the node.
func (ni *NodeInfo) AddPod(pi *PodInfo) {
	ni.Pods = append(ni.Pods, pi)
	if pi.HasAffinity() {
		ni.PodsWithAffinity = append(ni.PodsWithAffinity, pi)
	}
	if len(pi.RequiredAntiAffinity) > 0 {
		ni.PodsWithRequiredAntiAffinity = append(ni.PodsWithRequiredAntiAffinity, pi)
	}
	ni.UsedPorts = append(ni.UsedPorts, pi.HostPorts...)
	ni.Requested.Add(&pi.Requests)
	ni.NonZeroRequested.MilliCPU += pi.NonZeroMilliCPU
	ni.NonZeroRequested.Memory += pi.NonZeroMemory
}

// RemovePod removes the pod with pi's UID from the node and reports
// whether it was there.
func (ni *NodeInfo) RemovePod(pi *PodInfo) bool {
	uid := pi.Pod.UID
	i := slices.IndexFunc(ni.Pods, func(p *PodInfo) bool { return p.Pod.UID == uid })
	if i < 0 {
		return false
	}
	old := ni.Pods[i]
	ni.Pods = deleteAt(ni.Pods, i)
	if j := slices.Index(ni.PodsWithAffinity, old); j >= 0 {
		ni.PodsWithAffinity = deleteAt(ni.PodsWithAffinity, j)
	}
	if j := slices.Index(ni.PodsWithRequiredAntiAffinity, old); j >= 0 {
		ni.PodsWithRequiredAntiAffinity = deleteAt(ni.PodsWithRequiredAntiAffinity, j)
	}
	for _, hp := range old.HostPorts {
		if j := slices.Index(ni.UsedPorts, hp); j >= 0 {
			ni.UsedPorts = deleteAt(ni.UsedPorts, j)
		}
	}
	ni.Requested.Sub(&old.Requests)
	ni.NonZeroRequested.MilliCPU -= old.NonZeroMilliCPU
	ni.NonZeroRequested.Memory -= old.NonZeroMemory
	return true
}

// deleteAt removes s[i] by moving the last element into its place.
func deleteAt[T any](s []T, i int) []T {
	last := len(s) - 1
	s[i] = s[last]
	var zero T
	s[last] = zero
	return s[:last]
}

// Clone returns a copy that shares only the immutable parts (the node
// object and the PodInfos) with ni.
func (ni *NodeInfo) Clone() *NodeInfo {
	c := &NodeInfo{}
	ni.CopyTo(c)
	return c
}

// CopyTo makes dst a clone of ni, reusing dst's slices.
func (ni *NodeInfo) CopyTo(dst *NodeInfo) {
	dst.node = ni.node
	dst.Pods = append(dst.Pods[:0], ni.Pods...)
	dst.PodsWithAffinity = append(dst.PodsWithAffinity[:0], ni.PodsWithAffinity...)
	dst.PodsWithRequiredAntiAffinity = append(dst.PodsWithRequiredAntiAffinity[:0], ni.PodsWithRequiredAntiAffinity...)
	dst.UsedPorts = append(dst.UsedPorts[:0], ni.UsedPorts...)
	dst.Requested = ni.Requested.Clone()
	dst.NonZeroRequested = ni.NonZeroRequested.Clone()
	dst.Allocatable = ni.Allocatable.Clone()
	dst.ImageSizes = ni.ImageSizes // replaced, never changed
	dst.Generation = ni.Generation
}
