package framework

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Kubernetes' bounds on how many feasible nodes a cycle looks for.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// NumFeasibleNodesToFind is how many feasible nodes a cycle looks for
// among numNodes before it stops filtering and scores them, as in
// kube-scheduler: every node up to 100; otherwise percentage of them (0
// is adaptive, 50% minus 1% per 125 nodes, at least 5%), and never fewer
// than 100.
func NumFeasibleNodesToFind(percentage int32, numNodes int) int {
	if numNodes < minFeasibleNodesToFind || percentage >= 100 {
		return numNodes
	}
	p := int(percentage)
	if p <= 0 {
		p = max(50-numNodes/125, minFeasibleNodesPercentageToFind)
	}
	return max(numNodes*p/100, minFeasibleNodesToFind)
}

// ScheduleOptions tune one SchedulePod call.
type ScheduleOptions struct {
	// Start is where in the node list the search for feasible nodes
	// begins (the scheduler rotates it so that every node gets its turn
	// when only a share of them is looked at).
	Start int
	// Rand breaks ties between nodes of equal score; nil picks the first.
	Rand *rand.Rand
	// RecordScores keeps each scored node's per-plugin scores in the
	// result (for simulations and explanations).
	RecordScores bool
}

// ScheduleResult is where a pod should go.
type ScheduleResult struct {
	Node string
	// Evaluated is how many nodes were filtered, Feasible how many passed.
	Evaluated, Feasible int
	// Scores, with RecordScores, has every scored node, best first.
	Scores []NodeScore
	// Rejected, with RecordScores, has every node a Filter plugin
	// rejected.
	Rejected []NodeRejection
}

// NodeRejection is one node's rejection by a Filter plugin.
type NodeRejection struct {
	Node, Plugin string
	Status       *Status
}

// NodeScore is one node's score for a pod.
type NodeScore struct {
	Name    string
	Total   int64
	Plugins []PluginScore
}

// PluginScore is one plugin's normalized score of a node and its weight.
type PluginScore struct {
	Plugin string
	Score  int64
	Weight int64
}

// scratch holds one cycle's buffers, reused through a pool.
type scratch struct {
	batch    []*NodeInfo
	active   []*NodeInfo
	feasible []*NodeInfo
	statuses []*Status
	rejected []rejection
	totals   []int64
	buf      []int64
	// With nominated pods: the copies of the nodes with them added, the
	// index in the batch's kept nodes of each, and the copies filtered;
	// spare holds the NodeInfos the copies are made in, reused.
	trials      []*NodeInfo
	trialAt     []int
	trialActive []*NodeInfo
	spare       []*NodeInfo
}

type rejection struct {
	node   string
	status *Status
	plugin string
}

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

// SchedulePod finds the best node for pod among state's nodes: PreFilter,
// Filter until enough feasible nodes are found (see
// NumFeasibleNodesToFind), PreScore, Score, NormalizeScore and weights,
// then the highest total, ties broken at random. It changes nothing
// outside state. The error is a *FitError when no node fits (after
// PostFilter ran) and a *PluginError when a plugin failed.
func (f *Framework) SchedulePod(ctx context.Context, state *CycleState, pod *PodInfo, opts ScheduleOptions) (ScheduleResult, error) {
	all := state.Nodes().List()
	if len(all) == 0 {
		return ScheduleResult{}, &FitError{Pod: pod.Pod}
	}
	sc := scratchPool.Get().(*scratch)
	defer func() {
		clear(sc.batch)
		clear(sc.active)
		clear(sc.feasible)
		clear(sc.statuses)
		clear(sc.rejected)
		sc.rejected = sc.rejected[:0]
		clear(sc.trials)
		clear(sc.trialActive)
		scratchPool.Put(sc)
	}()

	candidates, err := f.runPreFilter(ctx, state, pod, all)
	if err != nil {
		return ScheduleResult{}, err
	}
	var res ScheduleResult
	// A pod nominated by preemption tries its node first (as
	// kube-scheduler): the room was made for it there. RunFilters counts
	// the other pods nominated there that come before it.
	if nn := pod.Pod.Status.NominatedNodeName; nn != "" && !opts.RecordScores {
		if ni := state.Nodes().Get(nn); ni != nil && slices.Contains(candidates, ni) && f.RunFilters(ctx, state, pod, ni).IsSuccess() {
			return ScheduleResult{Node: nn, Evaluated: 1, Feasible: 1}, nil
		}
	}
	feasible, evaluated, err := f.findFeasible(ctx, state, pod, candidates, opts.Start, sc)
	if err != nil {
		return ScheduleResult{}, err
	}
	res.Evaluated, res.Feasible = evaluated, len(feasible)
	if opts.RecordScores {
		for _, r := range sc.rejected {
			res.Rejected = append(res.Rejected, NodeRejection{Node: r.node, Plugin: r.plugin, Status: r.status})
		}
	}
	if len(feasible) == 0 {
		fe := &FitError{Pod: pod.Pod, NumAllNodes: len(all), Diagnosis: Diagnosis{
			NodeToStatus:         make(map[string]*Status, len(all)),
			UnschedulablePlugins: map[string]struct{}{},
		}}
		if len(candidates) < len(all) {
			// Nodes the PreFilter results left out.
			absent := NewStatus(UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) ["+strings.Join(state.narrowedBy, ", ")+"]")
			for _, ni := range all {
				fe.Diagnosis.NodeToStatus[ni.Name()] = absent
			}
			for _, p := range state.narrowedBy {
				fe.Diagnosis.UnschedulablePlugins[p] = struct{}{}
			}
		}
		for _, r := range sc.rejected {
			fe.Diagnosis.NodeToStatus[r.node] = r.status
			fe.Diagnosis.UnschedulablePlugins[r.plugin] = struct{}{}
		}
		fe.Diagnosis.Rejected = res.Rejected
		if err := f.runPostFilter(ctx, state, pod, fe); err != nil {
			return ScheduleResult{}, err
		}
		return ScheduleResult{}, fe
	}
	if len(feasible) == 1 && !opts.RecordScores {
		res.Node = feasible[0].Name()
		return res, nil
	}
	if err := f.prioritize(ctx, state, pod, feasible, sc, opts, &res); err != nil {
		return ScheduleResult{}, err
	}
	return res, nil
}

// runPreFilter runs the PreFilter plugins and returns the nodes left to
// filter. A rejection of the pod as a whole is a *FitError.
func (f *Framework) runPreFilter(ctx context.Context, state *CycleState, pod *PodInfo, all []*NodeInfo) ([]*NodeInfo, error) {
	var allowed map[string]struct{}
	for _, pl := range f.preFilter {
		res, st := pl.PreFilter(ctx, state, pod, all)
		switch {
		case st.IsSkip():
			if state.skipFilter == nil {
				state.skipFilter = map[string]bool{}
			}
			state.skipFilter[pl.Name()] = true
			continue
		case st.IsRejected():
			fe := &FitError{Pod: pod.Pod, NumAllNodes: len(all), Diagnosis: Diagnosis{
				NodeToStatus:         make(map[string]*Status, len(all)),
				UnschedulablePlugins: map[string]struct{}{pl.Name(): {}},
				PreFilterMsg:         st.Message(),
			}}
			for _, ni := range all {
				fe.Diagnosis.NodeToStatus[ni.Name()] = st
			}
			if err := f.runPostFilter(ctx, state, pod, fe); err != nil {
				return nil, err
			}
			return nil, fe
		case !st.IsSuccess():
			return nil, pluginError(pl.Name(), "PreFilter", st)
		}
		if res == nil || res.NodeNames == nil {
			continue
		}
		state.narrowedBy = append(state.narrowedBy, pl.Name())
		if allowed == nil {
			allowed = res.NodeNames
			continue
		}
		both := map[string]struct{}{}
		for n := range allowed {
			if _, ok := res.NodeNames[n]; ok {
				both[n] = struct{}{}
			}
		}
		allowed = both
	}
	if allowed == nil {
		return all, nil
	}
	names := make([]string, 0, len(allowed))
	for n := range allowed {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*NodeInfo, 0, len(names))
	for _, n := range names {
		if ni := state.Nodes().Get(n); ni != nil {
			out = append(out, ni)
		}
	}
	return out, nil
}

// findFeasible filters candidates, starting at start, in batches: the
// first has as many nodes as are wanted, later ones are sized from the
// share of nodes that passed so far. Every filter plugin is called once
// per batch with all of the batch's nodes that earlier plugins kept.
func (f *Framework) findFeasible(ctx context.Context, state *CycleState, pod *PodInfo, candidates []*NodeInfo, start int, sc *scratch) (feasible []*NodeInfo, evaluated int, err error) {
	n := len(candidates)
	if n == 0 {
		return nil, 0, nil
	}
	want := NumFeasibleNodesToFind(f.percentage, n)
	start %= n
	if start < 0 {
		start += n
	}
	feasible = sc.feasible[:0]
	for len(feasible) < want && evaluated < n {
		if err := ctx.Err(); err != nil {
			return nil, evaluated, err
		}
		missing := want - len(feasible)
		size := missing
		if evaluated > 0 {
			// Expect the pass rate seen so far.
			size = n
			if len(feasible) > 0 {
				size = max(missing*evaluated/len(feasible)+1, 32)
			}
		}
		size = min(size, n-evaluated)
		batch := sc.batch[:0]
		for i := range size {
			batch = append(batch, candidates[(start+evaluated+i)%n])
		}
		sc.batch = batch
		evaluated += size
		kept, err := f.filterBatch(ctx, state, pod, batch, sc)
		if err != nil {
			return nil, evaluated, err
		}
		feasible = append(feasible, kept...)
	}
	sc.feasible = feasible
	if len(feasible) > want {
		feasible = feasible[:want]
	}
	return feasible, evaluated, nil
}

// filterBatch returns the nodes of batch that pass every filter plugin
// and, if they have pods nominated to them that count against pod, that
// pass them again with those pods added (see Handle.RunFilters). Each
// rejected node is recorded in sc.rejected.
func (f *Framework) filterBatch(ctx context.Context, state *CycleState, pod *PodInfo, batch []*NodeInfo, sc *scratch) ([]*NodeInfo, error) {
	active, err := f.filterNodes(ctx, state, pod, append(sc.active[:0], batch...), sc)
	sc.active = active
	if err != nil || state.nominated == nil || len(active) == 0 {
		return active, err
	}
	return f.filterNominated(ctx, state, pod, active, sc)
}

// filterNominated keeps the nodes of active that also pass the filters
// with the pods nominated to them added; nodes without such pods are
// kept as they are.
func (f *Framework) filterNominated(ctx context.Context, state *CycleState, pod *PodInfo, active []*NodeInfo, sc *scratch) ([]*NodeInfo, error) {
	trials, at := sc.trials[:0], sc.trialAt[:0]
	for i, ni := range active {
		nominated := nominatedAgainst(state, pod, ni)
		if nominated == nil {
			continue
		}
		if len(trials) == len(sc.spare) {
			sc.spare = append(sc.spare, &NodeInfo{})
		}
		trials, at = append(trials, withNominated(sc.spare[len(trials)], ni, pod, nominated)), append(at, i)
	}
	sc.trials, sc.trialAt = trials, at
	if len(trials) == 0 {
		return active, nil
	}
	passed, err := f.filterNodes(ctx, state, pod, append(sc.trialActive[:0], trials...), sc)
	sc.trialActive = passed
	if err != nil {
		return nil, err
	}
	// passed is trials without the rejected ones, in order.
	kept := active[:0]
	next := 0 // in passed
	for i, ni := range active {
		if len(at) > 0 && at[0] == i {
			ok := next < len(passed) && passed[next] == trials[0]
			if ok {
				next++
			}
			at, trials = at[1:], trials[1:]
			if !ok {
				continue
			}
		}
		kept = append(kept, ni)
	}
	clear(active[len(kept):])
	return kept, nil
}

// filterNodes runs the filter plugins over nodes and returns those that
// passed them all, in order, compacted into the start of nodes.
func (f *Framework) filterNodes(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, sc *scratch) ([]*NodeInfo, error) {
	active := nodes
	for _, pl := range f.filter {
		if len(active) == 0 {
			break
		}
		if state.skipFilter[pl.Name()] {
			continue
		}
		statuses := sc.statuses[:0]
		statuses = slices.Grow(statuses, len(active))[:len(active)]
		clear(statuses)
		sc.statuses = statuses
		if st := pl.Filter(ctx, state, pod, active, statuses); !st.IsSuccess() {
			return nil, pluginError(pl.Name(), "Filter", st)
		}
		kept := active[:0]
		for i, ni := range active {
			st := statuses[i]
			switch {
			case st.IsSuccess():
				kept = append(kept, ni)
			case st.IsRejected():
				sc.rejected = append(sc.rejected, rejection{node: ni.Name(), status: st, plugin: pl.Name()})
			default:
				return nil, pluginError(pl.Name(), "Filter", NewStatus(Error, fmt.Sprintf("node %s: %s", ni.Name(), st)))
			}
		}
		clear(active[len(kept):])
		active = kept
	}
	return active, nil
}

// runPostFilter runs the PostFilter plugins until one succeeds and puts
// what they decided in fe's Diagnosis: a nomination (from the plugin that
// succeeded), or that the pod's nomination is to be cleared (from any of
// them, as kube-scheduler keeps a rejected plugin's result unless a
// later one decides otherwise).
func (f *Framework) runPostFilter(ctx context.Context, state *CycleState, pod *PodInfo, fe *FitError) error {
	var msgs []string
	for _, pl := range f.postFilter {
		res, st := pl.PostFilter(ctx, state, pod, &fe.Diagnosis)
		switch {
		case st.IsSuccess():
			if res != nil && res.NominatedNodeName != "" {
				fe.Diagnosis.NominatedNodeName, fe.Diagnosis.Victims = res.NominatedNodeName, res.Victims
				fe.Diagnosis.ClearNomination = false
				if m := st.Message(); m != "" {
					msgs = append(msgs, m)
				}
			} else if res != nil && res.ClearNomination {
				fe.Diagnosis.ClearNomination = true
			}
			fe.Diagnosis.PostFilterMsg = strings.Join(msgs, "; ")
			return nil
		case st.IsRejected():
			if res != nil && res.ClearNomination {
				fe.Diagnosis.ClearNomination = true
			}
			if m := st.Message(); m != "" {
				msgs = append(msgs, m)
			}
		default:
			return pluginError(pl.Name(), "PostFilter", st)
		}
	}
	fe.Diagnosis.PostFilterMsg = strings.Join(msgs, "; ")
	return nil
}

// prioritize scores the feasible nodes and picks the best.
func (f *Framework) prioritize(ctx context.Context, state *CycleState, pod *PodInfo, feasible []*NodeInfo, sc *scratch, opts ScheduleOptions, res *ScheduleResult) error {
	for _, pl := range f.preScore {
		st := pl.PreScore(ctx, state, pod, feasible)
		switch {
		case st.IsSkip():
			if state.skipScore == nil {
				state.skipScore = map[string]bool{}
			}
			state.skipScore[pl.Name()] = true
		case !st.IsSuccess():
			return pluginError(pl.Name(), "PreScore", st)
		}
	}
	n := len(feasible)
	totals := slices.Grow(sc.totals[:0], n)[:n]
	clear(totals)
	sc.totals = totals
	buf := slices.Grow(sc.buf[:0], n)[:n]
	sc.buf = buf
	var record [][]PluginScore
	if opts.RecordScores {
		record = make([][]PluginScore, n)
	}
	for _, ws := range f.score {
		name := ws.pl.Name()
		if state.skipScore[name] {
			continue
		}
		clear(buf)
		if st := ws.pl.Score(ctx, state, pod, feasible, buf); !st.IsSuccess() {
			return pluginError(name, "Score", st)
		}
		if ws.norm != nil {
			if st := ws.norm.NormalizeScore(ctx, state, pod, feasible, buf); !st.IsSuccess() {
				return pluginError(name, "NormalizeScore", st)
			}
		}
		for i, s := range buf {
			if s < MinNodeScore || s > MaxNodeScore {
				return pluginError(name, "Score", NewStatus(Error, fmt.Sprintf("node %s: score %d is outside [%d, %d]", feasible[i].Name(), s, MinNodeScore, MaxNodeScore)))
			}
			totals[i] += s * ws.weight
			if record != nil {
				record[i] = append(record[i], PluginScore{Plugin: name, Score: s, Weight: ws.weight})
			}
		}
	}
	best := selectHost(totals, opts.Rand)
	res.Node = feasible[best].Name()
	if record != nil {
		res.Scores = make([]NodeScore, n)
		for i, ni := range feasible {
			res.Scores[i] = NodeScore{Name: ni.Name(), Total: totals[i], Plugins: record[i]}
		}
		sort.SliceStable(res.Scores, func(a, b int) bool {
			if res.Scores[a].Total != res.Scores[b].Total {
				return res.Scores[a].Total > res.Scores[b].Total
			}
			return res.Scores[a].Name < res.Scores[b].Name
		})
	}
	return nil
}

// selectHost returns the index of a highest total, chosen uniformly among
// equals, or the first with no rand.
func selectHost(totals []int64, r *rand.Rand) int {
	best, ties := 0, 1
	for i := 1; i < len(totals); i++ {
		switch {
		case totals[i] > totals[best]:
			best, ties = i, 1
		case totals[i] == totals[best]:
			ties++
		}
	}
	if ties == 1 || r == nil {
		return best
	}
	k := r.IntN(ties)
	for i := best; i < len(totals); i++ {
		if totals[i] == totals[best] {
			if k == 0 {
				return i
			}
			k--
		}
	}
	panic("bug: selectHost lost a tie")
}
