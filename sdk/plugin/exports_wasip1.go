//go:build wasip1

package plugin

import (
	"encoding/binary"
	"runtime"
	"unsafe"

	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// pack returns a response's address and length as the ABI's i64.
func pack(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
}

// Yielding. In a reactor module nothing else runs between calls, so
// unless an export lets other goroutines run, the garbage collector's
// background workers never do, no collection finishes, and memory only
// grows (measured once: 120 KB a call of 500 nodes, out of memory after
// ~2,000 calls; see TestGuestMemoryStaysBounded in package plugins).
// A yield costs about 1.6 µs of Go's wasm code, as much as the rest of a
// call with one node, so small calls (the steady state of a plugin whose
// answers the host caches: one changed node a call) yield only every
// yieldEvery calls; a collection then finishes at most that many calls
// late. Larger calls, and every other export, yield every time.
const (
	smallCall  = 16 // candidates plus updates
	yieldEvery = 16
)

var sinceYield int

// yield runs other goroutines after a call with n candidates and
// updates, if it is time to.
func yield(n int) {
	sinceYield++
	if n > smallCall || sinceYield >= yieldEvery {
		sinceYield = 0
		runtime.Gosched()
	}
}

// size is the candidates plus updates of a request (0 if it is too short
// to say).
func size(req []byte) int {
	if len(req) < abi.RequestHead {
		return 0
	}
	return int(binary.LittleEndian.Uint32(req[12:])) + int(binary.LittleEndian.Uint32(req[16:]))
}

// request returns the request the host wrote at [ptr, ptr+size), which
// must lie in the buffer skiff_buffer returned.
func request(ptr, size uint32) ([]byte, bool) {
	if len(g.req) == 0 {
		return nil, false
	}
	base := uint32(uintptr(unsafe.Pointer(&g.req[0])))
	if ptr < base || uint64(ptr-base)+uint64(size) > uint64(len(g.req)) {
		return nil, false
	}
	return g.req[ptr-base : ptr-base+size], true
}

//go:wasmexport skiff_info
func skiffInfo() uint64 {
	resp := g.info()
	yield(smallCall + 1)
	return pack(resp)
}

//go:wasmexport skiff_buffer
func skiffBuffer(size uint32) uint32 {
	return uint32(uintptr(unsafe.Pointer(&g.buffer(size)[0])))
}

//go:wasmexport skiff_configure
func skiffConfigure(ptr, size uint32) uint64 {
	b, ok := request(ptr, size)
	defer yield(smallCall + 1)
	if !ok && size > 0 {
		return pack(g.fail(errOutside))
	}
	return pack(g.configure(b))
}

//go:wasmexport skiff_filter
func skiffFilter(ptr, n uint32) uint64 {
	b, ok := request(ptr, n)
	if !ok {
		yield(smallCall + 1)
		return pack(g.fail(errOutside))
	}
	resp := g.call(abi.PointFilter, b)
	yield(size(b))
	return pack(resp)
}

//go:wasmexport skiff_score
func skiffScore(ptr, n uint32) uint64 {
	b, ok := request(ptr, n)
	if !ok {
		yield(smallCall + 1)
		return pack(g.fail(errOutside))
	}
	resp := g.call(abi.PointScore, b)
	yield(size(b))
	return pack(resp)
}

type outsideError struct{}

func (outsideError) Error() string { return "plugin: request outside the buffer" }

var errOutside error = outsideError{}
