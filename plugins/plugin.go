package plugins

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// Plugin is a loaded plugin: a name and its active version. It is safe
// for concurrent use.
type Plugin struct {
	host *Host
	name string

	active   atomic.Pointer[moduleVersion]
	counters counters

	mu     sync.Mutex // serializes Swap and Close
	closed bool

	reasonsMu sync.Mutex
	reasons   map[string]string // interned filter reasons
}

// Info describes the active version of a plugin.
type Info struct {
	Name, Version string
	// Digest is Digest(wasm) of the module.
	Digest string
	// Filter and Score say which extension points it implements.
	Filter, Score bool
	// NodeFields are the node sections it reads; PodFields the pod
	// sections (the host leaves the others empty).
	NodeFields abi.Fields
	PodFields  abi.PodFields
	// Pure: each node's answer depends only on the settings, the pod
	// sections in PodFields and that node's record (abi.InfoPure), so
	// callers may cache answers.
	Pure bool
	// Serial identifies the version: distinct for every version loaded
	// in the process (by Load or Swap), so a cache of answers keyed by it
	// is never read for another version. Zero once closed.
	Serial uint64
}

// Name is the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Info describes the active version; the zero Info once closed.
func (p *Plugin) Info() Info {
	v := p.active.Load()
	if v == nil {
		return Info{Name: p.name}
	}
	return v.describe()
}

func (v *moduleVersion) describe() Info {
	return Info{Name: v.plugin.name, Version: v.version, Digest: v.digest,
		Filter: v.info.Points.Has(abi.PointFilter), Score: v.info.Points.Has(abi.PointScore),
		NodeFields: v.info.NodeFields, PodFields: v.info.PodFields, Pure: v.info.Flags&abi.InfoPure != 0, Serial: v.serial}
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	c := &p.counters
	s := Stats{Name: p.name, Calls: c.calls.Load(), Instantiated: c.instantiated.Load(), Swaps: c.swaps.Load(),
		Latency: c.latency.summary(), LastError: c.lastErr.Load()}
	if v := p.active.Load(); v != nil {
		s.Version, s.Digest = v.version, v.digest
		s.Instances, s.Idle = len(v.slots), len(v.idle)
	}
	for k := range numKinds {
		if n := c.errors[k].Load(); n > 0 {
			if s.Errors == nil {
				s.Errors = map[Kind]int64{}
			}
			s.Errors[Kind(k)] = n
		}
	}
	return s
}

// Swap makes a new version of the plugin active: it compiles wasm, makes
// and configures an instance and reads its info first, so a version that
// fails to load (an *Error of kind Instantiate or Settings, counted in
// Stats) leaves the active version in place. Calls in flight finish on
// the old version; its instances are closed when the last one returns.
func (p *Plugin) Swap(ctx context.Context, version string, wasm, settings []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	v, err := p.host.prepare(ctx, p, version, wasm, settings)
	if err != nil {
		return err
	}
	old := p.active.Swap(v)
	p.counters.swaps.Add(1)
	p.host.log.Info("plugin swapped", "plugin", p.name, "from", old.version, "to", version, "digest", v.digest)
	old.release()
	return nil
}

// Close stops the plugin: later calls fail with ErrClosed, calls in
// flight finish, and the instances are freed when they have. It is
// idempotent.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if old := p.active.Swap(nil); old != nil {
		old.release()
	}
	p.host.forget(p)
	return nil
}

// acquire returns the active version with a reference for one call.
func (p *Plugin) acquire() (*moduleVersion, error) {
	for {
		v := p.active.Load()
		if v == nil {
			return nil, ErrClosed
		}
		if v.tryRef() {
			return v, nil
		}
		// Swapped and drained meanwhile: the new version is active.
	}
}

// intern returns b as a string, shared between calls when it is seen
// often (filter reasons repeat).
func (p *Plugin) intern(b []byte) string {
	p.reasonsMu.Lock()
	defer p.reasonsMu.Unlock()
	if s, ok := p.reasons[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.reasons == nil {
		p.reasons = map[string]string{}
	}
	if len(p.reasons) < 1024 {
		p.reasons[s] = s
	}
	return s
}

// Batch is one call's input, a pod and its candidate nodes, encoded on
// demand: Encode returns the pod's record (abi.AppendPod) and, for each
// node in order, its record (abi.AppendNode, with at least the sections
// in fields, the active version's NodeFields) and where it lives in the
// guest. The records must not change until the call returns; the host
// only reads them.
type Batch interface {
	Encode(fields abi.Fields) (pod []byte, nodes []NodeRecord)
}

// PodFieldsBatch is a Batch that can leave out of the pod's record the
// sections the version does not read (abi.AppendPodFields); the host
// calls EncodeFields instead of Encode when a Batch has it, with the
// active version's NodeFields and PodFields.
type PodFieldsBatch interface {
	Batch
	EncodeFields(node abi.Fields, pod abi.PodFields) ([]byte, []NodeRecord)
}

func encode(b Batch, in abi.Info) ([]byte, []NodeRecord) {
	if fb, ok := b.(PodFieldsBatch); ok {
		return fb.EncodeFields(in.NodeFields, in.PodFields)
	}
	return b.Encode(in.NodeFields)
}

// NodeRecord is one candidate node of a Batch.
type NodeRecord struct {
	// Slot names the node in each instance's node table: a small number
	// (at most abi.MaxSlot), the same for the same node from batch to
	// batch, distinct for distinct nodes of a batch.
	Slot uint32
	// Rev identifies Record: a new one (from NewRev) every time a record
	// is encoded. An instance that already holds Rev in Slot is not sent
	// Record again.
	Rev    uint64
	Record []byte
}

var revs, serials atomic.Uint64

// NewRev returns a revision no record had before (process-wide, so that
// the records of several Batch implementations never share one).
func NewRev() uint64 { return revs.Add(1) }

// Records is a Batch of records already encoded (with every field the
// plugin reads): node i lives in slot i.
type Records struct {
	Pod   []byte
	Nodes [][]byte

	revs []uint64
	recs []NodeRecord
}

// Encode implements Batch.
func (r *Records) Encode(abi.Fields) ([]byte, []NodeRecord) {
	for len(r.revs) < len(r.Nodes) {
		r.revs = append(r.revs, NewRev())
	}
	r.recs = r.recs[:0]
	for i, rec := range r.Nodes {
		r.recs = append(r.recs, NodeRecord{Slot: uint32(i), Rev: r.revs[i], Record: rec})
	}
	return r.Pod, r.recs
}

// FilterResult is a filter call's answer: a verdict per node (in the
// batch's order), whose reasons index Reasons.
type FilterResult struct {
	Verdicts []abi.Verdict
	Reasons  []string

	raw [][]byte
}

// Filter calls the plugin's filter with the batch. It returns nil and
// res filled in, ErrNotImplemented when the active version has no
// filter, ErrClosed, or an *Error. Safe for concurrent use; res is the
// caller's and is reused (its slices are resized).
func (p *Plugin) Filter(ctx context.Context, b Batch, res *FilterResult) error {
	v, err := p.acquire()
	if err != nil {
		return err
	}
	defer v.release()
	if !v.info.Points.Has(abi.PointFilter) {
		return ErrNotImplemented
	}
	pod, nodes := encode(b, v.info)
	res.Verdicts = resize(res.Verdicts, len(nodes))
	res.Reasons = res.Reasons[:0]
	if len(nodes) == 0 {
		return nil
	}
	return v.call(ctx, abi.PointFilter, pod, nodes, func(resp []byte) error {
		raw, err := abi.DecodeFilter(resp, res.Verdicts, res.raw)
		res.raw = raw[:0]
		if err != nil {
			return err
		}
		for _, r := range raw {
			res.Reasons = append(res.Reasons, p.intern(r))
		}
		return nil
	})
}

// Score calls the plugin's score with the batch and writes one score in
// [0, 100] per node into scores, which must have one entry per node. It
// returns what Filter returns.
func (p *Plugin) Score(ctx context.Context, b Batch, scores []int64) error {
	v, err := p.acquire()
	if err != nil {
		return err
	}
	defer v.release()
	if !v.info.Points.Has(abi.PointScore) {
		return ErrNotImplemented
	}
	pod, nodes := encode(b, v.info)
	if len(nodes) != len(scores) {
		panic("bug: plugins.Score: scores and nodes differ in length")
	}
	if len(nodes) == 0 {
		return nil
	}
	return v.call(ctx, abi.PointScore, pod, nodes, func(resp []byte) error {
		return abi.DecodeScore(resp, scores)
	})
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// moduleVersion is one loaded version of a plugin: its compiled module,
// settings, info and pool of instances.
type moduleVersion struct {
	plugin   *Plugin
	version  string
	digest   string
	compiled wazero.CompiledModule
	settings []byte
	info     abi.Info
	serial   uint64 // Info.Serial

	// idle holds instances waiting for a call; slots holds a token per
	// live instance (idle or busy), so len(slots) ≤ PoolSize.
	idle  chan *instance
	slots chan struct{}

	// refs counts the calls in flight plus one while the version is
	// active; at zero the version is closed and cannot be referenced.
	refs atomic.Int64
}

func (v *moduleVersion) tryRef() bool {
	for {
		r := v.refs.Load()
		if r <= 0 {
			return false
		}
		if v.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

func (v *moduleVersion) release() {
	if v.refs.Add(-1) == 0 {
		v.close()
	}
}

// close frees the version once nothing references it: no call is in
// flight, so every live instance is idle.
func (v *moduleVersion) close() {
	ctx := context.Background()
	for {
		select {
		case inst := <-v.idle:
			inst.close(ctx)
			<-v.slots
		default:
			_ = v.compiled.Close(ctx)
			v.plugin.host.versions.Done()
			return
		}
	}
}

// get returns an idle instance, makes one if the pool has room, or waits.
func (v *moduleVersion) get(ctx context.Context) (*instance, *Error) {
	select {
	case inst := <-v.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-v.idle:
		return inst, nil
	case v.slots <- struct{}{}:
		inst, err := v.instantiate(ctx)
		if err != nil {
			<-v.slots
			return nil, err
		}
		return inst, nil
	case <-ctx.Done():
		return nil, &Error{Plugin: v.plugin.name, Version: v.version, Op: "wait", Kind: KindCanceled,
			Detail: "waiting for an instance: " + ctx.Err().Error(), Err: ctx.Err()}
	}
}

// put returns an instance to the pool, or closes it if it is broken.
func (v *moduleVersion) put(inst *instance) {
	if inst.broken {
		inst.close(context.Background())
		<-v.slots
		return
	}
	v.idle <- inst // never blocks: at most cap(slots) instances live
}

// call runs one request on an instance and decodes its response with
// decode, counting and classifying what happens.
func (v *moduleVersion) call(ctx context.Context, point abi.Point, pod []byte, nodes []NodeRecord, decode func([]byte) error) error {
	c := &v.plugin.counters
	inst, e := v.get(ctx)
	if e != nil {
		c.fail(e)
		return e
	}
	start := time.Now()
	e = inst.call(ctx, v.plugin.host.cfg.CallTimeout, point, pod, nodes, decode)
	c.latency.record(time.Since(start))
	c.calls.Add(1)
	if e != nil {
		e.Plugin, e.Version = v.plugin.name, v.version
		if e.Kind.breaks() {
			inst.broken = true
		}
		c.fail(e)
		v.plugin.host.log.Debug("plugin call failed", "plugin", v.plugin.name, "version", v.version, "err", e)
	}
	v.put(inst)
	if e != nil {
		return e
	}
	return nil
}
