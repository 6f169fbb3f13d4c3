package plugins_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/skiffhq/skiff/plugins/internal/interrupt"
	"github.com/skiffhq/skiff/plugins/plugintest"
)

// TestMergedDataSameMemory instantiates a Go guest as built and as the
// host rewrites it (loops instrumented, data segments merged): before
// any code runs, both memories hold the same bytes.
func TestMergedDataSameMemory(t *testing.T) {
	ctx := context.Background()
	wasm := plugintest.Build(t, goodPkg)
	rewritten, err := interrupt.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	memory := func(name string, b []byte) []byte {
		t.Helper()
		c, err := rt.CompileModule(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := rt.InstantiateModule(ctx, c, wazero.NewModuleConfig().WithName(name).WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		buf, _ := m.Memory().Read(0, m.Memory().Size())
		return bytes.Clone(buf)
	}
	a, b := memory("built", wasm), memory("rewritten", rewritten)
	if len(a) != len(b) || !bytes.Equal(a, b) {
		t.Errorf("memories differ (%d and %d bytes)", len(a), len(b))
	}
	t.Logf("module %d bytes as built, %d rewritten", len(wasm), len(rewritten))
}
