package wasmplugin

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
// implements Filter, Score or both, as p's active version does. The
// plugins one factory builds share their caches (of node records and
// answers).
func Factory(p *plugins.Plugin) framework.Factory {
	shared := newCaches()
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
		pl := newPlugin(p, a.FailurePolicy, shared)
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

	*caches
	scratch sync.Pool // *batch
}

// caches are what an adapter keeps between calls: node records and their
// slots, answers of a pure plugin, statuses. The Plugins one Factory
// builds (one per profile build, as profiles are rebuilt on a swap or
// for a simulation) share them, so that a rebuilt profile starts warm.
type caches struct {
	mu       sync.Mutex
	nodes    nodeTable
	calls    uint64 // batches encoded, for eviction
	statuses map[statusKey]*framework.Status
	answers  answerCache
}

func newCaches() *caches { return &caches{statuses: map[statusKey]*framework.Status{}} }

// New adapts p with the failure policy; Factory is what profiles use.
func New(p *plugins.Plugin, policy FailurePolicy) *Plugin { return newPlugin(p, policy, newCaches()) }

func newPlugin(p *plugins.Plugin, policy FailurePolicy, c *caches) *Plugin {
	pl := &Plugin{p: p, policy: policy, caches: c}
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
	info := pl.p.Info()
	if info.Pure {
		return pl.filterCached(ctx, info, s, pod, nodes, statuses)
	}
	b := pl.batch(s, pod, nodes)
	defer pl.scratch.Put(b)
	if err := pl.p.Filter(ctx, b, &b.result); err != nil {
		return pl.failed(err)
	}
	for i, st := range b.verdictStatuses() {
		if st != nil {
			statuses[i] = st
		}
	}
	return nil
}

// verdictStatuses turns the verdicts of b.result into statuses (nil for
// a pass), into b.out.
func (b *batch) verdictStatuses() []*framework.Status {
	res := &b.result
	b.out = resize(b.out, len(res.Verdicts))
	clear(b.out)
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
			st = b.pl.status(v, res.Reasons[v.Reason()])
			b.statuses = append(b.statuses, verdictStatus{v, st})
		}
		b.out[i] = st
	}
	return b.out
}

type verdictStatus struct {
	v  abi.Verdict
	st *framework.Status
}

func (pl *Plugin) score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	info := pl.p.Info()
	if info.Pure {
		return pl.scoreCached(ctx, info, s, pod, nodes, scores)
	}
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
	pl        *Plugin
	state     *framework.CycleState
	pi        *framework.PodInfo
	pod       []byte
	podFields abi.PodFields
	nodes     []*framework.NodeInfo
	recs      []plugins.NodeRecord
	result    plugins.FilterResult
	statuses  []verdictStatus
	out       []*framework.Status

	// For cached calls: the index of each of nodes in the caller's list,
	// and the scores of nodes.
	idx    []int
	scores []int64
	missed []*framework.NodeInfo
}

func (pl *Plugin) batch(s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo) *batch {
	b := pl.scratch.Get().(*batch)
	b.state, b.pi, b.pod, b.nodes = s, pod, nil, nodes
	return b
}

// Encode implements plugins.Batch: the pod's full record and the cached
// record of every node, encoded anew for the nodes that changed.
func (b *batch) Encode(fields abi.Fields) ([]byte, []plugins.NodeRecord) {
	return b.EncodeFields(fields, abi.AllPodFields)
}

// EncodeFields implements plugins.PodFieldsBatch: Encode, with only the
// pod sections in podFields.
func (b *batch) EncodeFields(fields abi.Fields, podFields abi.PodFields) ([]byte, []plugins.NodeRecord) {
	if b.pod == nil || b.podFields != podFields {
		b.pod, b.podFields = podRecord(b.state, b.pi, podFields), podFields
	}
	pl := b.pl
	b.recs = b.recs[:0]
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.calls++
	for _, ni := range b.nodes {
		b.recs = append(b.recs, pl.nodeRecord(ni, fields).rec)
	}
	if pl.calls%evictEvery == 0 {
		pl.nodes.evict(pl.calls)
	}
	return b.pod, b.recs
}

// podKeys keep a cycle's pod records in its CycleState, one per set of
// pod sections, for every WASM plugin of the profile.
var podKeys = func() (keys [abi.AllPodFields + 1]framework.StateKey) {
	for f := range keys {
		keys[f] = framework.StateKey(fmt.Sprintf("skiff.dev/wasm-pod/%d", f))
	}
	return keys
}()

type podState []byte

func (p podState) Clone() framework.StateData { return p }

// podRecord returns pi's record with the sections in fields.
func podRecord(s *framework.CycleState, pi *framework.PodInfo, fields abi.PodFields) []byte {
	fields &= abi.AllPodFields
	key := podKeys[fields]
	if s != nil {
		if p, err := framework.ReadAs[podState](s, key); err == nil {
			return p
		}
	}
	var p abi.Pod
	podOf(pi, &p)
	rec := abi.AppendPodFields(nil, &p, fields)
	if s != nil {
		s.Write(key, podState(rec))
	}
	return rec
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
