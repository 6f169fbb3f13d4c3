package owner

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ControllerOf returns obj's controller reference (controller: true), or
// nil.
func ControllerOf(obj metav1.Object) *metav1.OwnerReference {
	refs := obj.GetOwnerReferences()
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	return nil
}

// IsControlledBy reports whether obj's controller is the object with uid.
func IsControlledBy(obj metav1.Object, uid types.UID) bool {
	ref := ControllerOf(obj)
	return ref != nil && ref.UID == uid
}

// NewControllerRef is the reference an owner of kind gvk puts on what it
// creates or adopts: controller, and blocking the owner's foreground
// deletion until the dependent is gone.
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: owner.GetName(),
		UID: owner.GetUID(), Controller: &yes, BlockOwnerDeletion: &yes}
}

// WithControllerRef returns refs with ref added (a copy; refs is not
// modified). Any existing reference to the same UID is replaced.
func WithControllerRef(refs []metav1.OwnerReference, ref metav1.OwnerReference) []metav1.OwnerReference {
	out := WithoutOwner(refs, ref.UID)
	return append(out, ref)
}

// WithoutOwner returns refs without the references to uid (a copy).
func WithoutOwner(refs []metav1.OwnerReference, uid types.UID) []metav1.OwnerReference {
	out := make([]metav1.OwnerReference, 0, len(refs))
	for _, r := range refs {
		if r.UID != uid {
			out = append(out, r)
		}
	}
	return out
}

// Claims is the outcome of Claim.
type Claims[T metav1.Object] struct {
	// Owned are controlled by the owner and match its selector.
	Owned []T
	// Adopt are orphans that match and that the owner should adopt.
	Adopt []T
	// Release are controlled by the owner but no longer match: the owner
	// should remove its reference from them.
	Release []T
}

// Claim sorts candidates (objects in the owner's namespace) for an owner
// with selector sel: an object controlled by another owner is left
// alone; a terminating orphan is not adopted; an owner being deleted
// neither adopts nor releases.
func Claim[T metav1.Object](owner metav1.Object, sel labels.Selector, candidates []T) Claims[T] {
	var c Claims[T]
	deleting := owner.GetDeletionTimestamp() != nil
	for _, obj := range candidates {
		match := sel.Matches(labels.Set(obj.GetLabels()))
		if ref := ControllerOf(obj); ref != nil {
			switch {
			case ref.UID != owner.GetUID():
			case match:
				c.Owned = append(c.Owned, obj)
			case !deleting:
				c.Release = append(c.Release, obj)
			}
			continue
		}
		if match && !deleting && obj.GetDeletionTimestamp() == nil {
			c.Adopt = append(c.Adopt, obj)
		}
	}
	return c
}

// References reports whether refs point at uid.
func References(refs []metav1.OwnerReference, uid types.UID) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
}
