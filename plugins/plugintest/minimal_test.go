package plugintest_test

import (
	"testing"

	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
)

// TestMinimal: the hand-assembled module loads with any settings and
// scores; each tag is a module of its own.
func TestMinimal(t *testing.T) {
	h := plugintest.NewHost(t, plugins.Config{PoolSize: 1})
	seen := map[string]bool{}
	for i, wasm := range [][]byte{plugintest.Minimal("a"), plugintest.Minimal("b"), plugintest.Minimal("")} {
		d := plugins.Digest(wasm)
		if seen[d] {
			t.Fatalf("module %d has the digest of an earlier one", i)
		}
		seen[d] = true
		p, err := h.Load(t.Context(), d, "v1", wasm, []byte(`{"anything":true}`))
		if err != nil {
			t.Fatalf("module %d: %v", i, err)
		}
		if in := p.Info(); !in.Score || in.Filter {
			t.Fatalf("module %d: info %+v, want score only", i, in)
		}
	}
}
