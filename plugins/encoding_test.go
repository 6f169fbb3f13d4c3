package plugins_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	"github.com/skiffhq/skiff/plugins/testdata/encbench/pb"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// The encoding benchmark: the same score plugin (labels and resources of
// every node) fed node records in three encodings through the real host
// path. The figures are in docs/abi.md ("Why this encoding").

const encbenchPkg = "./testdata/encbench"

// realisticNode is a node as a cloud provider labels it, with the
// annotations its agent sets, one taint on a tenth of the nodes, and some
// pods running.
func realisticNode(i int) *abi.Node {
	name := fmt.Sprintf("node-%05d", i)
	team := []string{"blue", "red", "green"}[i%3]
	n := &abi.Node{
		Name: name,
		Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"topology.kubernetes.io/zone": fmt.Sprint("zone-", i%3), "topology.kubernetes.io/region": "region-1",
			"node.kubernetes.io/instance-type": "m5.4xlarge", "team": team,
		},
		Annotations: map[string]string{
			"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
			"skiff.dev/agent-version": "v0.1.0",
		},
		Allocatable: abi.Resources{MilliCPU: 16000, Memory: 64 << 30, EphemeralStorage: 100 << 30, Pods: 110,
			Scalars: []abi.Scalar{{Name: "example.com/gpu", Value: int64(i % 2)}}},
		Requested:       abi.Resources{MilliCPU: int64(i%16) * 1000, Memory: int64(i%64) << 30, Pods: int64(i % 30)},
		NonZeroMilliCPU: int64(i%16)*1000 + 100, NonZeroMemory: int64(i%64)<<30 + 200<<20,
		Pods: int64(i % 30),
	}
	if i%10 == 0 {
		n.Taints = []abi.Taint{{Key: "dedicated", Value: "gpu", Effect: abi.EffectNoSchedule}}
	}
	return n
}

func benchPod() []byte {
	return abi.AppendPod(nil, &abi.Pod{Name: "web-0", Namespace: "default", UID: "2f1c0a1e-0000-4000-8000-000000000000",
		Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"skiff.dev/team": "blue"},
		Requests: abi.Resources{MilliCPU: 500, Memory: 1 << 30}, NonZeroMilliCPU: 500, NonZeroMemory: 1 << 30})
}

// wrap frames a json or protobuf node as the request framing expects a
// record: size, payload length, payload, zeros up to a node record's
// fixed size.
func wrap(payload []byte) []byte {
	size := max(8+len(payload), abi.NodeFixedSize)
	rec := make([]byte, size)
	binary.LittleEndian.PutUint32(rec, uint32(size))
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(payload)))
	copy(rec[8:], payload)
	return rec
}

func encodeNode(enc string, n *abi.Node) []byte {
	switch enc {
	case "binary":
		return abi.AppendNode(nil, n, abi.AllFields)
	case "json":
		b, err := json.Marshal(n)
		if err != nil {
			panic(err)
		}
		return wrap(b)
	case "proto":
		return wrap(pb.Marshal(n))
	}
	panic("unknown encoding " + enc)
}

var encodings = []string{"binary", "json", "proto"}

// everyTime is a Batch whose records are new at every call, so the host
// sends every one: what a call costs without the guest's node table, and
// how the benchmark makes the guest decode every node.
type everyTime struct {
	pod   []byte
	nodes []plugins.NodeRecord
}

func (b *everyTime) Encode(abi.Fields) ([]byte, []plugins.NodeRecord) {
	for i := range b.nodes {
		b.nodes[i].Rev = plugins.NewRev()
	}
	return b.pod, b.nodes
}

func encodedBatch(enc string, n int) (*everyTime, int) {
	b := &everyTime{pod: benchPod()}
	total := 0
	for i := range n {
		rec := encodeNode(enc, realisticNode(i))
		b.nodes = append(b.nodes, plugins.NodeRecord{Slot: uint32(i), Record: rec})
		total += len(rec)
	}
	return b, total
}

// TestEncodingsAgree checks that the benchmark measures the same work in
// every encoding.
func TestEncodingsAgree(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{})
	var want []int64
	for _, enc := range encodings {
		p, err := h.Load(t.Context(), "enc-"+enc, "v1", plugintest.Build(t, encbenchPkg), []byte(enc))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := encodedBatch(enc, 300)
		got := make([]int64, 300)
		if err := p.Score(t.Context(), b, got); err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = got
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s scores differ from binary's (-binary +%s):\n%s", enc, enc, diff)
		}
	}
}

// BenchmarkEncoding times one score call (host: copy the cached records
// into the guest; guest: decode and read labels and resources of every
// node; host: decode the scores) per encoding and node count.
func BenchmarkEncoding(b *testing.B) {
	// JSON decoding in a Go guest takes longer than the default deadline.
	h := plugintest.NewHost(b, plugins.Config{CallTimeout: 10 * time.Second})
	for _, enc := range encodings {
		p, err := h.Load(b.Context(), "enc-"+enc, "v1", plugintest.Build(b, encbenchPkg), []byte(enc))
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{500, 5000} {
			b.Run(fmt.Sprintf("%s/nodes=%d", enc, n), func(b *testing.B) {
				batch, size := encodedBatch(enc, n)
				scores := make([]int64, n)
				b.ReportAllocs()
				for b.Loop() {
					if err := p.Score(b.Context(), batch, scores); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(size)/float64(n), "B/node")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
			})
		}
	}
}

// BenchmarkEncodeNode times encoding one node on the host (what a cache
// miss costs: a node that changed since the last call).
func BenchmarkEncodeNode(b *testing.B) {
	n := realisticNode(7)
	for _, enc := range encodings {
		b.Run(enc, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = encodeNode(enc, n)
			}
		})
	}
}

// BenchmarkDeadlines times the binary encoding's call with each way of
// stopping calls: the host's interrupt flag, and wazero's
// WithCloseOnContextDone (which returns to Go at every loop iteration).
func BenchmarkDeadlines(b *testing.B) {
	for _, contextDeadlines := range []bool{false, true} {
		h := plugintest.NewHost(b, plugins.Config{ContextDeadlines: contextDeadlines})
		p, err := h.Load(b.Context(), "enc", "v1", plugintest.Build(b, encbenchPkg), []byte("binary"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint("ContextDeadlines=", contextDeadlines), func(b *testing.B) {
			batch, _ := encodedBatch("binary", 500)
			scores := make([]int64, 500)
			for b.Loop() {
				if err := p.Score(b.Context(), batch, scores); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/500, "ns/node")
		})
	}
}

// BenchmarkNodeTable times the same score call (an SDK guest reading a
// label of every node) when the guest holds the nodes in its table (the
// steady state: only changed nodes are sent) and when every record is
// sent every call.
func BenchmarkNodeTable(b *testing.B) {
	h := plugintest.NewHost(b, plugins.Config{})
	p := plugintest.Load(b, h, "good", goodPkg, `{"score": 1}`)
	for _, n := range []int{500, 5000} {
		held := &plugins.Records{Pod: benchPod()}
		sent := &everyTime{pod: benchPod()}
		for i := range n {
			rec := abi.AppendNode(nil, realisticNode(i), abi.FieldLabels)
			held.Nodes = append(held.Nodes, rec)
			sent.nodes = append(sent.nodes, plugins.NodeRecord{Slot: uint32(i), Record: rec})
		}
		for _, bt := range []struct {
			name  string
			batch plugins.Batch
		}{{"held", held}, {"sent", sent}} {
			b.Run(fmt.Sprintf("nodes=%d/%s", n, bt.name), func(b *testing.B) {
				scores := make([]int64, n)
				for b.Loop() {
					if err := p.Score(b.Context(), bt.batch, scores); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
			})
		}
	}
}

// BenchmarkCall times a score call with one node, the cost a cycle pays
// when a pure plugin's answers come from the cache but for the node the
// previous pod was placed on: held (the guest has the record) and
// updated (the record changed, so it travels with the call).
func BenchmarkCall(b *testing.B) {
	h := plugintest.NewHost(b, plugins.Config{})
	p := plugintest.Load(b, h, "good", goodPkg, `{"score": 1}`)
	rec := abi.AppendNode(nil, realisticNode(0), abi.FieldLabels)
	held := &plugins.Records{Pod: benchPod(), Nodes: [][]byte{rec}}
	updated := &everyTime{pod: benchPod(), nodes: []plugins.NodeRecord{{Slot: 0, Record: rec}}}
	for _, bt := range []struct {
		name  string
		batch plugins.Batch
	}{{"held", held}, {"updated", updated}} {
		b.Run(bt.name, func(b *testing.B) {
			scores := make([]int64, 1)
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Score(b.Context(), bt.batch, scores); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
