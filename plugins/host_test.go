package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	"github.com/skiffhq/skiff/sdk/plugin/abi"
)

const (
	goodPkg     = "./testdata/good"
	hostilePkg  = "./testdata/hostile"
	noimportPkg = "./testdata/noimport"
	badstartPkg = "./testdata/badstart"
)

func TestMain(m *testing.M) {
	// Build every fixture up front, two at a time (a cold wasm build takes
	// seconds on a small machine); tests then find them ready.
	plugintest.Prebuild(goodPkg, hostilePkg, noimportPkg, badstartPkg)
	os.Exit(m.Run())
}

// batch is a pod with annotations and nodes with labels.
func batch(podAnnotations map[string]string, nodeLabels ...map[string]string) *plugins.Records {
	r := &plugins.Records{Pod: abi.AppendPod(nil, &abi.Pod{Name: "p", Namespace: "default", Annotations: podAnnotations})}
	for i, l := range nodeLabels {
		r.Nodes = append(r.Nodes, abi.AppendNode(nil, &abi.Node{Name: fmt.Sprint("node-", i), Labels: l}, abi.AllFields))
	}
	return r
}

func nodes(n int) []map[string]string { return make([]map[string]string, n) }

func hostile(mode string, n int) *plugins.Records {
	return batch(map[string]string{"hostile": mode}, nodes(n)...)
}

func TestFilterAndScore(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{})
	p := plugintest.Load(t, h, "good", goodPkg, `{"score": 7}`)
	info := p.Info()
	if !info.Filter || !info.Score || info.NodeFields != abi.FieldLabels || info.Version != "v1" || !strings.HasPrefix(info.Digest, "sha256:") {
		t.Fatalf("Info() = %+v", info)
	}
	b := batch(nil, nil, map[string]string{"reject": "full"}, map[string]string{"score": "90"}, map[string]string{"reject": "full"}, map[string]string{"reject": "odd"})
	var res plugins.FilterResult
	if err := p.Filter(t.Context(), b, &res); err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(res.Verdicts))
	for i, v := range res.Verdicts {
		if v.Code() != abi.Pass {
			got[i] = fmt.Sprint(v.Code(), " ", res.Reasons[v.Reason()])
		}
	}
	want := []string{"", "1 rejected: full", "", "1 rejected: full", "1 rejected: odd"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	scores := make([]int64, len(b.Nodes))
	if err := p.Score(t.Context(), b, scores); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{7, 7, 90, 7, 7}, scores); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	// A panic the SDK recovers is the guest's own error; the instance lives.
	err := p.Score(t.Context(), batch(nil, map[string]string{"panic": ""}), make([]int64, 1))
	if !errors.Is(err, plugins.ErrGuest) || !strings.Contains(err.Error(), "the SDK recovers this") {
		t.Errorf("recovered panic: err = %v, want a guest error", err)
	}
	st := p.Stats()
	if st.Calls != 3 || st.Errors[plugins.KindGuest] != 1 || st.Instantiated != 1 || st.Latency.Count != 3 || st.Latency.P50 <= 0 {
		t.Errorf("Stats() = %+v", st)
	}
	if err := p.Filter(t.Context(), batch(nil), &res); err != nil || len(res.Verdicts) != 0 {
		t.Errorf("empty batch: %v, %d verdicts", err, len(res.Verdicts))
	}
}

func TestSettingsRefused(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{})
	_, err := h.Load(t.Context(), "good", "v1", plugintest.Build(t, goodPkg), []byte(`{"score": "high"}`))
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Kind != plugins.KindSettings || pe.Op != "configure" {
		t.Fatalf("Load with bad settings: %v", err)
	}
	if !strings.Contains(pe.Detail, "settings") {
		t.Errorf("detail %q does not say what was wrong", pe.Detail)
	}
	if h.Plugin("good") != nil {
		t.Error("a refused plugin is loaded")
	}
	// The name is free again.
	plugintest.Load(t, h, "good", goodPkg, `{"score": 1}`)
}

// TestHostileGuests runs each misbehaviour through one plugin and checks
// that it is contained: one typed error of the right kind, counted, the
// instance replaced, and the next call of the same plugin (and of an
// unrelated one) served. Both ways of stopping a call are tested: the
// host's interrupt flag (the default) and wazero's context deadlines.
func TestHostileGuests(t *testing.T) {
	for _, contextDeadlines := range []bool{false, true} {
		t.Run(fmt.Sprint("ContextDeadlines=", contextDeadlines), func(t *testing.T) {
			hostileGuests(t, plugins.Config{CallTimeout: 300 * time.Millisecond, MemoryLimit: 16 << 20, ContextDeadlines: contextDeadlines})
		})
	}
}

func hostileGuests(t *testing.T, cfg plugins.Config) {
	h := plugintest.NewHost(t, cfg)
	p := plugintest.Load(t, h, "hostile", hostilePkg, "ok")
	good := plugintest.Load(t, h, "good", goodPkg, `{"score": 3}`)
	tests := []struct {
		mode   string
		point  abi.Point
		kind   plugins.Kind
		detail string
	}{
		{"loop", abi.PointFilter, plugins.KindTimeout, "still running after 300ms"},
		{"bomb", abi.PointFilter, plugins.KindMemory, "needed more than its 16 MiB"},
		{"trap", abi.PointScore, plugins.KindTrap, "wasm error: unreachable"},
		{"panic", abi.PointFilter, plugins.KindTrap, "panic: hostile guest panics"},
		{"exit", abi.PointScore, plugins.KindTrap, "exited with code 3"},
		{"garbage", abi.PointFilter, plugins.KindBadOutput, "malformed"},
		{"outside", abi.PointScore, plugins.KindBadOutput, "outside memory"},
		{"short", abi.PointFilter, plugins.KindBadOutput, "9 verdicts for 10 nodes"},
		{"short", abi.PointScore, plugins.KindBadOutput, "score response"},
		{"range", abi.PointScore, plugins.KindBadOutput, "score 1000 outside"},
		{"error", abi.PointFilter, plugins.KindGuest, "hostile: I cannot judge"},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"/"+tt.point.String(), func(t *testing.T) {
			before := p.Stats()
			start := time.Now()
			err := call(t.Context(), p, tt.point, hostile(tt.mode, 10))
			took := time.Since(start)
			var pe *plugins.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *plugins.Error", err)
			}
			if pe.Kind != tt.kind || pe.Plugin != "hostile" || pe.Version != "v1" || pe.Op != tt.point.String() {
				t.Errorf("error %+v, want kind %v at %v", pe, tt.kind, tt.point)
			}
			if !strings.Contains(pe.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", pe.Detail, tt.detail)
			}
			if took > 5*time.Second {
				t.Errorf("the failure took %v", took)
			}
			after := p.Stats()
			if after.Errors[tt.kind] != before.Errors[tt.kind]+1 || after.LastError == nil || after.LastError.Kind != tt.kind {
				t.Errorf("stats: errors %v -> %v, last %v", before.Errors, after.Errors, after.LastError)
			}
			// The same plugin serves the next pod, from a new instance
			// unless the failure left the old one usable.
			if err := call(t.Context(), p, tt.point, hostile("ok", 10)); err != nil {
				t.Errorf("next call: %v", err)
			}
			next := p.Stats()
			wantNew := int64(1)
			if tt.kind == plugins.KindGuest {
				wantNew = 0
			}
			if got := next.Instantiated - after.Instantiated; got != wantNew {
				t.Errorf("%d instances made after the failure, want %d", got, wantNew)
			}
			if err := call(t.Context(), good, tt.point, batch(nil, nodes(3)...)); err != nil {
				t.Errorf("another plugin: %v", err)
			}
		})
	}
	if st := good.Stats(); len(st.Errors) != 0 {
		t.Errorf("the good plugin has errors: %v", st.Errors)
	}
}

func call(ctx context.Context, p *plugins.Plugin, point abi.Point, b *plugins.Records) error {
	if point == abi.PointFilter {
		var res plugins.FilterResult
		return p.Filter(ctx, b, &res)
	}
	return p.Score(ctx, b, make([]int64, len(b.Nodes)))
}

func TestInstantiateFailures(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{})
	tests := []struct {
		name   string
		wasm   func(t *testing.T) []byte
		detail string
	}{
		{"missing import", func(t *testing.T) []byte { return plugintest.Build(t, noimportPkg) }, "skiff"},
		{"start function panics", func(t *testing.T) []byte { return plugintest.Build(t, badstartPkg) }, "badstart: cannot start"},
		{"not wasm", func(*testing.T) []byte { return []byte("#!/bin/sh\necho hi\n") }, "not a WebAssembly 1.0 binary"},
		{"no memory", func(*testing.T) []byte { return []byte("\x00asm\x01\x00\x00\x00") }, "no memory"},
		// A module with one memory and nothing else.
		{"no exports", func(*testing.T) []byte { return []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01") }, "missing export skiff_info"},
	}
	p := plugintest.Load(t, h, "swapped", goodPkg, `{"score": 5}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wasm := tt.wasm(t)
			_, err := h.Load(t.Context(), "broken", "v1", wasm, nil)
			if !errors.Is(err, plugins.ErrInstantiate) || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("Load: %v, want an instantiate error about %q", err, tt.detail)
			}
			// Swapping a working plugin to it is refused and counted, and
			// the working version keeps serving.
			before := p.Stats().Errors[plugins.KindInstantiate]
			if err := p.Swap(t.Context(), "bad", wasm, nil); !errors.Is(err, plugins.ErrInstantiate) {
				t.Errorf("Swap: %v, want an instantiate error", err)
			}
			if got := p.Stats().Errors[plugins.KindInstantiate]; got != before+1 {
				t.Errorf("instantiate errors %d -> %d", before, got)
			}
			scores := make([]int64, 2)
			if err := p.Score(t.Context(), batch(nil, nodes(2)...), scores); err != nil || scores[0] != 5 || p.Info().Version != "v1" {
				t.Errorf("after a refused swap: %v, %v, version %s", err, scores, p.Info().Version)
			}
		})
	}
}

// TestSwapUnderLoad swaps versions while calls run on every core; every
// call is answered, by one version or the other, and the old versions'
// instances are freed.
func TestSwapUnderLoad(t *testing.T) {
	callers := runtime.GOMAXPROCS(0)
	// Calls are timed by the wall clock, and swapping (compiling,
	// instantiating) competes with the callers for the cores: give them
	// room, this test is about answers, not time.
	h := plugintest.NewHost(t, plugins.Config{PoolSize: callers, CallTimeout: 5 * time.Second})
	wasm := plugintest.Build(t, goodPkg)
	p := plugintest.Load(t, h, "swapping", goodPkg, `{"score": 1}`)
	ctx := t.Context()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int64]int{}
	var failures []error
	for range callers {
		wg.Go(func() {
			b := batch(nil, nodes(50)...)
			scores := make([]int64, 50)
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := p.Score(ctx, b, scores)
				mu.Lock()
				if err != nil {
					failures = append(failures, err)
				} else {
					seen[scores[0]]++
					for _, s := range scores {
						if s != scores[0] {
							failures = append(failures, fmt.Errorf("mixed answer %v", scores))
							break
						}
					}
				}
				mu.Unlock()
			}
		})
	}
	for i := range 10 {
		score := int64(i%2 + 1)
		if err := p.Swap(ctx, fmt.Sprint("v", i+2), wasm, fmt.Appendf(nil, `{"score": %d}`, score)); err != nil {
			t.Error(err)
		}
		time.Sleep(20 * time.Millisecond) // let calls run on this version
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d failed calls, first: %v", len(failures), failures[0])
	}
	if seen[1] == 0 || seen[2] == 0 {
		t.Errorf("answers by score: %v, want both versions", seen)
	}
	st := p.Stats()
	t.Logf("latency %+v, instantiated %d", st.Latency, st.Instantiated)
	if st.Swaps != 10 || st.Version != "v11" || st.Instances > callers || len(st.Errors) != 0 {
		t.Errorf("Stats() = %+v", st)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Score(ctx, batch(nil, nodes(1)...), make([]int64, 1)); !errors.Is(err, plugins.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// TestPool bounds the instances of a version by PoolSize: a call finds a
// second instance while the first is busy, and waits (until its context
// ends) when both are.
func TestPool(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{PoolSize: 2, CallTimeout: time.Second})
	p := plugintest.Load(t, h, "pooled", hostilePkg, "ok")
	busy := make(chan error, 2)
	hold := func() {
		go func() { busy <- p.Filter(context.Background(), hostile("loop", 1), &plugins.FilterResult{}) }()
		for p.Stats().Idle != 0 {
			time.Sleep(time.Millisecond)
		}
	}
	hold() // the first instance loops
	if err := p.Filter(t.Context(), hostile("ok", 1), &plugins.FilterResult{}); err != nil {
		t.Fatalf("a call beside a busy instance: %v", err)
	}
	if st := p.Stats(); st.Instances != 2 || st.Instantiated != 2 {
		t.Errorf("Stats() = %+v, want 2 instances", st)
	}
	hold() // both loop
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.Filter(ctx, hostile("ok", 1), &plugins.FilterResult{}); !errors.Is(err, plugins.ErrCanceled) {
		t.Errorf("waiting past the context: %v", err)
	}
	for range 2 {
		if err := <-busy; !errors.Is(err, plugins.ErrTimeout) {
			t.Errorf("a loop ended with %v", err)
		}
	}
	// Many callers at once: all served, never more than 2 instances live.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				errs <- p.Score(t.Context(), hostile("ok", 20), make([]int64, 20))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.Instances > 2 {
		t.Errorf("Stats() = %+v, more than 2 instances", st)
	}
}

func TestCompilationCache(t *testing.T) {
	dir := t.TempDir()
	wasm := plugintest.Build(t, goodPkg)
	loadOnce := func() time.Duration {
		h := plugintest.NewHost(t, plugins.Config{CacheDir: dir})
		start := time.Now()
		if _, err := h.Load(t.Context(), "cached", "v1", wasm, nil); err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		_ = h.Close(t.Context())
		return took
	}
	cold, warm := loadOnce(), loadOnce()
	entries, _ := os.ReadDir(dir)
	if len(entries) == 0 {
		t.Fatal("nothing in the cache directory")
	}
	t.Logf("load: cold %v, from the cache %v", cold, warm)
	if warm > cold/2 {
		t.Errorf("a cached load took %v, the cold one %v", warm, cold)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []plugins.Config{{MemoryLimit: 1}, {CallTimeout: -1}, {PoolSize: -1}} {
		if _, err := plugins.New(t.Context(), cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	h := plugintest.NewHost(t, plugins.Config{})
	plugintest.Load(t, h, "twice", goodPkg, "")
	if _, err := h.Load(t.Context(), "twice", "v2", plugintest.Build(t, goodPkg), nil); err == nil {
		t.Error("a second Load of a name was accepted")
	}
	if h.Plugin("twice") == nil || h.Plugin("nothing") != nil {
		t.Error("Host.Plugin")
	}
	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Load(t.Context(), "late", "v1", nil, nil); !errors.Is(err, plugins.ErrClosed) {
		t.Errorf("Load after Close: %v", err)
	}
}

// TestLoopingGuestDoesNotStallGC: compiled guest code cannot be
// preempted, so a guest that looped without ever returning to Go would
// hold up every stop-the-world pause of the garbage collector (and with
// it the whole process). The interrupt instrumentation returns to Go
// every few thousand iterations; a collection completes while a guest
// loops.
func TestLoopingGuestDoesNotStallGC(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{CallTimeout: 3 * time.Second, PoolSize: 1})
	p := plugintest.Load(t, h, "looping", hostilePkg, "ok")
	done := make(chan error, 1)
	go func() { done <- p.Filter(context.Background(), hostile("loop", 1), &plugins.FilterResult{}) }()
	for p.Stats().Idle != 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // well into the loop
	start := time.Now()
	runtime.GC()
	took := time.Since(start)
	select {
	case err := <-done:
		t.Fatalf("the loop ended before the collection was timed: %v", err)
	default:
	}
	if took > time.Second {
		t.Errorf("a collection took %v while a guest looped", took)
	}
	if err := <-done; !errors.Is(err, plugins.ErrTimeout) {
		t.Errorf("the loop ended with %v, want a timeout", err)
	}
	t.Logf("GC during a guest loop: %v", took)
}

// updatedBatch sends its nodes' records with every call, as changed.
type updatedBatch struct {
	pod   []byte
	nodes []plugins.NodeRecord
}

func (b *updatedBatch) Encode(abi.Fields) ([]byte, []plugins.NodeRecord) {
	for i := range b.nodes {
		b.nodes[i].Rev = plugins.NewRev()
	}
	return b.pod, b.nodes
}

// TestGuestMemoryStaysBounded makes many calls that each leave garbage in
// the guest (every record is sent again, and the SDK stores a copy),
// small ones (which yield to the guest's garbage collector only every
// few calls) and large ones, under a small memory cap: far more garbage
// than the cap is made, so the guest's collector must keep up.
func TestGuestMemoryStaysBounded(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{MemoryLimit: 16 << 20, PoolSize: 1})
	p := plugintest.Load(t, h, "good", goodPkg, `{"score": 1}`)
	for _, tc := range []struct {
		name         string
		nodes, calls int
	}{{"small", 1, 100000}, {"large", 500, 200}} {
		t.Run(tc.name, func(t *testing.T) {
			b := &updatedBatch{pod: benchPod()}
			size := 0
			for i := range tc.nodes {
				rec := abi.AppendNode(nil, realisticNode(i), abi.FieldLabels)
				size += len(rec)
				b.nodes = append(b.nodes, plugins.NodeRecord{Slot: uint32(i), Record: rec})
			}
			scores := make([]int64, tc.nodes)
			for i := range tc.calls {
				if err := p.Score(t.Context(), b, scores); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			t.Logf("%d calls, %d MB of records stored, no memory error", tc.calls, tc.calls*size>>20)
		})
	}
	if n := p.Stats().Errors[plugins.KindMemory]; n > 0 {
		t.Errorf("%d memory errors", n)
	}
}
