package wasmplugin

import (
	"bytes"
	"unsafe"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// Node records are evicted when unused for evictAfter batches (a deleted
// node's, or a node no cycle looked at for that long).
const (
	evictEvery = 1 << 12
	evictAfter = 1 << 16
)

// nodeEntry is a node's cached record and its slot in the guests' node
// tables (its index in nodeTable.entries). A snapshot keeps one NodeInfo
// per node and updates it in place, so the entry remembers the NodeInfo
// (and generation, and node object) it encoded; a NodeInfo that now
// holds another generation, or another NodeInfo of the same node name
// (a new snapshot: a simulation, a restarted cache), is encoded again in
// the same slot, and keeps its Rev when the bytes are the same.
type nodeEntry struct {
	ni     *framework.NodeInfo
	node   *corev1.Node
	name   string
	gen    int64
	fields abi.Fields
	used   uint64 // pl.calls when last used; 0: free
	rec    plugins.NodeRecord
}

// nodeTable finds a NodeInfo's entry: by pointer in an open-addressing
// table (a multiplication and a compare; the NodeInfos of a snapshot are
// long-lived, and a Go map's hashing cost as much as the rest of a
// cached answer), then by node name. What the check of a cached record
// reads is kept apart, dense and by slot (hot), so that a hit touches a
// 16-byte probe entry and a 40-byte hot entry: slots are handed out in
// the order nodes are first seen, so a snapshot's nodes read hot (and
// the answers, also by slot) nearly in order. Its zero value is empty;
// the Plugin's mutex guards it.
type nodeTable struct {
	entries []nodeEntry
	hot     []hotEntry // by slot, mirrors entries
	free    []uint32   // free slots
	byName  map[string]uint32
	// probe: NodeInfo → slot+1 (0: empty). Keys of NodeInfos no longer
	// in their entry are left until the next rebuild.
	probe []probeEntry
	shift uint // 64 - log2(len(probe))
	used  int  // keys in probe
	enc   []byte
}

type probeEntry struct {
	ni   *framework.NodeInfo
	slot uint32 // slot+1
}

// hotEntry mirrors what of an entry the check of a cached record reads:
// the NodeInfo, node object, generation, fields and Rev it was encoded
// with, and the epoch (calls/epochCalls) it was last used in, folded into
// the entry on eviction.
type hotEntry struct {
	ni     *framework.NodeInfo
	node   *corev1.Node
	gen    int64
	rev    uint64
	fields abi.Fields
	epoch  uint32
}

// epochCalls is the granularity of a hot entry's last use: a hit stores
// only when the epoch changes.
const epochCalls = 1 << 8

func (t *nodeTable) hash(ni *framework.NodeInfo) uint64 {
	return (uint64(uintptr(unsafe.Pointer(ni))) * 0x9E3779B97F4A7C15) >> t.shift
}

// lookup returns ni's slot+1 in the probe table, or 0.
func (t *nodeTable) lookup(ni *framework.NodeInfo) uint32 {
	if len(t.probe) == 0 {
		return 0
	}
	mask := uint64(len(t.probe) - 1)
	for h := t.hash(ni); ; h = (h + 1) & mask {
		p := &t.probe[h]
		if p.ni == ni {
			return p.slot
		}
		if p.ni == nil {
			return 0
		}
	}
}

// quick returns the slot and Rev of ni's record with fields when the hot
// entry shows it valid: the same NodeInfo, node object and fields, and
// the same generation or, for a record without resources, any.
func (t *nodeTable) quick(ni *framework.NodeInfo, fields abi.Fields, now uint64) (slot uint32, rev uint64, ok bool) {
	s := t.lookup(ni)
	if s == 0 {
		return 0, 0, false
	}
	h := &t.hot[s-1]
	sameGen := h.gen == ni.Generation && ni.Generation != 0
	if h.ni != ni || h.rev == 0 || h.node != ni.Node() || h.fields != fields || (!sameGen && fields&abi.FieldResources != 0) {
		return 0, 0, false
	}
	if e := uint32(now / epochCalls); h.epoch != e {
		h.epoch = e
	}
	return s - 1, h.rev, true
}

// mirror copies e into its hot entry.
func (t *nodeTable) mirror(e *nodeEntry) {
	t.hot[e.rec.Slot] = hotEntry{ni: e.ni, node: e.node, gen: e.gen, rev: e.rec.Rev, fields: e.fields, epoch: uint32(e.used / epochCalls)}
}

func (t *nodeTable) insert(ni *framework.NodeInfo, slot uint32) {
	if 2*(t.used+1) > len(t.probe) {
		t.rebuild(max(64, 2*len(t.probe)))
	}
	mask := uint64(len(t.probe) - 1)
	h := t.hash(ni)
	for t.probe[h].ni != nil && t.probe[h].ni != ni {
		h = (h + 1) & mask
	}
	if t.probe[h].ni == nil {
		t.used++
	}
	t.probe[h] = probeEntry{ni: ni, slot: slot + 1}
}

// rebuild makes a probe table of size entries (a power of two, or 0 for
// the same size, shrunk when mostly empty) holding the entries' current
// NodeInfos only.
func (t *nodeTable) rebuild(size int) {
	live := 0
	for i := range t.entries {
		if t.entries[i].ni != nil {
			live++
		}
	}
	if size == 0 {
		size = len(t.probe)
	}
	for size < 3*live || size < 64 {
		size *= 2
	}
	for size > 64 && size > 8*live {
		size /= 2
	}
	t.probe = make([]probeEntry, size)
	t.shift = uint(64 - bitsLen(size-1))
	t.used = 0
	mask := uint64(size - 1)
	for i := range t.entries {
		ni := t.entries[i].ni
		if ni == nil {
			continue
		}
		h := t.hash(ni)
		for t.probe[h].ni != nil {
			h = (h + 1) & mask
		}
		t.probe[h] = probeEntry{ni: ni, slot: uint32(i) + 1}
		t.used++
	}
}

func bitsLen(x int) int {
	n := 0
	for ; x > 0; x >>= 1 {
		n++
	}
	return n
}

// foldUsed brings the entries' last use up to date from the hot entries.
func (t *nodeTable) foldUsed() {
	for i := range t.entries {
		if e, h := &t.entries[i], &t.hot[i]; e.ni != nil && h.ni == e.ni {
			e.used = max(e.used, uint64(h.epoch)*epochCalls)
		}
	}
}

// entry returns ni's entry, taking a slot for it when it has none.
func (t *nodeTable) entry(ni *framework.NodeInfo) *nodeEntry {
	if s := t.lookup(ni); s != 0 {
		if e := &t.entries[s-1]; e.ni == ni {
			return e
		}
	}
	name := ni.Name()
	slot, ok := t.byName[name]
	if !ok || name == "" {
		slot = t.slot()
		if name != "" {
			if t.byName == nil {
				t.byName = map[string]uint32{}
			}
			t.byName[name] = slot
		}
	}
	e := &t.entries[slot]
	// gen -1: a record with resources is encoded again, whatever the new
	// NodeInfo's generation (it keeps its Rev if the bytes are the same);
	// one without is kept while the node object is the same.
	e.ni, e.name, e.gen = ni, name, -1
	e.rec.Slot = slot
	t.insert(ni, slot)
	return e
}

// slot hands out the lowest free slot.
func (t *nodeTable) slot() uint32 {
	if n := len(t.free); n > 0 {
		s := t.free[n-1]
		t.free = t.free[:n-1]
		return s
	}
	if len(t.entries) > abi.MaxSlot {
		panic("bug: wasmplugin: more than abi.MaxSlot nodes cached")
	}
	t.entries = append(t.entries, nodeEntry{})
	t.hot = append(t.hot, hotEntry{})
	return uint32(len(t.entries) - 1)
}

// evict frees the entries unused for evictAfter calls and drops stale
// keys from the probe table.
func (t *nodeTable) evict(now uint64) {
	t.foldUsed()
	for i := range t.entries {
		e := &t.entries[i]
		if e.ni == nil || now-e.used <= evictAfter {
			continue
		}
		if e.name != "" && t.byName[e.name] == uint32(i) {
			delete(t.byName, e.name)
		}
		*e = nodeEntry{}
		t.hot[i] = hotEntry{}
		t.free = append(t.free, uint32(i))
	}
	t.rebuild(0)
}

// nodeRecord returns ni's entry with its record for fields, from the
// cache when ni is the NodeInfo, generation and node object it was
// encoded from, or, for a record without resources, the node object.
// Other NodeInfos of generation 0 (made outside the scheduler's cache)
// are encoded every time. A record encoded anew that has the same
// bytes as before keeps its Rev, so the guests' node tables and the
// answer cache stay valid (a team filter reading only labels does not
// see the pods a node runs). pl.mu must be held.
func (pl *Plugin) nodeRecord(ni *framework.NodeInfo, fields abi.Fields) *nodeEntry {
	t := &pl.nodes
	e := t.entry(ni)
	if e.node == ni.Node() && e.fields == fields && e.rec.Rev != 0 &&
		((e.gen == ni.Generation && ni.Generation != 0) || fields&abi.FieldResources == 0) {
		// The same generation, or a record of the node object alone
		// (without resources, it does not change with the node's pods,
		// nor when another NodeInfo holds the same node object).
		e.gen, e.used = ni.Generation, pl.calls
		t.mirror(e)
		return e
	}
	var n abi.Node
	nodeOf(ni, &n)
	t.enc = abi.AppendNode(t.enc[:0], &n, fields)
	if e.rec.Rev == 0 || !bytes.Equal(t.enc, e.rec.Record) {
		// A new slice each time: the old one may still be read by a call
		// in flight on another goroutine.
		e.rec.Record = bytes.Clone(t.enc)
		e.rec.Rev = plugins.NewRev()
	}
	e.node, e.gen, e.fields, e.used = ni.Node(), ni.Generation, fields, pl.calls
	t.mirror(e)
	return e
}
