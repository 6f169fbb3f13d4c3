package owner_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/sdk/client"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// TestClaimer claims against a real API server: it adopts the matching
// orphan and releases the owned pod that stopped matching, unless the
// owner it was given is not the one the server has.
func TestClaimer(t *testing.T) {
	e := testenv.Start(t)
	ctx := t.Context()
	rsAPI := client.For[*appsv1.ReplicaSet](e.Client)
	podAPI := client.For[*corev1.Pod](e.Client)
	web := map[string]string{"app": "web"}
	rs, err := rsAPI.Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: web},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: web},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string, lbls map[string]string, refs ...metav1.OwnerReference) *corev1.Pod {
		t.Helper()
		p, err := podAPI.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: lbls, OwnerReferences: refs},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ref := owner.NewControllerRef(rs, rsKind)
	candidates := []*corev1.Pod{
		mk("mine", web, ref),
		mk("strayed", map[string]string{"app": "db"}, ref),
		mk("orphan", web),
	}
	claimer := owner.Claimer[*appsv1.ReplicaSet, *corev1.Pod]{Kind: rsKind, Owners: rsAPI, Dependents: podAPI}
	sel := labels.SelectorFromSet(web)
	controlled := func() []string {
		t.Helper()
		var out []string
		for _, name := range []string{"mine", "strayed", "orphan"} {
			p, err := podAPI.Get(ctx, "default", name)
			if err != nil {
				t.Fatal(err)
			}
			if owner.IsControlledBy(p, rs.UID) {
				out = append(out, name)
			}
		}
		return out
	}

	// A re-created owner of the same name (another UID) adopts nothing.
	impostor := rs.DeepCopy()
	impostor.UID = "another"
	if _, err := claimer.Claim(ctx, impostor, sel, candidates[2:]); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"mine", "strayed"}, controlled()); diff != "" {
		t.Fatalf("after an impostor's claim (-want +got):\n%s", diff)
	}

	owned, err := claimer.Claim(ctx, rs, sel, candidates)
	if err != nil {
		t.Fatal(err)
	}
	got := names(owned)
	slices.Sort(got)
	if diff := cmp.Diff([]string{"mine", "orphan"}, got); diff != "" {
		t.Errorf("owned (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"mine", "orphan"}, controlled()); diff != "" {
		t.Errorf("controlled on the server (-want +got):\n%s", diff)
	}
}
