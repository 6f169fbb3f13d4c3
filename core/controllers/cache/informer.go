package cache

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// IndexFunc returns the index values of an object (none to leave it out).
type IndexFunc[T client.Object] func(obj T) []string

// Informer is a shared, indexed cache of T's objects in all namespaces.
type Informer[T client.Object] struct {
	inf *client.Informer[T]

	handlers []client.Handlers[T] // fixed once the Set runs
	indexers map[string]IndexFunc[T]

	mu   sync.RWMutex
	byNS map[string]map[string]T // namespace → name → object
	// indexes: index name → value → namespace/name → object.
	indexes map[string]map[string]map[string]T
}

func newInformer[T client.Object](c *client.Client) *Informer[T] {
	i := &Informer[T]{byNS: map[string]map[string]T{}, indexers: map[string]IndexFunc[T]{},
		indexes: map[string]map[string]map[string]T{}}
	i.inf = client.NewInformer[T](c, "", client.Handlers[T]{OnAdd: i.onAdd, OnUpdate: i.onUpdate, OnDelete: i.onDelete})
	return i
}

// AddHandlers registers h; handlers run in the order they were added.
// Call it before the Set runs.
func (i *Informer[T]) AddHandlers(h client.Handlers[T]) { i.handlers = append(i.handlers, h) }

// AddIndex registers an index; adding a name twice keeps the first. Call
// it before the Set runs.
func (i *Informer[T]) AddIndex(name string, f IndexFunc[T]) {
	if _, ok := i.indexers[name]; ok {
		return
	}
	i.indexers[name] = f
	i.indexes[name] = map[string]map[string]T{}
}

func key(obj client.Object) string {
	return obj.GetNamespace() + "/" + obj.GetName()
}

func (i *Informer[T]) put(obj T, old T, hadOld bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if hadOld {
		i.unindex(old)
	}
	ns := obj.GetNamespace()
	m := i.byNS[ns]
	if m == nil {
		m = map[string]T{}
		i.byNS[ns] = m
	}
	m[obj.GetName()] = obj
	k := key(obj)
	for name, f := range i.indexers {
		for _, v := range f(obj) {
			vals := i.indexes[name][v]
			if vals == nil {
				vals = map[string]T{}
				i.indexes[name][v] = vals
			}
			vals[k] = obj
		}
	}
}

func (i *Informer[T]) unindex(obj T) {
	k := key(obj)
	for name, f := range i.indexers {
		for _, v := range f(obj) {
			if vals := i.indexes[name][v]; vals != nil {
				delete(vals, k)
				if len(vals) == 0 {
					delete(i.indexes[name], v)
				}
			}
		}
	}
}

func (i *Informer[T]) remove(obj T) {
	i.mu.Lock()
	defer i.mu.Unlock()
	ns := obj.GetNamespace()
	if m := i.byNS[ns]; m != nil {
		if cur, ok := m[obj.GetName()]; ok {
			i.unindex(cur)
			delete(m, obj.GetName())
			if len(m) == 0 {
				delete(i.byNS, ns)
			}
		}
	}
}

func (i *Informer[T]) onAdd(obj T) {
	var zero T
	i.put(obj, zero, false)
	for _, h := range i.handlers {
		if h.OnAdd != nil {
			h.OnAdd(obj)
		}
	}
}

func (i *Informer[T]) onUpdate(old, cur T) {
	i.put(cur, old, true)
	for _, h := range i.handlers {
		if h.OnUpdate != nil {
			h.OnUpdate(old, cur)
		}
	}
}

func (i *Informer[T]) onDelete(last T) {
	i.remove(last)
	for _, h := range i.handlers {
		if h.OnDelete != nil {
			h.OnDelete(last)
		}
	}
}

func (i *Informer[T]) run(ctx context.Context) { _ = i.inf.Run(ctx) }

func (i *Informer[T]) waitForSync(ctx context.Context) error { return i.inf.WaitForSync(ctx) }

// HasSynced reports whether the first list is in the cache.
func (i *Informer[T]) HasSynced() bool {
	select {
	case <-i.inf.Synced():
		return true
	default:
		return false
	}
}

// Get returns the cached object ns/name.
func (i *Informer[T]) Get(ns, name string) (T, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	obj, ok := i.byNS[ns][name]
	return obj, ok
}

// List returns the cached objects of namespace ns ("" for all), in no
// particular order.
func (i *Informer[T]) List(ns string) []T {
	i.mu.RLock()
	var out []T
	if ns != "" {
		for _, o := range i.byNS[ns] {
			out = append(out, o)
		}
	} else {
		for _, m := range i.byNS {
			for _, o := range m {
				out = append(out, o)
			}
		}
	}
	i.mu.RUnlock()
	return out
}

// ByIndex returns the objects whose index name has value, in no
// particular order (sorting costs more than a sync of 10,000 pods
// otherwise does; SortByName when order matters). It panics on an unknown
// index (a programming error).
func (i *Informer[T]) ByIndex(name, value string) []T {
	i.mu.RLock()
	idx, ok := i.indexes[name]
	if !ok {
		i.mu.RUnlock()
		panic("bug: cache: unknown index " + name)
	}
	out := make([]T, 0, len(idx[value]))
	for _, o := range idx[value] {
		out = append(out, o)
	}
	i.mu.RUnlock()
	return out
}

// WaitForRevision blocks until the cache reflects store revision rev (that
// of a write to one of T's objects) or ctx ends; see
// client.Informer.WaitForRevision.
func (i *Informer[T]) WaitForRevision(ctx context.Context, rev uint64) error {
	return i.inf.WaitForRevision(ctx, rev)
}

// writeWait bounds WaitForWrite.
const writeWait = 2 * time.Second

// WaitForWrite waits, for at most two seconds and while ctx lasts, until
// the cache shows the write that returned written (its resourceVersion),
// so that the next sync reads its own write. It returns nothing: a cache
// still behind afterwards is caught by the next sync's writes, which fail
// on a stale resourceVersion.
func (i *Informer[T]) WaitForWrite(ctx context.Context, written T) {
	rev, err := api.ParseRevision(written.GetResourceVersion())
	if err != nil || rev == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, writeWait)
	defer cancel()
	_ = i.inf.WaitForRevision(wctx, rev)
}

// SortByName sorts objects by namespace and name.
func SortByName[T client.Object](objs []T) {
	sort.Slice(objs, func(a, b int) bool {
		if objs[a].GetNamespace() != objs[b].GetNamespace() {
			return objs[a].GetNamespace() < objs[b].GetNamespace()
		}
		return objs[a].GetName() < objs[b].GetName()
	})
}
