package cache

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/sdk/client"
)

// Set is the shared informers of one run of a controller manager.
type Set struct {
	c *client.Client

	mu      sync.Mutex
	started bool
	byType  map[reflect.Type]informer
	order   []informer
}

// informer is what the Set runs, whatever the object type.
type informer interface {
	run(ctx context.Context)
	waitForSync(ctx context.Context) error
}

// New returns an empty Set reading through c.
func New(c *client.Client) *Set {
	return &Set{c: c, byType: map[reflect.Type]informer{}}
}

// Client is the client the Set reads through.
func (s *Set) Client() *client.Client { return s.c }

// Of returns the Set's informer for T (all namespaces), creating it on
// first use. It panics if called after Run: an informer added then would
// never run, a programming error any test catches.
func Of[T client.Object](s *Set) *Informer[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	typ := reflect.TypeFor[T]()
	if inf, ok := s.byType[typ]; ok {
		return inf.(*Informer[T])
	}
	if s.started {
		panic(fmt.Sprintf("bug: cache.Of[%v] after Run", typ))
	}
	inf := newInformer[T](s.c)
	s.byType[typ] = inf
	s.order = append(s.order, inf)
	return inf
}

// Run runs every informer until ctx ends and returns once they all have.
func (s *Set) Run(ctx context.Context) error {
	s.mu.Lock()
	s.started = true
	infs := append([]informer(nil), s.order...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, inf := range infs {
		wg.Go(func() { inf.run(ctx) })
	}
	wg.Wait()
	return nil
}

// WaitForSync blocks until every informer has its first list, or ctx
// ends (its error).
func (s *Set) WaitForSync(ctx context.Context) error {
	s.mu.Lock()
	infs := append([]informer(nil), s.order...)
	s.mu.Unlock()
	for _, inf := range infs {
		if err := inf.waitForSync(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ByController is the name of the index AddControllerIndex adds: objects
// by their controller's UID, and orphans (no controller) by
// OrphanKey(namespace).
const ByController = "controller"

// OrphanKey is the ByController value of the orphans of namespace ns.
func OrphanKey(ns string) string { return "orphan/" + ns }

// AddControllerIndex adds the ByController index to inf.
func AddControllerIndex[T client.Object](inf *Informer[T]) {
	inf.AddIndex(ByController, func(obj T) []string {
		if ref := owner.ControllerOf(obj); ref != nil {
			return []string{string(ref.UID)}
		}
		return []string{OrphanKey(obj.GetNamespace())}
	})
}

// Candidates returns what the owner o may claim of inf's objects (inf
// needs the ByController index): those o controls and the orphans of its
// namespace, in no particular order. The slice is the caller's.
func Candidates[T client.Object](inf *Informer[T], o metav1.Object) []T {
	return append(inf.ByIndex(ByController, string(o.GetUID())), inf.ByIndex(ByController, OrphanKey(o.GetNamespace()))...)
}
