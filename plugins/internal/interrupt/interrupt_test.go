package interrupt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// module assembles a module from sections (id, body).
func module(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s[0])
		b = appendU32(b, uint32(len(s)-1))
		b = append(b, s[1:]...)
	}
	return b
}

func sec(id byte, body ...byte) []byte { return append([]byte{id}, body...) }

var (
	typeSec = sec(1, 1, 0x60, 0, 0)                             // one type: () -> ()
	funcSec = sec(3, 1, 0)                                      // one function of type 0
	memSec  = sec(5, 1, 0, 1)                                   // one memory, min 1 page
	codeSec = sec(10, 1, 7, 0, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b) // (loop (br 0))
)

func TestInstrument(t *testing.T) {
	out, err := Instrument(module(typeSec, funcSec, memSec, codeSec))
	if err != nil {
		t.Fatal(err)
	}
	// The check follows the loop's block type; the globals and the export
	// are in sections of their own, in order.
	check := loopCheck(0, 1)
	if !bytes.Contains(out, append([]byte{0x03, 0x40}, check...)) {
		t.Errorf("no check after the loop in %x", out)
	}
	if !bytes.Contains(out, []byte(Export)) {
		t.Error("the flag is not exported")
	}
	r := reader{b: out[8:]}
	var ids []byte
	for !r.done() {
		ids = append(ids, r.byte())
		r.bytes(int(r.u32()))
	}
	if string(ids) != string([]byte{1, 3, 5, 6, 7, 10}) {
		t.Errorf("sections %v", ids)
	}
	if _, err := Instrument(out); err == nil || !strings.Contains(err.Error(), "already exports") {
		t.Errorf("instrumenting twice: %v", err)
	}
}

func TestRefuses(t *testing.T) {
	tests := []struct {
		name string
		wasm []byte
		want string
	}{
		{"not wasm", []byte("hello"), "not a WebAssembly"},
		{"start section", module(typeSec, funcSec, memSec, sec(8, 0), codeSec), "start section"},
		{"no memory", module(typeSec, funcSec, codeSec), "no memory"},
		{"unknown opcode", module(typeSec, funcSec, memSec, sec(10, 1, 3, 0, 0xff, 0x0b)), "unknown opcode"},
		{"truncated", module(typeSec, funcSec, memSec, sec(10, 1, 9, 0, 0x0b)), "unexpected end"},
		{"unknown section", module(sec(42)), "unknown section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Instrument(tt.wasm); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Instrument(module(typeSec, funcSec, memSec, sec(10, 1, 3, 0, 0xff, 0x0b))); !errors.Is(err, ErrMalformed) {
		t.Errorf("a malformed function: %v, want ErrMalformed", err)
	}
}

// FuzzInstrument: no input makes Instrument panic, and what it accepts
// it can read back (the output is well-formed enough to instrument
// again, which fails only because the flag is exported).
func FuzzInstrument(f *testing.F) {
	f.Add(module(typeSec, funcSec, memSec, codeSec))
	f.Add(module(typeSec, funcSec, memSec, codeSec, sec(11, dataSection(seg{0, 8, "ab"}, seg{0, 0, "cd"}, seg{0, 100, "e"})...)))
	f.Add(module(typeSec, funcSec, memSec, sec(10, 1, 12, 0, 0x02, 0x40, 0x41, 0x7f, 0x0d, 0, 0x1a, 0x0b, 0x0b)))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm)
		if err != nil {
			return
		}
		if _, err := Instrument(out); err == nil || !strings.Contains(err.Error(), "already exports") {
			t.Errorf("re-instrumenting the output: %v", err)
		}
	})
}
