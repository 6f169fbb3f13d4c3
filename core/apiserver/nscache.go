package apiserver

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

// nsCache remembers which namespaces exist and are open, from a watch of
// the store, so that a create need not read its namespace. It is advisory:
// a namespace it does not know is read from the store, because another
// replica may have created it a moment ago.
type nsCache struct {
	mu   sync.RWMutex
	open map[string]bool // name -> true if active, false if terminating
}

// state returns whether ns is known and, if so, whether it is open.
func (c *nsCache) state(ns string) (open, known bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	open, known = c.open[ns]
	return open, known
}

func (c *nsCache) set(m map[string]bool) {
	c.mu.Lock()
	c.open = m
	c.mu.Unlock()
}

func (c *nsCache) put(name string, open bool) {
	c.mu.Lock()
	if c.open != nil {
		c.open[name] = open
	}
	c.mu.Unlock()
}

func (c *nsCache) forget(name string) {
	c.mu.Lock()
	delete(c.open, name)
	c.mu.Unlock()
}

func nsIsOpen(raw []byte) bool {
	var n corev1.Namespace
	if _, err := api.Decode(raw, &n); err != nil {
		return false
	}
	return n.DeletionTimestamp == nil && n.Status.Phase != corev1.NamespaceTerminating
}

// watchNamespaces keeps the cache current until ctx ends, relisting after
// any watch failure.
func (s *Server) watchNamespaces(ctx context.Context) {
	prefix := api.KeyPrefix(api.Namespaces, "")
	for ctx.Err() == nil {
		snap, err := s.store.List(ctx, prefix)
		if err != nil {
			s.log.Warn("namespace cache: list", "err", err)
			s.ns.set(nil)
			sleep(ctx, time.Second)
			continue
		}
		m := make(map[string]bool, len(snap.Entries))
		for _, e := range snap.Entries {
			if _, _, name, ok := api.ParseKey(e.Key); ok {
				m[name] = nsIsOpen(e.Value)
			}
		}
		w, err := s.store.Watch(ctx, prefix, snap.Revision)
		if err != nil {
			s.log.Warn("namespace cache: watch", "err", err)
			s.ns.set(nil)
			sleep(ctx, time.Second)
			continue
		}
		s.ns.set(m)
		for ev := range w.Events() {
			_, _, name, ok := api.ParseKey(ev.Key)
			if !ok {
				continue
			}
			if ev.Type == store.Deleted {
				s.ns.forget(name)
			} else {
				s.ns.put(name, nsIsOpen(ev.Value))
			}
		}
		s.ns.set(nil) // unknown until the relist
		w.Stop()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
