//go:build wasip1

package plugin

import (
	"runtime"
	"unsafe"

	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// pack returns a response's address and length as the ABI's i64. It
// first lets other goroutines run: in a reactor module nothing else runs
// between calls, so without this the garbage collector's background
// workers would never run, no collection would finish, and memory would
// only grow (measured: 120 KB a call, out of memory after ~2,000 calls).
func pack(b []byte) uint64 {
	runtime.Gosched()
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b))
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
func skiffInfo() uint64 { return pack(g.info()) }

//go:wasmexport skiff_buffer
func skiffBuffer(size uint32) uint32 {
	return uint32(uintptr(unsafe.Pointer(&g.buffer(size)[0])))
}

//go:wasmexport skiff_configure
func skiffConfigure(ptr, size uint32) uint64 {
	b, ok := request(ptr, size)
	if !ok && size > 0 {
		return pack(g.fail(errOutside))
	}
	return pack(g.configure(b))
}

//go:wasmexport skiff_filter
func skiffFilter(ptr, size uint32) uint64 {
	b, ok := request(ptr, size)
	if !ok {
		return pack(g.fail(errOutside))
	}
	return pack(g.call(abi.PointFilter, b))
}

//go:wasmexport skiff_score
func skiffScore(ptr, size uint32) uint64 {
	b, ok := request(ptr, size)
	if !ok {
		return pack(g.fail(errOutside))
	}
	return pack(g.call(abi.PointScore, b))
}

type outsideError struct{}

func (outsideError) Error() string { return "plugin: request outside the buffer" }

var errOutside error = outsideError{}
