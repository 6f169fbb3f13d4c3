package client_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// call is one handler call, as a recorder logs it.
type call struct {
	Op      string // add, update, delete
	Key     string // namespace/name
	RV      string // the object's (the new one's, for update)
	FromRV  string // for update: the old object's
	Payload string // the "v" label, to tell states apart
}

// recorder logs handler calls and checks them against the cache they
// build: an add of a known key, an update of an unknown one or from the
// wrong state, or a delete of an unknown key is an error.
type recorder[T client.Object] struct {
	mu     sync.Mutex
	calls  []call
	mirror map[string]string // key -> resourceVersion, built from the calls
	errs   []error
}

func newRecorder[T client.Object]() *recorder[T] { return &recorder[T]{mirror: map[string]string{}} }

func key(o metav1.Object) string { return o.GetNamespace() + "/" + o.GetName() }

func (r *recorder[T]) handlers() client.Handlers[T] {
	return client.Handlers[T]{
		OnAdd: func(o T) {
			r.mu.Lock()
			defer r.mu.Unlock()
			k := key(o)
			if rv, ok := r.mirror[k]; ok {
				r.errs = append(r.errs, fmt.Errorf("add of %s at %s, already at %s", k, o.GetResourceVersion(), rv))
			}
			r.mirror[k] = o.GetResourceVersion()
			r.calls = append(r.calls, call{"add", k, o.GetResourceVersion(), "", o.GetLabels()["v"]})
		},
		OnUpdate: func(old, cur T) {
			r.mu.Lock()
			defer r.mu.Unlock()
			k := key(cur)
			if rv, ok := r.mirror[k]; !ok || rv != old.GetResourceVersion() || key(old) != k {
				r.errs = append(r.errs, fmt.Errorf("update of %s from %s (%s), mirror has %q", k, old.GetResourceVersion(), key(old), rv))
			}
			r.mirror[k] = cur.GetResourceVersion()
			r.calls = append(r.calls, call{"update", k, cur.GetResourceVersion(), old.GetResourceVersion(), cur.GetLabels()["v"]})
		},
		OnDelete: func(o T) {
			r.mu.Lock()
			defer r.mu.Unlock()
			k := key(o)
			if _, ok := r.mirror[k]; !ok {
				r.errs = append(r.errs, fmt.Errorf("delete of unknown %s", k))
			}
			delete(r.mirror, k)
			r.calls = append(r.calls, call{"delete", k, o.GetResourceVersion(), "", o.GetLabels()["v"]})
		},
	}
}

// take returns the calls logged since the last take and fails t on any
// inconsistency.
func (r *recorder[T]) take(t *testing.T) []call {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		t.Error(err)
	}
	r.errs = nil
	out := r.calls
	r.calls = nil
	return out
}

func (r *recorder[T]) state() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.mirror))
	for k, v := range r.mirror {
		out[k] = v
	}
	return out
}

// run runs inf until the test ends (or the returned stop is called) and
// waits for it to sync.
func run[T client.Object](t *testing.T, inf *client.Informer[T]) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("informer: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("informer did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	sctx, scancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer scancel()
	if err := inf.WaitForSync(sctx); err != nil {
		t.Fatalf("informer sync: %v", err)
	}
	return stop
}

// versions maps namespace/name to resourceVersion.
func versions[T client.Object](items []T) map[string]string {
	out := make(map[string]string, len(items))
	for _, o := range items {
		out[key(o)] = o.GetResourceVersion()
	}
	return out
}

// sameAsList compares inf's cache with a fresh list of the server.
func sameAsList[T client.Object](ctx context.Context, tc *client.Typed[T], ns string, inf *client.Informer[T]) error {
	items, _, err := tc.List(ctx, ns, metav1.ListOptions{})
	if err != nil {
		return err
	}
	if d := cmp.Diff(versions(items), versions(inf.List())); d != "" {
		return fmt.Errorf("cache differs from the list (-list +cache):\n%s", d)
	}
	return nil
}

func waitRev[T client.Object](t *testing.T, inf *client.Informer[T], rv string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := inf.WaitForRevision(ctx, rev(t, rv)); err != nil {
		t.Fatalf("wait for revision %s (cache at %d): %v", rv, inf.Revision(), err)
	}
}

func labelled(p *corev1.Pod, v string) *corev1.Pod {
	p.Labels["v"] = v
	return p
}

func TestInformerSyncAndHandlers(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	for _, p := range []*corev1.Pod{pod("default", "a"), pod("default", "b"), pod("kube-public", "c")} {
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder[*corev1.Pod]()
	inf := client.NewInformer(e.c, "", rec.handlers())
	select {
	case <-inf.Synced():
		t.Fatal("synced before Run")
	default:
	}
	run(t, inf)
	if err := sameAsList(ctx, pods, "", inf); err != nil {
		t.Fatal(err)
	}
	items, lm, err := pods.List(ctx, "", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if inf.Revision() < rev(t, lm.ResourceVersion) {
		t.Errorf("synced at revision %d, below a later list's %s", inf.Revision(), lm.ResourceVersion)
	}
	var wantAdds []call
	for _, p := range items {
		wantAdds = append(wantAdds, call{"add", key(p), p.ResourceVersion, "", ""})
	}
	if d := cmp.Diff(wantAdds, rec.take(t), byOpKey); d != "" {
		t.Errorf("initial adds (-want +got):\n%s", d)
	}
	if got, ok := inf.Get("kube-public", "c"); !ok || got.Namespace != "kube-public" {
		t.Errorf("Get(kube-public, c) = %v, %v", got, ok)
	}

	// Each write: the cache has it once WaitForRevision returns, and the
	// handlers saw it exactly once, in order.
	x, err := pods.Create(ctx, labelled(pod("default", "x"), "1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, x.ResourceVersion)
	if got, ok := inf.Get("default", "x"); !ok || got.ResourceVersion != x.ResourceVersion {
		t.Fatalf("cache after create: %v, %v", got, ok)
	}
	x2, err := pods.Update(ctx, labelled(x.DeepCopy(), "2"), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, x2.ResourceVersion)
	if got, _ := inf.Get("default", "x"); got == nil || got.ResourceVersion != x2.ResourceVersion || got.Labels["v"] != "2" {
		t.Fatalf("cache after update: %v", got)
	}
	last, _, err := pods.Delete(ctx, "default", "x", metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, last.ResourceVersion)
	if got, ok := inf.Get("default", "x"); ok {
		t.Fatalf("cache after delete still has %v", got.ObjectMeta)
	}
	want := []call{
		{"add", "default/x", x.ResourceVersion, "", "1"},
		{"update", "default/x", x2.ResourceVersion, x.ResourceVersion, "2"},
		{"delete", "default/x", last.ResourceVersion, "", "2"}, // the final state
	}
	if d := cmp.Diff(want, rec.take(t)); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
	if err := sameAsList(ctx, pods, "", inf); err != nil {
		t.Fatal(err)
	}

	// WaitForRevision gives up with its context.
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := inf.WaitForRevision(wctx, inf.Revision()+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait for a future revision: %v, want DeadlineExceeded", err)
	}
}

func TestInformerNamespace(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	rec := newRecorder[*corev1.ConfigMap]()
	inf := client.NewInformer(e.c, "kube-public", rec.handlers())
	run(t, inf)
	if _, err := cms.Create(ctx, configMap("default", "elsewhere"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	here, err := cms.Create(ctx, configMap("kube-public", "here"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, here.ResourceVersion)
	if d := cmp.Diff(map[string]string{"kube-public/here": here.ResourceVersion}, versions(inf.List())); d != "" {
		t.Errorf("namespace cache (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]call{{"add", "kube-public/here", here.ResourceVersion, "", ""}}, rec.take(t)); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
}

// changeWhileAway deletes a, updates b and creates d, and returns the
// calls an informer that reconciles them must make: add d, delete a (with
// the revision left blank), update b.
func changeWhileAway(t *testing.T, pods *client.Typed[*corev1.Pod]) []call {
	t.Helper()
	ctx := t.Context()
	eventually(t, 20*time.Second, func() error { // the server may be coming back
		_, _, err := pods.Delete(ctx, "default", "a", metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	b, err := pods.Get(ctx, "default", "b")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := pods.Update(ctx, labelled(b.DeepCopy(), "2"), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := pods.Create(ctx, pod("default", "d"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return []call{
		{"add", "default/d", d.ResourceVersion, "", ""},
		{"delete", "default/a", "", "", ""},
		{"update", "default/b", b2.ResourceVersion, b.ResourceVersion, "2"},
	}
}

// normalize drops what depends on how a deletion was seen: the watch
// carries the deletion's revision and final state, a relist the last
// cached ones.
func normalize(calls []call) []call {
	out := make([]call, 0, len(calls))
	for _, c := range calls {
		if c.Op == "delete" {
			c.RV, c.Payload = "", ""
		}
		out = append(out, c)
	}
	return out
}

var byOpKey = cmpopts.SortSlices(func(a, b call) bool { return a.Op+a.Key < b.Op+b.Key })

// TestInformerSurvivesRestart restarts NATS under a running informer and
// changes objects as soon as it is back: the informer must end up with the
// server's state and tell the handlers each change exactly once.
func TestInformerSurvivesRestart(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	for _, name := range []string{"a", "b", "c"} {
		if _, err := pods.Create(ctx, pod("default", name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder[*corev1.Pod]()
	inf := client.NewInformer(e.c, "default", rec.handlers())
	run(t, inf)
	// Restart once the watch runs: the cache has a write made after the sync.
	c, err := pods.Get(ctx, "default", "c")
	if err != nil {
		t.Fatal(err)
	}
	c, err = pods.Update(ctx, labelled(c, "1"), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, c.ResourceVersion)
	rec.take(t)
	e.nats.Restart()
	want := changeWhileAway(t, pods)
	waitRev(t, inf, want[0].RV) // d, the last change: its handler has run
	eventually(t, 20*time.Second, func() error { return sameAsList(ctx, pods, "default", inf) })
	if d := cmp.Diff(want, normalize(rec.take(t)), byOpKey); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
	if d := cmp.Diff(versions(inf.List()), rec.state()); d != "" {
		t.Errorf("handlers' view differs from the cache (-cache +handlers):\n%s", d)
	}
}

// TestInformerRelistReconciles runs an informer again after changes it
// could not watch (their tombstones compacted away): its relist must
// reconcile the cache and call the handlers for what changed meanwhile.
func TestInformerRelistReconciles(t *testing.T) {
	e := start(t, tinyCompaction)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	for _, name := range []string{"a", "b", "c"} {
		if _, err := pods.Create(ctx, pod("default", name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder[*corev1.Pod]()
	inf := client.NewInformer(e.c, "default", rec.handlers())
	stop := run(t, inf)
	rec.take(t)
	before := inf.Revision()
	a, _ := inf.Get("default", "a")
	stop()

	want := changeWhileAway(t, pods)
	want[1].RV = a.ResourceVersion // a relist reports a deletion in its last cached state
	if compacted := compactAll(t, e.st); compacted <= before {
		t.Fatalf("compacted to %d, not past the informer's %d", compacted, before)
	}
	run(t, inf)
	waitRev(t, inf, want[0].RV)
	if err := sameAsList(ctx, pods, "default", inf); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, rec.take(t), byOpKey); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
	if d := cmp.Diff(versions(inf.List()), rec.state()); d != "" {
		t.Errorf("handlers' view differs from the cache (-cache +handlers):\n%s", d)
	}
}

// TestInformerHammer runs writers against an informer and checks that the
// cache and the handlers' view end equal to the server's.
func TestInformerHammer(t *testing.T) {
	const (
		writers = 8
		ops     = 200
		keys    = 50
	)
	e := start(t, store.Config{})
	cms := client.For[*corev1.ConfigMap](e.c)
	rec := newRecorder[*corev1.ConfigMap]()
	inf := client.NewInformer(e.c, "default", rec.handlers())
	run(t, inf)

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var maxRev uint64
	seen := func(rv string) {
		mu.Lock()
		defer mu.Unlock()
		r, _ := api.ParseRevision(rv) // the server's; checked elsewhere
		maxRev = max(maxRev, r)
	}
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := range ops {
				name := fmt.Sprintf("k%02d", rng.IntN(keys))
				var err error
				switch rng.IntN(3) {
				case 0:
					var cm *corev1.ConfigMap
					if cm, err = cms.Create(ctx, configMap("default", name), metav1.CreateOptions{}); err == nil {
						seen(cm.ResourceVersion)
					}
				case 1:
					var cm *corev1.ConfigMap
					if cm, err = cms.Get(ctx, "default", name); err == nil {
						cm.Data["n"] = fmt.Sprint(w, "-", i)
						if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err == nil {
							seen(cm.ResourceVersion)
						}
					}
				case 2:
					var last *corev1.ConfigMap
					if last, _, err = cms.Delete(ctx, "default", name, metav1.DeleteOptions{}); err == nil {
						seen(last.ResourceVersion)
					}
				}
				if err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					errs <- fmt.Errorf("writer %d op %d on %s: %w", w, i, name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("writers did not finish in time: %v", ctx.Err())
	}
	if err := inf.WaitForRevision(ctx, maxRev); err != nil {
		t.Fatalf("wait for revision %d (cache at %d): %v", maxRev, inf.Revision(), err)
	}
	if err := sameAsList(ctx, cms, "default", inf); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(versions(inf.List()), rec.state()); d != "" {
		t.Errorf("handlers' view differs from the cache (-cache +handlers):\n%s", d)
	}
	if calls := rec.take(t); len(calls) < writers*ops/10 {
		t.Errorf("only %d handler calls for %d operations", len(calls), writers*ops)
	} else {
		t.Logf("%d handler calls, cache of %d, revision %d", len(calls), len(inf.List()), inf.Revision())
	}
	// Every cached object is the stored one, not only its version.
	for _, cm := range inf.List() {
		raw, err := e.st.Get(ctx, api.Key(api.ConfigMaps, "default", cm.Name))
		if err != nil {
			t.Fatal(err)
		}
		var stored corev1.ConfigMap
		if _, err := api.Decode(raw.Value, &stored); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(stored.Data, cm.Data); d != "" {
			t.Errorf("%s: cached data differs (-stored +cached):\n%s", cm.Name, d)
		}
	}
}

// TestInformerOddValues feeds an informer what the API server never
// writes: undecodable values are left out of the cache (they do not stop
// it), and a tombstone without a final state reports the cached one.
func TestInformerOddValues(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	k := func(name string) string { return api.Key(api.ConfigMaps, "default", name) }
	if _, err := e.st.Create(ctx, k("junk"), []byte("not an object")); err != nil {
		t.Fatal(err)
	}
	good, err := cms.Create(ctx, configMap("default", "good"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder[*corev1.ConfigMap]()
	inf := client.NewInformer(e.c, "default", rec.handlers())
	run(t, inf)
	if d := cmp.Diff(map[string]string{"default/good": good.ResourceVersion}, versions(inf.List())); d != "" {
		t.Errorf("synced cache (-want +got):\n%s", d)
	}
	rec.take(t)

	// A value that turns undecodable leaves the cache.
	junkRev, err := e.st.Update(ctx, k("good"), []byte("garbage"), rev(t, good.ResourceVersion))
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, api.FormatRevision(junkRev))
	// A tombstone without the final state.
	bare, err := cms.Create(ctx, configMap("default", "bare"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := rev(t, bare.ResourceVersion)
	w, err := cms.Watch(ctx, "default", from)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	drev, err := e.st.Delete(ctx, k("bare"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, api.FormatRevision(drev))
	if got := versions(inf.List()); len(got) != 0 {
		t.Errorf("cache after both: %v, want empty", got)
	}
	want := []call{
		{"delete", "default/good", good.ResourceVersion, "", ""},
		{"add", "default/bare", bare.ResourceVersion, "", ""},
		{"delete", "default/bare", bare.ResourceVersion, "", ""}, // the cached state
	}
	if d := cmp.Diff(want, rec.take(t)); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
	ev := next(t, w)
	wantEv := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: "default", ResourceVersion: api.FormatRevision(drev)}}
	if d := cmp.Diff(wantEv, ev.Object); ev.Type != client.Deleted || d != "" {
		t.Errorf("watch event %s (-want +got):\n%s", ev.Type, d)
	}
}

// TestInformerReplacedObject: a key that now holds another object (another
// UID: deleted and created again between two values the watcher saw, which
// a bucket keeping one value per key allows) is a delete and an add, as a
// Kubernetes watch reports it, not an update.
func TestInformerReplacedObject(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	first, err := cms.Create(ctx, configMap("default", "cm"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder[*corev1.ConfigMap]()
	inf := client.NewInformer(e.c, "default", rec.handlers())
	run(t, inf)
	rec.take(t)

	// The watcher sees the old object, then straight away a new one.
	second := first.DeepCopy()
	second.UID = "another-uid"
	second.ResourceVersion = ""
	value, err := api.Encode(second)
	if err != nil {
		t.Fatal(err)
	}
	nrev, err := e.st.Update(ctx, api.Key(api.ConfigMaps, "default", "cm"), value, rev(t, first.ResourceVersion))
	if err != nil {
		t.Fatal(err)
	}
	waitRev(t, inf, api.FormatRevision(nrev))
	want := []call{
		{"delete", "default/cm", first.ResourceVersion, "", ""},
		{"add", "default/cm", api.FormatRevision(nrev), "", ""},
	}
	if d := cmp.Diff(want, rec.take(t)); d != "" {
		t.Errorf("handler calls (-want +got):\n%s", d)
	}
}
