package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

// Bind assigns pod ns/name to node (the pods/binding subresource).
func (c *Client) Bind(ctx context.Context, ns, name, node string) error {
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Target: corev1.ObjectReference{Kind: "Node", Name: node}}
	body, err := api.Encode(b)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{op: api.OpCreate, r: api.Pods, ns: ns, name: name, subresource: "binding", body: body})
	return err
}

// EventType is the kind of a watch event, as in Kubernetes.
type EventType string

// Watch event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one change of an object. For Deleted, Object is its final
// state and Revision the deletion's.
type Event[T Object] struct {
	Type     EventType
	Object   T
	Revision uint64
}

// ErrExpired is returned when a watch's revision is no longer available:
// list again and watch from the list's revision.
var ErrExpired = errors.New("client: watch revision expired; relist")

// expired turns the store's ErrTooOld into ErrExpired, which is also a
// Kubernetes 410 (apierrors.IsResourceExpired).
func expired(err error) error {
	return fmt.Errorf("%w: %w", ErrExpired, apierrors.NewResourceExpired(err.Error()))
}

// Watcher delivers decoded events.
type Watcher[T Object] struct {
	w      *store.Watcher
	r      *api.Resource
	events chan Event[T]
	stop   context.CancelFunc
	err    error // set before done is closed
	done   chan struct{}
}

// Watch delivers every change to T's objects in ns ("" for all namespaces)
// after revision from, in revision order. It reads the store directly. The
// bucket keeps only each key's latest value, so a change that a later one
// superseded before the watch read it is not delivered; deletions always
// are. Watch fails with an error wrapping ErrExpired when from is below the
// compaction revision, and a running watch that falls behind far enough
// ends with Err() wrapping it.
//
// From 0 the watch starts from nothing: it lists, delivers every object
// the store holds as Added (in revision order), then the changes since
// the list; it delivers no deletion of an object it did not deliver, and
// compaction does not expire it at the start.
//
// The watch ends when ctx does or on Stop.
func (t *Typed[T]) Watch(ctx context.Context, ns string, from uint64) (*Watcher[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	w, initial, err := t.watch(ctx, api.KeyPrefix(t.r, ns), from)
	if err != nil {
		cancel()
		if errors.Is(err, store.ErrTooOld) {
			return nil, expired(err)
		}
		return nil, fmt.Errorf("client: watch %s: %w", t.r.Resource, err)
	}
	out := &Watcher[T]{w: w, r: t.r, events: make(chan Event[T], 64), stop: cancel, done: make(chan struct{})}
	go out.run(ctx, initial, from == 0)
	return out, nil
}

// watch starts the store watch; from 0, it lists first and returns the
// entries, sorted by revision, with a watch from the list's revision.
func (t *Typed[T]) watch(ctx context.Context, prefix string, from uint64) (*store.Watcher, []store.Entry, error) {
	if from > 0 {
		w, err := t.c.store.Watch(ctx, prefix, from)
		return w, nil, err
	}
	for attempt := 0; ; attempt++ {
		snap, err := t.c.store.List(ctx, prefix)
		if err != nil {
			return nil, nil, err
		}
		w, err := t.c.store.Watch(ctx, prefix, snap.Revision)
		if errors.Is(err, store.ErrTooOld) && attempt < 3 {
			continue // compacted between the list and the watch
		}
		if err != nil {
			return nil, nil, err
		}
		slices.SortFunc(snap.Entries, func(a, b store.Entry) int { return cmp.Compare(a.Revision, b.Revision) })
		return w, snap.Entries, nil
	}
}

// run delivers initial, then decodes the store's events, until the store
// watch or ctx ends. With fromScratch it tracks which keys it delivered,
// so that the first value of each is an addition and tombstones of keys it
// never delivered are skipped.
func (w *Watcher[T]) run(ctx context.Context, initial []store.Entry, fromScratch bool) {
	// Deferred calls run last first: done closes (so Err is final) before
	// events does.
	defer close(w.events)
	defer close(w.done)
	defer w.w.Stop()
	var seen map[string]bool
	if fromScratch {
		seen = make(map[string]bool, len(initial))
	}
	send := func(ev store.Event) bool {
		out, ok, err := w.decode(ev, seen)
		if err != nil {
			w.err = err
			return false
		}
		if !ok {
			return true
		}
		select {
		case w.events <- out:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, e := range initial {
		if !send(store.Event{Type: store.Put, Key: e.Key, Value: e.Value, Revision: e.Revision, Created: e.Created}) {
			return
		}
	}
	for ev := range w.w.Events() {
		if !send(ev) {
			return
		}
	}
	if err := w.w.Err(); err != nil {
		if errors.Is(err, store.ErrTooOld) {
			err = expired(err)
		}
		w.err = err
	}
}

// decode turns a store event into a watch event; ok is false for an event
// to skip. seen, when not nil, holds the keys delivered and not deleted.
func (w *Watcher[T]) decode(ev store.Event, seen map[string]bool) (out Event[T], ok bool, err error) {
	typ := Modified
	switch {
	case ev.Type == store.Deleted:
		typ = Deleted
		if seen != nil {
			if !seen[ev.Key] {
				return out, false, nil
			}
			delete(seen, ev.Key)
		}
	case seen != nil:
		if !seen[ev.Key] {
			typ = Added
			seen[ev.Key] = true
		}
	case ev.IsCreate:
		typ = Added
	}
	obj := newT[T](w.r)
	if len(ev.Value) == 0 {
		// A tombstone without a final state: only the name is known.
		_, ns, name, ok := api.ParseKey(ev.Key)
		if !ok {
			return out, false, nil
		}
		obj.SetNamespace(ns)
		obj.SetName(name)
	} else if _, err := api.Decode(ev.Value, obj); err != nil {
		return out, false, fmt.Errorf("client: decode %s: %w", ev.Key, err)
	}
	obj.SetResourceVersion(api.FormatRevision(ev.Revision))
	return Event[T]{Type: typ, Object: obj, Revision: ev.Revision}, true, nil
}

// Events is the channel of events; it closes when the watch ends.
func (w *Watcher[T]) Events() <-chan Event[T] { return w.events }

// Err says why the watch ended, once Events is closed: nil when it was
// stopped (Stop or its context), else an error (wrapping ErrExpired when
// the watch fell too far behind: list again). Before the end it is nil.
func (w *Watcher[T]) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Stop ends the watch and waits for its goroutine. It is idempotent and
// safe to call concurrently with reading Events. Events not yet received
// may be dropped.
func (w *Watcher[T]) Stop() {
	w.stop()
	<-w.done
}
