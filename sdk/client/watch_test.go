package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// next receives one event or fails after a deadline.
func next[T client.Object](t *testing.T, w *client.Watcher[T]) client.Event[T] {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watch ended: %v", w.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	panic("unreachable")
}

// listRevision is the current revision of pods in ns, from a list.
func listRevision(t *testing.T, pods *client.Typed[*corev1.Pod], ns string) uint64 {
	t.Helper()
	_, lm, err := pods.List(t.Context(), ns, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rev(t, lm.ResourceVersion)
}

// TestWatchEvents follows one object history through a namespace watch and
// an all-namespaces watch: types, objects and revisions, in order.
func TestWatchEvents(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	from := listRevision(t, pods, "")
	inNS, err := pods.Watch(ctx, "default", from)
	if err != nil {
		t.Fatal(err)
	}
	defer inNS.Stop()
	all, err := pods.Watch(ctx, "", from)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Stop()

	must := func(p *corev1.Pod, err error) *corev1.Pod {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	steps := []struct {
		name  string
		write func() *corev1.Pod // returns the object the event must carry
		typ   client.EventType
		other bool // in another namespace: only the all-namespaces watch sees it
	}{
		{"create a", func() *corev1.Pod {
			return must(pods.Create(ctx, pod("default", "a"), metav1.CreateOptions{}))
		}, client.Added, false},
		{"update a", func() *corev1.Pod {
			p := must(pods.Get(ctx, "default", "a"))
			p.Labels["v"] = "2"
			return must(pods.Update(ctx, p, metav1.UpdateOptions{}))
		}, client.Modified, false},
		{"create b elsewhere", func() *corev1.Pod {
			return must(pods.Create(ctx, pod("kube-public", "b"), metav1.CreateOptions{}))
		}, client.Added, true},
		{"create b", func() *corev1.Pod {
			return must(pods.Create(ctx, pod("default", "b"), metav1.CreateOptions{}))
		}, client.Added, false},
		{"status of b", func() *corev1.Pod {
			p := must(pods.Get(ctx, "default", "b"))
			p.Status.Phase = corev1.PodRunning
			return must(pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}))
		}, client.Modified, false},
		{"delete a", func() *corev1.Pod {
			last, gone, err := pods.Delete(ctx, "default", "a", metav1.DeleteOptions{})
			if err != nil || !gone {
				t.Fatalf("delete: gone=%v, %v", gone, err)
			}
			if last.Labels["v"] != "2" {
				t.Fatalf("delete did not return the final state: %v", last.Labels)
			}
			return last
		}, client.Deleted, false},
		{"create a again", func() *corev1.Pod {
			return must(pods.Create(ctx, pod("default", "a"), metav1.CreateOptions{}))
		}, client.Added, false},
		{"delete b elsewhere", func() *corev1.Pod {
			last, _, err := pods.Delete(ctx, "kube-public", "b", metav1.DeleteOptions{})
			return must(last, err)
		}, client.Deleted, true},
		{"delete b", func() *corev1.Pod {
			last, _, err := pods.Delete(ctx, "default", "b", metav1.DeleteOptions{})
			return must(last, err)
		}, client.Deleted, false},
	}
	lastRev := map[*client.Watcher[*corev1.Pod]]uint64{}
	for _, step := range steps {
		want := step.write()
		watchers := []*client.Watcher[*corev1.Pod]{all}
		if !step.other {
			watchers = append(watchers, inNS)
		}
		for _, w := range watchers {
			ev := next(t, w)
			if ev.Type != step.typ {
				t.Errorf("%s: event %s, want %s", step.name, ev.Type, step.typ)
			}
			if ev.Revision <= lastRev[w] || api.FormatRevision(ev.Revision) != ev.Object.ResourceVersion {
				t.Errorf("%s: revision %d (object at %s), previous %d", step.name, ev.Revision, ev.Object.ResourceVersion, lastRev[w])
			}
			lastRev[w] = ev.Revision
			if d := cmp.Diff(want, ev.Object, cmpOpts...); d != "" {
				t.Errorf("%s: event object (-write +event):\n%s", step.name, d)
			}
		}
	}
}

// TestWatchFromRevision watches one history from each of its revisions:
// a watch from r delivers exactly the changes after r, each key's latest
// (the bucket keeps one value per key), in revision order.
func TestWatchFromRevision(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	type write struct {
		typ  client.EventType
		name string
		rev  uint64
	}
	var history []write
	do := func(t *testing.T, typ client.EventType, name string) {
		t.Helper()
		var p *corev1.Pod
		var err error
		switch typ {
		case client.Added:
			p, err = pods.Create(ctx, pod("default", name), metav1.CreateOptions{})
		case client.Modified:
			if p, err = pods.Get(ctx, "default", name); err == nil {
				p.Labels["n"] = fmt.Sprint(len(history))
				p, err = pods.Update(ctx, p, metav1.UpdateOptions{})
			}
		case client.Deleted:
			p, _, err = pods.Delete(ctx, "default", name, metav1.DeleteOptions{})
		}
		if err != nil {
			t.Fatalf("%s %s: %v", typ, name, err)
		}
		history = append(history, write{typ, name, rev(t, p.ResourceVersion)})
	}
	for _, name := range []string{"p0", "p1", "p2", "p3"} {
		do(t, client.Added, name)
	}
	do(t, client.Modified, "p0")
	do(t, client.Deleted, "p1")
	do(t, client.Added, "p4")
	do(t, client.Modified, "p0")
	do(t, client.Deleted, "p3")
	do(t, client.Added, "p1")
	do(t, client.Modified, "p2")

	// want is what a watch from rev delivers: every key's last write after
	// rev. From 0 the watcher starts from nothing, so every object it has
	// not seen is an addition and deletions of such objects are not news.
	want := func(from uint64) []write {
		var out []write
		for i, w := range history {
			if w.rev <= from {
				continue
			}
			later := false
			for _, l := range history[i+1:] {
				later = later || l.name == w.name
			}
			if later {
				continue
			}
			if from == 0 {
				if w.typ == client.Deleted {
					continue
				}
				w.typ = client.Added
			}
			out = append(out, w)
		}
		return out
	}
	froms := []uint64{0}
	for _, w := range history {
		froms = append(froms, w.rev)
	}
	for _, from := range froms {
		t.Run(fmt.Sprint("from ", from), func(t *testing.T) {
			w, err := pods.Watch(ctx, "default", from)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			expect := want(from)
			var got []write
			for range expect {
				ev := next(t, w)
				got = append(got, write{ev.Type, ev.Object.Name, ev.Revision})
			}
			if d := cmp.Diff(expect, got, cmp.AllowUnexported(write{})); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			// Nothing else is pending: the next event is a new write (which
			// joins the history that later watches see).
			name := fmt.Sprint("sentinel-", from)
			do(t, client.Added, name)
			if ev := next(t, w); ev.Object.Name != name || ev.Type != client.Added {
				t.Errorf("after the history: %s %s, want ADDED %s", ev.Type, ev.Object.Name, name)
			}
		})
	}
}

func TestWatchExpired(t *testing.T) {
	e := start(t, tinyCompaction)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	alive, err := pods.Create(ctx, pod("default", "alive"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pods.Create(ctx, pod("default", "doomed"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pods.Delete(ctx, "default", "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	compacted := compactAll(t, e.st)
	if compacted <= rev(t, p.ResourceVersion) {
		t.Fatalf("compacted to %d, below the create at %s", compacted, p.ResourceVersion)
	}
	for _, from := range []uint64{1, rev(t, p.ResourceVersion), compacted - 1} {
		w, err := pods.Watch(ctx, "default", from)
		if err == nil {
			w.Stop()
			t.Errorf("watch from %d (compacted to %d): no error", from, compacted)
			continue
		}
		if !errors.Is(err, client.ErrExpired) || !apierrors.IsResourceExpired(err) {
			t.Errorf("watch from %d: %v, want ErrExpired and a 410 status", from, err)
		}
	}
	// From nothing, and from a fresh list's revision, the watch works.
	for _, fresh := range []bool{false, true} {
		from := uint64(0)
		if fresh {
			from = listRevision(t, pods, "default")
		}
		w, err := pods.Watch(ctx, "default", from)
		if err != nil {
			t.Fatalf("watch from %d: %v", from, err)
		}
		if from == 0 {
			if ev := next(t, w); ev.Type != client.Added || ev.Object.ResourceVersion != alive.ResourceVersion {
				t.Errorf("from 0: %s %s at %s, want ADDED alive at %s", ev.Type, ev.Object.Name, ev.Object.ResourceVersion, alive.ResourceVersion)
			}
		}
		name := fmt.Sprint("after-", from)
		if _, err := pods.Create(ctx, pod("default", name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if ev := next(t, w); ev.Type != client.Added || ev.Object.Name != name {
			t.Errorf("from %d: %s %s, want ADDED %s", from, ev.Type, ev.Object.Name, name)
		}
		w.Stop()
	}
}

// TestWatchEnds checks how a watch ends: Stop and a cancelled context end
// it without an error, an undecodable value ends it with one, and Err is
// set by the time Events is closed.
func TestWatchEnds(t *testing.T) {
	e := start(t, store.Config{})
	pods := client.For[*corev1.Pod](e.c)
	for i := range 5 {
		if _, err := pods.Create(t.Context(), pod("default", fmt.Sprint("p", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	drain := func(t *testing.T, w *client.Watcher[*corev1.Pod]) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case _, ok := <-w.Events():
				if !ok {
					return
				}
			case <-timeout:
				t.Fatal("watch did not end")
			}
		}
	}
	t.Run("stop", func(t *testing.T) {
		w, err := pods.Watch(t.Context(), "default", 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Stop()
		w.Stop()
		drain(t, w)
		if err := w.Err(); err != nil {
			t.Errorf("after Stop: %v", err)
		}
	})
	t.Run("cancel without reading", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		w, err := pods.Watch(ctx, "default", 0)
		if err != nil {
			t.Fatal(err)
		}
		// Fill the watch's buffers, then give up without reading.
		for i := range 100 {
			if _, err := pods.Create(t.Context(), pod("default", fmt.Sprint("fill-", i)), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		drain(t, w)
		if err := w.Err(); err != nil {
			t.Errorf("after cancel: %v", err)
		}
		w.Stop()
	})
	// A value the client cannot decode, written behind the API server's back.
	if _, err := e.st.Create(t.Context(), api.Key(api.Pods, "default", "junk"), []byte("not an object")); err != nil {
		t.Fatal(err)
	}
	t.Run("undecodable", func(t *testing.T) {
		for range 20 {
			w, err := pods.Watch(t.Context(), "default", 0)
			if err != nil {
				t.Fatal(err)
			}
			drain(t, w)
			if err := w.Err(); err == nil {
				t.Fatal("watch over an undecodable value ended without an error")
			}
			w.Stop()
		}
	})
}
