package interrupt

import (
	"cmp"
	"slices"
)

// Section ids of the data sections.
const (
	secData      = 11
	secDataCount = 12
)

// MaxDataGap is the longest run of zeros mergeData writes between two
// data segments to join them.
const MaxDataGap = 4096

// mergeData joins a module's active data segments when that cannot
// change what memory holds after instantiation: Go's linker emits one
// segment per run of non-zero bytes (tens of thousands of them), and
// wazero keeps every segment, and a slice header per segment in every
// instance. It merges only when there is no data count section (so no
// memory.init or data.drop names a segment by index), the memory is the
// module's own (so it starts zeroed), and every segment is active in
// memory 0 at an i32.const offset, and no two overlap (so the order in
// which they are written does not matter); sorted by offset, neighbours
// at most MaxDataGap bytes apart are joined, the gap filled with the
// zeros it held. Otherwise, or if the section cannot be read, it
// returns body unchanged.
func mergeData(body []byte) []byte {
	type segment struct {
		offset uint32
		init   []byte
	}
	r := reader{b: body}
	n := r.u32()
	segs := make([]segment, 0, min(n, 1<<16))
	for range n {
		if r.u32() != 0 || r.byte() != 0x41 { // active, memory 0; i32.const
			return body
		}
		off := r.s32()
		if r.byte() != 0x0b { // end
			return body
		}
		init := r.bytes(int(r.u32()))
		if r.err != nil || off < 0 {
			return body
		}
		segs = append(segs, segment{uint32(off), init})
	}
	if r.err != nil || len(r.b) != 0 || len(segs) < 2 {
		return body
	}
	// Segments that do not overlap can be written in any order.
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.offset, b.offset) })
	for k := 1; k < len(segs); k++ {
		if uint64(segs[k].offset) < uint64(segs[k-1].offset)+uint64(len(segs[k-1].init)) {
			return body // overlapping: the order matters
		}
	}
	var merged []segment
	for _, s := range segs {
		if k := len(merged); k > 0 {
			last := &merged[k-1]
			end := uint64(last.offset) + uint64(len(last.init))
			if gap := uint64(s.offset) - end; gap <= MaxDataGap {
				last.init = append(append(last.init, make([]byte, gap)...), s.init...)
				continue
			}
		}
		// A copy: appending must not write into the module's bytes.
		merged = append(merged, segment{s.offset, append([]byte(nil), s.init...)})
	}
	out := appendU32(make([]byte, 0, len(body)), uint32(len(merged)))
	for _, s := range merged {
		out = append(out, 0x00, 0x41)
		out = appendS32(out, int32(s.offset))
		out = append(out, 0x0b)
		out = appendU32(out, uint32(len(s.init)))
		out = append(out, s.init...)
	}
	return out
}

// s32 reads a signed LEB128 number of at most 32 bits.
func (r *reader) s32() int32 {
	var v int64
	var shift uint
	for i := 0; i < 5; i++ {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		v |= int64(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				r.fail("s32 out of range")
				return 0
			}
			return int32(v)
		}
	}
	r.fail("s32 too long")
	return 0
}
