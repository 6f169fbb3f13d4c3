package owner

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is what a Claimer handles: an API object it can copy.
type Object interface {
	metav1.Object
	runtime.Object
}

// Getter reads an owner afresh from the API server (a *client.Typed
// satisfies it).
type Getter[O Object] interface {
	Get(ctx context.Context, ns, name string) (O, error)
}

// Updater writes a dependent back to the API server (a *client.Typed
// satisfies it).
type Updater[T Object] interface {
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// Claimer claims dependents of type T for owners of type O and kind Kind:
// it decides with Claim and writes the adoptions and releases.
type Claimer[O, T Object] struct {
	// Kind is the owners' kind, written into the controller references of
	// adopted dependents.
	Kind schema.GroupVersionKind
	// Owners rechecks an owner before it adopts.
	Owners Getter[O]
	// Dependents writes the adopted and released dependents.
	Dependents Updater[T]
}

// Claim claims candidates (objects in o's namespace, as cached) for o with
// selector sel and returns the dependents o owns afterwards: those it
// already controlled and matched, and those it adopted. Before adopting it
// reads o afresh and adopts nothing if o is gone, was re-created (another
// UID) or is being deleted; it fails if that read fails. A dependent gone
// meanwhile is skipped; other failed writes are joined into the error,
// with the dependents written so far still returned. Candidates are not
// modified.
func (c Claimer[O, T]) Claim(ctx context.Context, o O, sel labels.Selector, candidates []T) ([]T, error) {
	cl := Claim(o, sel, candidates)
	owned := cl.Owned
	if len(cl.Adopt) > 0 {
		fresh, err := c.Owners.Get(ctx, o.GetNamespace(), o.GetName())
		switch {
		case apierrors.IsNotFound(err):
			cl.Adopt = nil
		case err != nil:
			return nil, fmt.Errorf("recheck before adoption: %w", err)
		case fresh.GetUID() != o.GetUID() || fresh.GetDeletionTimestamp() != nil:
			cl.Adopt = nil
		}
	}
	ref := NewControllerRef(o, c.Kind)
	var errs []error
	for _, obj := range cl.Adopt {
		out, err := c.update(ctx, obj, WithControllerRef(obj.GetOwnerReferences(), ref))
		if err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("adopt %s: %w", obj.GetName(), err))
			}
			continue
		}
		owned = append(owned, out)
	}
	for _, obj := range cl.Release {
		if _, err := c.update(ctx, obj, WithoutOwner(obj.GetOwnerReferences(), o.GetUID())); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("release %s: %w", obj.GetName(), err))
		}
	}
	return owned, errors.Join(errs...)
}

// update writes a copy of obj with refs as its owner references.
func (c Claimer[O, T]) update(ctx context.Context, obj T, refs []metav1.OwnerReference) (T, error) {
	up, ok := obj.DeepCopyObject().(T)
	if !ok {
		panic(fmt.Sprintf("bug: owner: %T copies to another type", obj))
	}
	up.SetOwnerReferences(refs)
	return c.Dependents.Update(ctx, up, metav1.UpdateOptions{})
}
