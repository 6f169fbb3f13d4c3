package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

// Handlers are an informer's callbacks. Any may be nil. They run on the
// informer's goroutine, one at a time; objects are shared with the cache
// and must not be modified.
type Handlers[T Object] struct {
	OnAdd    func(obj T)
	OnUpdate func(old, cur T)
	OnDelete func(last T)
}

// Informer keeps a local cache of T's objects in one namespace (or all),
// filled by a list at a revision and kept current by a watch from it. When
// the watch falls too far behind it lists again and reconciles the cache,
// calling the handlers for what changed meanwhile.
type Informer[T Object] struct {
	t        *Typed[T]
	ns       string
	handlers Handlers[T]

	mu     sync.RWMutex
	items  map[string]T // by store key
	rev    uint64
	synced chan struct{}
	once   sync.Once
	// revCond wakes WaitForRevision callers.
	revCond *sync.Cond
}

// NewInformer returns an informer over T's objects in ns ("" for all).
// It does nothing until Run.
func NewInformer[T Object](c *Client, ns string, h Handlers[T]) *Informer[T] {
	inf := &Informer[T]{t: For[T](c), ns: ns, handlers: h, items: map[string]T{}, synced: make(chan struct{})}
	inf.revCond = sync.NewCond(inf.mu.RLocker())
	return inf
}

// Run lists, then watches, until ctx ends; it relists whenever the watch
// ends (expired revision, lost connection), backing off up to 5 s between
// failed attempts, and always returns nil. Run must not be called
// concurrently with itself; called again after it returned, it keeps the
// cache and reconciles it with its first list, as a relist does.
func (inf *Informer[T]) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := inf.listAndWatch(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
	inf.revCond.Broadcast()
	return nil
}

func (inf *Informer[T]) listAndWatch(ctx context.Context) error {
	snap, err := inf.t.c.store.List(ctx, api.KeyPrefix(inf.t.r, inf.ns))
	if err != nil {
		return fmt.Errorf("informer list %s: %w", inf.t.r.Resource, err)
	}
	fresh := make(map[string]T, len(snap.Entries))
	for _, e := range snap.Entries {
		if obj, ok := inf.decode(e.Value, e.Revision); ok {
			fresh[e.Key] = obj
		}
	}
	inf.replace(fresh, snap.Revision)
	w, err := inf.t.c.store.Watch(ctx, api.KeyPrefix(inf.t.r, inf.ns), snap.Revision)
	if err != nil {
		return fmt.Errorf("informer watch %s: %w", inf.t.r.Resource, err)
	}
	defer w.Stop()
	for ev := range w.Events() {
		inf.apply(ev)
	}
	if err := w.Err(); err != nil && !errors.Is(err, store.ErrTooOld) {
		return err
	}
	return nil
}

// decode decodes a stored object. An undecodable value (which the API
// server never writes) is left out of the cache rather than stopping the
// informer, on the list and on the watch alike.
func (inf *Informer[T]) decode(value []byte, rev uint64) (T, bool) {
	obj := newT[T](inf.t.r)
	if _, err := api.Decode(value, obj); err != nil {
		var zero T
		return zero, false
	}
	obj.SetResourceVersion(api.FormatRevision(rev))
	return obj, true
}

// replace swaps in a fresh list and tells the handlers what differs.
func (inf *Informer[T]) replace(fresh map[string]T, rev uint64) {
	inf.mu.Lock()
	old := inf.items
	inf.items = fresh
	inf.mu.Unlock()
	for k, cur := range fresh {
		if prev, ok := old[k]; !ok {
			call1(inf.handlers.OnAdd, cur)
		} else if prev.GetUID() != cur.GetUID() {
			call1(inf.handlers.OnDelete, prev)
			call1(inf.handlers.OnAdd, cur)
		} else if prev.GetResourceVersion() != cur.GetResourceVersion() && inf.handlers.OnUpdate != nil {
			inf.handlers.OnUpdate(prev, cur)
		}
	}
	for k, prev := range old {
		if _, ok := fresh[k]; !ok {
			call1(inf.handlers.OnDelete, prev)
		}
	}
	inf.setRevision(rev)
	inf.once.Do(func() { close(inf.synced) })
}

// setRevision records that the cache and the handlers have seen rev.
func (inf *Informer[T]) setRevision(rev uint64) {
	inf.mu.Lock()
	inf.rev = rev
	inf.mu.Unlock()
	inf.revCond.Broadcast()
}

func (inf *Informer[T]) apply(ev store.Event) {
	var obj T
	ok := false
	if len(ev.Value) > 0 {
		obj, ok = inf.decode(ev.Value, ev.Revision)
	}
	// A put is in the cache from now on; a deletion, or a put the informer
	// cannot decode, is not.
	present := ev.Type != store.Deleted && ok
	inf.mu.Lock()
	prev, had := inf.items[ev.Key]
	if present {
		inf.items[ev.Key] = obj
	} else {
		delete(inf.items, ev.Key)
	}
	inf.mu.Unlock()
	switch {
	case !present && had:
		if ev.Type == store.Deleted && ok {
			call1(inf.handlers.OnDelete, obj) // the final state
		} else {
			call1(inf.handlers.OnDelete, prev)
		}
	case !present:
	case had && prev.GetUID() != obj.GetUID():
		// The key was deleted and created again between two revisions
		// this watcher saw (the bucket keeps one value per key): another
		// object, as a Kubernetes watch would have said.
		call1(inf.handlers.OnDelete, prev)
		call1(inf.handlers.OnAdd, obj)
	case had && inf.handlers.OnUpdate != nil:
		inf.handlers.OnUpdate(prev, obj)
	case !had:
		call1(inf.handlers.OnAdd, obj)
	}
	inf.setRevision(ev.Revision)
}

func call1[T any](f func(T), v T) {
	if f != nil {
		f(v)
	}
}

// Synced is closed once the first list is in the cache (and stays closed
// across relists and later Runs).
func (inf *Informer[T]) Synced() <-chan struct{} { return inf.synced }

// WaitForSync blocks until the first list is in the cache or ctx ends.
func (inf *Informer[T]) WaitForSync(ctx context.Context) error {
	select {
	case <-inf.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Revision is the store revision the cache reflects and the handlers
// have been called for.
func (inf *Informer[T]) Revision() uint64 {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	return inf.rev
}

// WaitForRevision blocks until the cache reflects at least rev, and the
// handlers have returned for every change up to it, or until ctx ends
// (returning its error). The cache's revision moves with the changes to the informer's own
// objects (and with each list), so rev should be that of a write to one of
// them (reading one's own writes): a revision of a write to anything else,
// or a list's, may never be reached while those objects stay unchanged.
func (inf *Informer[T]) WaitForRevision(ctx context.Context, rev uint64) error {
	stop := context.AfterFunc(ctx, func() {
		// Taking the lock first means a waiter is either before its check
		// of ctx or inside Wait, so it cannot miss this broadcast.
		inf.mu.Lock()
		inf.mu.Unlock() //nolint:staticcheck // SA2001: the empty critical section is the point (see above)
		inf.revCond.Broadcast()
	})
	defer stop()
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	for inf.rev < rev {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		inf.revCond.Wait()
	}
	return nil
}

// Get returns the cached object ns/name.
func (inf *Informer[T]) Get(ns, name string) (T, bool) {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	obj, ok := inf.items[api.Key(inf.t.r, ns, name)]
	return obj, ok
}

// List returns every cached object, in no particular order.
func (inf *Informer[T]) List() []T {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	out := make([]T, 0, len(inf.items))
	for _, o := range inf.items {
		out = append(out, o)
	}
	return out
}
