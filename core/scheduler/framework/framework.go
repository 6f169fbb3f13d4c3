package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Profile is one scheduling policy, selected by pods' spec.schedulerName.
// Its plugins are enabled, in order, at every extension point each
// implements (Kubernetes' multiPoint), so the order decides which
// rejection a node reports and the order of Reserve and binders.
type Profile struct {
	SchedulerName string
	Plugins       []PluginConfig
	// PercentageOfNodesToScore is the share of nodes a cycle looks for
	// feasible ones among before scoring (1-100); 0 or nil takes the
	// Framework option, whose 0 is adaptive (see NumFeasibleNodesToFind).
	PercentageOfNodesToScore *int32
}

// PluginConfig enables one plugin in a profile.
type PluginConfig struct {
	Name string
	// Weight multiplies the plugin's scores (0 means 1); ignored for
	// plugins that do not score.
	Weight int32
	// Args are the plugin's settings: nil (its defaults), its typed
	// arguments, or their JSON encoding (json.RawMessage or []byte).
	Args any
}

// Factory builds a plugin from its arguments. It validates them and
// returns an error for bad ones; it must not start goroutines.
type Factory func(args any, h Handle) (Plugin, error)

// Registry maps plugin names to factories.
type Registry map[string]Factory

// DecodeArgs turns a PluginConfig's Args into T: nil gives def, a T or *T
// is taken as is, JSON is decoded over def, strictly (unknown fields are
// errors).
func DecodeArgs[T any](args any, def T) (T, error) {
	switch a := args.(type) {
	case nil:
		return def, nil
	case T:
		return a, nil
	case *T:
		if a == nil {
			return def, nil
		}
		return *a, nil
	case json.RawMessage:
		return decodeJSON(a, def)
	case []byte:
		return decodeJSON(a, def)
	}
	return def, fmt.Errorf("arguments of type %T, want %T or JSON", args, def)
}

func decodeJSON[T any](b []byte, def T) (T, error) {
	out := def
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&out); err != nil {
		return def, fmt.Errorf("arguments: %w", err)
	}
	return out, nil
}

// Options are a Framework's settings beyond the profile.
type Options struct {
	// Binder is what binding plugins bind through; nil in simulations.
	Binder Binder
	// PercentageOfNodesToScore applies to profiles that do not set one;
	// 0 is adaptive.
	PercentageOfNodesToScore int32
}

// Framework runs one profile's plugins.
type Framework struct {
	name       string
	percentage int32
	binder     Binder
	waiting    *WaitingPods

	plugins    []Plugin
	preEnqueue []PreEnqueuePlugin
	preFilter  []PreFilterPlugin
	filter     []FilterPlugin
	postFilter []PostFilterPlugin
	preScore   []PreScorePlugin
	score      []weightedScore
	reserve    []ReservePlugin
	permit     []PermitPlugin
	preBind    []PreBindPlugin
	bind       []BindPlugin
	postBind   []PostBindPlugin
	events     map[string][]ClusterEvent // nil value: every event
}

type weightedScore struct {
	pl     ScorePlugin
	norm   ScoreNormalizer
	weight int64
}

var _ Handle = (*Framework)(nil)

// New builds the framework of profile p from the plugins of r.
func New(p Profile, r Registry, opts Options) (*Framework, error) {
	if p.SchedulerName == "" {
		return nil, errors.New("framework: profile without a schedulerName")
	}
	f := &Framework{name: p.SchedulerName, binder: opts.Binder, waiting: newWaitingPods(),
		percentage: opts.PercentageOfNodesToScore, events: map[string][]ClusterEvent{}}
	if p.PercentageOfNodesToScore != nil && *p.PercentageOfNodesToScore != 0 {
		f.percentage = *p.PercentageOfNodesToScore
	}
	if f.percentage < 0 || f.percentage > 100 {
		return nil, fmt.Errorf("framework: profile %s: percentageOfNodesToScore %d is not in [0, 100]", p.SchedulerName, f.percentage)
	}
	seen := map[string]bool{}
	var totalWeight int64
	for _, pc := range p.Plugins {
		if seen[pc.Name] {
			return nil, fmt.Errorf("framework: profile %s: plugin %s enabled twice", p.SchedulerName, pc.Name)
		}
		seen[pc.Name] = true
		factory, ok := r[pc.Name]
		if !ok {
			return nil, fmt.Errorf("framework: profile %s: no plugin named %q", p.SchedulerName, pc.Name)
		}
		pl, err := factory(pc.Args, f)
		if err != nil {
			return nil, fmt.Errorf("framework: profile %s: plugin %s: %w", p.SchedulerName, pc.Name, err)
		}
		if pl.Name() != pc.Name {
			return nil, fmt.Errorf("framework: profile %s: plugin %s calls itself %s", p.SchedulerName, pc.Name, pl.Name())
		}
		if pc.Weight < 0 {
			return nil, fmt.Errorf("framework: profile %s: plugin %s: negative weight", p.SchedulerName, pc.Name)
		}
		f.plugins = append(f.plugins, pl)
		if x, ok := pl.(PreEnqueuePlugin); ok {
			f.preEnqueue = append(f.preEnqueue, x)
		}
		if x, ok := pl.(PreFilterPlugin); ok {
			f.preFilter = append(f.preFilter, x)
		}
		if x, ok := pl.(FilterPlugin); ok {
			f.filter = append(f.filter, x)
		}
		if x, ok := pl.(PostFilterPlugin); ok {
			f.postFilter = append(f.postFilter, x)
		}
		if x, ok := pl.(PreScorePlugin); ok {
			f.preScore = append(f.preScore, x)
		}
		if x, ok := pl.(ScorePlugin); ok {
			w := int64(max(pc.Weight, 1))
			ws := weightedScore{pl: x, weight: w}
			ws.norm, _ = pl.(ScoreNormalizer)
			f.score = append(f.score, ws)
			totalWeight += w
		}
		if x, ok := pl.(ReservePlugin); ok {
			f.reserve = append(f.reserve, x)
		}
		if x, ok := pl.(PermitPlugin); ok {
			f.permit = append(f.permit, x)
		}
		if x, ok := pl.(PreBindPlugin); ok {
			f.preBind = append(f.preBind, x)
		}
		if x, ok := pl.(BindPlugin); ok {
			f.bind = append(f.bind, x)
		}
		if x, ok := pl.(PostBindPlugin); ok {
			f.postBind = append(f.postBind, x)
		}
		if x, ok := pl.(EnqueueExtensions); ok {
			f.events[pl.Name()] = x.EventsToRegister()
		} else {
			f.events[pl.Name()] = nil
		}
	}
	if totalWeight > math.MaxInt64/MaxNodeScore {
		return nil, fmt.Errorf("framework: profile %s: score weights overflow", p.SchedulerName)
	}
	return f, nil
}

// SchedulerName is the profile's name.
func (f *Framework) SchedulerName() string { return f.name }

// Plugins lists the enabled plugins in profile order.
func (f *Framework) Plugins() []Plugin { return slices.Clone(f.plugins) }

// Binder implements Handle.
func (f *Framework) Binder() Binder { return f.binder }

// WaitingPods implements Handle.
func (f *Framework) WaitingPods() *WaitingPods { return f.waiting }

// RunFilters implements Handle.
func (f *Framework) RunFilters(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) *Status {
	if st := f.runFilters(ctx, state, pod, node); !st.IsSuccess() {
		return st
	}
	if nominated := nominatedAgainst(state, pod, node); nominated != nil {
		return f.runFilters(ctx, state, pod, withNominated(&NodeInfo{}, node, pod, nominated))
	}
	return nil
}

// runFilters is RunFilters without the nominated pods.
func (f *Framework) runFilters(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) *Status {
	nodes := []*NodeInfo{node}
	statuses := make([]*Status, 1)
	for _, pl := range f.filter {
		if state.skipFilter[pl.Name()] {
			continue
		}
		if st := pl.Filter(ctx, state, pod, nodes, statuses); !st.IsSuccess() {
			return st
		}
		if st := statuses[0]; !st.IsSuccess() {
			return st
		}
	}
	return nil
}

// HasBinder reports whether the profile can bind pods.
func (f *Framework) HasBinder() bool { return len(f.bind) > 0 }

// Interested reports whether event can make a pod fit that the plugins
// named in rejectedBy rejected. A pod no plugin rejected (it failed with
// an error) and a plugin that registers no events are interested in
// every event.
func (f *Framework) Interested(rejectedBy map[string]struct{}, event ClusterEvent) bool {
	if len(rejectedBy) == 0 || event == EventUnschedulableTimeout {
		return true
	}
	for name := range rejectedBy {
		evs, ok := f.events[name]
		if !ok || evs == nil {
			return true
		}
		for _, r := range evs {
			if r.Matches(event) {
				return true
			}
		}
	}
	return false
}

// RunPreEnqueue runs the PreEnqueue plugins; it returns the first
// non-success status and the plugin that returned it.
func (f *Framework) RunPreEnqueue(ctx context.Context, pod *PodInfo) (string, *Status) {
	for _, pl := range f.preEnqueue {
		if st := pl.PreEnqueue(ctx, pod); !st.IsSuccess() {
			return pl.Name(), st
		}
	}
	return "", nil
}

// Rejection is a pod turned down after a node was chosen (by Reserve or
// Permit): it goes back to the queue as unschedulable.
type Rejection struct {
	Plugin string
	Point  string
	Status *Status
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("rejected by %s at %s: %s", r.Plugin, r.Point, r.Status.Message())
}

// RunReserve runs the Reserve plugins; if one fails, every Reserve
// plugin's Unreserve runs (in reverse order) and the error is a
// *Rejection or a *PluginError.
func (f *Framework) RunReserve(ctx context.Context, state *CycleState, pod *PodInfo, node string) error {
	for _, pl := range f.reserve {
		st := pl.Reserve(ctx, state, pod, node)
		if st.IsSuccess() {
			continue
		}
		f.RunUnreserve(ctx, state, pod, node)
		if st.IsRejected() {
			return &Rejection{Plugin: pl.Name(), Point: "Reserve", Status: st}
		}
		return pluginError(pl.Name(), "Reserve", st)
	}
	return nil
}

// RunUnreserve runs every Reserve plugin's Unreserve, in reverse order.
func (f *Framework) RunUnreserve(ctx context.Context, state *CycleState, pod *PodInfo, node string) {
	for i := len(f.reserve) - 1; i >= 0; i-- {
		f.reserve[i].Unreserve(ctx, state, pod, node)
	}
}

// RunPermit runs the Permit plugins. A denial is a *Rejection; when some
// plugins ask to wait (and none denies), the pod is added to the waiting
// pods and WaitOnPermit waits for the verdict.
func (f *Framework) RunPermit(ctx context.Context, state *CycleState, pod *PodInfo, node string) error {
	var waits map[string]time.Duration
	for _, pl := range f.permit {
		st, timeout := pl.Permit(ctx, state, pod, node)
		switch {
		case st.IsSuccess():
		case st.Code() == Wait:
			if waits == nil {
				waits = map[string]time.Duration{}
			}
			waits[pl.Name()] = min(max(timeout, 0), maxPermitTimeout)
		case st.IsRejected():
			return &Rejection{Plugin: pl.Name(), Point: "Permit", Status: st}
		default:
			return pluginError(pl.Name(), "Permit", st)
		}
	}
	if waits != nil {
		f.waiting.add(pod, node, waits)
	}
	return nil
}

// maxPermitTimeout caps how long a Permit plugin may make a pod wait.
const maxPermitTimeout = 15 * time.Minute

// WaitOnPermit blocks until the pod is allowed (nil), rejected (a
// *Rejection) or ctx ends. A pod that does not wait returns at once.
func (f *Framework) WaitOnPermit(ctx context.Context, pod *PodInfo) error {
	return f.waiting.wait(ctx, pod.Pod.UID)
}

// RunPreBind runs the PreBind plugins.
func (f *Framework) RunPreBind(ctx context.Context, state *CycleState, pod *PodInfo, node string) error {
	for _, pl := range f.preBind {
		if st := pl.PreBind(ctx, state, pod, node); !st.IsSuccess() {
			if st.IsRejected() {
				return &Rejection{Plugin: pl.Name(), Point: "PreBind", Status: st}
			}
			return pluginError(pl.Name(), "PreBind", st)
		}
	}
	return nil
}

// ErrNoBinder is returned by RunBind when every binder skipped the pod.
var ErrNoBinder = errors.New("framework: no bind plugin bound the pod")

// RunBind runs the binders until one does not skip.
func (f *Framework) RunBind(ctx context.Context, state *CycleState, pod *PodInfo, node string) error {
	for _, pl := range f.bind {
		st := pl.Bind(ctx, state, pod, node)
		if st.IsSkip() {
			continue
		}
		if !st.IsSuccess() {
			return pluginError(pl.Name(), "Bind", st)
		}
		return nil
	}
	return ErrNoBinder
}

// RunPostBind runs the PostBind plugins.
func (f *Framework) RunPostBind(ctx context.Context, state *CycleState, pod *PodInfo, node string) {
	for _, pl := range f.postBind {
		pl.PostBind(ctx, state, pod, node)
	}
}
