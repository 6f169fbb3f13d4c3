package apiserver_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/sdk/client"
)

// A node agent deletes a terminating pod with grace 0 once its containers
// stopped, while a finalizer (a Job's tracking finalizer) still holds it:
// the grace period must drop to 0 then, so that removing the finalizer
// removes the pod, as in Kubernetes. Otherwise the pod stays Terminating
// for ever.
func TestZeroGraceDeleteOfAPodWithAFinalizer(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	p := pod("default", "held")
	p.Finalizers = []string{"batch.kubernetes.io/job-tracking"}
	if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Bind(ctx, "default", "held", "n1"); err != nil {
		t.Fatal(err)
	}
	if _, gone, err := pods.Delete(ctx, "default", "held", metav1.DeleteOptions{}); err != nil || gone {
		t.Fatalf("graceful delete: gone=%v err=%v", gone, err)
	}
	zero := int64(0)
	last, gone, err := pods.Delete(ctx, "default", "held", metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil || gone {
		t.Fatalf("delete with grace 0: gone=%v err=%v", gone, err)
	}
	if g := last.DeletionGracePeriodSeconds; g == nil || *g != 0 {
		t.Fatalf("deletionGracePeriodSeconds %v after a delete with grace 0, want 0", g)
	}
	cur, err := pods.Get(ctx, "default", "held")
	if err != nil {
		t.Fatal(err)
	}
	cur.Finalizers = nil
	if _, err := pods.Update(ctx, cur, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "default", "held"); !apierrors.IsNotFound(err) {
		t.Fatalf("after its finalizer went: %v, want NotFound", err)
	}
}
