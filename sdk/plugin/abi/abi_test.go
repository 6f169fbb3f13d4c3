package abi

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testNode() *Node {
	return &Node{
		Name:          "node-1",
		Labels:        map[string]string{"kubernetes.io/hostname": "node-1", "team": "blue", "zone": "a"},
		Annotations:   map[string]string{"note": "hello"},
		Taints:        []Taint{{Key: "gpu", Value: "yes", Effect: EffectNoSchedule}, {Key: "spot", Effect: EffectPreferNoSchedule}},
		Unschedulable: true,
		Allocatable: Resources{MilliCPU: 4000, Memory: 16 << 30, EphemeralStorage: 100 << 30, Pods: 110,
			Scalars: []Scalar{{"nvidia.com/gpu", 2}, {"example.com/foo", 7}}},
		Requested:       Resources{MilliCPU: 1500, Memory: 2 << 30, Pods: 0},
		NonZeroMilliCPU: 1600, NonZeroMemory: 3 << 30,
		Pods: 3,
	}
}

func testPod() *Pod {
	return &Pod{
		Name: "web-1", Namespace: "default", UID: "uid-1", Priority: -5,
		Labels:          map[string]string{"app": "web"},
		Annotations:     map[string]string{"skiff.dev/team": "blue"},
		NodeSelector:    map[string]string{"zone": "a"},
		Tolerations:     []Toleration{{Key: "gpu", Operator: OpExists, Effect: EffectAll}, {Key: "k", Value: "v", Effect: EffectNoExecute}},
		Requests:        Resources{MilliCPU: 250, Memory: 64 << 20, Scalars: []Scalar{{"nvidia.com/gpu", 1}}},
		NonZeroMilliCPU: 250, NonZeroMemory: 64 << 20,
	}
}

func mapOf(m Map) map[string]string {
	if m.Len() == 0 {
		return nil
	}
	return maps.Collect(m.All())
}

func scalarsOf(r ResourcesView) []Scalar {
	var out []Scalar
	for i := range r.NumScalars() {
		n, v := r.ScalarAt(i)
		out = append(out, Scalar{n, v})
	}
	return out
}

func resourcesOf(r ResourcesView) Resources {
	return Resources{MilliCPU: r.MilliCPU(), Memory: r.Memory(), EphemeralStorage: r.EphemeralStorage(), Pods: r.Pods(), Scalars: scalarsOf(r)}
}

// nodeOf reads a node view back into a Node.
func nodeOf(v NodeView) *Node {
	n := &Node{Name: v.Name(), Labels: mapOf(v.Labels()), Annotations: mapOf(v.Annotations()), Unschedulable: v.Unschedulable(),
		Allocatable: resourcesOf(v.Allocatable()), Requested: resourcesOf(v.Requested()), Pods: v.PodCount()}
	n.NonZeroMilliCPU, n.NonZeroMemory = v.NonZeroRequested()
	for i := range v.NumTaints() {
		n.Taints = append(n.Taints, v.TaintAt(i))
	}
	return n
}

func podOf(v PodView) *Pod {
	p := &Pod{Name: v.Name(), Namespace: v.Namespace(), UID: v.UID(), Priority: v.Priority(),
		Labels: mapOf(v.Labels()), Annotations: mapOf(v.Annotations()), NodeSelector: mapOf(v.NodeSelector()),
		Requests: resourcesOf(v.Requests())}
	p.NonZeroMilliCPU, p.NonZeroMemory = v.NonZeroRequests()
	for i := range v.NumTolerations() {
		p.Tolerations = append(p.Tolerations, v.TolerationAt(i))
	}
	return p
}

func sortScalars(r *Resources) {
	slices.SortFunc(r.Scalars, func(a, b Scalar) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
}

func TestNodeRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		fields Fields
		want   func(n *Node)
	}{
		{"all", AllFields, func(*Node) {}},
		{"none", 0, func(n *Node) {
			n.Labels, n.Annotations, n.Taints = nil, nil, nil
			n.Allocatable, n.Requested, n.NonZeroMilliCPU, n.NonZeroMemory, n.Pods = Resources{}, Resources{}, 0, 0, 0
		}},
		{"labels", FieldLabels, func(n *Node) {
			n.Annotations, n.Taints = nil, nil
			n.Allocatable, n.Requested, n.NonZeroMilliCPU, n.NonZeroMemory, n.Pods = Resources{}, Resources{}, 0, 0, 0
		}},
		{"resources", FieldResources, func(n *Node) { n.Labels, n.Annotations, n.Taints = nil, nil, nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := testNode()
			rec := AppendNode([]byte("prefix"), in, tt.fields)[len("prefix"):]
			if got := int(le.Uint32(rec)); got != len(rec) {
				t.Fatalf("size word %d, record %d bytes", got, len(rec))
			}
			v := NewNodeView(rec)
			if v.Fields() != tt.fields {
				t.Errorf("Fields() = %v, want %v", v.Fields(), tt.fields)
			}
			want := testNode()
			tt.want(want)
			sortScalars(&want.Allocatable)
			sortScalars(&want.Requested)
			if diff := cmp.Diff(want, nodeOf(v)); diff != "" {
				t.Errorf("node (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMapGet(t *testing.T) {
	rec := AppendNode(nil, testNode(), AllFields)
	m := NewNodeView(rec).Labels()
	for k, want := range testNode().Labels {
		if got, ok := m.Get(k); !ok || got != want {
			t.Errorf("Get(%q) = %q, %v; want %q", k, got, ok, want)
		}
	}
	for _, k := range []string{"", "a", "team2", "zzz", "kubernetes.io/hostnam"} {
		if got, ok := m.Get(k); ok {
			t.Errorf("Get(%q) = %q, true; want absent", k, got)
		}
	}
	if got := NewNodeView(rec).Allocatable().Get("nvidia.com/gpu"); got != 2 {
		t.Errorf("Get(gpu) = %d", got)
	}
}

func TestRequestAndTable(t *testing.T) {
	pod := AppendPod(nil, testPod())
	node := func(name string) []byte {
		n := testNode()
		n.Name = name
		return AppendNode(nil, n, AllFields)
	}
	var table Table
	call := func(slots []uint32, updates []Update) []string {
		t.Helper()
		req := AppendRequest(nil, PointScore, pod, slots, updates)
		if len(req) != RequestSize(pod, slots, updates) {
			t.Fatalf("request of %d bytes, RequestSize %d", len(req), RequestSize(pod, slots, updates))
		}
		v, err := NewRequestView(req)
		if err != nil {
			t.Fatal(err)
		}
		if v.Point() != PointScore || v.Len() != len(slots) || v.NumUpdates() != len(updates) {
			t.Fatalf("point %v, len %d, updates %d", v.Point(), v.Len(), v.NumUpdates())
		}
		want := testPod()
		sortScalars(&want.Requests)
		if diff := cmp.Diff(want, podOf(v.Pod())); diff != "" {
			t.Errorf("pod (-want +got):\n%s", diff)
		}
		for cut := range len(req) {
			if _, err := NewRequestView(req[:cut]); err == nil {
				t.Fatalf("a request cut to %d bytes was accepted", cut)
			}
		}
		table.Apply(v)
		nodes, err := table.Nodes(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		clear(req) // the table keeps copies
		var names []string
		for _, n := range nodes {
			names = append(names, n.Name())
		}
		return names
	}
	got := call([]uint32{2, 0}, []Update{{0, node("a")}, {2, node("c")}})
	if diff := cmp.Diff([]string{"c", "a"}, got); diff != "" {
		t.Errorf("first call (-want +got):\n%s", diff)
	}
	kept := table.nodes[2].Name()
	got = call([]uint32{0, 1, 2}, []Update{{1, node("b")}, {2, node("c2")}})
	if diff := cmp.Diff([]string{"a", "b", "c2"}, got); diff != "" {
		t.Errorf("second call (-want +got):\n%s", diff)
	}
	if kept != "c" {
		t.Errorf("a string of a replaced record changed to %q", kept)
	}
	v, _ := NewRequestView(AppendRequest(nil, PointFilter, pod, []uint32{7}, nil))
	if _, err := table.Nodes(nil, v); err == nil {
		t.Error("a slot never stored was accepted")
	}
	v, _ = NewRequestView(AppendRequest(nil, PointFilter, pod, []uint32{MaxSlot + 1}, nil))
	if _, err := table.Nodes(nil, v); err == nil {
		t.Error("a slot above MaxSlot was accepted")
	}
	if _, err := NewRequestView(AppendRequest(nil, PointFilter, pod, nil, []Update{{MaxSlot + 1, node("x")}})); err == nil {
		t.Error("an update above MaxSlot was accepted")
	}
}

func TestFilterResponse(t *testing.T) {
	verdicts := []Verdict{0, MakeVerdict(Unschedulable, 1), MakeVerdict(UnschedulableAndUnresolvable, 0), 0}
	reasons := []string{"node(s) had a team mismatch", "Insufficient cpu"}
	b := AppendFilterResponse(nil, verdicts, reasons)
	got := make([]Verdict, 4)
	rs, err := DecodeFilter(b, got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(verdicts, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	var strs []string
	for _, r := range rs {
		strs = append(strs, string(r))
	}
	if diff := cmp.Diff(reasons, strs); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}

	bad := []struct {
		name string
		b    []byte
		n    int
	}{
		{"empty", nil, 4},
		{"wrong count", AppendFilterResponse(nil, verdicts[:3], reasons), 4},
		{"bad code", AppendFilterResponse(nil, []Verdict{0, 7, 0, 0}, nil), 4},
		{"reason out of range", AppendFilterResponse(nil, []Verdict{MakeVerdict(Unschedulable, 2), 0, 0, 0}, reasons), 4},
		{"empty reason", AppendFilterResponse(nil, []Verdict{MakeVerdict(Unschedulable, 0), 0, 0, 0}, []string{""}), 4},
		{"not utf-8", AppendFilterResponse(nil, []Verdict{MakeVerdict(Unschedulable, 0), 0, 0, 0}, []string{"\xff"}), 4},
		{"too many reasons", AppendFilterResponse(nil, []Verdict{0}, []string{"a", "b"}), 1},
		{"trailing", append(AppendFilterResponse(nil, verdicts, reasons), 0), 4},
		{"truncated", b[:len(b)-1], 4},
		{"status 9", []byte{9, 0, 0, 0}, 4},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeFilter(tt.b, make([]Verdict, tt.n), nil)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
	var ge *GuestError
	if _, err := DecodeFilter(AppendError(nil, "no settings"), got, nil); !errors.As(err, &ge) || ge.Message != "no settings" {
		t.Errorf("error status: %v", err)
	}
}

func TestScoreResponse(t *testing.T) {
	scores := []int64{0, 50, 100}
	got := make([]int64, 3)
	if err := DecodeScore(AppendScoreResponse(nil, scores), got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(scores, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	for _, bad := range [][]int64{{0, 101, 0}, {-1, 0, 0}, {0, 0}} {
		if err := DecodeScore(AppendScoreResponse(nil, bad), got); !errors.Is(err, ErrMalformed) {
			t.Errorf("scores %v: err = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestInfo(t *testing.T) {
	in := Info{Version: Version, Points: Points(0).With(PointFilter).With(PointScore), NodeFields: FieldLabels}
	got, err := DecodeInfo(AppendInfo(nil, in))
	if err != nil || got != in {
		t.Fatalf("DecodeInfo = %+v, %v", got, err)
	}
	if !got.Points.Has(PointScore) || Points(0).Has(PointFilter) {
		t.Error("Points.Has")
	}
	for _, bad := range []Info{{Version: Version, Points: 8}, {Version: Version, PodFields: AllPodFields + 1}, {Version: Version, Flags: 2}} {
		if _, err := DecodeInfo(AppendInfo(nil, bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: %v, want ErrMalformed", bad, err)
		}
	}
	pure := Info{Version: Version, Points: Points(0).With(PointFilter), NodeFields: FieldLabels, PodFields: PodAnnotations, Flags: InfoPure}
	if got, err := DecodeInfo(AppendInfo(nil, pure)); err != nil || got != pure {
		t.Errorf("DecodeInfo(pure) = %+v, %v", got, err)
	}
	// The short form (no pod fields, no flags) reads every pod section.
	short := AppendInfo(nil, pure)[:InfoSizeShort]
	want := Info{Version: Version, Points: pure.Points, NodeFields: FieldLabels, PodFields: AllPodFields}
	if got, err := DecodeInfo(short); err != nil || got != want {
		t.Errorf("DecodeInfo(short) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := DecodeInfo(AppendInfo(nil, pure)[:16]); !errors.Is(err, ErrMalformed) {
		t.Errorf("16-byte info: %v, want ErrMalformed", err)
	}
}

func TestAppendPodFields(t *testing.T) {
	p := &Pod{Name: "a", Namespace: "ns", UID: "u", Priority: 7, Labels: map[string]string{"app": "web"},
		Annotations: map[string]string{"team": "blue"}, NodeSelector: map[string]string{"zone": "z"},
		Tolerations: []Toleration{{Key: "k", Operator: OpExists}}, Requests: Resources{MilliCPU: 100, Scalars: []Scalar{{"x/y", 1}}},
		NonZeroMilliCPU: 100, NonZeroMemory: 5}
	v := NewPodView(AppendPodFields(nil, p, PodAnnotations))
	if got, _ := v.Annotations().Get("team"); got != "blue" {
		t.Errorf("annotation team = %q", got)
	}
	if v.Name() != "" || v.UID() != "" || v.Labels().Len() != 0 || v.NodeSelector().Len() != 0 || v.NumTolerations() != 0 ||
		v.Requests().MilliCPU() != 0 || v.Priority() != 0 {
		t.Error("sections not declared are not empty")
	}
	if c, m := v.NonZeroRequests(); c != 0 || m != 0 {
		t.Error("non-zero requests not empty")
	}
	// Pods equal in their declared sections have equal records.
	q := *p
	q.Name, q.UID, q.Labels = "b", "v", map[string]string{"app": "db"}
	if a, b := AppendPodFields(nil, p, PodAnnotations|PodRequests), AppendPodFields(nil, &q, PodAnnotations|PodRequests); string(a) != string(b) {
		t.Error("records of pods equal in their declared sections differ")
	}
	if a, b := AppendPod(nil, p), AppendPodFields(nil, p, AllPodFields); string(a) != string(b) {
		t.Error("AppendPod differs from AppendPodFields(AllPodFields)")
	}
}

// FuzzDecode feeds arbitrary guest output to every decoder: none may
// panic, and whatever DecodeFilter accepts re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(AppendFilterResponse(nil, []Verdict{0, MakeVerdict(Unschedulable, 0)}, []string{"x"}), uint8(2))
	f.Add(AppendScoreResponse(nil, []int64{1, 2}), uint8(2))
	f.Add(AppendError(nil, "boom"), uint8(1))
	f.Add(AppendInfo(nil, Info{Version: 1, Points: 3}), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		verdicts := make([]Verdict, n)
		if rs, err := DecodeFilter(b, verdicts, nil); err == nil {
			strs := make([]string, len(rs))
			for i, r := range rs {
				strs[i] = string(r)
			}
			if again := AppendFilterResponse(nil, verdicts, strs); string(again) != string(b) {
				t.Errorf("accepted %x, re-encodes to %x", b, again)
			}
		}
		_ = DecodeScore(b, make([]int64, n))
		_, _ = DecodeInfo(b)
		_, _ = DecodeStatus(b)
	})
}

// FuzzRequestView checks that NewRequestView rejects what it cannot read
// and that the views of what it accepts do not panic on names.
func FuzzRequestView(f *testing.F) {
	f.Add(AppendRequest(nil, PointFilter, AppendPod(nil, testPod()), []uint32{0}, []Update{{0, AppendNode(nil, testNode(), AllFields)}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := NewRequestView(b)
		if err != nil {
			return
		}
		var table Table
		table.Apply(v)
		nodes, _ := table.Nodes(nil, v)
		for _, n := range nodes {
			_ = n.Fields()
		}
	})
}
