package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
)

func open(t *testing.T, srv *bustest.Server, cfg store.Config) *store.Store {
	t.Helper()
	if cfg.Bucket == "" {
		cfg.Bucket = "test"
	}
	s, err := store.Open(t.Context(), srv.Connect(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateUpdateDeleteCAS(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{})
	ctx := t.Context()

	rev, err := s.Create(ctx, "pods.default.a", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "pods.default.a", []byte("again")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: got %v, want ErrExists", err)
	}
	rev2, err := s.Update(ctx, "pods.default.a", []byte("v2"), rev)
	if err != nil {
		t.Fatal(err)
	}
	if rev2 <= rev {
		t.Fatalf("revision did not grow: %d then %d", rev, rev2)
	}
	if _, err := s.Update(ctx, "pods.default.a", []byte("stale"), rev); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: got %v, want ErrConflict", err)
	}
	if _, err := s.Delete(ctx, "pods.default.a", rev, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale delete: got %v, want ErrConflict", err)
	}
	if _, err := s.Update(ctx, "pods.default.missing", []byte("x"), 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: got %v, want ErrNotFound", err)
	}
	e, err := s.Get(ctx, "pods.default.a")
	if err != nil || string(e.Value) != "v2" || e.Revision != rev2 {
		t.Fatalf("get = %+v, %v", e, err)
	}
	drev, err := s.Delete(ctx, "pods.default.a", rev2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "pods.default.a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get deleted: got %v", err)
	}
	if _, err := s.Delete(ctx, "pods.default.a", 0, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete deleted: got %v", err)
	}
	// A deleted key can be created again, with a newer revision.
	rev3, err := s.Create(ctx, "pods.default.a", []byte("v3"))
	if err != nil || rev3 <= drev {
		t.Fatalf("recreate: rev %d (tombstone %d), %v", rev3, drev, err)
	}
	if _, err := s.Create(ctx, "bad..key", nil); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("bad key: %v", err)
	}
}

func TestValueSizeLimit(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{MaxValueSize: 1024})
	if _, err := s.Create(t.Context(), "k", make([]byte, 1025)); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

// TestHotKeyCAS: concurrent read-modify-write on one key; every committed
// increment is counted exactly once.
func TestHotKeyCAS(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{})
	ctx := t.Context()
	if _, err := s.Create(ctx, "counter", []byte("0")); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				for {
					e, err := s.Get(ctx, "counter")
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					fmt.Sscan(string(e.Value), &n)
					_, err = s.Update(ctx, "counter", []byte(fmt.Sprint(n+1)), e.Revision)
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	e, err := s.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Value) != fmt.Sprint(workers*each) {
		t.Fatalf("counter = %s, want %d", e.Value, workers*each)
	}
}

func TestListSnapshotSortedAndScoped(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{})
	ctx := t.Context()
	for _, k := range []string{"pods.b.x", "pods.a.y", "pods.a.x", "nodes._.n1"} {
		if _, err := s.Create(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete(ctx, "pods.b.x", 0, nil); err != nil {
		t.Fatal(err)
	}
	res, err := s.List(ctx, "pods")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range res.Entries {
		keys = append(keys, e.Key)
	}
	if fmt.Sprint(keys) != "[pods.a.x pods.a.y]" {
		t.Fatalf("keys = %v", keys)
	}
	now, _ := s.Revision(ctx)
	if res.Revision != now {
		t.Fatalf("list revision %d, store at %d", res.Revision, now)
	}
	empty, err := s.List(ctx, "services")
	if err != nil || len(empty.Entries) != 0 || empty.Revision != now {
		t.Fatalf("empty list = %+v, %v", empty, err)
	}
}

// TestListThenWatchNoGap: writers run during list; list's revision plus the
// watch from it reproduce exactly the final state.
func TestListThenWatchNoGap(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{})
	ctx := t.Context()
	for i := range 200 {
		if _, err := s.Create(ctx, fmt.Sprintf("pods.ns.p%d", i), []byte("0")); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("pods.ns.p%d", i%250)
			if i%7 == 3 {
				s.Delete(ctx, k, 0, nil)
				continue
			}
			if e, err := s.Get(ctx, k); err == nil {
				s.Update(ctx, k, []byte(fmt.Sprint(i)), e.Revision)
			} else {
				s.Create(ctx, k, []byte(fmt.Sprint(i)))
			}
		}
	})
	time.Sleep(20 * time.Millisecond) // let the writer get going before the list
	res, err := s.List(ctx, "pods.ns")
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]string{}
	for _, e := range res.Entries {
		state[e.Key] = string(e.Value)
	}
	w, err := s.Watch(ctx, "pods.ns", res.Revision)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	final, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := res.Revision
	for last < final {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch closed: %v", w.Err())
			}
			if ev.Revision <= last {
				t.Fatalf("revision went back: %d after %d", ev.Revision, last)
			}
			last = ev.Revision
			if ev.Type == store.Deleted {
				delete(state, ev.Key)
			} else {
				state[ev.Key] = string(ev.Value)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watch stalled at %d of %d", last, final)
		}
	}
	truth, err := s.List(ctx, "pods.ns")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, e := range truth.Entries {
		want[e.Key] = string(e.Value)
	}
	if fmt.Sprint(want) != fmt.Sprint(state) {
		t.Fatalf("list+watch state differs from the store:\n got %v\nwant %v", state, want)
	}
}

// TestWatchSurvivesServerRestart: a watch keeps delivering, from where it
// was, after the server goes away and comes back on the same data dir.
func TestWatchSurvivesServerRestart(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{})
	ctx := t.Context()
	rev, err := s.Create(ctx, "k.a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, "k", rev)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := s.Update(ctx, "k.a", []byte("2"), rev); err != nil {
		t.Fatal(err)
	}
	ev := next(t, w)
	if string(ev.Value) != "2" {
		t.Fatalf("first event %+v", ev)
	}
	srv.Restart()
	// Writes after the restart (retried until the client has reconnected).
	var r2 uint64
	deadline := time.Now().Add(15 * time.Second)
	for {
		r2, err = s.Create(ctx, "k.b", []byte("3"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("create after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ev = next(t, w)
	if ev.Key != "k.b" || ev.Revision != r2 {
		t.Fatalf("after restart got %+v, want k.b@%d", ev, r2)
	}
	// And a fresh watch resumes from an explicit revision.
	w2, err := s.Watch(ctx, "k", rev)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	if ev := next(t, w2); string(ev.Value) != "2" {
		t.Fatalf("resumed watch first event %+v", ev)
	}
	if ev := next(t, w2); ev.Key != "k.b" {
		t.Fatalf("resumed watch second event %+v", ev)
	}
}

func next(t *testing.T, w *store.Watcher) store.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch closed: %v", w.Err())
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no event")
	}
	return store.Event{}
}

// TestLaggingWatcherSeesLatestAndDeletions: with History=1 a watcher that
// starts far behind skips overwritten values but gets each key's final
// value and every deletion.
func TestLaggingWatcherSeesLatestAndDeletions(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{})
	ctx := t.Context()
	start, _ := s.Revision(ctx)
	for i := range 20 {
		k := fmt.Sprintf("k.%d", i)
		rev, _ := s.Create(ctx, k, []byte("a"))
		for j := range 5 {
			rev, _ = s.Update(ctx, k, []byte(fmt.Sprint(j)), rev)
		}
		if i%2 == 0 {
			s.Delete(ctx, k, rev, nil)
		}
	}
	w, err := s.Watch(ctx, "k", start)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	final, _ := s.Revision(ctx)
	got := map[string]string{}
	for last := start; last < final; {
		ev := next(t, w)
		last = ev.Revision
		if ev.Type == store.Deleted {
			got[ev.Key] = "deleted"
		} else {
			got[ev.Key] = string(ev.Value)
		}
	}
	for i := range 20 {
		want := "4"
		if i%2 == 0 {
			want = "deleted"
		}
		if k := fmt.Sprintf("k.%d", i); got[k] != want {
			t.Errorf("%s: got %q, want %q", k, got[k], want)
		}
	}
}

func TestCompactionTooOld(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{TombstoneRetention: time.Millisecond, CompactGrace: 300 * time.Millisecond})
	ctx := t.Context()
	before, _ := s.Create(ctx, "k.first", []byte("x")) // a watch from 0 is never too old
	rev, _ := s.Create(ctx, "k.gone", []byte("x"))
	if _, err := s.Delete(ctx, "k.gone", rev, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "k.stays", []byte("y")); err != nil {
		t.Fatal(err)
	}
	// A watcher that keeps up through the compaction sees the deletion and
	// keeps going.
	live, err := s.Watch(ctx, "k", before)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Stop()
	time.Sleep(5 * time.Millisecond)
	if n, err := s.Compact(ctx); err != nil || n != 0 {
		t.Fatalf("first compact (announce) removed %d, %v", n, err)
	}
	if _, err := s.Watch(ctx, "k", before); !errors.Is(err, store.ErrTooOld) {
		t.Fatalf("watch from below the announced compaction: got %v, want ErrTooOld", err)
	}
	var sawDelete bool
	for range 2 { // the tombstone (the create was overwritten) and k.stays; k.first is at "before"
		if ev := next(t, live); ev.Type == store.Deleted && ev.Key == "k.gone" {
			sawDelete = true
		}
	}
	if !sawDelete {
		t.Fatal("live watcher missed the deletion")
	}
	if n, err := s.Compact(ctx); err != nil || n != 0 {
		t.Fatalf("compact inside grace removed %d, %v", n, err)
	}
	time.Sleep(350 * time.Millisecond)
	if n, err := s.Compact(ctx); err != nil || n != 1 {
		t.Fatalf("compact after grace removed %d, %v; want 1", n, err)
	}
	// k.stays is untouched; a new watch from the compaction revision works.
	if _, err := s.Get(ctx, "k.stays"); err != nil {
		t.Fatal(err)
	}
	cr, _ := s.CompactRevision(ctx)
	w, err := s.Watch(ctx, "k", cr)
	if err != nil {
		t.Fatalf("watch from compaction revision: %v", err)
	}
	w.Stop()
	// A watcher that reaches the compaction record after its grace period
	// (it was far behind) gets ErrTooOld instead of silently missing the
	// removed tombstone.
	late, err := s.Watch(ctx, "k", cr-1)
	if err != nil && !errors.Is(err, store.ErrTooOld) {
		t.Fatal(err)
	}
	if err == nil {
		defer late.Stop()
		for range late.Events() {
		}
		if !errors.Is(late.Err(), store.ErrTooOld) {
			t.Fatalf("late watcher ended with %v, want ErrTooOld", late.Err())
		}
	}
}

func TestKeysFromTokens(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{})
	for _, name := range []string{"a.b.c", "x_y", "kube-root-ca.crt", "system:node:n1", ""} {
		k := "cm.default." + subjects.Token(name)
		if _, err := s.Create(t.Context(), k, []byte(name)); err != nil {
			t.Fatalf("%q -> %q: %v", name, k, err)
		}
	}
	res, err := s.List(context.Background(), "cm.default")
	if err != nil || len(res.Entries) != 5 {
		t.Fatalf("list: %d entries, %v", len(res.Entries), err)
	}
}

// TestStalledWatcherGetsTooOld: a watcher that is not read while a
// compaction is announced and carried out ends with ErrTooOld when it
// reaches the announcement, instead of silently missing the tombstone.
func TestStalledWatcherGetsTooOld(t *testing.T) {
	srv := bustest.Start(t)
	s := open(t, srv, store.Config{TombstoneRetention: time.Millisecond, CompactGrace: 300 * time.Millisecond})
	ctx := t.Context()
	from, _ := s.Revision(ctx)
	w, err := s.Watch(ctx, "k", from)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := range 400 { // more than the watcher buffers: it stalls
		if _, err := s.Create(ctx, fmt.Sprintf("k.%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Delete(ctx, "k.0", 0, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // older than the retention
	if _, err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond) // past the grace period
	if n, err := s.Compact(ctx); err != nil || n != 1 {
		t.Fatalf("second compact removed %d, %v", n, err)
	}
	for range w.Events() {
	}
	if !errors.Is(w.Err(), store.ErrTooOld) {
		t.Fatalf("stalled watcher ended with %v, want ErrTooOld", w.Err())
	}
}

func BenchmarkCreate(b *testing.B) {
	srv := bustest.Start(b)
	st, err := store.Open(b.Context(), srv.Connect(b), store.Config{Bucket: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 700)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := st.Create(b.Context(), fmt.Sprintf("k.%d", i), val); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkList1000(b *testing.B) {
	srv := bustest.Start(b)
	st, err := store.Open(b.Context(), srv.Connect(b), store.Config{Bucket: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 700)
	for i := range 1000 {
		if _, err := st.Create(b.Context(), fmt.Sprintf("k.%d", i), val); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := st.List(b.Context(), "k")
		if err != nil || len(res.Entries) != 1000 {
			b.Fatalf("%d entries, %v", len(res.Entries), err)
		}
	}
}
