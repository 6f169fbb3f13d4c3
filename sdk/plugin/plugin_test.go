package plugin

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

// The guest side of the ABI, run natively: what the exports do with a
// request, without a host.

func withRegistry(t *testing.T, r registry) {
	t.Helper()
	old, oldG := reg, g
	reg, g = r, guest{}
	t.Cleanup(func() { reg, g = old, oldG })
}

func makeRequest(point abi.Point, slots []uint32, nodes ...*abi.Node) []byte {
	var ups []abi.Update
	for i, n := range nodes {
		ups = append(ups, abi.Update{Slot: slots[i], Record: abi.AppendNode(nil, n, abi.AllFields)})
	}
	pod := abi.AppendPod(nil, &abi.Pod{Name: "p", Annotations: map[string]string{"team": "blue"}})
	return abi.AppendRequest(nil, point, pod, slots, ups)
}

func TestFilterCall(t *testing.T) {
	withRegistry(t, registry{nodeFields: abi.FieldLabels, podFields: abi.PodAnnotations, filter: func(pod Pod, nodes []Node, verdicts []Verdict) error {
		team, _ := pod.Annotations().Get("team")
		for i, n := range nodes {
			switch v, _ := n.Labels().Get("team"); v {
			case team:
			case "":
				verdicts[i] = Reject("")
			default:
				verdicts[i] = RejectUnresolvable("node(s) of another team")
			}
		}
		return nil
	}})
	in, err := abi.DecodeInfo(g.info())
	if err != nil || in.Points != abi.Points(0).With(abi.PointFilter) || in.NodeFields != abi.FieldLabels {
		t.Fatalf("info %+v, %v", in, err)
	}
	req := makeRequest(abi.PointFilter, []uint32{0, 1, 2, 3},
		&abi.Node{Name: "a", Labels: map[string]string{"team": "blue"}}, &abi.Node{Name: "b", Labels: map[string]string{"team": "red"}},
		&abi.Node{Name: "c"}, &abi.Node{Name: "d", Labels: map[string]string{"team": "red"}})
	resp := g.call(abi.PointFilter, append(g.buffer(uint32(len(req)))[:0], req...))
	verdicts := make([]abi.Verdict, 4)
	reasons, err := abi.DecodeFilter(resp, verdicts, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, 4)
	for i, v := range verdicts {
		if v.Code() != abi.Pass {
			got[i] = string(reasons[v.Reason()])
		}
	}
	want := []string{"", "node(s) of another team", "node(s) were rejected by the plugin", "node(s) of another team"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if len(reasons) != 2 {
		t.Errorf("%d reasons in the table, want 2 (one per distinct reason)", len(reasons))
	}
	// The table holds the nodes: a second call names them by slot only.
	req = makeRequest(abi.PointFilter, []uint32{3, 0})
	resp = g.call(abi.PointFilter, append(g.buffer(uint32(len(req)))[:0], req...))
	if _, err := abi.DecodeFilter(resp, verdicts[:2], nil); err != nil || verdicts[0].Code() == abi.Pass || verdicts[1].Code() != abi.Pass {
		t.Errorf("second call: %v %v", verdicts[:2], err)
	}
	// A slot nobody stored is an error, not a crash.
	req = makeRequest(abi.PointFilter, []uint32{9})
	if _, err := abi.DecodeFilter(g.call(abi.PointFilter, req), verdicts[:1], nil); err == nil {
		t.Error("an unknown slot was answered")
	}
}

func TestScoreCall(t *testing.T) {
	withRegistry(t, registry{nodeFields: abi.AllFields, podFields: abi.AllPodFields, score: func(pod Pod, nodes []Node, scores []int64) error {
		for i, n := range nodes {
			scores[i] = n.Allocatable().MilliCPU() / 100
			if n.Name() == "boom" {
				panic("score panics")
			}
		}
		return nil
	}})
	req := makeRequest(abi.PointScore, []uint32{5, 1}, &abi.Node{Name: "a", Allocatable: abi.Resources{MilliCPU: 4000}},
		&abi.Node{Name: "b", Allocatable: abi.Resources{MilliCPU: 9000}})
	scores := make([]int64, 2)
	if err := abi.DecodeScore(g.call(abi.PointScore, req), scores); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{40, 90}, scores); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	req = makeRequest(abi.PointScore, []uint32{0}, &abi.Node{Name: "boom"})
	var ge *abi.GuestError
	if err := abi.DecodeScore(g.call(abi.PointScore, req), scores[:1]); !errors.As(err, &ge) || !strings.HasPrefix(ge.Message, "panic: score panics") {
		t.Errorf("a panic: %v", err)
	}
	// A point that is not registered, and a request for the wrong point.
	if _, err := abi.DecodeFilter(g.call(abi.PointFilter, makeRequest(abi.PointFilter, []uint32{0})), make([]abi.Verdict, 1), nil); !errors.As(err, &ge) {
		t.Errorf("filter without a filter: %v", err)
	}
	if err := abi.DecodeScore(g.call(abi.PointScore, makeRequest(abi.PointFilter, []uint32{0})), scores[:1]); !errors.As(err, &ge) {
		t.Errorf("a filter request at the score export: %v", err)
	}
}

func TestConfigure(t *testing.T) {
	withRegistry(t, registry{})
	for _, s := range []string{"", "null", " {} "} {
		if _, err := abi.DecodeStatus(g.configure([]byte(s))); err != nil {
			t.Errorf("settings %q without RegisterConfigure: %v", s, err)
		}
	}
	if _, err := abi.DecodeStatus(g.configure([]byte(`{"x": 1}`))); err == nil {
		t.Error("settings accepted by a plugin that takes none")
	}
	var got struct {
		Level int `json:"level"`
	}
	reg.configure = func(b []byte) error { return DecodeSettings(b, &got) }
	if _, err := abi.DecodeStatus(g.configure([]byte(`{"level": 3}`))); err != nil || got.Level != 3 {
		t.Errorf("configure: %v, level %d", err, got.Level)
	}
	if _, err := abi.DecodeStatus(g.configure([]byte(`{"lvl": 3}`))); err == nil {
		t.Error("an unknown field was accepted")
	}
}

func TestUndeclaredFieldPanics(t *testing.T) {
	n := Node{v: abi.NewNodeView(abi.AppendNode(nil, &abi.Node{Name: "n", Labels: map[string]string{"a": "b"}}, abi.FieldLabels))}
	if _, ok := n.Labels().Get("a"); !ok {
		t.Error("declared labels missing")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "plugin.ReadsNode") {
			t.Errorf("recover() = %v", r)
		}
	}()
	n.Allocatable()
}

func TestUndeclaredPodFieldPanics(t *testing.T) {
	withRegistry(t, registry{nodeFields: abi.AllFields, podFields: abi.PodAnnotations, flags: abi.InfoPure})
	in, err := abi.DecodeInfo(g.info())
	if err != nil || in.PodFields != abi.PodAnnotations || in.Flags != abi.InfoPure {
		t.Fatalf("info %+v, %v", in, err)
	}
	p := NewPod(&abi.Pod{Name: "p", Annotations: map[string]string{"team": "blue"}})
	if v, _ := p.Annotations().Get("team"); v != "blue" {
		t.Error("declared annotations missing")
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "plugin.ReadsPod") {
			t.Errorf("recover() = %v", r)
		}
	}()
	p.Name()
}
