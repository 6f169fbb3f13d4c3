package wasmplugin

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// FailurePolicy says what a failed call means.
type FailurePolicy string

// Failure policies.
const (
	// Fail: the pod is not scheduled this cycle; the error is the reason.
	Fail FailurePolicy = "Fail"
	// Ignore: the plugin has no opinion for that call.
	Ignore FailurePolicy = "Ignore"
)

// Args are a WASM plugin's arguments in a profile (PluginConfig.Args,
// typed or as JSON). The zero value fails on errors.
type Args struct {
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`
}

// Register adds each plugin's Factory to r under the plugin's name.
func Register(r framework.Registry, ps ...*plugins.Plugin) {
	for _, p := range ps {
		r[p.Name()] = Factory(p)
	}
}

// Factory returns the framework factory of p. The plugin it builds
// implements Filter, Score or both, as p's active version does.
func Factory(p *plugins.Plugin) framework.Factory {
	return func(args any, _ framework.Handle) (framework.Plugin, error) {
		a, err := framework.DecodeArgs(args, Args{})
		if err != nil {
			return nil, err
		}
		switch a.FailurePolicy {
		case "":
			a.FailurePolicy = Fail
		case Fail, Ignore:
		default:
			return nil, fmt.Errorf("failurePolicy %q: want Fail or Ignore", a.FailurePolicy)
		}
		info := p.Info()
		if info.Version == "" {
			return nil, fmt.Errorf("wasm plugin %s: %w", p.Name(), plugins.ErrClosed)
		}
		pl := New(p, a.FailurePolicy)
		switch {
		case info.Filter && info.Score:
			return &filterScorePlugin{pl}, nil
		case info.Filter:
			return &filterPlugin{pl}, nil
		case info.Score:
			return &scorePlugin{pl}, nil
		}
		return nil, fmt.Errorf("wasm plugin %s implements neither filter nor score", p.Name())
	}
}

// Plugin is a WASM plugin seen by the framework. Its Filter and Score
// methods are exposed through the types Factory returns (filterPlugin,
// scorePlugin, filterScorePlugin), so that the framework sees only the
// points the module implements.
type Plugin struct {
	p      *plugins.Plugin
	policy FailurePolicy
	events []framework.ClusterEvent

	mu       sync.Mutex
	nodes    map[*framework.NodeInfo]*nodeEntry
	free     []uint32 // slots of evicted nodes
	slots    uint32   // slots handed out
	calls    uint64   // batches encoded, for eviction
	statuses map[statusKey]*framework.Status

	scratch sync.Pool // *batch
}

// New adapts p with the failure policy; Factory is what profiles use.
func New(p *plugins.Plugin, policy FailurePolicy) *Plugin {
	pl := &Plugin{p: p, policy: policy, nodes: map[*framework.NodeInfo]*nodeEntry{}, statuses: map[statusKey]*framework.Status{}}
	pl.scratch.New = func() any { return &batch{pl: pl} }
	pl.events = eventsFor(p.Info().NodeFields)
	return pl
}

type filterPlugin struct{ *Plugin }
type scorePlugin struct{ *Plugin }
type filterScorePlugin struct{ *Plugin }

var (
	_ framework.FilterPlugin      = (*filterPlugin)(nil)
	_ framework.EnqueueExtensions = (*filterPlugin)(nil)
	_ framework.ScorePlugin       = (*scorePlugin)(nil)
	_ framework.FilterPlugin      = (*filterScorePlugin)(nil)
	_ framework.ScorePlugin       = (*filterScorePlugin)(nil)
)

func (f *filterPlugin) Filter(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, st []*framework.Status) *framework.Status {
	return f.filter(ctx, s, pod, nodes, st)
}

func (f *filterScorePlugin) Filter(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, st []*framework.Status) *framework.Status {
	return f.filter(ctx, s, pod, nodes, st)
}

func (f *scorePlugin) Score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	return f.score(ctx, s, pod, nodes, scores)
}

func (f *filterScorePlugin) Score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	return f.score(ctx, s, pod, nodes, scores)
}

// Name implements framework.Plugin: the WASM plugin's name.
func (pl *Plugin) Name() string { return pl.p.Name() }

// EventsToRegister implements framework.EnqueueExtensions: a pod the
// plugin rejected may fit after a change to what the plugin reads of
// nodes, or when a node is added.
func (pl *Plugin) EventsToRegister() []framework.ClusterEvent { return pl.events }

func eventsFor(f abi.Fields) []framework.ClusterEvent {
	node := framework.Add
	if f&abi.FieldLabels != 0 {
		node |= framework.UpdateNodeLabel
	}
	if f&abi.FieldTaints != 0 {
		node |= framework.UpdateNodeTaint
	}
	if f&abi.FieldAnnotations != 0 {
		node |= framework.Update // annotations have no action of their own
	}
	node |= framework.UpdateNodeUnschedulable // always sent
	evs := []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: node}}
	if f&abi.FieldResources != 0 {
		evs[0].Action |= framework.UpdateNodeAllocatable
		evs = append(evs, framework.ClusterEvent{Resource: framework.AssignedPod, Action: framework.Delete | framework.UpdatePodRequest})
	}
	return evs
}

// Stats are the host's counters of the plugin.
func (pl *Plugin) Stats() plugins.Stats { return pl.p.Stats() }

func (pl *Plugin) filter(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	b := pl.batch(s, pod, nodes)
	defer pl.scratch.Put(b)
	err := pl.p.Filter(ctx, b, &b.result)
	if err != nil {
		return pl.failed(err)
	}
	res := &b.result
	// One status per reason and code of this answer (usually one or two).
	b.statuses = b.statuses[:0]
	for i, v := range res.Verdicts {
		if v.Code() == abi.Pass {
			continue
		}
		var st *framework.Status
		for _, c := range b.statuses {
			if c.v == v {
				st = c.st
				break
			}
		}
		if st == nil {
			st = pl.status(v, res.Reasons[v.Reason()])
			b.statuses = append(b.statuses, verdictStatus{v, st})
		}
		statuses[i] = st
	}
	return nil
}

type verdictStatus struct {
	v  abi.Verdict
	st *framework.Status
}

func (pl *Plugin) score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	b := pl.batch(s, pod, nodes)
	defer pl.scratch.Put(b)
	if err := pl.p.Score(ctx, b, scores); err != nil {
		clear(scores)
		return pl.failed(err)
	}
	return nil
}

// failed applies the failure policy to a failed call.
func (pl *Plugin) failed(err error) *framework.Status {
	if errors.Is(err, plugins.ErrNotImplemented) || pl.policy == Ignore {
		return nil
	}
	return framework.AsStatus(err)
}

type statusKey struct {
	code   abi.Code
	reason string
}

// status returns the (shared) status of a rejection.
func (pl *Plugin) status(v abi.Verdict, reason string) *framework.Status {
	k := statusKey{v.Code(), reason}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if st, ok := pl.statuses[k]; ok {
		return st
	}
	code := framework.Unschedulable
	if v.Code() == abi.UnschedulableAndUnresolvable {
		code = framework.UnschedulableAndUnresolvable
	}
	st := framework.NewStatus(code, reason)
	if len(pl.statuses) < 1024 {
		pl.statuses[k] = st
	}
	return st
}

// batch is one call's input (a plugins.Batch) and its scratch space.
type batch struct {
	pl       *Plugin
	pod      []byte
	nodes    []*framework.NodeInfo
	recs     []plugins.NodeRecord
	result   plugins.FilterResult
	statuses []verdictStatus
}

func (pl *Plugin) batch(s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo) *batch {
	b := pl.scratch.Get().(*batch)
	b.pod, b.nodes = podRecord(s, pod), nodes
	return b
}

// Encode implements plugins.Batch: the cached record of every node,
// encoded anew for the nodes that changed.
func (b *batch) Encode(fields abi.Fields) ([]byte, []plugins.NodeRecord) {
	pl := b.pl
	b.recs = b.recs[:0]
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.calls++
	for _, ni := range b.nodes {
		b.recs = append(b.recs, pl.nodeRecord(ni, fields))
	}
	if pl.calls%evictEvery == 0 {
		pl.evict()
	}
	return b.pod, b.recs
}

// Node records are evicted when unused for evictAfter batches (a deleted
// node's, or a node no cycle looked at for that long).
const (
	evictEvery = 1 << 12
	evictAfter = 1 << 16
)

// nodeEntry is a node's cached record and its slot in the guests' node
// tables. Entries are keyed by NodeInfo: a snapshot keeps one NodeInfo
// per node and updates it in place, so the key is stable while the node
// is, and a pointer hashes faster than a name. A NodeInfo that now holds
// another node (or generation) is re-encoded in its slot.
type nodeEntry struct {
	node   *corev1.Node
	gen    int64
	fields abi.Fields
	used   uint64
	rec    plugins.NodeRecord
}

// nodeRecord returns ni's record with fields, from the cache when ni is
// the generation (and node object) it was encoded from. NodeInfos of
// generation 0 (made outside the scheduler's cache) are never cached.
func (pl *Plugin) nodeRecord(ni *framework.NodeInfo, fields abi.Fields) plugins.NodeRecord {
	e := pl.nodes[ni]
	if e != nil && e.gen == ni.Generation && e.node == ni.Node() && e.fields == fields && ni.Generation != 0 {
		e.used = pl.calls
		return e.rec
	}
	if e == nil {
		e = &nodeEntry{}
		e.rec.Slot = pl.slot()
		pl.nodes[ni] = e
	}
	var n abi.Node
	nodeOf(ni, &n)
	// A new slice each time: the old one may still be read by a call in
	// flight on another goroutine.
	e.rec.Record = abi.AppendNode(make([]byte, 0, len(e.rec.Record)), &n, fields)
	e.rec.Rev = plugins.NewRev()
	e.node, e.gen, e.fields, e.used = ni.Node(), ni.Generation, fields, pl.calls
	return e.rec
}

// slot hands out the lowest free slot.
func (pl *Plugin) slot() uint32 {
	if n := len(pl.free); n > 0 {
		s := pl.free[n-1]
		pl.free = pl.free[:n-1]
		return s
	}
	if pl.slots > abi.MaxSlot {
		panic("bug: wasmplugin: more than abi.MaxSlot nodes cached")
	}
	pl.slots++
	return pl.slots - 1
}

func (pl *Plugin) evict() {
	for ni, e := range pl.nodes {
		if pl.calls-e.used > evictAfter {
			delete(pl.nodes, ni)
			pl.free = append(pl.free, e.rec.Slot)
		}
	}
}

// podKey keeps a cycle's pod record in its CycleState, for every WASM
// plugin of the profile.
const podKey framework.StateKey = "skiff.dev/wasm-pod"

type podState []byte

func (p podState) Clone() framework.StateData { return p }

func podRecord(s *framework.CycleState, pi *framework.PodInfo) []byte {
	if s != nil {
		if p, err := framework.ReadAs[podState](s, podKey); err == nil {
			return p
		}
	}
	var p abi.Pod
	podOf(pi, &p)
	rec := abi.AppendPod(nil, &p)
	if s != nil {
		s.Write(podKey, podState(rec))
	}
	return rec
}
