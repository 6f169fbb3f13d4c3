//go:build wasm || amd64 || arm64 || 386 || riscv64 || loong64 || ppc64le || mipsle || mips64le

package abi

import "unsafe"

// On little-endian machines (wasm among them) a record's numbers are read
// and written in place: one load instead of four byte loads and shifts,
// which matters to Go's wasm code generator.

func (r record) u32(at int) uint32 {
	_ = r[at+3]
	return *(*uint32)(unsafe.Pointer(&r[at]))
}

func (r record) i64(at int) int64 {
	_ = r[at+7]
	return *(*int64)(unsafe.Pointer(&r[at]))
}

func appendWords[T Verdict | int64](dst []byte, s []T) []byte {
	if len(s) == 0 {
		return dst
	}
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))...)
}
