package interrupt

import (
	"errors"
	"fmt"
)

// Export is the name under which the instrumented module exports its
// interrupt flag: a mutable i32 the host sets to 1 to stop the guest.
const Export = "skiff.interrupt"

// Budget is how many loop iterations run between two checks of the flag.
const Budget = 4096

// Section ids.
const (
	secCustom    = 0
	secImport    = 2
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secCode      = 10
	importGlobal = 3
	exportGlobal = 3
)

// rank orders the non-custom sections as the spec requires (the tag
// section, 13, sits between memory and global; data count, 12, between
// element and code).
var rank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// ErrMalformed is wrapped by errors about modules Instrument cannot read.
var ErrMalformed = errors.New("interrupt: malformed module")

type section struct {
	id   byte
	body []byte
}

// Instrument returns wasm with the interrupt flag and checks added.
func Instrument(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("%w: not a WebAssembly 1.0 binary", ErrMalformed)
	}
	var secs []section
	r := reader{b: wasm[8:]}
	for !r.done() {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, fmt.Errorf("%w: section %d: %v", ErrMalformed, id, r.err)
		}
		if id != secCustom {
			if _, ok := rank[id]; !ok {
				return nil, fmt.Errorf("%w: unknown section %d", ErrMalformed, id)
			}
		}
		secs = append(secs, section{id, body})
	}

	importedGlobals, importedMemories, err := countImports(secs)
	if err != nil {
		return nil, err
	}
	var definedGlobals uint32
	hasMemory := importedMemories > 0
	for _, s := range secs {
		switch s.id {
		case secMemory:
			r := reader{b: s.body}
			hasMemory = hasMemory || r.u32() > 0
		case secStart:
			return nil, errors.New("interrupt: the module has a start section (use an exported _initialize)")
		case secGlobal:
			r := reader{b: s.body}
			definedGlobals = r.u32()
			if r.err != nil {
				return nil, fmt.Errorf("%w: global section: %v", ErrMalformed, r.err)
			}
		case secExport:
			has, err := hasExport(s.body, Export)
			if err != nil {
				return nil, err
			}
			if has {
				return nil, fmt.Errorf("interrupt: the module already exports %q", Export)
			}
		}
	}
	if !hasMemory {
		return nil, errors.New("interrupt: the module has no memory")
	}
	flag, budget := importedGlobals+definedGlobals, importedGlobals+definedGlobals+1

	// (global $flag (mut i32) (i32.const 0)), exported, and
	// (global $budget (mut i32) (i32.const Budget)).
	secs = appendToVector(secs, secGlobal, []byte{0x7f, 0x01, 0x41, 0x00, 0x0b})
	secs = appendToVector(secs, secGlobal, append(appendS32([]byte{0x7f, 0x01, 0x41}, Budget), 0x0b))
	exportEntry := appendName(nil, Export)
	exportEntry = append(exportEntry, exportGlobal)
	exportEntry = appendU32(exportEntry, flag)
	secs = appendToVector(secs, secExport, exportEntry)

	check := loopCheck(flag, budget)
	hasDataCount := false
	for _, s := range secs {
		hasDataCount = hasDataCount || s.id == secDataCount
	}
	for i := range secs {
		switch secs[i].id {
		case secCode:
			body, err := instrumentCode(secs[i].body, check)
			if err != nil {
				return nil, err
			}
			secs[i].body = body
		case secData:
			if importedMemories == 0 && !hasDataCount {
				secs[i].body = mergeData(secs[i].body)
			}
		}
	}

	out := make([]byte, 0, len(wasm)+len(wasm)/16)
	out = append(out, wasm[:8]...)
	for _, s := range secs {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.body)))
		out = append(out, s.body...)
	}
	return out, nil
}

// loopCheck is what every loop starts with:
//
//	global.get $budget
//	i32.eqz
//	if
//	  i32.const 0
//	  memory.grow 0     ;; returns to Go: a preemption point
//	  drop
//	  i32.const Budget
//	  global.set $budget
//	  global.get $flag
//	  if
//	    unreachable
//	  end
//	end
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
func loopCheck(flag, budget uint32) []byte {
	b := appendU32([]byte{0x23}, budget)
	b = append(b, 0x45, 0x04, 0x40, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x41)
	b = appendS32(b, Budget)
	b = appendU32(append(b, 0x24), budget)
	b = appendU32(append(b, 0x23), flag)
	b = append(b, 0x04, 0x40, 0x00, 0x0b, 0x0b)
	b = appendU32(append(b, 0x23), budget)
	b = append(b, 0x41, 0x01, 0x6b)
	return appendU32(append(b, 0x24), budget)
}

func countImports(secs []section) (globals, memories uint32, err error) {
	var n, mems uint32
	for _, s := range secs {
		if s.id != secImport {
			continue
		}
		r := reader{b: s.body}
		count := r.u32()
		for range count {
			r.name()
			r.name()
			kind := r.byte()
			switch kind {
			case 0: // func: type index
				r.u32()
			case 1: // table: reftype, limits
				r.byte()
				r.limits()
			case 2: // memory: limits
				r.limits()
				mems++
			case importGlobal: // global: valtype, mutability
				r.byte()
				r.byte()
				n++
			case 4: // tag: attribute, type index
				r.byte()
				r.u32()
			default:
				return 0, 0, fmt.Errorf("%w: import kind %d", ErrMalformed, kind)
			}
			if r.err != nil {
				break
			}
		}
		if r.err != nil {
			return 0, 0, fmt.Errorf("%w: import section: %v", ErrMalformed, r.err)
		}
	}
	return n, mems, nil
}

func hasExport(body []byte, name string) (bool, error) {
	r := reader{b: body}
	count := r.u32()
	found := false
	for range count {
		found = found || r.name() == name
		r.byte()
		r.u32()
		if r.err != nil {
			break
		}
	}
	if r.err != nil || !r.done() {
		return false, fmt.Errorf("%w: export section", ErrMalformed)
	}
	return found, nil
}

// appendToVector adds entry to the vector section id, creating the
// section in its place if there is none.
func appendToVector(secs []section, id byte, entry []byte) []section {
	for i, s := range secs {
		if s.id == id {
			r := reader{b: s.body}
			count := r.u32()
			body := appendU32(nil, count+1)
			body = append(body, r.b...)
			secs[i].body = append(body, entry...)
			return secs
		}
	}
	body := append(appendU32(nil, 1), entry...)
	at := len(secs)
	for i, s := range secs {
		if s.id != secCustom && rank[s.id] > rank[id] {
			at = i
			break
		}
	}
	return append(secs[:at], append([]section{{id, body}}, secs[at:]...)...)
}

func instrumentCode(body, check []byte) ([]byte, error) {
	r := reader{b: body}
	count := r.u32()
	out := appendU32(make([]byte, 0, len(body)+len(body)/8), count)
	var fn []byte
	for i := range count {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("%w: function %d: %v", ErrMalformed, i, r.err)
		}
		var err error
		fn, err = instrumentFunction(fn[:0], code, check)
		if err != nil {
			return nil, fmt.Errorf("%w: function %d: %v", ErrMalformed, i, err)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if !r.done() {
		return nil, fmt.Errorf("%w: code section: trailing bytes", ErrMalformed)
	}
	return out, nil
}

// instrumentFunction copies one function body (locals, then code) to out,
// with check after the block type of every loop.
func instrumentFunction(out, code, check []byte) ([]byte, error) {
	r := reader{b: code}
	groups := r.u32()
	for range groups {
		r.u32()  // count
		r.byte() // valtype
		if r.err != nil {
			break // not 2^32 more rounds on a truncated body
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, code[:len(code)-len(r.b)]...)
	for !r.done() {
		start := len(r.b)
		op := r.byte()
		isLoop := op == 0x03
		skipImmediates(&r, op)
		if r.err != nil {
			return nil, fmt.Errorf("opcode %#x: %v", op, r.err)
		}
		out = append(out, code[len(code)-start:len(code)-len(r.b)]...)
		if isLoop {
			out = append(out, check...)
		}
	}
	return out, nil
}

// skipImmediates consumes the immediates of op.
func skipImmediates(r *reader, op byte) {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04 || op == 0x06: // block, loop, if, try
		r.blockType()
	case op == 0x07 || op == 0x08 || op == 0x09 || op == 0x18: // catch, throw, rethrow, delegate
		r.u32()
	case op == 0x0c || op == 0x0d: // br, br_if
		r.u32()
	case op == 0x0e: // br_table
		n := r.u32()
		for range uint64(n) + 1 {
			r.u32()
			if r.err != nil {
				return
			}
		}
	case op == 0x10 || op == 0x12: // call, return_call
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		n := r.u32()
		for range n {
			r.byte()
			if r.err != nil {
				return
			}
		}
	case op == 0x1f: // try_table bt vec(catch)
		r.blockType()
		n := r.u32()
		for range n {
			switch kind := r.byte(); kind {
			case 0, 1: // catch x l, catch_ref x l
				r.u32()
				r.u32()
			case 2, 3: // catch_all l, catch_all_ref l
				r.u32()
			default:
				r.fail("catch kind")
			}
			if r.err != nil {
				return
			}
		}
	case op >= 0x20 && op <= 0x26: // locals, globals, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.s64()
	case op == 0x42:
		r.s64()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null t
		r.byte()
	case op == 0xd2: // ref.func
		r.u32()
	case op == 0xfc:
		skipFC(r)
	case op == 0xfd:
		skipSIMD(r)
	case op == 0xfe:
		skipAtomic(r)
	case op <= 0x01 || op == 0x05 || op == 0x0a || op == 0x0b || op == 0x0f || op == 0x19 ||
		op == 0x1a || op == 0x1b || (op >= 0x45 && op <= 0xc4) || op == 0xd1:
		// no immediates
	default:
		r.fail("unknown opcode")
	}
}

func skipFC(r *reader) {
	switch sub := r.u32(); {
	case sub <= 7: // trunc_sat
	case sub == 8: // memory.init data mem
		r.u32()
		r.u32()
	case sub == 9: // data.drop
		r.u32()
	case sub == 10: // memory.copy mem mem
		r.u32()
		r.u32()
	case sub == 11: // memory.fill mem
		r.u32()
	case sub == 12 || sub == 14: // table.init elem table, table.copy t t
		r.u32()
		r.u32()
	case sub == 13 || sub == 15 || sub == 16 || sub == 17: // elem.drop, table.grow, table.size, table.fill
		r.u32()
	default:
		r.fail("unknown 0xfc opcode")
	}
}

func skipSIMD(r *reader) {
	switch sub := r.u32(); {
	case sub <= 11 || sub == 92 || sub == 93: // loads, store
		r.memarg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract_lane, replace_lane
		r.byte()
	case sub >= 84 && sub <= 91: // load/store lane
		r.memarg()
		r.byte()
	case sub <= 275:
		// no immediates
	default:
		r.fail("unknown 0xfd opcode")
	}
}

func skipAtomic(r *reader) {
	switch sub := r.u32(); {
	case sub == 3: // atomic.fence
		r.byte()
	case sub <= 2 || (sub >= 0x10 && sub <= 0x4e):
		r.memarg()
	default:
		r.fail("unknown 0xfe opcode")
	}
}

// reader decodes a WebAssembly binary; the first error sticks and every
// later read returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) done() bool { return r.err != nil || len(r.b) == 0 }

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = errors.New(what)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail("unexpected end")
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("LEB128 too long")
	return 0
}

// s64 consumes a signed LEB128 of up to 64 bits (the value is not needed).
func (r *reader) s64() {
	for range 10 {
		c := r.byte()
		if r.err != nil || c&0x80 == 0 {
			return
		}
	}
	r.fail("LEB128 too long")
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

// blockType consumes a block type: 0x40, a value type, or an s33 type
// index.
func (r *reader) blockType() {
	if len(r.b) == 0 {
		r.fail("unexpected end")
		return
	}
	switch c := r.b[0]; c {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.b = r.b[1:]
	default:
		r.s64()
	}
}

// memarg consumes alignment (with the multi-memory flag) and offset.
func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 {
		r.u32()
	}
	r.s64() // offset: u32, or u64 with memory64
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
