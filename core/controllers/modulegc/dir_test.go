package modulegc_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/modulegc"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

// files lists a directory's file names, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestCollectsCacheDir runs a scheduler replica's cache collector on a
// real API server: it removes the files of modules no Plugin references
// once they are older than the grace period (on its first look, and when
// a Plugin is deleted), and keeps referenced modules however old, young
// unreferenced ones, and files that are not modules.
func TestCollectsCacheDir(t *testing.T) {
	e := apiservertest.Start(t, apiservertest.Config{})
	ctx := t.Context()
	b, err := registry.OpenBucket(ctx, e.ClientConn)
	if err != nil {
		t.Fatal(err)
	}
	r := registry.New(e.Client, b)
	a, c, d, f, x, y := plugintest.Minimal("a"), plugintest.Minimal("c"), plugintest.Minimal("d"), plugintest.Minimal("f"),
		plugintest.Minimal("x"), plugintest.Minimal("y")
	for _, p := range []struct {
		name string
		wasm []byte
	}{{"team", a}, {"team", c}, {"gone", d}} {
		if _, err := r.Push(ctx, registry.Push{Name: p.name, Wasm: p.wasm}); err != nil {
			t.Fatal(err)
		}
	}
	file := func(wasm []byte) string { return strings.TrimPrefix(plugins.Digest(wasm), "sha256:") + ".wasm" }
	dir := t.TempDir()
	old, now := time.Now().Add(-2*time.Hour), time.Now()
	for name, mod := range map[string]time.Time{
		file(a):          old, // team's history
		file(c):          old, // team's current version
		file(d):          old, // gone's, until gone is deleted
		file(f):          now, // fetched a moment ago, for a Plugin the informer has not shown yet
		file(x):          old, // no Plugin's
		file(y) + ".tmp": old, // an abandoned download
		"README":         old,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	g, err := modulegc.NewDir(modulegc.DirConfig{Client: e.Client, Dir: dir, Timing: modulegc.Timing{Grace: time.Hour, Interval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		if err := g.Run(runCtx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFiles := func(want ...string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() error {
			if diff := cmp.Diff(sorted(want...), files(t, dir)); diff != "" {
				return fmt.Errorf("cache directory (-want +got):\n%s", diff)
			}
			return nil
		})
	}
	waitFiles(file(a), file(c), file(d), file(f), "README")
	if _, _, err := client.For[*skiffv1alpha1.Plugin](e.Client).Delete(ctx, "", "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFiles(file(a), file(c), file(f), "README")
}
