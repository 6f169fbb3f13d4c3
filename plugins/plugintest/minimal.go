package plugintest

import "encoding/binary"

// Minimal returns a module of a few hundred bytes, hand-assembled, that
// loads in a host like any plugin: it accepts every setting and says it
// scores, but its score export always answers with no scores, a malformed
// answer for any call with nodes. It is for tests that check, store or
// push many modules and never schedule with them (a Go guest takes a
// second to compile). tag is written into a custom section, so
// that each tag gives a module of its own digest.
func Minimal(tag string) []byte {
	m := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, body []byte) {
		m = append(m, id)
		m = binary.AppendUvarint(m, uint64(len(body)))
		m = append(m, body...)
	}
	name := func(b []byte, s string) []byte {
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...)
	}
	const (
		i32, i64      = 0x7f, 0x7e
		configureResp = 16 // a status word 0: the zeroed memory there
		infoAt        = 32 // the info record, from the data segment
		scoreResp     = 64 // status 0, no scores
	)
	// Types: 0 (i32) -> i32, 1 (i32, i32) -> i64, 2 () -> i64.
	section(1, []byte{3, 0x60, 1, i32, 1, i32, 0x60, 2, i32, i32, 1, i64, 0x60, 0, 1, i64})
	// Functions: skiff_buffer, skiff_configure, skiff_info, skiff_score.
	section(3, []byte{4, 0, 1, 2, 1})
	// Memory: two pages (the host asks for a 64 KiB buffer).
	section(5, []byte{1, 0x00, 2})
	exports := []byte{5}
	exports = append(name(exports, "memory"), 0x02, 0)
	for i, f := range []string{"skiff_buffer", "skiff_configure", "skiff_info", "skiff_score"} {
		exports = append(name(exports, f), 0x00, byte(i))
	}
	section(7, exports)
	resp := func(addr, n uint32) []byte { // no locals; i64.const addr<<32|n; end
		return append(appendSLEB([]byte{0, 0x42}, int64(addr)<<32|int64(n)), 0x0b)
	}
	bodies := [][]byte{
		{0, 0x41, 0x80, 0x08, 0x0b}, // i32.const 1024
		resp(configureResp, 4),
		resp(infoAt, 20),
		resp(scoreResp, 8),
	}
	code := []byte{byte(len(bodies))}
	for _, b := range bodies {
		code = binary.AppendUvarint(code, uint64(len(b)))
		code = append(code, b...)
	}
	section(10, code)
	// The info record: ABI version 1, points score, no node or pod
	// fields, no flags.
	info := []byte{1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	data := append([]byte{1, 0x00, 0x41, infoAt, 0x0b}, byte(len(info)))
	section(11, append(data, info...))
	return tagged(m, tag)
}

// appendSLEB appends v in signed LEB128, as wasm's i64.const wants it.
func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// tagged returns a copy of the module wasm with a custom section named
// "plugintest" holding tag appended: a module that behaves the same but
// has a digest of its own.
func tagged(wasm []byte, tag string) []byte {
	const name = "plugintest"
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(name)))
	body = append(body, name...)
	// "tag=" first: wazero refuses a custom section with an empty payload.
	body = append(body, "tag="+tag...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0) // custom section id
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}
