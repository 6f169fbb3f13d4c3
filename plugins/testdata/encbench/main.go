package main

import (
	"encoding/binary"
	"encoding/json"
	"runtime"
	"unsafe"

	"github.com/skiffhq/skiff/plugins/testdata/encbench/pb"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

var (
	buf, resp []byte
	encoding  = "binary"
	scores    []int64
)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// pack packs a response; it yields first so that the garbage collector's
// workers run (see sdk/plugin's pack).
func pack(b []byte) uint64 {
	runtime.Gosched()
	return uint64(addr(b))<<32 | uint64(len(b))
}

//go:wasmexport skiff_info
func info() uint64 {
	resp = abi.AppendInfo(resp[:0], abi.Info{Version: abi.Version, Points: abi.Points(0).With(abi.PointScore), NodeFields: abi.AllFields, PodFields: abi.AllPodFields})
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
		encoding = string(buf[:n])
	}
	resp = abi.AppendStatus(resp[:0], "", false)
	return pack(resp)
}

func most(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	return min(requested, capacity) * 100 / capacity
}

//go:wasmexport skiff_score
func score(ptr, n uint32) uint64 {
	rv, err := abi.NewRequestView(buf[:n])
	if err != nil {
		resp = abi.AppendError(resp[:0], err.Error())
		return pack(resp)
	}
	team, _ := rv.Pod().Annotations().Get("skiff.dev/team")
	cpu, mem := rv.Pod().NonZeroRequests()
	if cap(scores) < rv.NumUpdates() {
		scores = make([]int64, rv.NumUpdates())
	}
	scores = scores[:rv.NumUpdates()]
	for i := range rv.NumUpdates() {
		_, rec := rv.Update(i)
		switch encoding {
		case "binary":
			v := abi.NewNodeView(rec)
			if l, _ := v.Labels().Get("team"); l != team {
				scores[i] = 0
				continue
			}
			nc, nm := v.NonZeroRequested()
			scores[i] = (most(nc+cpu, v.Allocatable().MilliCPU()) + most(nm+mem, v.Allocatable().Memory())) / 2
		default:
			var node abi.Node
			payload := rec[8 : 8+binary.LittleEndian.Uint32(rec[4:])]
			var err error
			if encoding == "json" {
				err = json.Unmarshal(payload, &node)
			} else {
				err = pb.Unmarshal(payload, &node)
			}
			if err != nil {
				resp = abi.AppendError(resp[:0], err.Error())
				return pack(resp)
			}
			if node.Labels["team"] != team {
				scores[i] = 0
				continue
			}
			scores[i] = (most(node.NonZeroMilliCPU+cpu, node.Allocatable.MilliCPU) + most(node.NonZeroMemory+mem, node.Allocatable.Memory)) / 2
		}
	}
	resp = abi.AppendScoreResponse(resp[:0], scores)
	return pack(resp)
}

func main() {}
