package interrupt

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type seg struct {
	flag   uint32
	offset int32
	init   string
}

func dataSection(segs ...seg) []byte {
	b := appendU32(nil, uint32(len(segs)))
	for _, s := range segs {
		b = appendU32(b, s.flag)
		if s.flag == 0 {
			b = append(appendS32(append(b, 0x41), s.offset), 0x0b)
		}
		b = appendU32(b, uint32(len(s.init)))
		b = append(b, s.init...)
	}
	return b
}

// readData decodes a data section of active i32.const segments.
func readData(t *testing.T, body []byte) []seg {
	t.Helper()
	r := reader{b: body}
	var out []seg
	for range r.u32() {
		s := seg{flag: r.u32()}
		r.byte()
		s.offset = r.s32()
		r.byte()
		s.init = string(r.bytes(int(r.u32())))
		out = append(out, s)
	}
	if r.err != nil || len(r.b) != 0 {
		t.Fatalf("malformed data section: %v", r.err)
	}
	return out
}

func TestMergeData(t *testing.T) {
	gap := string(make([]byte, 8))
	tests := []struct {
		name string
		in   []seg
		want []seg // nil: unchanged
	}{
		{"neighbours and a gap", []seg{{0, 0, "ab"}, {0, 10, "cd"}, {0, 12, "e"}},
			[]seg{{0, 0, "ab" + gap + "cde"}}},
		{"a gap too long stays", []seg{{0, 0, "ab"}, {0, 2 + MaxDataGap + 1, "x"}, {0, 2 + MaxDataGap + 2, "y"}},
			[]seg{{0, 0, "ab"}, {0, 2 + MaxDataGap + 1, "xy"}}},
		{"out of order", []seg{{0, 10, "ab"}, {0, 0, "cd"}}, []seg{{0, 0, "cd" + gap + "ab"}}},
		{"overlapping", []seg{{0, 0, "abc"}, {0, 2, "d"}}, nil},
		{"overlapping out of order", []seg{{0, 2, "d"}, {0, 10, "x"}, {0, 0, "abc"}}, nil},
		{"passive", []seg{{0, 0, "ab"}, {1, 0, "cd"}}, nil},
		{"one segment", []seg{{0, 0, "ab"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := dataSection(tt.in...)
			orig := bytes.Clone(in)
			out := mergeData(in)
			if !bytes.Equal(in, orig) {
				t.Fatal("mergeData wrote into its input")
			}
			if tt.want == nil {
				if !bytes.Equal(out, in) {
					t.Errorf("changed: %x", out)
				}
				return
			}
			if diff := cmp.Diff(tt.want, readData(t, out), cmp.AllowUnexported(seg{})); diff != "" {
				t.Errorf("segments (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMergeDataInInstrument: Instrument merges the data of a module with
// its own memory and no data count section, and leaves it when the memory
// is imported (it need not start zeroed).
func TestMergeDataInInstrument(t *testing.T) {
	data := sec(11, dataSection(seg{0, 0, "ab"}, seg{0, 4, "cd"})...)
	count := func(wasm []byte) int {
		r := reader{b: wasm[8:]}
		for !r.done() {
			id, body := r.byte(), r.bytes(int(r.u32()))
			if id == secData {
				return len(readData(t, body))
			}
		}
		return -1
	}
	out, err := Instrument(module(typeSec, funcSec, memSec, codeSec, data))
	if err != nil {
		t.Fatal(err)
	}
	if n := count(out); n != 1 {
		t.Errorf("own memory: %d segments, want 1", n)
	}
	importMem := sec(2, append(append(appendName(appendName([]byte{1}, "env"), "mem"), 0x02), 0, 1)...)
	out, err = Instrument(module(typeSec, importMem, funcSec, codeSec, data))
	if err != nil {
		t.Fatal(err)
	}
	if n := count(out); n != 2 {
		t.Errorf("imported memory: %d segments, want 2", n)
	}
}
