package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// Name is the controller's name.
const Name = "garbage-collector"

// Config configures the collector. Cache is required.
type Config struct {
	Cache *cache.Set
	// Workers is how many objects are judged at once (default 10), and as
	// many owners orphaned.
	Workers int
	Logger  *slog.Logger
}

// Collector is the garbage collector's shell around Judge and Drain.
type Collector struct {
	cfg    Config
	log    *slog.Logger
	kinds  map[*api.Resource]*kind
	order  []*kind
	judge  *reconcile.Controller // keys: objects to judge (attemptToDelete)
	orphan *reconcile.Controller // keys: owners to orphan (attemptToOrphan)
}

// New registers the collector on cfg.Cache (before it runs) and returns
// it.
func New(cfg Config) *Collector {
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Collector{cfg: cfg, log: cfg.Logger.With("controller", Name), kinds: map[*api.Resource]*kind{}}
	g.judge = reconcile.New(reconcile.Config{Name: Name, Workers: cfg.Workers, Reconcile: g.attemptToDelete, Logger: cfg.Logger})
	g.orphan = reconcile.New(reconcile.Config{Name: Name + "-orphan", Workers: cfg.Workers, Reconcile: g.attemptToOrphan, Logger: cfg.Logger})
	g.watchAll(cfg.Cache)
	return g
}

// Run runs the collector's loops until ctx ends.
func (g *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.judge.Run(ctx) })
	wg.Go(func() { _ = g.orphan.Run(ctx) })
	wg.Wait()
	return nil
}

func itemKey(k *kind, obj client.Object) string {
	return strings.Join([]string{k.r.Resource + "." + k.r.Group, obj.GetNamespace(), obj.GetName(), string(obj.GetUID())}, "|")
}

func (g *Collector) parseKey(key string) (item, bool) {
	parts := strings.Split(key, "|")
	if len(parts) != 4 {
		return item{}, false
	}
	res, group, _ := strings.Cut(parts[0], ".")
	r, ok := api.Lookup(group, res)
	if !ok {
		return item{}, false
	}
	k, ok := g.kinds[r]
	if !ok {
		return item{}, false
	}
	return item{k: k, ns: parts[1], name: parts[2], uid: types.UID(parts[3])}, true
}

func deletingDependents(obj client.Object) bool {
	return obj.GetDeletionTimestamp() != nil && slices.Contains(obj.GetFinalizers(), metav1.FinalizerDeleteDependents)
}

func orphaning(obj client.Object) bool {
	return obj.GetDeletionTimestamp() != nil && slices.Contains(obj.GetFinalizers(), metav1.FinalizerOrphanDependents)
}

// kindOf resolves an owner reference's kind; ok is false when it is not
// served.
func (g *Collector) kindOf(ref metav1.OwnerReference) (*kind, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, false
	}
	r, ok := api.LookupKind(gv.WithKind(ref.Kind))
	if !ok {
		return nil, false
	}
	k, ok := g.kinds[r]
	return k, ok
}

// cachedOwner returns the cached owner a reference names, by UID.
func (g *Collector) cachedOwner(ref metav1.OwnerReference) (client.Object, *kind) {
	k, ok := g.kindOf(ref)
	if !ok {
		return nil, nil
	}
	if objs := k.cached(byUID, string(ref.UID)); len(objs) > 0 {
		return objs[0], k
	}
	return nil, k
}

// dependents returns every cached object that names uid as an owner.
func (g *Collector) dependents(uid types.UID) []dependent {
	var out []dependent
	for _, k := range g.order {
		for _, obj := range k.cached(byOwner, string(uid)) {
			out = append(out, dependent{k: k, obj: obj})
		}
	}
	return out
}

type dependent struct {
	k   *kind
	obj client.Object
}

// changed reacts to an object added or updated.
func (g *Collector) changed(k *kind, old, cur client.Object) {
	if deletingDependents(cur) {
		g.judge.Enqueue(itemKey(k, cur))
	}
	if orphaning(cur) {
		g.orphan.Enqueue(itemKey(k, cur))
	}
	refsChanged := old == nil || !slices.EqualFunc(old.GetOwnerReferences(), cur.GetOwnerReferences(), refEqual)
	if refsChanged && g.suspicious(cur) {
		g.judge.Enqueue(itemKey(k, cur))
	}
	// An owner deleting in the foreground may be waiting for this object:
	// its references or its deletion changed.
	if old != nil && (refsChanged || (old.GetDeletionTimestamp() == nil) != (cur.GetDeletionTimestamp() == nil)) {
		g.wakeOwners(old)
	}
	g.wakeOwners(cur)
}

func refEqual(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && boolVal(a.BlockOwnerDeletion) == boolVal(b.BlockOwnerDeletion)
}

func boolVal(b *bool) bool { return b != nil && *b }

// suspicious reports whether one of obj's owners is not known to exist or
// is being deleted in the foreground, so that obj must be judged.
func (g *Collector) suspicious(obj client.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		owner, _ := g.cachedOwner(ref)
		if owner == nil || deletingDependents(owner) {
			return true
		}
	}
	return false
}

// wakeOwners queues obj's owners that are deleting in the foreground.
func (g *Collector) wakeOwners(obj client.Object) {
	for _, ref := range obj.GetOwnerReferences() {
		if owner, k := g.cachedOwner(ref); owner != nil && deletingDependents(owner) {
			g.judge.Enqueue(itemKey(k, owner))
		}
	}
}

// deleted reacts to an object gone: its dependents are judged again, and
// its owners waiting for it are woken.
func (g *Collector) deleted(k *kind, obj client.Object) {
	for _, d := range g.dependents(obj.GetUID()) {
		g.judge.Enqueue(itemKey(d.k, d.obj))
	}
	g.wakeOwners(obj)
}

// ownership judges one reference of an object in namespace ns, reading
// the owner from the API server unless the cache knows it.
func (g *Collector) ownership(ctx context.Context, ns string, namespaced bool, ref metav1.OwnerReference) (Ownership, error) {
	k, ok := g.kindOf(ref)
	if !ok || (k.r.Namespaced && !namespaced) {
		return Unknown, nil
	}
	if owner, _ := g.cachedOwner(ref); owner != nil {
		if deletingDependents(owner) {
			return Waiting, nil
		}
		return Solid, nil
	}
	ons := ns
	if !k.r.Namespaced {
		ons = ""
	}
	owner, err := k.get(ctx, ons, ref.Name)
	switch {
	case apierrors.IsNotFound(err):
		return Dangling, nil
	case err != nil:
		return Unknown, fmt.Errorf("read owner %s %s: %w", ref.Kind, ref.Name, err)
	case owner.GetUID() != ref.UID:
		return Dangling, nil
	case deletingDependents(owner):
		return Waiting, nil
	}
	return Solid, nil
}

// attemptToDelete judges one object: deletes it when its owners are gone,
// or, for an owner deleting in the foreground, deletes its dependents and
// then lets it go.
func (g *Collector) attemptToDelete(ctx context.Context, key string) (reconcile.Result, error) {
	it, ok := g.parseKey(key)
	if !ok {
		return reconcile.Result{}, nil
	}
	if g.settled(it) {
		return reconcile.Result{}, nil
	}
	latest, err := it.k.get(ctx, it.ns, it.name)
	if apierrors.IsNotFound(err) {
		return reconcile.Result{}, nil
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if latest.GetUID() != it.uid {
		return reconcile.Result{}, nil // a new object of the same name
	}
	if deletingDependents(latest) {
		return reconcile.Result{}, g.drain(ctx, it, latest)
	}
	if latest.GetDeletionTimestamp() != nil {
		return reconcile.Result{}, nil // its own finalizers decide
	}
	refs := latest.GetOwnerReferences()
	if len(refs) == 0 {
		return reconcile.Result{}, nil
	}
	state := make(map[types.UID]Ownership, len(refs))
	for _, ref := range refs {
		s, err := g.ownership(ctx, it.ns, it.k.r.Namespaced, ref)
		if err != nil {
			return reconcile.Result{}, err
		}
		state[ref.UID] = s
	}
	deps := g.dependents(it.uid)
	o := Object{Refs: refs, Finalizers: latest.GetFinalizers(), HasDependents: len(deps) > 0}
	for _, d := range deps {
		if deletingDependents(d.obj) {
			o.DependentDeletingDependents = true
		}
	}
	v := Judge(o, state)
	switch v.Op {
	case RemoveRefs:
		g.log.Debug("remove owner references", "object", key, "owners", v.Remove)
		latest.SetOwnerReferences(slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool {
			return slices.Contains(v.Remove, r.UID)
		}))
		return reconcile.Result{}, ignoreNotFound(it.k.update(ctx, latest))
	case Delete:
		if v.Unblock {
			next := slices.Clone(refs)
			no := false
			for i := range next {
				next[i].BlockOwnerDeletion = &no
			}
			latest.SetOwnerReferences(next)
			if err := it.k.update(ctx, latest); err != nil {
				return reconcile.Result{}, ignoreNotFound(err)
			}
		}
		g.log.Debug("delete", "object", key, "propagation", v.Policy)
		uid := it.uid
		err := it.k.remove(ctx, it.ns, it.name, metav1.DeleteOptions{PropagationPolicy: &v.Policy, Preconditions: &metav1.Preconditions{UID: &uid}})
		if apierrors.IsConflict(err) {
			return reconcile.Result{}, nil // the name is another object's now
		}
		return reconcile.Result{}, ignoreNotFound(err)
	}
	return reconcile.Result{}, nil
}

// settled reports whether the cache shows it with every owner present and
// none deleting in the foreground, so that there is nothing to judge (a
// term's first sync queues every object whose owner's kind had not
// listed yet; this spares them a read each). A stale cache errs safely:
// an owner's deletion, when it arrives, queues its dependents again.
func (g *Collector) settled(it item) bool {
	objs := it.k.cached(byUID, string(it.uid))
	if len(objs) != 1 || objs[0].GetDeletionTimestamp() != nil || len(objs[0].GetOwnerReferences()) == 0 {
		return false
	}
	return !g.suspicious(objs[0])
}

// drain handles an owner deleting in the foreground.
func (g *Collector) drain(ctx context.Context, it item, owner client.Object) error {
	var deps []Dependent
	keys := map[string]bool{}
	for _, d := range g.dependents(it.uid) {
		blocking := false
		for _, ref := range d.obj.GetOwnerReferences() {
			if ref.UID == it.uid && boolVal(ref.BlockOwnerDeletion) {
				blocking = true
			}
		}
		k := itemKey(d.k, d.obj)
		keys[k] = true
		deps = append(deps, Dependent{Key: k, Blocking: blocking, DeletingDependents: deletingDependents(d.obj)})
	}
	done, judge := Drain(deps)
	if !done {
		for _, k := range judge {
			g.judge.Enqueue(k)
		}
		return nil
	}
	g.log.Debug("dependents gone: remove the foreground finalizer", "object", itemKey(it.k, owner))
	return removeFinalizer(ctx, it, owner, metav1.FinalizerDeleteDependents)
}

// attemptToOrphan removes an owner with the orphan finalizer from its
// dependents' references, then the finalizer.
func (g *Collector) attemptToOrphan(ctx context.Context, key string) (reconcile.Result, error) {
	it, ok := g.parseKey(key)
	if !ok {
		return reconcile.Result{}, nil
	}
	owner, err := it.k.get(ctx, it.ns, it.name)
	if apierrors.IsNotFound(err) {
		return reconcile.Result{}, nil
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if owner.GetUID() != it.uid || !orphaning(owner) {
		return reconcile.Result{}, nil
	}
	var errs []error
	for _, d := range g.dependents(it.uid) {
		if err := g.dropRef(ctx, d, it.uid); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{}, removeFinalizer(ctx, it, owner, metav1.FinalizerOrphanDependents)
}

// dropRef removes the reference to uid from a dependent, reading it
// afresh when the cached copy is stale.
func (g *Collector) dropRef(ctx context.Context, d dependent, uid types.UID) error {
	obj := d.obj
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			fresh, err := d.k.get(ctx, obj.GetNamespace(), obj.GetName())
			if err != nil {
				return ignoreNotFound(err)
			}
			if fresh.GetUID() != d.obj.GetUID() {
				return nil
			}
			obj = fresh
		}
		refs := obj.GetOwnerReferences()
		if !slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid }) {
			return nil
		}
		next := obj.DeepCopyObject().(client.Object)
		next.SetOwnerReferences(slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool { return r.UID == uid }))
		err := d.k.update(ctx, next)
		if apierrors.IsConflict(err) && attempt < 3 {
			continue
		}
		return ignoreNotFound(err)
	}
}

func removeFinalizer(ctx context.Context, it item, obj client.Object, f string) error {
	obj.SetFinalizers(slices.DeleteFunc(slices.Clone(obj.GetFinalizers()), func(x string) bool { return x == f }))
	return ignoreNotFound(it.k.update(ctx, obj))
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
