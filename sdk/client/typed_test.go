package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// kindCase says how to exercise one kind through its typed client.
type kindCase[T client.Object] struct {
	ns     string // "" for a cluster-scoped kind
	newObj func(ns, name string) T
	// mutate changes what an update writes (spec or data).
	mutate func(T)
	// setStatus changes the status; nil for kinds without a status
	// subresource. status reads it back for comparison.
	setStatus func(T)
	status    func(T) any
}

func TestTypedRoundTrip(t *testing.T) {
	e := start(t, store.Config{})
	tests := []struct {
		name string
		run  func(t *testing.T, c *client.Client)
	}{
		{"pods", kindCase[*corev1.Pod]{
			ns:     "default",
			newObj: pod,
			mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" },
			setStatus: func(p *corev1.Pod) {
				p.Status.Phase = corev1.PodRunning
				p.Status.Message = "up"
			},
			status: func(p *corev1.Pod) any { return p.Status },
		}.run},
		{"configmaps", kindCase[*corev1.ConfigMap]{
			ns:     "kube-public",
			newObj: configMap,
			mutate: func(c *corev1.ConfigMap) { c.Data["k2"] = "v2" },
		}.run},
		{"nodes", kindCase[*corev1.Node]{
			newObj: func(_, name string) *corev1.Node { return node(name) },
			mutate: func(n *corev1.Node) { n.Spec.Unschedulable = true },
			setStatus: func(n *corev1.Node) {
				n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.7"}}
			},
			status: func(n *corev1.Node) any { return n.Status },
		}.run},
		{"deployments", kindCase[*appsv1.Deployment]{
			ns:     "default",
			newObj: deployment,
			mutate: func(d *appsv1.Deployment) { *d.Spec.Replicas = 5 },
			setStatus: func(d *appsv1.Deployment) {
				d.Status.Replicas = 2
				d.Status.ObservedGeneration = 1
			},
			status: func(d *appsv1.Deployment) any { return d.Status },
		}.run},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, e.c) })
	}
}

func (kc kindCase[T]) run(t *testing.T, c *client.Client) {
	ctx := t.Context()
	tc := client.For[T](c)
	clone := func(o T) T { return o.DeepCopyObject().(T) }

	created, err := tc.Create(ctx, kc.newObj(kc.ns, "a"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.GetUID() == "" || created.GetResourceVersion() == "" || created.GetNamespace() != kc.ns {
		t.Fatalf("create: server fields not set: uid %q rv %q ns %q", created.GetUID(), created.GetResourceVersion(), created.GetNamespace())
	}
	if _, err := tc.Create(ctx, kc.newObj(kc.ns, "a"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("duplicate create: got %v, want AlreadyExists", err)
	}
	if _, err := tc.Create(ctx, kc.newObj(kc.ns, "Not_A_Name"), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("create with a bad name: got %v, want Invalid", err)
	}

	got, err := tc.Get(ctx, kc.ns, "a")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if d := cmp.Diff(created, got, cmpOpts...); d != "" {
		t.Errorf("get differs from create (-create +get):\n%s", d)
	}
	if _, err := tc.Get(ctx, kc.ns, "missing"); !apierrors.IsNotFound(err) {
		t.Errorf("get missing: got %v, want NotFound", err)
	}

	items, lm, err := tc.List(ctx, kc.ns, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if i := slices.IndexFunc(items, func(o T) bool { return o.GetName() == "a" }); i < 0 {
		t.Errorf("list does not hold a: %v", names(items))
	} else if d := cmp.Diff(created, items[i], cmpOpts...); d != "" {
		t.Errorf("listed object differs (-create +list):\n%s", d)
	}
	if rev(t, lm.ResourceVersion) < rev(t, created.GetResourceVersion()) || lm.Continue != "" {
		t.Errorf("list meta %+v, created at %s", lm, created.GetResourceVersion())
	}

	next := clone(got)
	kc.mutate(next)
	updated, err := tc.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if rev(t, updated.GetResourceVersion()) <= rev(t, created.GetResourceVersion()) {
		t.Errorf("update: resourceVersion %s after %s", updated.GetResourceVersion(), created.GetResourceVersion())
	}
	if got, err := tc.Get(ctx, kc.ns, "a"); err != nil {
		t.Errorf("get after update: %v", err)
	} else if d := cmp.Diff(updated, got, cmpOpts...); d != "" {
		t.Errorf("get differs from update (-update +get):\n%s", d)
	}
	stale := clone(created)
	kc.mutate(stale)
	if _, err := tc.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: got %v, want Conflict", err)
	}
	if _, err := tc.Update(ctx, kc.newObj(kc.ns, "missing"), metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("update missing: got %v, want NotFound", err)
	}

	if kc.setStatus == nil {
		if _, err := tc.UpdateStatus(ctx, clone(updated), metav1.UpdateOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("status update of a kind without status: got %v, want NotFound", err)
		}
	} else {
		st := clone(updated)
		kc.setStatus(st)
		st.SetLabels(map[string]string{"ignored": "by status writes"})
		after, err := tc.UpdateStatus(ctx, st, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("update status: %v", err)
		}
		if d := cmp.Diff(kc.status(st), kc.status(after), cmpOpts...); d != "" {
			t.Errorf("status not written (-want +got):\n%s", d)
		}
		if d := cmp.Diff(updated.GetLabels(), after.GetLabels()); d != "" {
			t.Errorf("status write changed labels (-want +got):\n%s", d)
		}
		if _, err := tc.UpdateStatus(ctx, st, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("stale status update: got %v, want Conflict", err)
		}
		updated = after
	}

	last, gone, err := tc.Delete(ctx, kc.ns, "a", metav1.DeleteOptions{})
	if err != nil || !gone {
		t.Fatalf("delete: gone=%v, %v", gone, err)
	}
	if last.GetUID() != created.GetUID() || rev(t, last.GetResourceVersion()) <= rev(t, updated.GetResourceVersion()) {
		t.Errorf("delete: last state uid %s rv %s, want uid %s and rv above %s",
			last.GetUID(), last.GetResourceVersion(), created.GetUID(), updated.GetResourceVersion())
	}
	if _, err := tc.Get(ctx, kc.ns, "a"); !apierrors.IsNotFound(err) {
		t.Errorf("get deleted: got %v, want NotFound", err)
	}
	if _, _, err := tc.Delete(ctx, kc.ns, "a", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: got %v, want NotFound", err)
	}

	// DeleteCollection removes what the selector picks and nothing else.
	for _, name := range []string{"x1", "x2", "y1"} {
		o := kc.newObj(kc.ns, name)
		o.SetLabels(map[string]string{"batch": name[:1]})
		if _, err := tc.Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	if err := tc.DeleteCollection(ctx, kc.ns, metav1.ListOptions{LabelSelector: "batch=x"}, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete collection: %v", err)
	}
	left, _, err := tc.List(ctx, kc.ns, metav1.ListOptions{LabelSelector: "batch"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"y1"}, names(left)); d != "" {
		t.Errorf("after delete collection (-want +got):\n%s", d)
	}
	if err := tc.DeleteCollection(ctx, kc.ns, metav1.ListOptions{LabelSelector: "in valid"}, metav1.DeleteOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("delete collection with a bad selector: got %v, want BadRequest", err)
	}
}

func TestListPaging(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	var want []string
	for i := range 10 {
		name := fmt.Sprintf("cm-%02d", i)
		want = append(want, name)
		if _, err := cms.Create(ctx, configMap("default", name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int64{1, 3, 4, 9, 10, 11} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var got []string
			opts := metav1.ListOptions{Limit: limit}
			var listRV string
			for page := 0; ; page++ {
				items, lm, err := cms.List(ctx, "default", opts)
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				if int64(len(items)) > limit {
					t.Fatalf("page %d has %d items, limit %d", page, len(items), limit)
				}
				if page == 0 {
					listRV = lm.ResourceVersion
				} else if lm.ResourceVersion != listRV {
					t.Errorf("page %d at resourceVersion %s, first page at %s", page, lm.ResourceVersion, listRV)
				}
				got = append(got, names(items)...)
				if lm.Continue == "" {
					break
				}
				if page > 20 {
					t.Fatal("paging does not end")
				}
				opts.Continue = lm.Continue
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("paged list (-want +got):\n%s", d)
			}
		})
	}
	if _, _, err := cms.List(ctx, "default", metav1.ListOptions{Limit: 2, Continue: "garbage"}); !apierrors.IsBadRequest(err) {
		t.Errorf("bad continue token: got %v, want BadRequest", err)
	}
}

// TestListFollowsServerPages lists more bytes than one reply carries: with
// Limit 0 the client must follow the server's continue tokens itself.
func TestListFollowsServerPages(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	big := strings.Repeat("x", 900_000)
	var want []string
	for i := range api.MaxListReply/len(big) + 2 {
		name := fmt.Sprintf("big-%02d", i)
		want = append(want, name)
		cm := configMap("default", name)
		cm.Data = map[string]string{"blob": big}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	items, lm, err := cms.List(ctx, "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, names(items)); d != "" {
		t.Errorf("list (-want +got):\n%s", d)
	}
	if lm.Continue != "" || lm.ResourceVersion == "" {
		t.Errorf("list meta %+v: want no continue and a resourceVersion", lm)
	}
	for _, cm := range items {
		if len(cm.Data["blob"]) != len(big) {
			t.Fatalf("%s: blob of %d bytes, want %d", cm.Name, len(cm.Data["blob"]), len(big))
		}
	}
}

func TestRequestErrors(t *testing.T) {
	e := start(t, store.Config{})
	pods := client.For[*corev1.Pod](e.c)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := pods.Get(cancelled, "default", "p"); !errors.Is(err, context.Canceled) {
		t.Errorf("get with a cancelled context: got %v, want context.Canceled", err)
	}
	if _, err := pods.Create(t.Context(), pod("ghost", "p"), metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("create in a missing namespace: got %v, want NotFound", err)
	}
	if _, _, err := pods.List(t.Context(), "", metav1.ListOptions{FieldSelector: "spec.bogus=x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("list with an unsupported field selector: got %v, want BadRequest", err)
	}
}

func names[T client.Object](items []T) []string {
	out := make([]string, 0, len(items))
	for _, o := range items {
		out = append(out, o.GetName())
	}
	return out
}

// rev parses a resourceVersion.
func rev(t testing.TB, rv string) uint64 {
	t.Helper()
	r, err := api.ParseRevision(rv)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
