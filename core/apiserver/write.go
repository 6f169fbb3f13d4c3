package apiserver

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/core/validation"
	"github.com/skiffhq/skiff/sdk/api"
)

// Result is an object the server stored (or would store, for a dry run):
// the decoded object with its resourceVersion set, and its stored
// encoding, which does not carry the resourceVersion.
type Result struct {
	Object   runtime.Object
	Raw      []byte
	Revision uint64
}

func isDryRun(dryRun []string) (bool, error) {
	for _, d := range dryRun {
		if d != metav1.DryRunAll {
			return false, apierrors.NewBadRequest(fmt.Sprintf("unsupported dryRun value %q: only %q is supported", d, metav1.DryRunAll))
		}
	}
	return len(dryRun) > 0, nil
}

// checkKind makes sure obj is of r's kind.
func checkKind(r *api.Resource, obj runtime.Object) error {
	want := r.New()
	if fmt.Sprintf("%T", obj) != fmt.Sprintf("%T", want) {
		gvk := obj.GetObjectKind().GroupVersionKind()
		return apierrors.NewBadRequest(fmt.Sprintf("the body of the request is a %s (%T), not a %s", gvk.Kind, obj, r.Kind))
	}
	return nil
}

// scope checks the namespace of the request against the object's and
// returns the namespace to use.
func scope(r *api.Resource, reqNS string, m metav1Object) (string, error) {
	if !r.Namespaced {
		if m.GetNamespace() != "" {
			m.SetNamespace("")
		}
		return "", nil
	}
	ns := reqNS
	if ns == "" {
		ns = m.GetNamespace()
	}
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	if m.GetNamespace() != "" && m.GetNamespace() != ns {
		return "", apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	m.SetNamespace(ns)
	return ns, nil
}

func invalid(r *api.Resource, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(r.GVK().GroupKind(), name, errs)
}

// encode stores obj's encoding, enforcing the size limit.
// The stored encoding never carries a resourceVersion: the revision is the
// store's, so obj's is cleared while it is encoded.
func encode(obj runtime.Object) ([]byte, error) {
	m := accessor(obj)
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	raw, err := api.Encode(obj)
	m.SetResourceVersion(rv)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if len(raw) > MaxObjectSize {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the object is %d bytes, limit is %d", len(raw), MaxObjectSize))
	}
	return raw, nil
}

// Create validates, defaults and stores a new object of resource r in
// namespace ns (ignored for cluster-scoped resources).
func (s *Server) Create(ctx context.Context, r *api.Resource, ns string, obj runtime.Object, opts metav1.CreateOptions) (_ Result, rerr error) {
	dry, err := isDryRun(opts.DryRun)
	if err != nil {
		return Result{}, err
	}
	if err := checkKind(r, obj); err != nil {
		return Result{}, err
	}
	m := accessor(obj)
	if ns, err = scope(r, ns, m); err != nil {
		return Result{}, err
	}
	if m.GetResourceVersion() != "" {
		return Result{}, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + randomSuffix(5))
	}
	m.SetUID(types.UID(uuid.NewString()))
	m.SetCreationTimestamp(metav1.NewTime(s.now().UTC().Truncate(1e9)))
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetManagedFields(nil)
	m.SetSelfLink("")
	if hasSpec(obj) {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
	resetStatus(obj)
	validation.Default(obj)
	if err := invalid(r, m.GetName(), validation.Validate(obj)); err != nil {
		return Result{}, err
	}
	if r.Namespaced {
		if err := s.namespaceOpen(ctx, ns); err != nil {
			return Result{}, err
		}
	}
	if svc, ok := obj.(*corev1.Service); ok && !dry {
		// An existing Service must be reported as such, not as a taken IP.
		if _, err := s.store.Get(ctx, api.Key(r, ns, m.GetName())); err == nil {
			return Result{}, apierrors.NewAlreadyExists(r.GroupResource(), m.GetName())
		}
		undo, err := s.assignClusterIP(ctx, svc)
		if err != nil {
			return Result{}, err
		}
		defer func() {
			if rerr != nil {
				undo()
			}
		}()
	}
	raw, err := encode(obj)
	if err != nil {
		return Result{}, err
	}
	if dry {
		return Result{Object: obj, Raw: raw}, nil
	}
	rev, err := s.store.Create(ctx, api.Key(r, ns, m.GetName()), raw)
	if err != nil {
		return Result{}, storeError(err, r, m.GetName())
	}
	m.SetResourceVersion(api.FormatRevision(rev))
	if r == api.Pods {
		s.indexPod(ctx, obj, raw, rev, false)
	}
	if r == api.Namespaces {
		if err := s.ensureNamespaceContent(ctx, m.GetName()); err != nil {
			s.log.Warn("namespace content", "namespace", m.GetName(), "err", err)
		}
	}
	return Result{Object: obj, Raw: raw, Revision: rev}, nil
}

// namespaceOpen fails unless namespace ns exists and is not terminating.
func (s *Server) namespaceOpen(ctx context.Context, ns string) error {
	if open, known := s.ns.state(ns); known && open {
		return nil
	}
	e, err := s.store.Get(ctx, api.Key(api.Namespaces, "", ns))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return apierrors.NewNotFound(api.Namespaces.GroupResource(), ns)
		}
		return storeError(err, api.Namespaces, ns)
	}
	var n corev1.Namespace
	if _, err := api.Decode(e.Value, &n); err != nil {
		return apierrors.NewInternalError(err)
	}
	if n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating {
		err := apierrors.NewForbidden(api.Namespaces.GroupResource(), ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
		err.ErrStatus.Reason = metav1.StatusReasonForbidden
		err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause, Message: "namespace " + ns + " is being terminated", Field: "metadata.namespace"}}
		return err
	}
	return nil
}

// maxRetries bounds the retries of an unconditional write that keeps
// losing compare-and-swap races.
const maxRetries = 16

// Update replaces an object (subresource "") or its status (subresource
// "status"). An object with a resourceVersion is a conditional update (409
// on mismatch); one without is applied to the latest version.
func (s *Server) Update(ctx context.Context, r *api.Resource, ns, name, subresource string, obj runtime.Object, opts metav1.UpdateOptions) (Result, error) {
	dry, err := isDryRun(opts.DryRun)
	if err != nil {
		return Result{}, err
	}
	if err := checkKind(r, obj); err != nil {
		return Result{}, err
	}
	switch subresource {
	case "":
	case "status":
		if !r.Status {
			return Result{}, apierrors.NewNotFound(r.GroupResource(), name+"/status")
		}
	default:
		return Result{}, apierrors.NewNotFound(r.GroupResource(), name+"/"+subresource)
	}
	m := accessor(obj)
	if ns, err = scope(r, ns, m); err != nil {
		return Result{}, err
	}
	if m.GetName() == "" {
		m.SetName(name)
	}
	if m.GetName() != name {
		return Result{}, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), name))
	}
	want, err := api.ParseRevision(m.GetResourceVersion())
	if err != nil {
		return Result{}, apierrors.NewBadRequest(err.Error())
	}
	key := api.Key(r, ns, name)
	for attempt := 0; ; attempt++ {
		cur, curRev, err := s.get(ctx, r, key, name)
		if err != nil {
			return Result{}, err
		}
		if want != 0 && want != curRev {
			return Result{}, apierrors.NewConflict(r.GroupResource(), name, errors.New(msgConflict))
		}
		next := obj
		if attempt > 0 {
			next = obj.DeepCopyObject()
		}
		if err := s.prepareUpdate(r, subresource, next, cur); err != nil {
			return Result{}, err
		}
		nm := accessor(next)
		if nm.GetDeletionTimestamp() != nil && len(nm.GetFinalizers()) == 0 && !gracefulPending(cur) {
			// The last finalizer is gone: the deletion completes now. (As
			// Kubernetes' ShouldDeleteDuringUpdate: not while a graceful
			// deletion is still running — a terminating pod's status writes
			// must not remove it.)
			if dry {
				return Result{Object: next}, nil
			}
			res, err := s.remove(ctx, r, key, name, curRev, next)
			if errors.Is(err, errRetry) && want == 0 && attempt < maxRetries {
				continue
			}
			return res, err
		}
		raw, err := encode(next)
		if err != nil {
			return Result{}, err
		}
		if dry {
			nm.SetResourceVersion(api.FormatRevision(curRev))
			return Result{Object: next, Raw: raw, Revision: curRev}, nil
		}
		rev, err := s.store.Update(ctx, key, raw, curRev)
		if errors.Is(err, store.ErrConflict) && want == 0 && attempt < maxRetries {
			continue
		}
		if err != nil {
			return Result{}, storeError(err, r, name)
		}
		nm.SetResourceVersion(api.FormatRevision(rev))
		if r == api.Pods {
			s.indexPod(ctx, next, raw, rev, false)
		}
		return Result{Object: next, Raw: raw, Revision: rev}, nil
	}
}

// prepareUpdate carries over from cur what the writer of next may not
// change, bumps the generation, and validates.
func (s *Server) prepareUpdate(r *api.Resource, subresource string, next, cur runtime.Object) error {
	nm, cm := accessor(next), accessor(cur)
	if nm.GetUID() != "" && nm.GetUID() != cm.GetUID() {
		return apierrors.NewConflict(r.GroupResource(), cm.GetName(),
			fmt.Errorf("the UID in the object (%s) does not match the stored object (%s)", nm.GetUID(), cm.GetUID()))
	}
	nm.SetUID(cm.GetUID())
	nm.SetCreationTimestamp(cm.GetCreationTimestamp())
	nm.SetDeletionTimestamp(cm.GetDeletionTimestamp())
	nm.SetDeletionGracePeriodSeconds(cm.GetDeletionGracePeriodSeconds())
	nm.SetGeneration(cm.GetGeneration())
	nm.SetManagedFields(nil)
	nm.SetSelfLink("")
	if cm.GetDeletionTimestamp() != nil {
		// Finalizers may only be removed from an object being deleted.
		for _, f := range nm.GetFinalizers() {
			if !slices.Contains(cm.GetFinalizers(), f) {
				return apierrors.NewForbidden(r.GroupResource(), cm.GetName(),
					fmt.Errorf("no new finalizers can be added if the object is being deleted, found new finalizers %q", f))
			}
		}
	}
	var errs field.ErrorList
	if subresource == "status" {
		// A status write changes the status and nothing else.
		copyField(next, cur, "Spec")
		nm.SetLabels(cm.GetLabels())
		nm.SetAnnotations(cm.GetAnnotations())
		nm.SetFinalizers(cm.GetFinalizers())
		nm.SetOwnerReferences(cm.GetOwnerReferences())
		errs = validation.ValidateStatusUpdate(next, cur)
	} else {
		if r.Status {
			copyField(next, cur, "Status")
		}
		if svc, ok := next.(*corev1.Service); ok {
			old := cur.(*corev1.Service)
			// As kube-apiserver: an update that leaves out the allocated
			// ClusterIPs keeps them.
			if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 && svc.Spec.Type == old.Spec.Type {
				svc.Spec.ClusterIP, svc.Spec.ClusterIPs = old.Spec.ClusterIP, old.Spec.ClusterIPs
				svc.Spec.IPFamilies, svc.Spec.IPFamilyPolicy = old.Spec.IPFamilies, old.Spec.IPFamilyPolicy
			}
		}
		if specChanged(next, cur) {
			nm.SetGeneration(cm.GetGeneration() + 1)
		}
		validation.Default(next)
		errs = validation.ValidateUpdate(next, cur)
	}
	return invalid(r, cm.GetName(), errs)
}

// gracefulPending reports whether obj is in a graceful deletion whose
// grace period has not been cut to zero.
func gracefulPending(obj runtime.Object) bool {
	g := accessor(obj).GetDeletionGracePeriodSeconds()
	return g != nil && *g > 0
}

// errRetry marks a compare-and-swap loss inside a multi-step write.
var errRetry = errors.New("apiserver: retry")

// remove deletes key at rev, leaving last in the tombstone.
func (s *Server) remove(ctx context.Context, r *api.Resource, key, name string, rev uint64, last runtime.Object) (Result, error) {
	raw, err := encode(last)
	if err != nil {
		return Result{}, err
	}
	drev, err := s.store.Delete(ctx, key, rev, raw)
	if errors.Is(err, store.ErrConflict) {
		return Result{}, fmt.Errorf("%w: %w", errRetry, storeError(err, r, name))
	}
	if err != nil {
		return Result{}, storeError(err, r, name)
	}
	accessor(last).SetResourceVersion(api.FormatRevision(drev))
	if r == api.Pods {
		s.indexPod(ctx, last, raw, drev, true)
	}
	if svc, ok := last.(*corev1.Service); ok {
		s.releaseClusterIP(ctx, svc)
	}
	return Result{Object: last, Raw: raw, Revision: drev}, nil
}
