package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/skiffhq/skiff/plugins/internal/interrupt"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// instance is one instantiated module. It serves one call at a time.
type instance struct {
	host                      *Host
	mod                       api.Module
	memory                    api.Memory
	mem                       *capped
	stderr                    *headWriter
	buffer, configure, infoFn api.Function
	filter, score             api.Function
	info                      abi.Info

	// The interrupt flag (see package interrupt), set by timer when a
	// call runs past its deadline; nil with Config.ContextDeadlines.
	flag  api.MutableGlobal
	timer *time.Timer
	fired atomic.Bool

	// The guest buffer requests are written to, and the call stack.
	bufAddr, bufCap uint32
	stack           [2]uint64
	// seen[slot] is the Rev of the node record the guest holds in slot
	// (0: none); slots and updates are scratch space for a request.
	seen    []uint64
	slots   []uint32
	updates []abi.Update
	// broken is set when a failure (or a deadline that fired) leaves the
	// instance unusable.
	broken bool
}

// instantiate makes, starts, configures and checks a new instance of v.
func (v *moduleVersion) instantiate(ctx context.Context) (*instance, *Error) {
	h := v.plugin.host
	v.plugin.counters.instantiated.Add(1)
	inst := &instance{host: h, mem: &capped{limit: h.limit}, stderr: &headWriter{max: 4096}}
	fail := func(op string, kind Kind, detail string, err error) *Error {
		inst.close(context.Background())
		return &Error{Plugin: v.plugin.name, Version: v.version, Op: op, Kind: kind, Detail: detail, Err: err}
	}
	wrapped := func(op string, e *Error) *Error {
		return fail(op, KindInstantiate, e.Kind.String()+": "+e.Detail, e)
	}
	timeout := h.cfg.InstantiateTimeout
	// No start functions: _initialize is called below like any export,
	// under a deadline.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithStderr(inst.stderr)
	ictx := experimental.WithMemoryAllocator(ctx, inst.mem)
	if h.cfg.ContextDeadlines {
		var cancel context.CancelFunc
		ictx, cancel = context.WithTimeout(ictx, timeout)
		defer cancel()
	}
	mod, err := h.runtime.InstantiateModule(ictx, v.compiled, cfg)
	if err != nil {
		return nil, fail("load", KindInstantiate, err.Error(), err)
	}
	inst.mod, inst.memory = mod, mod.Memory()
	if !h.cfg.ContextDeadlines {
		g, ok := mod.ExportedGlobal(interrupt.Export).(api.MutableGlobal)
		if !ok {
			return nil, fail("load", KindInstantiate, "bug: no interrupt flag", nil)
		}
		inst.flag = g
		inst.timer = time.AfterFunc(time.Hour, inst.interrupt)
		inst.timer.Stop()
	}
	inst.buffer = mod.ExportedFunction(abi.ExportBuffer)
	inst.configure = mod.ExportedFunction(abi.ExportConfigure)
	inst.infoFn = mod.ExportedFunction(abi.ExportInfo)
	inst.filter = mod.ExportedFunction(abi.ExportFilter)
	inst.score = mod.ExportedFunction(abi.ExportScore)

	if start := mod.ExportedFunction(abi.ExportInitialize); start != nil {
		if _, e := inst.run(ctx, timeout, "_initialize", start, false); e != nil {
			return nil, wrapped("load", e)
		}
	}

	// configure(settings)
	var addr uint32
	if len(v.settings) > 0 {
		a, e := inst.ensureBuffer(ctx, timeout, len(v.settings))
		if e != nil {
			return nil, wrapped("configure", e)
		}
		buf, _ := inst.memory.Read(a, uint32(len(v.settings)))
		copy(buf, v.settings)
		addr = a
	}
	inst.stack = [2]uint64{uint64(addr), uint64(len(v.settings))}
	resp, e := inst.run(ctx, timeout, "configure", inst.configure, true)
	if e != nil {
		return nil, wrapped("configure", e)
	}
	if _, err := abi.DecodeStatus(resp); err != nil {
		var ge *abi.GuestError
		if errors.As(err, &ge) {
			return nil, fail("configure", KindSettings, ge.Message, err)
		}
		return nil, fail("configure", KindInstantiate, "bad output: "+err.Error(), err)
	}

	// info()
	resp, e = inst.run(ctx, timeout, "info", inst.infoFn, true)
	if e != nil {
		return nil, wrapped("load", e)
	}
	in, err := abi.DecodeInfo(resp)
	switch {
	case err != nil:
		return nil, fail("load", KindInstantiate, "info: "+err.Error(), err)
	case in.Version != abi.Version:
		return nil, fail("load", KindInstantiate, fmt.Sprintf("ABI version %d; this host speaks %d", in.Version, abi.Version), nil)
	case in.Points.Has(abi.PointFilter) && inst.filter == nil:
		return nil, fail("load", KindInstantiate, "info names filter, but "+abi.ExportFilter+" is not exported", nil)
	case in.Points.Has(abi.PointScore) && inst.score == nil:
		return nil, fail("load", KindInstantiate, "info names score, but "+abi.ExportScore+" is not exported", nil)
	case v.info != (abi.Info{}) && in != v.info:
		return nil, fail("load", KindInstantiate, fmt.Sprintf("info %+v differs from the first instance's %+v", in, v.info), nil)
	}
	inst.info = in
	return inst, nil
}

// interrupt stops the running call at its next loop iteration.
func (inst *instance) interrupt() {
	inst.fired.Store(true)
	inst.flag.Set(1)
}

func (inst *instance) close(ctx context.Context) {
	if inst.timer != nil {
		inst.timer.Stop()
	}
	if inst.mod != nil {
		_ = inst.mod.Close(ctx)
	}
}

// run calls fn with inst.stack as its parameters under a deadline of
// timeout (and ctx); with response, it returns the response its packed
// i64 result points to (a view of guest memory, valid until the next
// call).
func (inst *instance) run(ctx context.Context, timeout time.Duration, op string, fn api.Function, response bool) ([]byte, *Error) {
	var err error
	if inst.flag == nil {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = fn.CallWithStack(cctx, inst.stack[:])
		cancel()
	} else {
		inst.fired.Store(false)
		inst.timer.Reset(timeout)
		var stop func() bool
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, inst.interrupt)
		}
		err = fn.CallWithStack(ctx, inst.stack[:])
		inst.timer.Stop()
		if stop != nil {
			stop()
		}
		if inst.fired.Load() {
			// The flag is set: whatever the outcome, the instance would
			// trap at its next loop.
			inst.broken = true
			if err == nil && ctx.Err() != nil {
				err = ctx.Err()
			}
		}
	}
	if err != nil {
		return nil, inst.failure(ctx, op, timeout, err)
	}
	if !response {
		return nil, nil
	}
	packed := inst.stack[0]
	addr, n := uint32(packed>>32), uint32(packed)
	resp, ok := inst.memory.Read(addr, n)
	if !ok || packed == 0 {
		return nil, &Error{Op: op, Kind: KindBadOutput, Detail: fmt.Sprintf("response at %#x, %d bytes, is outside memory", addr, n)}
	}
	return resp, nil
}

// ensureBuffer returns the address of a guest buffer of at least size
// bytes, asking the guest for a larger one (a power of two, at least
// 64 KiB) when the last is too small.
func (inst *instance) ensureBuffer(ctx context.Context, timeout time.Duration, size int) (uint32, *Error) {
	if size <= int(inst.bufCap) {
		return inst.bufAddr, nil
	}
	if size > int(inst.mem.limit) {
		return 0, &Error{Kind: KindMemory, Detail: fmt.Sprintf("a request of %d bytes does not fit in %d MiB", size, inst.mem.limit>>20)}
	}
	want := uint32(max(64<<10, 1<<bits.Len32(uint32(size-1))))
	inst.stack[0] = uint64(want)
	if _, e := inst.run(ctx, timeout, "buffer", inst.buffer, false); e != nil {
		return 0, e
	}
	addr := uint32(inst.stack[0])
	if _, ok := inst.memory.Read(addr, want); !ok || addr == 0 {
		return 0, &Error{Kind: KindBadOutput, Detail: fmt.Sprintf("%s(%d) returned %#x, outside memory", abi.ExportBuffer, want, addr)}
	}
	inst.bufAddr, inst.bufCap = addr, want
	return addr, nil
}

// call runs one filter or score request: the pod, the candidates' slots,
// and the records of the candidates the guest does not hold yet.
func (inst *instance) call(ctx context.Context, timeout time.Duration, point abi.Point, pod []byte, nodes []NodeRecord, decode func([]byte) error) *Error {
	inst.stderr.reset()
	inst.mem.refused = false
	op := point.String()
	inst.slots, inst.updates = inst.slots[:0], inst.updates[:0]
	for _, n := range nodes {
		if n.Slot > abi.MaxSlot {
			panic("bug: plugins: a NodeRecord's slot is above abi.MaxSlot")
		}
		inst.slots = append(inst.slots, n.Slot)
		if int(n.Slot) >= len(inst.seen) {
			inst.seen = append(inst.seen, make([]uint64, int(n.Slot)+1-len(inst.seen))...)
		}
		if inst.seen[n.Slot] != n.Rev {
			inst.updates = append(inst.updates, abi.Update{Slot: n.Slot, Record: n.Record})
		}
	}
	e := inst.request(ctx, timeout, point, pod, decode)
	if e != nil {
		// Whatever the guest stored is unknown now: send everything again.
		clear(inst.seen)
		e.Op = op
		return e
	}
	for _, n := range nodes {
		inst.seen[n.Slot] = n.Rev
	}
	return nil
}

func (inst *instance) request(ctx context.Context, timeout time.Duration, point abi.Point, pod []byte, decode func([]byte) error) *Error {
	size := abi.RequestSize(pod, inst.slots, inst.updates)
	addr, e := inst.ensureBuffer(ctx, timeout, size)
	if e != nil {
		return e
	}
	buf, _ := inst.memory.Read(addr, uint32(size))
	abi.WriteRequest(buf, point, pod, inst.slots, inst.updates)
	fn := inst.filter
	if point == abi.PointScore {
		fn = inst.score
	}
	inst.stack = [2]uint64{uint64(addr), uint64(size)}
	resp, e := inst.run(ctx, timeout, point.String(), fn, true)
	if e != nil {
		return e
	}
	if err := decode(resp); err != nil {
		var ge *abi.GuestError
		if errors.As(err, &ge) {
			return &Error{Kind: KindGuest, Detail: ge.Message, Err: err}
		}
		return &Error{Kind: KindBadOutput, Detail: err.Error(), Err: err}
	}
	return nil
}

// failure classifies an error from a guest call; ctx is the caller's
// context (to tell our deadline from its end).
func (inst *instance) failure(ctx context.Context, op string, timeout time.Duration, err error) *Error {
	e := &Error{Op: op, Err: err}
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	deadline := inst.fired.Load() ||
		(isExit && (exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled))
	switch {
	case deadline && ctx.Err() != nil:
		e.Kind, e.Detail = KindCanceled, ctx.Err().Error()
		return e
	case deadline:
		e.Kind, e.Detail = KindTimeout, fmt.Sprintf("still running after %v", timeout)
		return e
	case inst.mem.refused || strings.Contains(string(inst.stderr.b), "out of memory"):
		e.Kind, e.Detail = KindMemory, fmt.Sprintf("needed more than its %d MiB", inst.mem.limit>>20)
	case isExit:
		e.Kind, e.Detail = KindTrap, fmt.Sprintf("exited with code %d", exit.ExitCode())
	default:
		first, _, _ := strings.Cut(err.Error(), "\n")
		e.Kind, e.Detail = KindTrap, first
	}
	if s := inst.stderr.summary(); s != "" {
		e.Detail += "; stderr: " + s
	}
	return e
}

// capped is a guest's linear memory, refusing to grow past limit and
// remembering that it did (how an out-of-memory trap is recognised).
//
// Where the system allows (mapMemory), the whole limit is reserved at
// once outside the Go heap, as anonymous memory the kernel backs only
// where the guest writes: growing copies nothing, and guests' memories
// do not count toward the Go heap, whose GC target (GOGC=400 in the
// skiff binary) would otherwise grow by several times their size.
// Elsewhere, or if the reservation fails, the memory is a Go slice grown
// by doubling.
type capped struct {
	buf     []byte
	limit   uint64
	refused bool
	mapped  []byte // the reservation, when mapped
}

// Allocate implements experimental.MemoryAllocator.
func (c *capped) Allocate(capacity, _ uint64) experimental.LinearMemory {
	if m := mapMemory(c.limit); m != nil {
		c.mapped, c.buf = m, m[:0]
		return c
	}
	c.buf = make([]byte, 0, min(capacity, c.limit))
	return c
}

// Reallocate implements experimental.LinearMemory.
func (c *capped) Reallocate(size uint64) []byte {
	if size > c.limit {
		c.refused = true
		return nil
	}
	if size <= uint64(cap(c.buf)) {
		c.buf = c.buf[:size]
		return c.buf
	}
	nb := make([]byte, size, min(max(size, 2*uint64(cap(c.buf))), c.limit))
	copy(nb, c.buf)
	c.buf = nb
	return c.buf
}

// Free implements experimental.LinearMemory.
func (c *capped) Free() {
	if c.mapped != nil {
		unmapMemory(c.mapped)
		c.mapped = nil
	}
	c.buf = nil
}

// headWriter keeps the first max bytes written since the last reset (a
// guest's stderr: the panic message comes first).
type headWriter struct {
	b   []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (w *headWriter) reset() { w.b = w.b[:0] }

// summary is the first two non-empty lines, at most 300 bytes.
func (w *headWriter) summary() string {
	var lines []string
	for line := range bytes.Lines(w.b) {
		if l := strings.TrimSpace(string(line)); l != "" {
			lines = append(lines, l)
			if len(lines) == 2 {
				break
			}
		}
	}
	s := strings.Join(lines, " / ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
