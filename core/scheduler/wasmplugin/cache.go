package wasmplugin

import (
	"context"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/plugins"
)

// The answer cache of pure plugins (plugins.Info.Pure, abi.InfoPure).
//
// A pure plugin's answer for a node is a function of its version (and
// settings), the pod sections it declared and that node's record. The
// cache is keyed so: the version's Serial (the whole cache is dropped
// when it changes), the pod's record with only the declared sections
// (pods of one workload share it), and, per node, its slot and the Rev
// of its record (which changes only when the record's bytes do). A cycle
// looks every candidate up and calls the guest with the misses only;
// for a pod like the previous ones that is the node the previous pod
// was assumed on, if the plugin reads what changed there, and otherwise
// nothing at all.

// maxPodKeys bounds the distinct pods (in their declared sections) the
// cache keeps answers for, per extension point; past it, it starts over.
// Each costs 16 bytes per node.
const maxPodKeys = 64

type answerCache struct {
	serial uint64
	filter map[string]*answers
	score  map[string]*answers
}

// answers are one pod key's answers, by node slot.
type answers struct {
	rev    []uint64 // the Rev of the record answered for; 0: none
	status []*framework.Status
	score  []int64
}

// lookup returns the answers for key at point of version serial, made
// empty when new. pl.mu must be held.
func (pl *Plugin) lookup(serial uint64, score bool, key []byte) *answers {
	c := &pl.answers
	if c.serial != serial {
		*c = answerCache{serial: serial}
	}
	m := &c.filter
	if score {
		m = &c.score
	}
	if a := (*m)[string(key)]; a != nil {
		return a
	}
	if *m == nil || len(*m) >= maxPodKeys {
		*m = make(map[string]*answers)
	}
	a := &answers{}
	(*m)[string(key)] = a
	return a
}

// grow makes room for slot.
func (a *answers) grow(slot uint32, score bool) {
	if int(slot) < len(a.rev) {
		return
	}
	n := max(int(slot)+1, 2*len(a.rev), 64)
	a.rev = append(a.rev, make([]uint64, n-len(a.rev))...)
	if score {
		a.score = append(a.score, make([]int64, n-len(a.score))...)
	} else {
		a.status = append(a.status, make([]*framework.Status, n-len(a.status))...)
	}
}

// misses looks up every node of b.nodes (the caller's list) in the
// answers for the pod, fills the hits in through hit(i, slot), and
// leaves in b.nodes and b.idx the nodes to ask the guest about and their
// indices in the caller's list.
func (pl *Plugin) misses(b *batch, info plugins.Info, score bool, hit func(a *answers, i int, slot uint32)) *answers {
	key := podRecord(b.state, b.pi, info.PodFields)
	all := b.nodes
	b.idx = b.idx[:0]
	miss := b.recs[:0] // scratch: only the count matters
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.calls++
	a := pl.lookup(info.Serial, score, key)
	var missed []*framework.NodeInfo
	for i, ni := range all {
		slot, rev, ok := pl.nodes.quick(ni, info.NodeFields, pl.calls)
		if !ok {
			e := pl.nodeRecord(ni, info.NodeFields)
			slot, rev = e.rec.Slot, e.rec.Rev
		}
		if int(slot) < len(a.rev) && a.rev[slot] == rev {
			hit(a, i, slot)
			continue
		}
		b.idx = append(b.idx, i)
		miss = append(miss, plugins.NodeRecord{Slot: slot, Rev: rev})
	}
	b.recs = miss
	if len(b.idx) > 0 {
		missed = b.missed[:0]
		for _, i := range b.idx {
			missed = append(missed, all[i])
		}
		b.missed = missed
	}
	b.nodes = missed
	if pl.calls%evictEvery == 0 {
		pl.nodes.evict(pl.calls)
	}
	return a
}

// store keeps the guest's answers for b's nodes (the records it was sent,
// b.recs) when the version that answered is still serial.
func (pl *Plugin) store(a *answers, serial uint64, b *batch, score bool, set func(a *answers, j int, slot uint32)) {
	if pl.p.Info().Serial != serial {
		return
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.answers.serial != serial {
		return
	}
	for j, rec := range b.recs {
		a.grow(rec.Slot, score)
		a.rev[rec.Slot] = rec.Rev
		set(a, j, rec.Slot)
	}
}

func (pl *Plugin) filterCached(ctx context.Context, info plugins.Info, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	b := pl.batch(s, pod, nodes)
	defer pl.scratch.Put(b)
	a := pl.misses(b, info, false, func(a *answers, i int, slot uint32) {
		if st := a.status[slot]; st != nil {
			statuses[i] = st
		}
	})
	if len(b.nodes) == 0 {
		return nil
	}
	if err := pl.p.Filter(ctx, b, &b.result); err != nil {
		// No opinion for the whole call, cached answers included (the
		// failure policy's contract).
		clear(statuses)
		return pl.failed(err)
	}
	out := b.verdictStatuses()
	for j, st := range out {
		if st != nil {
			statuses[b.idx[j]] = st
		}
	}
	pl.store(a, info.Serial, b, false, func(a *answers, j int, slot uint32) { a.status[slot] = out[j] })
	return nil
}

func (pl *Plugin) scoreCached(ctx context.Context, info plugins.Info, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	b := pl.batch(s, pod, nodes)
	defer pl.scratch.Put(b)
	a := pl.misses(b, info, true, func(a *answers, i int, slot uint32) { scores[i] = a.score[slot] })
	if len(b.nodes) == 0 {
		return nil
	}
	b.scores = resize(b.scores, len(b.nodes))
	if err := pl.p.Score(ctx, b, b.scores); err != nil {
		clear(scores)
		return pl.failed(err)
	}
	for j, sc := range b.scores {
		scores[b.idx[j]] = sc
	}
	pl.store(a, info.Serial, b, true, func(a *answers, j int, slot uint32) { a.score[slot] = b.scores[j] })
	return nil
}
