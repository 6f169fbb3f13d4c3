package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// Map is a read-only string map (labels, annotations, a node selector):
// Get, Len, At and All, in key order.
type Map = abi.Map

// Resources are amounts of resources: MilliCPU, Memory,
// EphemeralStorage, Pods, Scalar(name) and Get("cpu"|"memory"|...).
type Resources = abi.ResourcesView

// Taint is a node's taint.
type Taint = abi.Taint

// Toleration is a pod's toleration.
type Toleration = abi.Toleration

// Effects of taints and tolerations; EffectAll (an empty effect) only
// appears in tolerations.
const (
	EffectAll              = abi.EffectAll
	EffectNoSchedule       = abi.EffectNoSchedule
	EffectPreferNoSchedule = abi.EffectPreferNoSchedule
	EffectNoExecute        = abi.EffectNoExecute
)

// Operators of tolerations.
const (
	OpEqual  = abi.OpEqual
	OpExists = abi.OpExists
)

// NodeFields name the parts of a node a plugin reads.
type NodeFields = abi.Fields

// Optional parts of a node (its name and Unschedulable are always there).
const (
	Labels      = abi.FieldLabels
	Annotations = abi.FieldAnnotations
	Taints      = abi.FieldTaints
	// Resources: Allocatable, Requested, NonZeroRequested, PodCount.
	ResourceFields = abi.FieldResources
	AllNodeFields  = abi.AllFields
)

// Pod is the pod being scheduled.
type Pod struct{ v abi.PodView }

// PodFields name the parts of a pod a plugin reads.
type PodFields = abi.PodFields

// Parts of a pod.
const (
	// PodIdentity: Name, Namespace and UID.
	PodIdentity     = abi.PodIdentity
	PodLabels       = abi.PodLabels
	PodAnnotations  = abi.PodAnnotations
	PodNodeSelector = abi.PodNodeSelector
	PodTolerations  = abi.PodTolerations
	// PodRequests: Requests and NonZeroRequests.
	PodRequests  = abi.PodRequests
	PodPriority  = abi.PodPriority
	AllPodFields = abi.AllPodFields
)

func (p Pod) need(f abi.PodFields, what string) {
	if reg.podFields&f == 0 {
		panic("plugin: the pod's " + what + " were not asked for: name them in plugin.ReadsPod")
	}
}

// Name is the pod's name (needs PodIdentity).
func (p Pod) Name() string { p.need(abi.PodIdentity, "identity"); return p.v.Name() }

// Namespace is the pod's namespace (needs PodIdentity).
func (p Pod) Namespace() string { p.need(abi.PodIdentity, "identity"); return p.v.Namespace() }

// UID is the pod's UID (needs PodIdentity).
func (p Pod) UID() string { p.need(abi.PodIdentity, "identity"); return p.v.UID() }

// Priority is the pod's spec.priority, 0 when unset (needs PodPriority).
func (p Pod) Priority() int32 { p.need(abi.PodPriority, "priority"); return p.v.Priority() }

// Labels are the pod's labels (needs PodLabels).
func (p Pod) Labels() Map { p.need(abi.PodLabels, "labels"); return p.v.Labels() }

// Annotations are the pod's annotations (needs PodAnnotations).
func (p Pod) Annotations() Map { p.need(abi.PodAnnotations, "annotations"); return p.v.Annotations() }

// NodeSelector is the pod's spec.nodeSelector (needs PodNodeSelector).
func (p Pod) NodeSelector() Map {
	p.need(abi.PodNodeSelector, "node selector")
	return p.v.NodeSelector()
}

// NumTolerations and TolerationAt list the pod's tolerations (needs
// PodTolerations).
func (p Pod) NumTolerations() int {
	p.need(abi.PodTolerations, "tolerations")
	return p.v.NumTolerations()
}

// TolerationAt returns the i-th toleration.
func (p Pod) TolerationAt(i int) Toleration { return p.v.TolerationAt(i) }

// Requests are the pod's effective requests, as Kubernetes computes them
// (containers, init containers and sidecars, overhead, pod-level
// resources); needs PodRequests.
func (p Pod) Requests() Resources { p.need(abi.PodRequests, "requests"); return p.v.Requests() }

// NonZeroRequests are the pod's cpu (millicores) and memory requests,
// counting containers that request none as 100m and 200Mi, as
// Kubernetes' scoring does (needs PodRequests).
func (p Pod) NonZeroRequests() (milliCPU, memory int64) {
	p.need(abi.PodRequests, "requests")
	return p.v.NonZeroRequests()
}

// Node is a candidate node and what runs on it.
type Node struct{ v abi.NodeView }

func (n Node) need(f abi.Fields, what string) {
	if n.v.Fields()&f == 0 {
		panic("plugin: node " + what + " were not asked for: name them in plugin.ReadsNode")
	}
}

// Name is the node's name.
func (n Node) Name() string { return n.v.Name() }

// Unschedulable is the node's spec.unschedulable (cordoned).
func (n Node) Unschedulable() bool { return n.v.Unschedulable() }

// Labels are the node's labels (needs Labels).
func (n Node) Labels() Map { n.need(abi.FieldLabels, "labels"); return n.v.Labels() }

// Annotations are the node's annotations (needs Annotations).
func (n Node) Annotations() Map {
	n.need(abi.FieldAnnotations, "annotations")
	return n.v.Annotations()
}

// NumTaints is the number of the node's taints (needs Taints).
func (n Node) NumTaints() int { n.need(abi.FieldTaints, "taints"); return n.v.NumTaints() }

// TaintAt returns the i-th taint.
func (n Node) TaintAt(i int) Taint { return n.v.TaintAt(i) }

// Allocatable is what the node offers pods (needs ResourceFields).
func (n Node) Allocatable() Resources {
	n.need(abi.FieldResources, "resources")
	return n.v.Allocatable()
}

// Requested is the sum of the requests of the pods on the node, bound or
// assumed (needs ResourceFields).
func (n Node) Requested() Resources {
	n.need(abi.FieldResources, "resources")
	return n.v.Requested()
}

// NonZeroRequested is the node's requested cpu (millicores) and memory
// with the scoring defaults (needs ResourceFields).
func (n Node) NonZeroRequested() (milliCPU, memory int64) {
	n.need(abi.FieldResources, "resources")
	return n.v.NonZeroRequested()
}

// PodCount is the number of pods on the node (needs ResourceFields).
func (n Node) PodCount() int64 { n.need(abi.FieldResources, "resources"); return n.v.PodCount() }

// Code is a filter's verdict on a node.
type Code = abi.Code

// Verdict codes.
const (
	// Pass: the node may take the pod (the zero Verdict).
	Pass = abi.Pass
	// Unschedulable: not now; a change on the node might make it fit.
	Unschedulable = abi.Unschedulable
	// UnschedulableAndUnresolvable: no; evicting pods would not help.
	UnschedulableAndUnresolvable = abi.UnschedulableAndUnresolvable
)

// Verdict is a filter's answer for one node; the zero value passes.
// Reason is a short phrase in the Kubernetes style ("node(s) didn't match
// the pod's team"): the scheduler counts nodes per reason in the pod's
// condition.
type Verdict struct {
	Code   Code
	Reason string
}

// Reject is an Unschedulable verdict.
func Reject(reason string) Verdict { return Verdict{Code: Unschedulable, Reason: reason} }

// RejectUnresolvable is an UnschedulableAndUnresolvable verdict.
func RejectUnresolvable(reason string) Verdict {
	return Verdict{Code: UnschedulableAndUnresolvable, Reason: reason}
}

// FilterFunc judges every candidate node: verdicts has one zero (passing)
// entry per node; set the entries of the nodes you reject. An error
// means the plugin could not judge (the host applies its failure
// policy).
type FilterFunc func(pod Pod, nodes []Node, verdicts []Verdict) error

// ScoreFunc scores every candidate node: scores has one zero entry per
// node; set each to a value in [0, 100], higher is better.
type ScoreFunc func(pod Pod, nodes []Node, scores []int64) error

// ConfigureFunc receives the plugin's settings (JSON, possibly empty)
// once per instance, before any call; an error refuses them and the host
// refuses to load the plugin.
type ConfigureFunc func(settings []byte) error

type registry struct {
	filter     FilterFunc
	score      ScoreFunc
	configure  ConfigureFunc
	nodeFields abi.Fields
	podFields  abi.PodFields
	flags      abi.InfoFlags
}

var reg = registry{nodeFields: abi.AllFields, podFields: abi.AllPodFields}

// RegisterFilter makes fn the plugin's Filter. Call it once, from init.
func RegisterFilter(fn FilterFunc) {
	if reg.filter != nil {
		panic("plugin: RegisterFilter called twice")
	}
	reg.filter = fn
}

// RegisterScore makes fn the plugin's Score. Call it once, from init.
func RegisterScore(fn ScoreFunc) {
	if reg.score != nil {
		panic("plugin: RegisterScore called twice")
	}
	reg.score = fn
}

// RegisterConfigure makes fn receive the plugin's settings. Without it
// the plugin accepts only empty settings ("", "null" or "{}").
func RegisterConfigure(fn ConfigureFunc) {
	if reg.configure != nil {
		panic("plugin: RegisterConfigure called twice")
	}
	reg.configure = fn
}

// ReadsNode declares the parts of nodes the plugin reads, so that the
// host sends only those (a node's name and Unschedulable always come).
// Without it every part comes. Reading a part not declared panics.
func ReadsNode(fields NodeFields) {
	reg.nodeFields = fields & abi.AllFields
}

// ReadsPod declares the parts of the pod the plugin reads, so that the
// host sends only those (and, for a Pure plugin, treats pods equal in
// those parts as equal). Without it every part comes. Reading a part not
// declared panics.
func ReadsPod(fields PodFields) {
	reg.podFields = fields & abi.AllPodFields
}

// Pure promises that the plugin's verdict or score for a node depends on
// its settings, the pod parts it reads (ReadsPod) and that node alone:
// not on the other candidates, nor on anything kept from earlier calls.
// The host then caches answers: a pod whose declared parts equal an
// earlier pod's is answered from the cache for every node that has not
// changed since, and the plugin is called with the changed nodes only.
// A plugin that breaks the promise gets stale answers.
func Pure() {
	reg.flags |= abi.InfoPure
}

// DecodeSettings decodes JSON settings into v strictly (unknown fields
// are errors); empty settings leave v as it is.
func DecodeSettings(settings []byte, v any) error {
	if len(bytes.TrimSpace(settings)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(settings))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

// NewPod and NewNode make views of p and n, for testing plugin functions
// natively (go test), outside a host.
func NewPod(p *abi.Pod) Pod { return Pod{v: abi.NewPodView(abi.AppendPod(nil, p))} }

// NewNode makes a view of n with every part.
func NewNode(n *abi.Node) Node {
	return Node{v: abi.NewNodeView(abi.AppendNode(nil, n, abi.AllFields))}
}

// guest is one instance's state: its buffers and scratch slices, reused
// from call to call.
type guest struct {
	req      []byte
	resp     []byte
	table    abi.Table
	nodes    []Node
	verdicts []Verdict
	packed   []abi.Verdict
	reasons  []string
	scores   []int64
}

var g guest

// buffer returns a buffer of at least size bytes for the next request.
func (g *guest) buffer(size uint32) []byte {
	if uint32(cap(g.req)) < size {
		g.req = make([]byte, max(size, 4096))
	}
	g.req = g.req[:cap(g.req)]
	return g.req
}

func (g *guest) info() []byte {
	var ps abi.Points
	if reg.filter != nil {
		ps = ps.With(abi.PointFilter)
	}
	if reg.score != nil {
		ps = ps.With(abi.PointScore)
	}
	g.resp = abi.AppendInfo(g.resp[:0], abi.Info{Version: abi.Version, Points: ps, NodeFields: reg.nodeFields,
		PodFields: reg.podFields, Flags: reg.flags})
	return g.resp
}

// recovered turns a panic into an error response.
func (g *guest) recovered(r any) []byte {
	msg := fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
	if len(msg) > abi.MaxMessage {
		msg = msg[:abi.MaxMessage]
	}
	g.resp = abi.AppendError(g.resp[:0], msg)
	return g.resp
}

func (g *guest) fail(err error) []byte {
	g.resp = abi.AppendError(g.resp[:0], err.Error())
	return g.resp
}

func (g *guest) configure(settings []byte) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			resp = g.recovered(r)
		}
	}()
	if reg.configure == nil {
		switch string(bytes.TrimSpace(settings)) {
		case "", "null", "{}":
		default:
			return g.fail(fmt.Errorf("settings: this plugin takes none"))
		}
	} else if err := reg.configure(bytes.Clone(settings)); err != nil {
		return g.fail(err)
	}
	g.resp = abi.AppendStatus(g.resp[:0], "", false)
	return g.resp
}

// call serves one filter or score request held in req.
func (g *guest) call(point abi.Point, req []byte) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			resp = g.recovered(r)
		}
	}()
	rv, err := abi.NewRequestView(req)
	if err != nil {
		return g.fail(err)
	}
	if rv.Point() != point {
		return g.fail(fmt.Errorf("plugin: a %v request at the %v export", rv.Point(), point))
	}
	g.table.Apply(rv)
	n := rv.Len()
	g.nodes = grow(g.nodes, n)
	for i := range g.nodes {
		v, ok := g.table.Node(rv.Slot(i))
		if !ok {
			return g.fail(abi.ErrRequest)
		}
		g.nodes[i] = Node{v: v}
	}
	pod := Pod{v: rv.Pod()}
	switch point {
	case abi.PointFilter:
		if reg.filter == nil {
			return g.fail(fmt.Errorf("plugin: no filter registered"))
		}
		g.verdicts = grow(g.verdicts, n)
		if err := reg.filter(pod, g.nodes, g.verdicts); err != nil {
			return g.fail(err)
		}
		return g.filterResponse()
	case abi.PointScore:
		if reg.score == nil {
			return g.fail(fmt.Errorf("plugin: no score registered"))
		}
		g.scores = grow(g.scores, n)
		if err := reg.score(pod, g.nodes, g.scores); err != nil {
			return g.fail(err)
		}
		// The host checks that every score is in [0, 100].
		g.resp = abi.AppendScoreResponse(g.resp[:0], g.scores)
		return g.resp
	}
	return g.fail(fmt.Errorf("plugin: unknown point %d", point))
}

// filterResponse packs the verdicts, one reason table entry per distinct
// reason.
func (g *guest) filterResponse() []byte {
	g.packed = grow(g.packed, len(g.verdicts))
	g.reasons = g.reasons[:0]
	for i, v := range g.verdicts {
		switch v.Code {
		case Pass:
			continue
		case Unschedulable, UnschedulableAndUnresolvable:
		default:
			return g.fail(fmt.Errorf("plugin: node %s: verdict code %d", g.nodes[i].Name(), v.Code))
		}
		r := v.Reason
		if r == "" {
			r = "node(s) were rejected by the plugin"
		}
		if len(r) > abi.MaxReason {
			r = r[:abi.MaxReason]
		}
		idx := -1
		for j := len(g.reasons) - 1; j >= 0; j-- {
			if g.reasons[j] == r {
				idx = j
				break
			}
		}
		if idx < 0 {
			idx = len(g.reasons)
			g.reasons = append(g.reasons, r)
		}
		g.packed[i] = abi.MakeVerdict(v.Code, idx)
	}
	g.resp = abi.AppendFilterResponse(g.resp[:0], g.packed, g.reasons)
	return g.resp
}

// grow returns s resized to n zeroed entries.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}
