package client

import (
	"context"
	"errors"
	"fmt"

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

// Watcher delivers decoded events.
type Watcher[T Object] struct {
	w      *store.Watcher
	r      *api.Resource
	events chan Event[T]
	err    error
	done   chan struct{}
}

// Watch delivers every change to T's objects in ns ("" for all namespaces)
// after revision from (0: every object the store holds), in revision order.
// It reads the store directly. A watch that falls behind far enough ends
// with Err() wrapping ErrExpired.
func (t *Typed[T]) Watch(ctx context.Context, ns string, from uint64) (*Watcher[T], error) {
	w, err := t.c.store.Watch(ctx, api.KeyPrefix(t.r, ns), from)
	if err != nil {
		if errors.Is(err, store.ErrTooOld) {
			return nil, fmt.Errorf("%w: %w", ErrExpired, apierrors.NewResourceExpired(err.Error()))
		}
		return nil, fmt.Errorf("client: watch %s: %w", t.r.Resource, err)
	}
	out := &Watcher[T]{w: w, r: t.r, events: make(chan Event[T], 64), done: make(chan struct{})}
	go out.run()
	return out, nil
}

func (w *Watcher[T]) run() {
	defer close(w.done)
	defer close(w.events)
	for ev := range w.w.Events() {
		obj := newT[T](w.r)
		if len(ev.Value) == 0 {
			// A tombstone without a final state: only the name is known.
			_, ns, name, ok := api.ParseKey(ev.Key)
			if !ok {
				continue
			}
			obj.SetNamespace(ns)
			obj.SetName(name)
		} else if _, err := api.Decode(ev.Value, obj); err != nil {
			w.err = fmt.Errorf("client: decode %s: %w", ev.Key, err)
			w.w.Stop()
			return
		}
		obj.SetResourceVersion(api.FormatRevision(ev.Revision))
		typ := Modified
		switch {
		case ev.Type == store.Deleted:
			typ = Deleted
		case ev.IsCreate:
			typ = Added
		}
		w.events <- Event[T]{Type: typ, Object: obj, Revision: ev.Revision}
	}
	if err := w.w.Err(); err != nil {
		if errors.Is(err, store.ErrTooOld) {
			err = fmt.Errorf("%w: %w", ErrExpired, err)
		}
		w.err = err
	}
}

// Events is the channel of events; it closes when the watch ends.
func (w *Watcher[T]) Events() <-chan Event[T] { return w.events }

// Err says why the watch ended, once Events is closed; nil after Stop.
func (w *Watcher[T]) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Stop ends the watch. It is idempotent. Events still buffered are
// dropped.
func (w *Watcher[T]) Stop() {
	w.w.Stop()
	for range w.events {
	}
	<-w.done
}
