package apiserver

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

// WatchEvent is one event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK
// (Object carries only the resourceVersion) or ERROR (Object is a
// *metav1.Status, and the watch ends).
type WatchEvent struct {
	Type   watch.EventType
	Object runtime.Object
}

// BookmarkInterval is how often a quiet watch that asked for bookmarks
// gets one.
const BookmarkInterval = 5 * time.Second

// Watch streams changes to r's objects in ns ("" for all) that match the
// selectors of opts, as Kubernetes does:
//   - resourceVersion "" or "0": an ADDED event for every current object,
//     then every later change;
//   - resourceVersion N: every change after N (410 Gone if N was compacted).
//
// With selectors, an object that stops matching is reported DELETED and
// one that starts matching ADDED. The channel closes when ctx ends or the
// watch fails (after an ERROR event).
func (s *Server) Watch(ctx context.Context, r *api.Resource, ns string, opts metav1.ListOptions) (<-chan WatchEvent, error) {
	lsel, fsel, err := selectors(r, opts)
	if err != nil {
		return nil, err
	}
	if !r.Namespaced {
		ns = ""
	}
	prefix := api.KeyPrefix(r, ns)
	filter := !lsel.Empty() || !fsel.Empty()
	// matching holds the keys the client currently believes exist.
	matching := map[string]bool{}
	var initial []WatchEvent
	var from uint64
	tracked := filter
	switch opts.ResourceVersion {
	case "", "0":
		snap, err := s.store.List(ctx, prefix)
		if err != nil {
			return nil, storeError(err, r, "")
		}
		from = snap.Revision
		tracked = true
		for _, e := range snap.Entries {
			obj, err := decodeAt(r, e.Value, e.Revision)
			if err != nil {
				return nil, err
			}
			if filter && !matches(r, obj, lsel, fsel) {
				continue
			}
			matching[e.Key] = true
			initial = append(initial, WatchEvent{Type: watch.Added, Object: obj})
		}
	default:
		if from, err = api.ParseRevision(opts.ResourceVersion); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if filter {
			// Which objects matched at "from" is not kept; take the current
			// list as the best estimate (see docs/rationale.md).
			snap, err := s.store.List(ctx, prefix)
			if err != nil {
				return nil, storeError(err, r, "")
			}
			for _, e := range snap.Entries {
				if obj, err := decodeAt(r, e.Value, e.Revision); err == nil && matches(r, obj, lsel, fsel) {
					matching[e.Key] = true
				}
			}
		}
	}
	w, err := s.store.Watch(ctx, prefix, from)
	if err != nil {
		if errors.Is(err, store.ErrTooOld) {
			return nil, apierrors.NewResourceExpired("too old resource version: " + opts.ResourceVersion)
		}
		return nil, storeError(err, r, "")
	}
	out := make(chan WatchEvent, 64)
	go func() {
		defer close(out)
		defer w.Stop()
		send := func(ev WatchEvent) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, ev := range initial {
			if !send(ev) {
				return
			}
		}
		last := from
		var tick <-chan time.Time
		if opts.AllowWatchBookmarks {
			t := time.NewTicker(BookmarkInterval)
			defer t.Stop()
			tick = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				bm := r.New()
				accessor(bm).SetResourceVersion(api.FormatRevision(last))
				if !send(WatchEvent{Type: watch.Bookmark, Object: bm}) {
					return
				}
			case ev, ok := <-w.Events():
				if !ok {
					if err := w.Err(); err != nil {
						st := Status(storeError(err, r, ""))
						if errors.Is(err, store.ErrTooOld) {
							st = Status(apierrors.NewResourceExpired("too old resource version: " + api.FormatRevision(last)))
						}
						send(WatchEvent{Type: watch.Error, Object: st})
					}
					return
				}
				last = ev.Revision
				wev, ok := s.translate(r, ev, matching, tracked, filter, lsel, fsel)
				if ok && !send(wev) {
					return
				}
			}
		}
	}()
	return out, nil
}

func decodeAt(r *api.Resource, raw []byte, rev uint64) (runtime.Object, error) {
	obj, err := api.Decode(raw, r.New())
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	accessor(obj).SetResourceVersion(api.FormatRevision(rev))
	return obj, nil
}

// translate turns a store event into the watch event the client should
// see, given what it has seen so far.
// tracked says whether matching started complete (from a list), so that
// an unseen key is an addition.
func (s *Server) translate(r *api.Resource, ev store.Event, matching map[string]bool, tracked, filter bool, lsel labelsSelector, fsel fieldsSelector) (WatchEvent, bool) {
	var obj runtime.Object
	if len(ev.Value) > 0 {
		o, err := decodeAt(r, ev.Value, ev.Revision)
		if err != nil {
			return WatchEvent{}, false
		}
		obj = o
	} else {
		obj = r.New()
		_, ns, name, _ := api.ParseKey(ev.Key)
		m := accessor(obj)
		m.SetNamespace(ns)
		m.SetName(name)
		m.SetResourceVersion(api.FormatRevision(ev.Revision))
	}
	seen := matching[ev.Key]
	if ev.Type == store.Deleted {
		// An unseen key may still have matched at the watch's revision
		// (matching was estimated from the current list, where a key
		// deleted since is absent): the tombstone's last state decides, so
		// that a client that listed it (kubectl delete --wait) hears of
		// its deletion.
		if !seen && filter && (len(ev.Value) == 0 || !matches(r, obj, lsel, fsel)) {
			return WatchEvent{}, false
		}
		delete(matching, ev.Key)
		return WatchEvent{Type: watch.Deleted, Object: obj}, true
	}
	match := !filter || matches(r, obj, lsel, fsel)
	switch {
	case !match && seen:
		delete(matching, ev.Key)
		return WatchEvent{Type: watch.Deleted, Object: obj}, true
	case !match:
		return WatchEvent{}, false
	case seen:
		return WatchEvent{Type: watch.Modified, Object: obj}, true
	case tracked || ev.IsCreate:
		matching[ev.Key] = true
		return WatchEvent{Type: watch.Added, Object: obj}, true
	}
	// Untracked watch (from a revision, no selectors) of a key it has not
	// seen: the write is an update of an object the client already has.
	matching[ev.Key] = true
	return WatchEvent{Type: watch.Modified, Object: obj}, true
}
