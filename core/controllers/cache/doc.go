// Package cache shares informers among the controllers of one controller
// manager: one KV watch per kind, however many controllers read that kind
// (the storage contract's "one watch per component per prefix").
//
// A Set hands out one *Informer[T] per object type. Controllers register
// their handlers and indexes on it before the Set runs; the informer keeps
// its objects by namespace and by each index, and calls the handlers after
// its indexes reflect the change, so that a handler (or a reconcile it
// queues) reads a cache at least as new as the event.
//
// Objects handed out are shared and must not be modified: copy them
// (DeepCopy) before changing them.
//
// Concurrency: Of, AddHandlers and AddIndex must be called before Run; the
// read methods are safe for concurrent use at any time. Handlers run on
// the informer's goroutine, one at a time, in revision order. Each
// Informer has one mutex, taken only around its maps, never while a
// handler runs.
package cache
