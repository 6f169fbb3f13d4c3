package apiserver_test

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

func indexed(t *testing.T, e *env, node, ns, name string) (*corev1.Pod, bool) {
	t.Helper()
	ent, err := e.nodePods.Get(t.Context(), api.NodePodKey(node, ns, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	p, err := api.DecodeNodePod(ent.Value)
	if err != nil {
		t.Fatal(err)
	}
	return p, true
}

func TestNodeIndexFollowsBoundPods(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	if _, err := pods.Create(ctx, pod("default", "a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := indexed(t, e, "n1", "default", "a"); ok {
		t.Fatal("unbound pod is in the node index")
	}
	if err := e.c.Bind(ctx, "default", "a", "n1"); err != nil {
		t.Fatal(err)
	}
	got, ok := indexed(t, e, "n1", "default", "a")
	cur, _ := pods.Get(ctx, "default", "a")
	if !ok || got.ResourceVersion != cur.ResourceVersion || got.Spec.NodeName != "n1" {
		t.Fatalf("after bind: indexed=%v rv %q want %q", ok, got.ResourceVersion, cur.ResourceVersion)
	}
	cur.Status.Phase = corev1.PodRunning
	upd, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := indexed(t, e, "n1", "default", "a"); got.ResourceVersion != upd.ResourceVersion || got.Status.Phase != corev1.PodRunning {
		t.Fatalf("after status: rv %q phase %q", got.ResourceVersion, got.Status.Phase)
	}
	// Graceful deletion keeps it indexed (the node must see the deletion
	// timestamp); the final removal takes it out.
	if _, _, err := pods.Delete(ctx, "default", "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, ok := indexed(t, e, "n1", "default", "a"); !ok || got.DeletionTimestamp == nil {
		t.Fatal("terminating pod not in the index with its deletionTimestamp")
	}
	zero := int64(0)
	if _, _, err := pods.Delete(ctx, "default", "a", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, ok := indexed(t, e, "n1", "default", "a"); ok {
		t.Fatal("deleted pod still in the node index")
	}
}

func TestRepairNodeIndex(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	for _, n := range []string{"a", "b"} {
		if _, err := pods.Create(ctx, pod("default", n), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := e.c.Bind(ctx, "default", n, "n1"); err != nil {
			t.Fatal(err)
		}
	}
	// Damage the index as a crash between the two writes would: one entry
	// lost, one left for a pod that no longer exists.
	if _, err := e.nodePods.Delete(ctx, api.NodePodKey("n1", "default", "a"), 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.nodePods.Create(ctx, api.NodePodKey("n2", "default", "ghost"), api.EncodeNodePod(1, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	n, err := e.srv.RepairNodeIndex(ctx)
	if err != nil || n != 2 {
		t.Fatalf("repair changed %d, %v; want 2", n, err)
	}
	if _, ok := indexed(t, e, "n1", "default", "a"); !ok {
		t.Fatal("lost entry not restored")
	}
	if _, err := e.nodePods.Get(ctx, api.NodePodKey("n2", "default", "ghost")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stale entry not removed: %v", err)
	}
	if n, err := e.srv.RepairNodeIndex(ctx); err != nil || n != 0 {
		t.Fatalf("second repair changed %d, %v", n, err)
	}
}
