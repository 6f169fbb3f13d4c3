package apiserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/sdk/api"
)

// DeleteResult says what a deletion did.
type DeleteResult struct {
	Result
	// Gone is true when the object no longer exists; false when it is now
	// being deleted (graceful pod deletion, finalizers, namespaces).
	Gone bool
}

// Delete deletes an object. Pods bound to a node are deleted gracefully
// (their deletionTimestamp is set; the node agent removes them once their
// containers have stopped), objects with finalizers wait for them, and
// namespaces are emptied first; anything else is removed at once.
func (s *Server) Delete(ctx context.Context, r *api.Resource, ns, name string, opts metav1.DeleteOptions) (DeleteResult, error) {
	dry, err := isDryRun(opts.DryRun)
	if err != nil {
		return DeleteResult{}, err
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return DeleteResult{}, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy %q is not one of Orphan, Background, Foreground", *p))
		}
	}
	if opts.OrphanDependents != nil && opts.PropagationPolicy != nil {
		return DeleteResult{}, invalid(r, name, field.ErrorList{field.Invalid(field.NewPath("orphanDependents"), *opts.OrphanDependents,
			"orphanDependents and propagationPolicy cannot both be set")})
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		return DeleteResult{}, apierrors.NewBadRequest("gracePeriodSeconds must not be negative")
	}
	if !r.Namespaced {
		ns = ""
	}
	key := api.Key(r, ns, name)
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.get(ctx, r, key, name)
		if err != nil {
			return DeleteResult{}, err
		}
		m := accessor(cur)
		if pre := opts.Preconditions; pre != nil {
			if pre.UID != nil && *pre.UID != m.GetUID() {
				return DeleteResult{}, apierrors.NewConflict(r.GroupResource(), name,
					fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *pre.UID, m.GetUID())) //nolint:staticcheck // Kubernetes' own message
			}
			if pre.ResourceVersion != nil && *pre.ResourceVersion != m.GetResourceVersion() {
				return DeleteResult{}, apierrors.NewConflict(r.GroupResource(), name,
					fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *pre.ResourceVersion, m.GetResourceVersion())) //nolint:staticcheck // Kubernetes' own message
			}
		}
		next, graceful := s.deletionPlan(r, cur, opts)
		if dry {
			return DeleteResult{Result: Result{Object: next}, Gone: !graceful}, nil
		}
		var res Result
		if graceful {
			raw, err := encode(next)
			if err != nil {
				return DeleteResult{}, err
			}
			nrev, err := s.store.Update(ctx, key, raw, rev)
			if err == nil {
				accessor(next).SetResourceVersion(api.FormatRevision(nrev))
				if r == api.Pods {
					s.indexPod(ctx, next, raw, nrev, false)
				}
				if r == api.Namespaces {
					// This replica refuses new content at once; others learn
					// it from their watch a moment later, and the finalizer
					// removes anything created in that window.
					s.ns.put(name, false)
					s.wakeNamespaces()
				}
				return DeleteResult{Result: Result{Object: next, Raw: raw, Revision: nrev}}, nil
			}
			err = storeError(err, r, name)
			if apierrors.IsConflict(err) && attempt < maxRetries {
				continue
			}
			return DeleteResult{}, err
		}
		res, err = s.remove(ctx, r, key, name, rev, cur)
		if errors.Is(err, errRetry) && attempt < maxRetries {
			continue
		}
		if err != nil {
			return DeleteResult{}, err
		}
		return DeleteResult{Result: res, Gone: true}, nil
	}
}

// deletionPlan decides whether cur is removed now (graceful false) or
// marked for deletion, and returns the object to store or report.
func (s *Server) deletionPlan(r *api.Resource, cur runtime.Object, opts metav1.DeleteOptions) (runtime.Object, bool) {
	m := accessor(cur)
	now := metav1.NewTime(s.now().UTC().Truncate(time.Second))
	fin := gcFinalizers(m.GetFinalizers(), opts)
	finChanged := !slices.Equal(fin, m.GetFinalizers())
	switch o := cur.(type) {
	case *corev1.Namespace:
		if o.DeletionTimestamp == nil {
			next := o.DeepCopy()
			next.DeletionTimestamp = &now
			next.DeletionGracePeriodSeconds = new(int64)
			next.Status.Phase = corev1.NamespaceTerminating
			return next, true
		}
		return cur, true
	case *corev1.Pod:
		terminal := o.Status.Phase == corev1.PodSucceeded || o.Status.Phase == corev1.PodFailed
		grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
		if o.Spec.TerminationGracePeriodSeconds != nil {
			grace = *o.Spec.TerminationGracePeriodSeconds
		}
		if opts.GracePeriodSeconds != nil {
			grace = *opts.GracePeriodSeconds
		}
		if o.Spec.NodeName != "" && !terminal && grace > 0 {
			if o.DeletionGracePeriodSeconds != nil && *o.DeletionGracePeriodSeconds <= grace && !finChanged {
				return cur, true // already terminating at least as fast
			}
			next := o.DeepCopy()
			next.Finalizers = fin
			if o.DeletionGracePeriodSeconds == nil || *o.DeletionGracePeriodSeconds > grace {
				at := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
				next.DeletionTimestamp = &at
				next.DeletionGracePeriodSeconds = &grace
			}
			return next, true
		}
	}
	if len(fin) > 0 {
		// A shorter grace period cuts a pending one, as Kubernetes does:
		// a node agent's delete with grace 0 of a pod still held by a
		// finalizer must let the pod go once the finalizer does.
		g := m.GetDeletionGracePeriodSeconds()
		shorter := m.GetDeletionTimestamp() != nil && g != nil && opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds < *g
		if m.GetDeletionTimestamp() != nil && !finChanged && !shorter {
			return cur, true
		}
		next := cur.DeepCopyObject()
		nm := accessor(next)
		nm.SetFinalizers(fin)
		switch {
		case nm.GetDeletionTimestamp() == nil:
			nm.SetDeletionTimestamp(&now)
			nm.SetDeletionGracePeriodSeconds(new(int64))
		case shorter:
			at := metav1.NewTime(now.Add(time.Duration(max(*opts.GracePeriodSeconds, 0)) * time.Second))
			nm.SetDeletionTimestamp(&at)
			grace := max(*opts.GracePeriodSeconds, 0)
			nm.SetDeletionGracePeriodSeconds(&grace)
		}
		return next, true
	}
	return cur, false
}

// gcFinalizers returns the object's finalizers adjusted for the deletion's
// propagation policy, as kube-apiserver does: Orphan adds the "orphan"
// finalizer and Foreground "foregroundDeletion" (the garbage collector
// acts on them and removes them); Background adds neither. Without a
// policy, orphanDependents decides, then a policy finalizer the object
// already carries, then Background.
func gcFinalizers(cur []string, opts metav1.DeleteOptions) []string {
	policy := metav1.DeletePropagationBackground
	switch {
	case opts.PropagationPolicy != nil:
		policy = *opts.PropagationPolicy
	case opts.OrphanDependents != nil && *opts.OrphanDependents:
		policy = metav1.DeletePropagationOrphan
	case opts.OrphanDependents != nil:
	case slices.Contains(cur, metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case slices.Contains(cur, metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	}
	out := slices.DeleteFunc(slices.Clone(cur), func(f string) bool {
		return f == metav1.FinalizerOrphanDependents || f == metav1.FinalizerDeleteDependents
	})
	switch policy {
	case metav1.DeletePropagationOrphan:
		out = append(out, metav1.FinalizerOrphanDependents)
	case metav1.DeletePropagationForeground:
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// DeleteCollection deletes every object of r in ns that matches the
// selectors and returns how many it deleted or marked for deletion.
func (s *Server) DeleteCollection(ctx context.Context, r *api.Resource, ns string, lopts metav1.ListOptions, dopts metav1.DeleteOptions) (int, error) {
	lopts.Limit, lopts.Continue = 0, ""
	res, err := s.List(ctx, r, ns, lopts, ListConfig{Decode: true})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range res.Items {
		m := accessor(it.Object)
		if _, err := s.Delete(ctx, r, m.GetNamespace(), m.GetName(), dopts); err != nil && !apierrors.IsNotFound(err) {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Server) wakeNamespaces() {
	select {
	case s.nsWake <- struct{}{}:
	default:
	}
}

// finalizeNamespaces empties every namespace that is being deleted and
// removes it once nothing is left in it.
func (s *Server) finalizeNamespaces(ctx context.Context) {
	res, err := s.List(ctx, api.Namespaces, "", metav1.ListOptions{}, ListConfig{Decode: true})
	if err != nil {
		s.log.Warn("list namespaces", "err", err)
		return
	}
	for _, it := range res.Items {
		ns := it.Object.(*corev1.Namespace)
		if ns.DeletionTimestamp == nil {
			continue
		}
		if err := s.finalizeNamespace(ctx, ns); err != nil {
			s.log.Warn("finalize namespace", "namespace", ns.Name, "err", err)
		}
	}
}

func (s *Server) finalizeNamespace(ctx context.Context, ns *corev1.Namespace) error {
	left := 0
	for _, r := range api.Resources() {
		if !r.Namespaced {
			continue
		}
		res, err := s.List(ctx, r, ns.Name, metav1.ListOptions{}, ListConfig{Decode: true})
		if err != nil {
			return err
		}
		for _, it := range res.Items {
			left++
			m := accessor(it.Object)
			if m.GetDeletionTimestamp() != nil {
				continue // already on its way out
			}
			if _, err := s.Delete(ctx, r, ns.Name, m.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s %s/%s: %w", r.Resource, ns.Name, m.GetName(), err)
			}
		}
	}
	if left > 0 {
		return nil // next sweep looks again
	}
	// Empty: drop the "kubernetes" finalizer; with no other finalizer the
	// namespace is removed.
	next := ns.DeepCopy()
	next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
	rev, err := api.ParseRevision(ns.ResourceVersion)
	if err != nil {
		return err
	}
	key := api.Key(api.Namespaces, "", ns.Name)
	if len(next.Spec.Finalizers) == 0 && len(next.Finalizers) == 0 {
		_, err := s.remove(ctx, api.Namespaces, key, ns.Name, rev, next)
		if errors.Is(err, errRetry) {
			return nil
		}
		return err
	}
	raw, err := encode(next)
	if err != nil {
		return err
	}
	_, err = s.store.Update(ctx, key, raw, rev)
	return storeError(err, api.Namespaces, ns.Name)
}

// Bind assigns pod ns/name to the node b.Target names (pods/binding). It
// fails with a conflict if the pod is already bound or being deleted.
func (s *Server) Bind(ctx context.Context, ns, name string, b *corev1.Binding, opts metav1.CreateOptions) (Result, error) {
	dry, err := isDryRun(opts.DryRun)
	if err != nil {
		return Result{}, err
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return Result{}, apierrors.NewBadRequest(fmt.Sprintf("binding target must be a Node, not %q", b.Target.Kind))
	}
	if b.Target.Name == "" {
		return Result{}, invalid(api.Pods, name, field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	key := api.Key(api.Pods, ns, name)
	for attempt := 0; ; attempt++ {
		obj, rev, err := s.get(ctx, api.Pods, key, name)
		if err != nil {
			return Result{}, err
		}
		pod := obj.(*corev1.Pod)
		if b.UID != "" && b.UID != pod.UID {
			return Result{}, apierrors.NewConflict(api.Pods.GroupResource(), name,
				fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID)) //nolint:staticcheck // Kubernetes' own message
		}
		if pod.DeletionTimestamp != nil {
			return Result{}, apierrors.NewConflict(api.Pods.GroupResource(), name, errors.New("pod is being deleted, cannot be assigned to a host"))
		}
		if pod.Spec.NodeName != "" {
			return Result{}, apierrors.NewConflict(api.Pods.GroupResource(), name,
				fmt.Errorf("pod %s is already assigned to node %q", name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		setCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(s.now().UTC().Truncate(time.Second))})
		raw, err := encode(pod)
		if err != nil {
			return Result{}, err
		}
		if dry {
			return Result{Object: pod, Raw: raw, Revision: rev}, nil
		}
		nrev, err := s.store.Update(ctx, key, raw, rev)
		if err != nil {
			err = storeError(err, api.Pods, name)
			if apierrors.IsConflict(err) && attempt < maxRetries {
				continue
			}
			return Result{}, err
		}
		pod.ResourceVersion = api.FormatRevision(nrev)
		s.indexPod(ctx, pod, raw, nrev, false)
		return Result{Object: pod, Raw: raw, Revision: nrev}, nil
	}
}

func setCondition(st *corev1.PodStatus, c corev1.PodCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}
