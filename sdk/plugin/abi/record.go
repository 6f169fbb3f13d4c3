package abi

import (
	"cmp"
	"slices"
)

// Layout of ABI version 1 (docs/abi.md, "Records"). Offsets are bytes from
// the start of the record; every number is little-endian.
const (
	// Common to both records.
	offSize   = 0 // u32 total size of the record
	offFields = 4 // u32 Fields present
	offFlags  = 8 // u32 flags

	// Node record (12: u32 reserved, zero).
	nodeName         = 16  // str
	nodeLabels       = 24  // list of kv
	nodeAnnotations  = 32  // list of kv
	nodeTaints       = 40  // list of taint
	nodeAllocatable  = 48  // resources
	nodeRequested    = 88  // resources
	nodeNonZeroCPU   = 128 // i64
	nodeNonZeroMem   = 136 // i64
	nodePods         = 144 // i64
	NodeFixedSize    = 152
	nodeUnschedFlags = 1 // flags bit: spec.unschedulable

	// Pod record.
	podPriority     = 12 // i32
	podName         = 16 // str
	podNamespace    = 24 // str
	podUID          = 32 // str
	podLabels       = 40 // list of kv
	podAnnotations  = 48 // list of kv
	podNodeSelector = 56 // list of kv
	podTolerations  = 64 // list of toleration
	podRequests     = 72 // resources
	podNonZeroCPU   = 112
	podNonZeroMem   = 120
	PodFixedSize    = 128

	// Resources block (40 bytes): four i64 and a list of scalars.
	resCPU       = 0
	resMemory    = 8
	resEphemeral = 16
	resPods      = 24
	resScalars   = 32

	kvSize         = 16 // key str, value str
	taintSize      = 20 // key str, value str, u8 effect, 3 bytes zero
	tolerationSize = 20 // key str, value str, u8 operator, u8 effect, 2 bytes zero
	scalarSize     = 16 // name str, i64 value

	// Request header.
	reqVersion  = 0
	reqPoint    = 4
	reqPod      = 8  // offset of the pod record
	reqCount    = 12 // n, candidate nodes
	reqUpdates  = 16 // u, node records to store first
	reqFlags    = 20 // reserved, zero
	reqSlots    = 24 // n × u32 slot; then u × (u32 slot, u32 offset)
	RequestHead = 24

	// MaxSlot bounds the slots a host uses (a guest may size a table by
	// them).
	MaxSlot = 1<<24 - 1
)

// Taint is a node taint.
type Taint struct {
	Key, Value string
	Effect     Effect
}

// Toleration is a pod toleration.
type Toleration struct {
	Key, Value string
	Operator   Operator
	Effect     Effect
}

// Scalar is an amount of an extended or other prefixed resource.
type Scalar struct {
	Name  string
	Value int64
}

// Resources is an amount of each resource the scheduler accounts for;
// cpu in millicores, the others in units (bytes, pods).
type Resources struct {
	MilliCPU, Memory, EphemeralStorage, Pods int64
	// Scalars are extended resources, hugepages and other prefixed
	// names, in any order (records keep them sorted by name).
	Scalars []Scalar
}

// Node is what a host encodes of a node: the node object's name, labels,
// annotations, taints and spec.unschedulable, and what the scheduler
// knows of it: allocatable resources, the sum of its pods' requests
// (Requested, and NonZero* with the scoring defaults for containers that
// request no cpu or memory) and how many pods it runs.
type Node struct {
	Name                           string
	Labels, Annotations            map[string]string
	Taints                         []Taint
	Unschedulable                  bool
	Allocatable, Requested         Resources
	NonZeroMilliCPU, NonZeroMemory int64
	Pods                           int64
}

// Pod is what a host encodes of a pod.
type Pod struct {
	Name, Namespace, UID              string
	Priority                          int32
	Labels, Annotations, NodeSelector map[string]string
	Tolerations                       []Toleration
	// Requests are the pod's effective requests (init containers,
	// sidecars, overhead and pod-level resources accounted as Kubernetes
	// does); NonZero* the cpu and memory requests with the scoring
	// defaults.
	Requests                       Resources
	NonZeroMilliCPU, NonZeroMemory int64
}

// recWriter appends one record to b: fixed part, entry arrays, strings.
type recWriter struct {
	b     []byte
	start int
	next  int // offset (from start) of the next entry array
}

func newRecWriter(dst []byte, fixed, entries int) *recWriter {
	w := &recWriter{b: dst, start: len(dst), next: fixed}
	w.b = slices.Grow(w.b, fixed+entries)
	w.b = append(w.b, make([]byte, fixed+entries)...)
	return w
}

func (w *recWriter) u32(at int, v uint32) { le.PutUint32(w.b[w.start+at:], v) }
func (w *recWriter) i64(at int, v int64)  { le.PutUint64(w.b[w.start+at:], uint64(v)) }

// str appends s to the string area and points the ref at at to it.
func (w *recWriter) str(at int, s string) {
	w.u32(at, uint32(len(w.b)-w.start))
	w.u32(at+4, uint32(len(s)))
	w.b = append(w.b, s...)
}

// list reserves count entries of size bytes and points the ref at at to
// them; it returns the offset of the first entry.
func (w *recWriter) list(at, count, size int) int {
	off := w.next
	w.u32(at, uint32(off))
	w.u32(at+4, uint32(count))
	w.next += count * size
	return off
}

func (w *recWriter) kvs(at int, m map[string]string) {
	if len(m) == 0 {
		return
	}
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	off := w.list(at, len(keys), kvSize)
	for i, k := range keys {
		e := off + i*kvSize
		w.str(e, k)
		w.str(e+8, m[k])
	}
}

func (w *recWriter) resources(at int, r *Resources) {
	w.i64(at+resCPU, r.MilliCPU)
	w.i64(at+resMemory, r.Memory)
	w.i64(at+resEphemeral, r.EphemeralStorage)
	w.i64(at+resPods, r.Pods)
	if len(r.Scalars) == 0 {
		return
	}
	sc := slices.SortedFunc(slices.Values(r.Scalars), func(a, b Scalar) int { return cmp.Compare(a.Name, b.Name) })
	off := w.list(at+resScalars, len(sc), scalarSize)
	for i, s := range sc {
		e := off + i*scalarSize
		w.str(e, s.Name)
		w.i64(e+8, s.Value)
	}
}

func (w *recWriter) finish(fields Fields) []byte {
	w.u32(offSize, uint32(len(w.b)-w.start))
	w.u32(offFields, uint32(fields))
	return w.b
}

// AppendNode appends n's record, with the optional sections in fields, to
// dst and returns the extended slice.
func AppendNode(dst []byte, n *Node, fields Fields) []byte {
	fields &= AllFields
	var labels, anns map[string]string
	var taints []Taint
	var alloc, req Resources
	if fields&FieldLabels != 0 {
		labels = n.Labels
	}
	if fields&FieldAnnotations != 0 {
		anns = n.Annotations
	}
	if fields&FieldTaints != 0 {
		taints = n.Taints
	}
	if fields&FieldResources != 0 {
		alloc, req = n.Allocatable, n.Requested
	}
	entries := (len(labels)+len(anns))*kvSize + len(taints)*taintSize + (len(alloc.Scalars)+len(req.Scalars))*scalarSize
	w := newRecWriter(dst, NodeFixedSize, entries)
	if n.Unschedulable {
		w.u32(offFlags, nodeUnschedFlags)
	}
	w.str(nodeName, n.Name)
	w.kvs(nodeLabels, labels)
	w.kvs(nodeAnnotations, anns)
	if len(taints) > 0 {
		off := w.list(nodeTaints, len(taints), taintSize)
		for i, t := range taints {
			e := off + i*taintSize
			w.str(e, t.Key)
			w.str(e+8, t.Value)
			w.b[w.start+e+16] = byte(t.Effect)
		}
	}
	if fields&FieldResources != 0 {
		w.resources(nodeAllocatable, &alloc)
		w.resources(nodeRequested, &req)
		w.i64(nodeNonZeroCPU, n.NonZeroMilliCPU)
		w.i64(nodeNonZeroMem, n.NonZeroMemory)
		w.i64(nodePods, n.Pods)
	}
	return w.finish(fields)
}

// AppendPod appends p's record (every field) to dst and returns the
// extended slice.
func AppendPod(dst []byte, p *Pod) []byte { return AppendPodFields(dst, p, AllPodFields) }

// AppendPodFields appends p's record with only the sections in fields;
// the others are empty (zero). The fields word of a pod record is always
// AllFields: the sections left out are there, empty.
func AppendPodFields(dst []byte, p *Pod, fields PodFields) []byte {
	labels, annotations, selector, tolerations := p.Labels, p.Annotations, p.NodeSelector, p.Tolerations
	var req Resources
	if fields&PodLabels == 0 {
		labels = nil
	}
	if fields&PodAnnotations == 0 {
		annotations = nil
	}
	if fields&PodNodeSelector == 0 {
		selector = nil
	}
	if fields&PodTolerations == 0 {
		tolerations = nil
	}
	if fields&PodRequests != 0 {
		req = p.Requests
	}
	entries := (len(labels)+len(annotations)+len(selector))*kvSize +
		len(tolerations)*tolerationSize + len(req.Scalars)*scalarSize
	w := newRecWriter(dst, PodFixedSize, entries)
	if fields&PodPriority != 0 {
		w.u32(podPriority, uint32(p.Priority))
	}
	if fields&PodIdentity != 0 {
		w.str(podName, p.Name)
		w.str(podNamespace, p.Namespace)
		w.str(podUID, p.UID)
	}
	w.kvs(podLabels, labels)
	w.kvs(podAnnotations, annotations)
	w.kvs(podNodeSelector, selector)
	if len(tolerations) > 0 {
		off := w.list(podTolerations, len(tolerations), tolerationSize)
		for i, t := range tolerations {
			e := off + i*tolerationSize
			w.str(e, t.Key)
			w.str(e+8, t.Value)
			w.b[w.start+e+16] = byte(t.Operator)
			w.b[w.start+e+17] = byte(t.Effect)
		}
	}
	w.resources(podRequests, &req)
	if fields&PodRequests != 0 {
		w.i64(podNonZeroCPU, p.NonZeroMilliCPU)
		w.i64(podNonZeroMem, p.NonZeroMemory)
	}
	return w.finish(AllFields)
}

// Update is a node record a request asks the guest to store in its node
// table under Slot (replacing what the slot held) before the call.
type Update struct {
	Slot   uint32
	Record []byte
}

// RequestSize is the size of the request framing pod, the candidate
// nodes' slots and the updates.
func RequestSize(pod []byte, slots []uint32, updates []Update) int {
	n := RequestHead + 4*len(slots) + 8*len(updates) + len(pod)
	for _, u := range updates {
		n += len(u.Record)
	}
	return n
}

// WriteRequest writes a request for point into dst, which must be exactly
// RequestSize long (a view of guest memory, typically): the pod record,
// the slots of the candidate nodes, in order, and the node records to
// store first. Records are copied as they are.
func WriteRequest(dst []byte, point Point, pod []byte, slots []uint32, updates []Update) {
	le.PutUint32(dst[reqVersion:], Version)
	le.PutUint32(dst[reqPoint:], uint32(point))
	le.PutUint32(dst[reqCount:], uint32(len(slots)))
	le.PutUint32(dst[reqUpdates:], uint32(len(updates)))
	le.PutUint32(dst[reqFlags:], 0)
	off := reqSlots
	for _, s := range slots {
		le.PutUint32(dst[off:], s)
		off += 4
	}
	table := off
	off += 8 * len(updates)
	le.PutUint32(dst[reqPod:], uint32(off))
	off += copy(dst[off:], pod)
	for j, u := range updates {
		le.PutUint32(dst[table+8*j:], u.Slot)
		le.PutUint32(dst[table+8*j+4:], uint32(off))
		off += copy(dst[off:], u.Record)
	}
	if off != len(dst) {
		panic("bug: abi.WriteRequest: dst is not RequestSize long")
	}
}

// AppendRequest is WriteRequest into a new tail of dst.
func AppendRequest(dst []byte, point Point, pod []byte, slots []uint32, updates []Update) []byte {
	n, size := len(dst), RequestSize(pod, slots, updates)
	dst = slices.Grow(dst, size)[:n+size]
	WriteRequest(dst[n:], point, pod, slots, updates)
	return dst
}
