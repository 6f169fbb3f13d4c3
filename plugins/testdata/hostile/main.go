package main

import (
	"os"
	"runtime"
	"unsafe"

	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

var (
	buf, resp []byte
	mode      = "ok"
	hog       [][]byte
	spins     int
	pure      bool
)

func unreachable() // trap_wasm.s

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// pack packs a response; it yields first so that the garbage collector's
// workers run (see sdk/plugin's pack).
func pack(b []byte) uint64 {
	runtime.Gosched()
	return uint64(addr(b))<<32 | uint64(len(b))
}

//go:wasmexport skiff_info
func info() uint64 {
	in := abi.Info{Version: abi.Version, Points: abi.Points(0).With(abi.PointFilter).With(abi.PointScore), NodeFields: abi.AllFields, PodFields: abi.AllPodFields}
	if pure {
		// Claims purity and reads only annotations (where its mode is),
		// so that the host caches its answers: failures must not be.
		in.PodFields, in.Flags = abi.PodAnnotations, abi.InfoPure
	}
	resp = abi.AppendInfo(resp[:0], in)
	return pack(resp)
}

//go:wasmexport skiff_buffer
func buffer(n uint32) uint32 {
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:cap(buf)]
	return addr(buf)
}

//go:wasmexport skiff_configure
func configure(ptr, n uint32) uint64 {
	if n > 0 {
		mode = string(buf[:n])
	}
	if mode == "pure" {
		pure, mode = true, "ok"
	}
	if mode == "refuse" {
		resp = abi.AppendError(resp[:0], "hostile: settings refused")
	} else {
		resp = abi.AppendStatus(resp[:0], "", false)
	}
	return pack(resp)
}

//go:wasmexport skiff_filter
func filter(ptr, n uint32) uint64 { return serve(abi.PointFilter, buf[:n]) }

//go:wasmexport skiff_score
func score(ptr, n uint32) uint64 { return serve(abi.PointScore, buf[:n]) }

func serve(point abi.Point, req []byte) uint64 {
	rv, err := abi.NewRequestView(req)
	if err != nil {
		resp = abi.AppendError(resp[:0], err.Error())
		return pack(resp)
	}
	m := mode
	if a, ok := rv.Pod().Annotations().Get("hostile"); ok {
		m = a
	}
	n := rv.Len()
	switch m {
	case "loop":
		for {
			spins++
		}
	case "bomb":
		for {
			hog = append(hog, make([]byte, 4<<20))
		}
	case "trap":
		unreachable()
	case "panic":
		panic("hostile guest panics")
	case "exit":
		os.Exit(3)
	case "garbage":
		resp = append(resp[:0], 0xde, 0xad, 0xbe, 0xef, 1, 2, 3)
		return pack(resp)
	case "outside":
		return 0xfffffff0<<32 | 64
	case "short":
		n--
	case "error":
		resp = abi.AppendError(resp[:0], "hostile: I cannot judge")
		return pack(resp)
	}
	if point == abi.PointFilter {
		resp = abi.AppendFilterResponse(resp[:0], make([]abi.Verdict, n), nil)
		return pack(resp)
	}
	scores := make([]int64, n)
	for i := range scores {
		scores[i] = 50
		if m == "range" {
			scores[i] = 1000
		}
	}
	resp = abi.AppendScoreResponse(resp[:0], scores)
	return pack(resp)
}

func main() {}
