//go:build !(wasm || amd64 || arm64 || 386 || riscv64 || loong64 || ppc64le || mipsle || mips64le)

package abi

func (r record) u32(at int) uint32 { return le.Uint32(r[at:]) }
func (r record) i64(at int) int64  { return int64(le.Uint64(r[at:])) }

func appendWords[T Verdict | int64](dst []byte, s []T) []byte {
	for _, v := range s {
		switch any(v).(type) {
		case Verdict:
			dst = le.AppendUint32(dst, uint32(v))
		default:
			dst = le.AppendUint64(dst, uint64(v))
		}
	}
	return dst
}
