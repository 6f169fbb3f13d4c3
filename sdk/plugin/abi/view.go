package abi

import (
	"errors"
	"iter"
	"strings"
	"unsafe"
)

// record is the common part of the views: a record's bytes.
type record []byte

// str returns the string a ref at at points to, aliasing r.
func (r record) str(at int) string {
	off, n := r.u32(at), r.u32(at+4)
	if n == 0 {
		return ""
	}
	_ = r[uint64(off)+uint64(n)-1]
	return unsafe.String(&r[off], n)
}

func (r record) kvs(at int) Map {
	return Map{r: r, off: r.u32(at), n: r.u32(at + 4)}
}

// Map is a read-only view of a string map (labels, annotations, a node
// selector), sorted by key.
type Map struct {
	r      record
	off, n uint32
}

// Len is the number of entries.
func (m Map) Len() int { return int(m.n) }

// At returns the i-th entry in key order.
func (m Map) At(i int) (key, value string) {
	e := int(m.off) + i*kvSize
	return m.r.str(e), m.r.str(e + 8)
}

// Get returns the value of key and whether it is present.
func (m Map) Get(key string) (string, bool) {
	if m.n <= 16 {
		// Few entries (labels, mostly): compare lengths first, which rules
		// out most keys without reading them.
		for i := range int(m.n) {
			e := int(m.off) + i*kvSize
			if int(m.r.u32(e+4)) == len(key) && m.r.str(e) == key {
				return m.r.str(e + 8), true
			}
		}
		return "", false
	}
	lo, hi := 0, int(m.n)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e := int(m.off) + mid*kvSize
		switch c := strings.Compare(m.r.str(e), key); {
		case c == 0:
			return m.r.str(e + 8), true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return "", false
}

// All yields the entries in key order.
func (m Map) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := range m.Len() {
			if !yield(m.At(i)) {
				return
			}
		}
	}
}

// ResourcesView is a read-only view of a resources block.
type ResourcesView struct {
	r  record
	at int
}

// MilliCPU is the cpu amount in millicores.
func (v ResourcesView) MilliCPU() int64 { return v.r.i64(v.at + resCPU) }

// Memory is the memory amount in bytes.
func (v ResourcesView) Memory() int64 { return v.r.i64(v.at + resMemory) }

// EphemeralStorage is the ephemeral-storage amount in bytes.
func (v ResourcesView) EphemeralStorage() int64 { return v.r.i64(v.at + resEphemeral) }

// Pods is the pod count (allocatable pods of a node).
func (v ResourcesView) Pods() int64 { return v.r.i64(v.at + resPods) }

// NumScalars is the number of scalar resources.
func (v ResourcesView) NumScalars() int { return int(v.r.u32(v.at + resScalars + 4)) }

// ScalarAt returns the i-th scalar resource in name order.
func (v ResourcesView) ScalarAt(i int) (name string, value int64) {
	e := int(v.r.u32(v.at+resScalars)) + i*scalarSize
	return v.r.str(e), v.r.i64(e + 8)
}

// Scalar returns the amount of the scalar resource name (0 if absent).
func (v ResourcesView) Scalar(name string) int64 {
	for i := range v.NumScalars() {
		if n, val := v.ScalarAt(i); n == name {
			return val
		}
	}
	return 0
}

// Get returns the amount of a resource by its Kubernetes name ("cpu" in
// millicores, "memory", "ephemeral-storage", "pods", or a scalar name).
func (v ResourcesView) Get(name string) int64 {
	switch name {
	case "cpu":
		return v.MilliCPU()
	case "memory":
		return v.Memory()
	case "ephemeral-storage":
		return v.EphemeralStorage()
	case "pods":
		return v.Pods()
	}
	return v.Scalar(name)
}

// NodeView is a read-only view of a node record.
type NodeView struct{ r record }

// NewNodeView views rec, a node record.
func NewNodeView(rec []byte) NodeView { return NodeView{r: rec} }

// Fields are the optional sections the record carries.
func (n NodeView) Fields() Fields { return Fields(n.r.u32(offFields)) }

// Name is the node's name.
func (n NodeView) Name() string { return n.r.str(nodeName) }

// Unschedulable is the node's spec.unschedulable (cordoned).
func (n NodeView) Unschedulable() bool { return n.r.u32(offFlags)&nodeUnschedFlags != 0 }

// Labels are the node's labels (empty without FieldLabels).
func (n NodeView) Labels() Map { return n.r.kvs(nodeLabels) }

// Annotations are the node's annotations (empty without
// FieldAnnotations).
func (n NodeView) Annotations() Map { return n.r.kvs(nodeAnnotations) }

// NumTaints is the number of taints (0 without FieldTaints).
func (n NodeView) NumTaints() int { return int(n.r.u32(nodeTaints + 4)) }

// TaintAt returns the i-th taint, in the node's order.
func (n NodeView) TaintAt(i int) Taint {
	e := int(n.r.u32(nodeTaints)) + i*taintSize
	return Taint{Key: n.r.str(e), Value: n.r.str(e + 8), Effect: Effect(n.r[e+16])}
}

// Allocatable is what the node offers to pods (zero without
// FieldResources).
func (n NodeView) Allocatable() ResourcesView { return ResourcesView{r: n.r, at: nodeAllocatable} }

// Requested is the sum of the requests of the pods on the node.
func (n NodeView) Requested() ResourcesView { return ResourcesView{r: n.r, at: nodeRequested} }

// NonZeroRequested is the cpu (millicores) and memory requested on the
// node, counting containers that request none with the scoring defaults
// (100m, 200Mi), as Kubernetes' scoring does.
func (n NodeView) NonZeroRequested() (milliCPU, memory int64) {
	return n.r.i64(nodeNonZeroCPU), n.r.i64(nodeNonZeroMem)
}

// PodCount is the number of pods on the node, bound or assumed.
func (n NodeView) PodCount() int64 { return n.r.i64(nodePods) }

// PodView is a read-only view of a pod record.
type PodView struct{ r record }

// NewPodView views rec, a pod record.
func NewPodView(rec []byte) PodView { return PodView{r: rec} }

// Name is the pod's name.
func (p PodView) Name() string { return p.r.str(podName) }

// Namespace is the pod's namespace.
func (p PodView) Namespace() string { return p.r.str(podNamespace) }

// UID is the pod's UID.
func (p PodView) UID() string { return p.r.str(podUID) }

// Priority is spec.priority (0 when unset).
func (p PodView) Priority() int32 { return int32(p.r.u32(podPriority)) }

// Labels are the pod's labels.
func (p PodView) Labels() Map { return p.r.kvs(podLabels) }

// Annotations are the pod's annotations.
func (p PodView) Annotations() Map { return p.r.kvs(podAnnotations) }

// NodeSelector is spec.nodeSelector.
func (p PodView) NodeSelector() Map { return p.r.kvs(podNodeSelector) }

// NumTolerations is the number of tolerations.
func (p PodView) NumTolerations() int { return int(p.r.u32(podTolerations + 4)) }

// TolerationAt returns the i-th toleration, in the pod's order.
func (p PodView) TolerationAt(i int) Toleration {
	e := int(p.r.u32(podTolerations)) + i*tolerationSize
	return Toleration{Key: p.r.str(e), Value: p.r.str(e + 8), Operator: Operator(p.r[e+16]), Effect: Effect(p.r[e+17])}
}

// Requests are the pod's effective requests.
func (p PodView) Requests() ResourcesView { return ResourcesView{r: p.r, at: podRequests} }

// NonZeroRequests are the pod's cpu (millicores) and memory requests with
// the scoring defaults for containers that request none.
func (p PodView) NonZeroRequests() (milliCPU, memory int64) {
	return p.r.i64(podNonZeroCPU), p.r.i64(podNonZeroMem)
}

// RequestView is a read-only view of a request.
type RequestView struct{ b record }

// ErrRequest is returned for a request that cannot be read.
var ErrRequest = errors.New("abi: malformed request")

// NewRequestView checks a request's header and updates (each slot at
// most MaxSlot, each record inside the request and at least a node
// record's fixed size), and views it. Candidate slots are checked when
// they are looked up (Table.Nodes, Table.Node).
func NewRequestView(b []byte) (RequestView, error) {
	if len(b) < RequestHead || le.Uint32(b[reqVersion:]) != Version {
		return RequestView{}, ErrRequest
	}
	r := RequestView{b: b}
	n, u := uint64(r.b.u32(reqCount)), uint64(r.b.u32(reqUpdates))
	if RequestHead+4*n+8*u > uint64(len(b)) || !fits(b, uint64(r.b.u32(reqPod)), PodFixedSize) {
		return RequestView{}, ErrRequest
	}
	for j := range int(u) {
		e := reqSlots + 4*int(n) + 8*j
		if r.b.u32(e) > MaxSlot || !fits(b, uint64(r.b.u32(e+4)), NodeFixedSize) {
			return RequestView{}, ErrRequest
		}
	}
	return r, nil
}

// fits reports whether a record of at least fixed bytes starts at off
// and its size word keeps it inside b.
func fits(b record, off uint64, fixed uint64) bool {
	if off+fixed > uint64(len(b)) {
		return false
	}
	size := uint64(b.u32(int(off)))
	return size >= fixed && off+size <= uint64(len(b))
}

// rec returns the record at off (checked by NewRequestView).
func (r RequestView) rec(off uint32) record {
	size := r.b.u32(int(off))
	return r.b[off : off+size : off+size]
}

// Point is the extension point the request is for.
func (r RequestView) Point() Point { return Point(r.b.u32(reqPoint)) }

// Len is the number of candidate nodes.
func (r RequestView) Len() int { return int(r.b.u32(reqCount)) }

// Slot is the table slot of the i-th candidate node.
func (r RequestView) Slot(i int) uint32 { return r.b.u32(reqSlots + 4*i) }

// Pod is the pod being scheduled.
func (r RequestView) Pod() PodView { return PodView{r: r.rec(r.b.u32(reqPod))} }

// NumUpdates is the number of node records to store before the call.
func (r RequestView) NumUpdates() int { return int(r.b.u32(reqUpdates)) }

// Update returns the j-th update: a slot and the node record to store
// there (aliasing the request).
func (r RequestView) Update(j int) (slot uint32, rec []byte) {
	e := reqSlots + 4*r.Len() + 8*j
	return r.b.u32(e), r.rec(r.b.u32(e + 4))
}

// Table is a guest's node table: the node records hosts send once and
// then name by slot. The zero value is empty; it is not safe for
// concurrent use (a guest instance serves one call at a time).
type Table struct {
	nodes []NodeView
}

// Apply stores the request's updates, each in a copy of its own (so
// views of earlier records, and the strings they returned, stay valid).
func (t *Table) Apply(r RequestView) {
	for j := range r.NumUpdates() {
		slot, rec := r.Update(j)
		if int(slot) >= len(t.nodes) {
			t.nodes = append(t.nodes, make([]NodeView, int(slot)+1-len(t.nodes))...)
		}
		t.nodes[slot] = NodeView{r: append(record(nil), rec...)}
	}
}

// Nodes appends the request's candidate nodes to dst, in order, and
// returns it; ErrRequest if a slot holds no record.
func (t *Table) Nodes(dst []NodeView, r RequestView) ([]NodeView, error) {
	for i := range r.Len() {
		s := r.Slot(i)
		if int(s) >= len(t.nodes) || t.nodes[s].r == nil {
			return dst, ErrRequest
		}
		dst = append(dst, t.nodes[s])
	}
	return dst, nil
}

// Node returns the record stored in slot; false if there is none.
func (t *Table) Node(slot uint32) (NodeView, bool) {
	if int(slot) >= len(t.nodes) || t.nodes[slot].r == nil {
		return NodeView{}, false
	}
	return t.nodes[slot], true
}

// Len is the number of slots the table has room for.
func (t *Table) Len() int { return len(t.nodes) }
