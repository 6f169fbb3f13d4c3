package builtin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// ScoringStrategyType is how NodeResourcesFit scores nodes.
type ScoringStrategyType string

// Scoring strategies, as in Kubernetes.
const (
	// LeastAllocated prefers the nodes with the most room left (spread).
	LeastAllocated ScoringStrategyType = "LeastAllocated"
	// MostAllocated prefers the fullest nodes that fit (bin packing).
	MostAllocated ScoringStrategyType = "MostAllocated"
	// RequestedToCapacityRatio scores utilization along a custom shape.
	RequestedToCapacityRatio ScoringStrategyType = "RequestedToCapacityRatio"
)

// ResourceSpec is a resource a strategy scores, with its weight.
type ResourceSpec struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight,omitempty"`
}

// UtilizationShapePoint is a point of the RequestedToCapacityRatio shape:
// utilization in percent (0-100) and score (0-10).
type UtilizationShapePoint struct {
	Utilization int32 `json:"utilization"`
	Score       int32 `json:"score"`
}

// RequestedToCapacityRatioParam is the shape of RequestedToCapacityRatio.
type RequestedToCapacityRatioParam struct {
	Shape []UtilizationShapePoint `json:"shape"`
}

// ScoringStrategy configures NodeResourcesFit's score.
type ScoringStrategy struct {
	Type                     ScoringStrategyType            `json:"type,omitempty"`
	Resources                []ResourceSpec                 `json:"resources,omitempty"`
	RequestedToCapacityRatio *RequestedToCapacityRatioParam `json:"requestedToCapacityRatio,omitempty"`
}

// FitArgs are NodeResourcesFit's arguments (Kubernetes'
// NodeResourcesFitArgs). The zero value scores LeastAllocated over cpu and
// memory, weight 1 each.
type FitArgs struct {
	// IgnoredResources are extended resources the filter does not check;
	// IgnoredResourceGroups the same by domain ("example.com").
	IgnoredResources      []string         `json:"ignoredResources,omitempty"`
	IgnoredResourceGroups []string         `json:"ignoredResourceGroups,omitempty"`
	ScoringStrategy       *ScoringStrategy `json:"scoringStrategy,omitempty"`
}

// BalancedAllocationArgs are NodeResourcesBalancedAllocation's arguments;
// the zero value balances cpu and memory.
type BalancedAllocationArgs struct {
	Resources []ResourceSpec `json:"resources,omitempty"`
}

var defaultResources = []ResourceSpec{{Name: string(corev1.ResourceCPU), Weight: 1}, {Name: string(corev1.ResourceMemory), Weight: 1}}

// Fit (NodeResourcesFit) rejects nodes without room for the pod's
// requests (pods, cpu, memory, ephemeral storage, extended resources) and
// scores the rest by the configured strategy.
type Fit struct {
	ignored       map[corev1.ResourceName]bool
	ignoredGroups map[string]bool
	scorer        allocationScorer
}

var (
	_ framework.FilterPlugin      = (*Fit)(nil)
	_ framework.ScorePlugin       = (*Fit)(nil)
	_ framework.EnqueueExtensions = (*Fit)(nil)
)

func newFit(args any, _ framework.Handle) (framework.Plugin, error) {
	a, err := framework.DecodeArgs(args, FitArgs{})
	if err != nil {
		return nil, err
	}
	f := &Fit{ignored: map[corev1.ResourceName]bool{}, ignoredGroups: map[string]bool{}}
	for _, r := range a.IgnoredResources {
		f.ignored[corev1.ResourceName(r)] = true
	}
	for _, g := range a.IgnoredResourceGroups {
		if strings.Contains(g, "/") {
			return nil, fmt.Errorf("ignoredResourceGroups: %q must be a domain, without '/'", g)
		}
		f.ignoredGroups[g] = true
	}
	s := ScoringStrategy{Type: LeastAllocated}
	if a.ScoringStrategy != nil {
		s = *a.ScoringStrategy
	}
	if s.Type == "" {
		s.Type = LeastAllocated
	}
	res, err := checkResources(s.Resources, defaultResources)
	if err != nil {
		return nil, fmt.Errorf("scoringStrategy.resources: %w", err)
	}
	f.scorer = allocationScorer{resources: res}
	switch s.Type {
	case LeastAllocated:
		f.scorer.score = weighted(res, leastRequested)
	case MostAllocated:
		f.scorer.score = weighted(res, mostRequested)
	case RequestedToCapacityRatio:
		if s.RequestedToCapacityRatio == nil {
			return nil, errors.New("scoringStrategy: RequestedToCapacityRatio needs requestedToCapacityRatio.shape")
		}
		fn, err := brokenLinear(s.RequestedToCapacityRatio.Shape)
		if err != nil {
			return nil, fmt.Errorf("scoringStrategy.requestedToCapacityRatio: %w", err)
		}
		f.scorer.score = ratioScorer(res, fn)
	default:
		return nil, fmt.Errorf("scoringStrategy.type %q: want LeastAllocated, MostAllocated or RequestedToCapacityRatio", s.Type)
	}
	return f, nil
}

func checkResources(res, def []ResourceSpec) ([]ResourceSpec, error) {
	if len(res) == 0 {
		return def, nil
	}
	seen := map[string]bool{}
	out := slices.Clone(res)
	for i, r := range out {
		if r.Name == "" || seen[r.Name] {
			return nil, fmt.Errorf("resource %q is empty or repeated", r.Name)
		}
		seen[r.Name] = true
		if r.Weight == 0 {
			out[i].Weight = 1
		}
		if out[i].Weight < 1 || out[i].Weight > 100 {
			return nil, fmt.Errorf("resource %s: weight %d is not in [1, 100]", r.Name, r.Weight)
		}
	}
	return out, nil
}

// Name implements framework.Plugin.
func (*Fit) Name() string { return NodeResourcesFitName }

const (
	reasonTooManyPods = "Too many pods"
	reasonCPU         = "Insufficient cpu"
	reasonMemory      = "Insufficient memory"
	reasonEphemeral   = "Insufficient ephemeral-storage"
)

var (
	statusTooManyPods = framework.NewStatus(framework.Unschedulable, reasonTooManyPods)
	statusCPU         = framework.NewStatus(framework.Unschedulable, reasonCPU)
	statusMemory      = framework.NewStatus(framework.Unschedulable, reasonMemory)
	statusEphemeral   = framework.NewStatus(framework.Unschedulable, reasonEphemeral)
)

// Filter implements framework.FilterPlugin.
func (f *Fit) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	req := &pod.Requests
	var scalars []corev1.ResourceName // the scalar resources checked, sorted
	for name, q := range req.Scalar {
		if q == 0 || f.ignoredScalar(name) {
			continue
		}
		scalars = append(scalars, name)
	}
	slices.Sort(scalars)
	var reasons []string
	for i, ni := range nodes {
		reasons = reasons[:0]
		if int64(len(ni.Pods))+1 > ni.Allocatable.AllowedPodNumber {
			reasons = append(reasons, reasonTooManyPods)
		}
		if req.MilliCPU > 0 && req.MilliCPU > ni.Allocatable.MilliCPU-ni.Requested.MilliCPU {
			reasons = append(reasons, reasonCPU)
		}
		if req.Memory > 0 && req.Memory > ni.Allocatable.Memory-ni.Requested.Memory {
			reasons = append(reasons, reasonMemory)
		}
		if req.EphemeralStorage > 0 && req.EphemeralStorage > ni.Allocatable.EphemeralStorage-ni.Requested.EphemeralStorage {
			reasons = append(reasons, reasonEphemeral)
		}
		for _, name := range scalars {
			if req.Scalar[name] > ni.Allocatable.Scalar[name]-ni.Requested.Scalar[name] {
				reasons = append(reasons, "Insufficient "+string(name))
			}
		}
		statuses[i] = fitStatus(reasons)
	}
	return nil
}

// fitStatus is the rejection for reasons, shared when it is a common one.
func fitStatus(reasons []string) *framework.Status {
	switch len(reasons) {
	case 0:
		return nil
	case 1:
		switch reasons[0] {
		case reasonTooManyPods:
			return statusTooManyPods
		case reasonCPU:
			return statusCPU
		case reasonMemory:
			return statusMemory
		case reasonEphemeral:
			return statusEphemeral
		}
	}
	return framework.NewStatus(framework.Unschedulable, slices.Clone(reasons)...)
}

func (f *Fit) ignoredScalar(name corev1.ResourceName) bool {
	if len(f.ignored) == 0 && len(f.ignoredGroups) == 0 {
		return false
	}
	if !isExtended(name) {
		return false
	}
	domain, _, _ := strings.Cut(string(name), "/")
	return f.ignored[name] || f.ignoredGroups[domain]
}

// isExtended is true for domain-prefixed names outside kubernetes.io.
func isExtended(name corev1.ResourceName) bool {
	s := string(name)
	return strings.Contains(s, "/") && !strings.Contains(s, corev1.ResourceDefaultNamespacePrefix) &&
		!strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix)
}

// Score implements framework.ScorePlugin.
func (f *Fit) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	f.scorer.scoreAll(pod, nodes, scores, false)
	return nil
}

// EventsToRegister implements framework.EnqueueExtensions.
func (*Fit) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPod, Action: framework.Delete | framework.UpdatePodRequest},
		{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeAllocatable},
	}
}

// allocationScorer scores nodes from the requested and allocatable
// amounts of its resources, as Kubernetes' resourceAllocationScorer.
type allocationScorer struct {
	resources []ResourceSpec
	score     func(requested, allocatable []int64) int64
}

// scoreAll scores every node. With useRequested the pods' actual
// requests count; otherwise cpu and memory count with the defaults for
// containers that request none.
func (a *allocationScorer) scoreAll(pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64, useRequested bool) {
	n := len(a.resources)
	var buf [8]int64
	var podReq, requested, allocatable []int64
	if 3*n <= len(buf) {
		podReq, requested, allocatable = buf[:n:n], buf[n:2*n:2*n], buf[2*n:3*n]
	} else {
		podReq, requested, allocatable = make([]int64, n), make([]int64, n), make([]int64, n)
	}
	for i, r := range a.resources {
		podReq[i] = podRequest(pod, corev1.ResourceName(r.Name), useRequested)
	}
	for j, ni := range nodes {
		for i, r := range a.resources {
			allocatable[i], requested[i] = nodeAmounts(ni, corev1.ResourceName(r.Name), podReq[i], useRequested)
		}
		scores[j] = a.score(requested, allocatable)
	}
}

func podRequest(pod *framework.PodInfo, name corev1.ResourceName, useRequested bool) int64 {
	if !useRequested {
		switch name {
		case corev1.ResourceCPU:
			return pod.NonZeroMilliCPU
		case corev1.ResourceMemory:
			return pod.NonZeroMemory
		}
	}
	return pod.Requests.Get(name)
}

// nodeAmounts returns a node's allocatable amount of name and what would
// be requested with the pod on it; (0, 0) for a scalar resource the pod
// does not request, which leaves it out of the score.
func nodeAmounts(ni *framework.NodeInfo, name corev1.ResourceName, podReq int64, useRequested bool) (allocatable, requested int64) {
	used := &ni.NonZeroRequested
	if useRequested {
		used = &ni.Requested
	}
	switch name {
	case corev1.ResourceCPU:
		return ni.Allocatable.MilliCPU, used.MilliCPU + podReq
	case corev1.ResourceMemory:
		return ni.Allocatable.Memory, used.Memory + podReq
	case corev1.ResourceEphemeralStorage:
		return ni.Allocatable.EphemeralStorage, ni.Requested.EphemeralStorage + podReq
	}
	if podReq == 0 {
		return 0, 0
	}
	return ni.Allocatable.Scalar[name], ni.Requested.Scalar[name] + podReq
}

// weighted averages per-resource scores by weight, over the resources
// the node has.
func weighted(res []ResourceSpec, per func(requested, capacity int64) int64) func(requested, allocatable []int64) int64 {
	return func(requested, allocatable []int64) int64 {
		var score, weights int64
		for i := range requested {
			if allocatable[i] == 0 {
				continue
			}
			score += per(requested[i], allocatable[i]) * res[i].Weight
			weights += res[i].Weight
		}
		if weights == 0 {
			return 0
		}
		return score / weights
	}
}

func leastRequested(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}

func mostRequested(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	// Pods without requests count with defaults, which can exceed the node.
	requested = min(requested, capacity)
	return requested * framework.MaxNodeScore / capacity
}

// brokenLinear builds the piecewise linear function through shape
// (utilization 0-100 to score 0-10, scaled to 0-MaxNodeScore).
func brokenLinear(shape []UtilizationShapePoint) (func(int64) int64, error) {
	if len(shape) == 0 {
		return nil, errors.New("shape has no points")
	}
	type pt struct{ u, s int64 }
	pts := make([]pt, len(shape))
	for i, p := range shape {
		if p.Utilization < 0 || p.Utilization > 100 || p.Score < 0 || p.Score > 10 {
			return nil, fmt.Errorf("point %d (%d, %d) outside utilization [0, 100], score [0, 10]", i, p.Utilization, p.Score)
		}
		if i > 0 && p.Utilization <= shape[i-1].Utilization {
			return nil, errors.New("utilization values must increase")
		}
		pts[i] = pt{int64(p.Utilization), int64(p.Score) * (framework.MaxNodeScore / 10)}
	}
	return func(u int64) int64 {
		for i, p := range pts {
			if u <= p.u {
				if i == 0 {
					return p.s
				}
				q := pts[i-1]
				return q.s + (p.s-q.s)*(u-q.u)/(p.u-q.u)
			}
		}
		return pts[len(pts)-1].s
	}, nil
}

func ratioScorer(res []ResourceSpec, fn func(int64) int64) func(requested, allocatable []int64) int64 {
	return func(requested, allocatable []int64) int64 {
		var score, weights int64
		for i := range requested {
			if allocatable[i] == 0 {
				continue
			}
			u := int64(100)
			if requested[i] <= allocatable[i] {
				u = requested[i] * 100 / allocatable[i]
			}
			if s := fn(u); s > 0 {
				score += s * res[i].Weight
				weights += res[i].Weight
			}
		}
		if weights == 0 {
			return 0
		}
		return int64(math.Round(float64(score) / float64(weights)))
	}
}

// BalancedAllocation (NodeResourcesBalancedAllocation) prefers nodes
// whose resources would be used evenly with the pod on them: 100 times
// one minus the standard deviation of the requested fractions.
type BalancedAllocation struct {
	scorer allocationScorer
}

var (
	_ framework.PreScorePlugin = (*BalancedAllocation)(nil)
	_ framework.ScorePlugin    = (*BalancedAllocation)(nil)
)

func newBalancedAllocation(args any, _ framework.Handle) (framework.Plugin, error) {
	a, err := framework.DecodeArgs(args, BalancedAllocationArgs{})
	if err != nil {
		return nil, err
	}
	res, err := checkResources(a.Resources, defaultResources)
	if err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	return &BalancedAllocation{scorer: allocationScorer{resources: res, score: balancedScore}}, nil
}

// Name implements framework.Plugin.
func (*BalancedAllocation) Name() string { return BalancedAllocationName }

// PreScore implements framework.PreScorePlugin: pods that request none
// of the resources skip scoring.
func (b *BalancedAllocation) PreScore(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	for _, r := range b.scorer.resources {
		if pod.Requests.Get(corev1.ResourceName(r.Name)) != 0 {
			return nil
		}
	}
	return skip
}

// Score implements framework.ScorePlugin.
func (b *BalancedAllocation) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	b.scorer.scoreAll(pod, nodes, scores, true)
	return nil
}

func balancedScore(requested, allocatable []int64) int64 {
	var fractions [8]float64
	fr := fractions[:0]
	var total float64
	for i := range requested {
		if allocatable[i] == 0 {
			continue
		}
		f := min(float64(requested[i])/float64(allocatable[i]), 1)
		total += f
		fr = append(fr, f)
	}
	var std float64
	switch {
	case len(fr) == 2:
		std = math.Abs((fr[0] - fr[1]) / 2)
	case len(fr) > 2:
		mean := total / float64(len(fr))
		var sum float64
		for _, f := range fr {
			sum += (f - mean) * (f - mean)
		}
		std = math.Sqrt(sum / float64(len(fr)))
	}
	return int64((1 - std) * float64(framework.MaxNodeScore))
}
