package gc

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Ownership is the state of one owner reference.
type Ownership int

// The states of an owner reference.
const (
	// Solid: the owner exists (same UID) and is not being deleted in the
	// foreground.
	Solid Ownership = iota
	// Dangling: the owner is gone, or the name now belongs to another
	// object (another UID).
	Dangling
	// Waiting: the owner is being deleted in the foreground and waits for
	// its dependents to go first.
	Waiting
	// Unknown: the owner's kind is not served or cannot own this object
	// (a namespaced owner of a cluster-scoped object); nothing is decided
	// on such a reference.
	Unknown
)

func (o Ownership) String() string { return [...]string{"solid", "dangling", "waiting", "unknown"}[o] }

// Op is what to do with an object whose owners were judged.
type Op int

// The outcomes.
const (
	// Keep the object as it is.
	Keep Op = iota
	// RemoveRefs: drop the references in Verdict.Remove; the object stays
	// because another owner still holds it.
	RemoveRefs
	// Delete the object with Verdict.Policy.
	Delete
)

func (o Op) String() string { return [...]string{"keep", "remove-refs", "delete"}[o] }

// Verdict is what Judge decides.
type Verdict struct {
	Op Op
	// Remove are the owner UIDs whose references to drop (RemoveRefs).
	Remove []types.UID
	// Unblock: before deleting, clear blockOwnerDeletion on every owner
	// reference (to break a possible cycle of foreground deletions).
	Unblock bool
	// Policy is the deletion's propagation (Delete).
	Policy metav1.DeletionPropagation
}

// Object is what Judge needs to know of the object under judgement.
type Object struct {
	Refs       []metav1.OwnerReference
	Finalizers []string
	// HasDependents: other objects name this one as an owner.
	HasDependents bool
	// DependentDeletingDependents: one of them is itself being deleted in
	// the foreground.
	DependentDeletingDependents bool
}

// Judge decides the fate of an object (not being deleted) from the state
// of each of its owner references, as Kubernetes' garbage collector does:
//
//   - with a solid owner it stays, losing its references to dangling and
//     waiting owners (so that those can finish);
//   - with no solid owner but one waiting for its dependents, an object
//     that has dependents of its own is deleted in the foreground too (so
//     that the wait propagates down), clearing blockOwnerDeletion first if
//     one of them is also deleting in the foreground (a possible cycle);
//   - otherwise, with no solid owner, it is deleted, with the propagation
//     its own finalizers ask for (orphan, foreground) or in the background.
//
// An object with no owner references, or with an Unknown one, is kept.
func Judge(o Object, state map[types.UID]Ownership) Verdict {
	if len(o.Refs) == 0 {
		return Verdict{Op: Keep}
	}
	var solid, dangling, waiting []types.UID
	for _, r := range o.Refs {
		switch state[r.UID] {
		case Solid:
			solid = append(solid, r.UID)
		case Dangling:
			dangling = append(dangling, r.UID)
		case Waiting:
			waiting = append(waiting, r.UID)
		default:
			return Verdict{Op: Keep}
		}
	}
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return Verdict{Op: Keep}
		}
		return Verdict{Op: RemoveRefs, Remove: append(dangling, waiting...)}
	case len(waiting) > 0 && o.HasDependents:
		return Verdict{Op: Delete, Policy: metav1.DeletePropagationForeground, Unblock: o.DependentDeletingDependents}
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case slices.Contains(o.Finalizers, metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case slices.Contains(o.Finalizers, metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	}
	return Verdict{Op: Delete, Policy: policy}
}

// Dependent is an object that names an owner being deleted in the
// foreground.
type Dependent struct {
	Key string
	// Blocking: its reference has blockOwnerDeletion.
	Blocking bool
	// DeletingDependents: it is itself being deleted in the foreground.
	DeletingDependents bool
}

// Drain decides for an owner being deleted in the foreground: when no
// dependent blocks it any more, its foregroundDeletion finalizer comes
// off (done); otherwise the blocking dependents not already deleting in
// the foreground are to be judged (and so deleted) now.
func Drain(deps []Dependent) (done bool, judge []string) {
	blocking := false
	for _, d := range deps {
		if !d.Blocking {
			continue
		}
		blocking = true
		if !d.DeletingDependents {
			judge = append(judge, d.Key)
		}
	}
	return !blocking, judge
}
