package dependents

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/expect"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
	"github.com/skiffhq/skiff/sdk/client"
)

// Owners finds the cached owners of kind Kind that dependents concern.
// All fields are required.
type Owners[O client.Object] struct {
	Cache *cache.Informer[O]
	Kind  schema.GroupVersionKind
	// Selector is an owner's label selector.
	Selector func(O) *metav1.LabelSelector
}

// Controller returns the cached owner that controls dep: its controller
// reference names Kind, and the cached object of that name has the
// reference's UID (a re-created owner of the same name does not).
func (o Owners[O]) Controller(dep metav1.Object) (O, bool) {
	var zero O
	ref := owner.ControllerOf(dep)
	if ref == nil || ref.Kind != o.Kind.Kind || ref.APIVersion != o.Kind.GroupVersion().String() {
		return zero, false
	}
	obj, ok := o.Cache.Get(dep.GetNamespace(), ref.Name)
	if !ok || obj.GetUID() != ref.UID {
		return zero, false
	}
	return obj, true
}

// Matching returns the cached owners in dep's namespace whose selector
// matches dep's labels: those that may adopt it if it is an orphan. An
// invalid or empty selector matches nothing.
func (o Owners[O]) Matching(dep metav1.Object) []O {
	var out []O
	for _, obj := range o.Cache.List(dep.GetNamespace()) {
		sel, err := metav1.LabelSelectorAsSelector(o.Selector(obj))
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(dep.GetLabels())) {
			out = append(out, obj)
		}
	}
	return out
}

// Changed queues, with enqueue, the owners an added or deleted dependent
// concerns: its cached controller, or, if it has no controller at all,
// the owners whose selector matches it.
func (o Owners[O]) Changed(dep metav1.Object, enqueue func(O)) {
	if owner.ControllerOf(dep) != nil {
		if obj, ok := o.Controller(dep); ok {
			enqueue(obj)
		}
		return
	}
	for _, obj := range o.Matching(dep) {
		enqueue(obj)
	}
}

// Updated queues, with enqueue, the owners an update of a dependent
// concerns, by kube-controller-manager's rules: none if its
// resourceVersion did not change (a resync); its former controller if the
// controller reference changed or went; its controller if it has one;
// else, if it was just released or its labels changed, the owners whose
// selector matches it now.
func (o Owners[O]) Updated(old, cur metav1.Object, enqueue func(O)) {
	if old.GetResourceVersion() == cur.GetResourceVersion() {
		return
	}
	oldRef, curRef := owner.ControllerOf(old), owner.ControllerOf(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if obj, ok := o.Controller(old); ok {
			enqueue(obj)
		}
	}
	if curRef != nil {
		if obj, ok := o.Controller(cur); ok {
			enqueue(obj)
		}
		return
	}
	if oldRef != nil || !labels.Equals(old.GetLabels(), cur.GetLabels()) {
		for _, obj := range o.Matching(cur) {
			enqueue(obj)
		}
	}
}

// keyOf is obj's reconcile key.
func keyOf(obj metav1.Object) string { return reconcile.Key(obj.GetNamespace(), obj.GetName()) }

// Expecting returns the pod handlers of a controller that keeps
// expectations in exp, keyed by owner: a pod event of a cached owner
// observes a creation (a new pod) or a deletion (a pod deleted or newly
// terminating) and queues the owner's key with enqueue. Any other pod
// event goes to unowned, with old nil for an added pod (a deleted pod
// without a cached owner concerns no one); unowned may be nil.
func Expecting[O client.Object](owners Owners[O], exp *expect.Expectations, enqueue func(key string), unowned func(old, cur *corev1.Pod)) client.Handlers[*corev1.Pod] {
	if unowned == nil {
		unowned = func(_, _ *corev1.Pod) {}
	}
	return client.Handlers[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) {
			o, ok := owners.Controller(p)
			if !ok {
				unowned(nil, p)
				return
			}
			key := keyOf(o)
			if p.DeletionTimestamp != nil {
				exp.DeletionObserved(key, p.UID)
			} else {
				exp.CreationObserved(key)
			}
			enqueue(key)
		},
		OnUpdate: func(old, cur *corev1.Pod) {
			o, ok := owners.Controller(cur)
			if !ok {
				unowned(old, cur)
				return
			}
			key := keyOf(o)
			if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
				exp.DeletionObserved(key, cur.UID)
			}
			enqueue(key)
		},
		OnDelete: func(p *corev1.Pod) {
			if o, ok := owners.Controller(p); ok {
				key := keyOf(o)
				exp.DeletionObserved(key, p.UID)
				enqueue(key)
			}
		},
	}
}
