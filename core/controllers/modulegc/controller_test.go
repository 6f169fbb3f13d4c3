package modulegc_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/modulegc"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
	"github.com/skiffhq/skiff/sdk/client"
)

// clock is a test clock that stands still until set.
type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) Now() time.Time  { return *c.t.Load() }
func (c *clock) Set(t time.Time) { c.t.Store(&t) }

// names lists a bucket's objects and links, sorted.
func names(t *testing.T, b *blobs.Store) []string {
	t.Helper()
	list, err := b.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range list {
		out = append(out, in.Name)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// waitNames polls until the bucket holds exactly want.
func waitNames(t *testing.T, b *blobs.Store, want []string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() error {
		if diff := cmp.Diff(want, names(t, b)); diff != "" {
			return fmt.Errorf("bucket %s (-want +got):\n%s", subjects.PluginsBucket, diff)
		}
		return nil
	})
}

// TestCollectsUnreferencedModules pushes more versions of a plugin than
// its history keeps, deletes another plugin, and runs the collector on a
// real NATS server and API server: exactly the modules no Plugin
// references go (the versions trimmed from the history, the deleted
// plugin's own module), on the controller's first look and on the Plugin
// deletion's event; the modules still referenced (as current version or
// only in a history), a module a push has stored but no Plugin names yet
// (within the grace period), the bucket's other objects and links, and
// the images bucket's image stay. The waiting module goes once its grace
// period has passed.
func TestCollectsUnreferencedModules(t *testing.T) {
	e := apiservertest.Start(t, apiservertest.Config{})
	ctx := t.Context()
	b, err := registry.OpenBucket(ctx, e.ClientConn)
	if err != nil {
		t.Fatal(err)
	}
	r := registry.New(e.Client, b)
	mod := plugintest.Minimal
	modA, modB, modC, modD, modE, modF := mod("a"), mod("b"), mod("c"), mod("d"), mod("e"), mod("f")
	dA, dB, dC, dD, dE, dF := plugins.Digest(modA), plugins.Digest(modB), plugins.Digest(modC), plugins.Digest(modD), plugins.Digest(modE), plugins.Digest(modF)
	push := func(name string, wasm []byte, settings string) {
		t.Helper()
		if _, err := r.Push(ctx, registry.Push{Name: name, Wasm: wasm, Settings: []byte(settings)}); err != nil {
			t.Error(err)
		}
	}

	// What is not a module: an image in its own bucket (named by a digest
	// too), and an object and a link in the modules' bucket.
	images, err := blobs.Open(ctx, e.ClientConn, blobs.Config{Bucket: subjects.ImagesBucket})
	if err != nil {
		t.Fatal(err)
	}
	image := plugins.Digest([]byte("an OCI archive"))
	if _, err := images.Put(ctx, image, strings.NewReader("an OCI archive"), nil); err != nil {
		t.Fatal(err)
	}
	if err := images.Link(ctx, "web:1", image); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "notes.txt", strings.NewReader("not a module"), nil); err != nil {
		t.Fatal(err)
	}

	// team: v1 = A, v2 = B, then 20 versions of C (different settings):
	// the history keeps the last MaxHistory, all C.
	push("team", modA, `{"label":"v1"}`)
	push("team", modB, `{"label":"v2"}`)
	if err := b.Link(ctx, "team:first", dA); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				push("team", modC, fmt.Sprintf(`{"label":"c%d"}`, i))
			}
		})
	}
	for i := range skiffv1alpha1.MaxHistory {
		next <- i
	}
	close(next)
	wg.Wait()
	p, err := client.For[*skiffv1alpha1.Plugin](e.Client).Get(ctx, "", "team")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.History) != skiffv1alpha1.MaxHistory || modulegc.Referenced([]*skiffv1alpha1.Plugin{p})[dA] ||
		modulegc.Referenced([]*skiffv1alpha1.Plugin{p})[dB] || p.Spec.Digest != dC {
		t.Fatalf("team after %d pushes: %d versions, current %s", skiffv1alpha1.MaxHistory+2, len(p.Spec.History), p.Spec.Version)
	}
	// gone: D then E; keep: E then C, so E stays only in keep's history.
	push("gone", modD, "")
	push("gone", modE, "")
	push("keep", modE, "")
	push("keep", modC, "")
	if t.Failed() {
		t.FailNow()
	}
	// Let the grace period pass for everything stored so far, then store
	// F as a push does before it writes its Plugin. The collector's clock
	// stands at F's store: F is within the grace period, the others past.
	const grace = 50 * time.Millisecond
	eIn, err := b.Stat(ctx, dE)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Second, func() error {
		if time.Since(eIn.ModTime) <= grace {
			return fmt.Errorf("the modules are not older than %v yet", grace)
		}
		return nil
	})
	if _, err := b.Put(ctx, dF, strings.NewReader(string(modF)), nil); err != nil {
		t.Fatal(err)
	}
	fIn, err := b.Stat(ctx, dF)
	if err != nil {
		t.Fatal(err)
	}
	var clk clock
	clk.Set(fIn.ModTime)

	set := cache.New(e.Client)
	c := modulegc.New(modulegc.Config{Cache: set, Modules: b, Now: clk.Now,
		// An hour: every look below comes from the first look, a Plugin
		// event or a grace period ending, none from the interval.
		Timing: modulegc.Timing{Grace: grace, Interval: time.Hour}})
	runCtx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	t.Cleanup(func() { cancel(); run.Wait() })
	run.Go(func() { _ = set.Run(runCtx) })
	if err := set.WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	run.Go(func() { _ = c.Run(runCtx) })

	// The first look: the versions trimmed from team's history go.
	waitNames(t, b, sorted(dC, dD, dE, dF, "notes.txt", "team:first"))

	// Deleting gone: its own module goes, E stays in keep's history.
	if _, _, err := client.For[*skiffv1alpha1.Plugin](e.Client).Delete(ctx, "", "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNames(t, b, sorted(dC, dE, dF, "notes.txt", "team:first"))

	// Once F's grace period has passed, F, which no Plugin named, goes.
	clk.Set(fIn.ModTime.Add(grace + time.Millisecond))
	waitNames(t, b, sorted(dC, dE, "notes.txt", "team:first"))
	if diff := cmp.Diff(sorted(image, "web:1"), names(t, images)); diff != "" {
		t.Errorf("images bucket (-want +got):\n%s", diff)
	}
	for _, d := range []string{dC, dE} {
		if got, err := b.ReadAll(ctx, d); err != nil || plugins.Digest(got) != d {
			t.Errorf("referenced module %s: %v", registry.ShortDigest(d), err)
		}
	}
}
