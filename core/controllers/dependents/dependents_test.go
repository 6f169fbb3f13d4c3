package dependents_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/dependents"
	"github.com/skiffhq/skiff/core/controllers/expect"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/owner"
	"github.com/skiffhq/skiff/sdk/client"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// owners caches the ReplicaSets "web" and "db" (selecting app=web and
// app=db) of a real API server.
func owners(t *testing.T) (dependents.Owners[*appsv1.ReplicaSet], *appsv1.ReplicaSet) {
	t.Helper()
	e := testenv.Start(t)
	rsAPI := client.For[*appsv1.ReplicaSet](e.Client)
	var web *appsv1.ReplicaSet
	for name, sel := range map[string]*metav1.LabelSelector{
		"web": {MatchLabels: map[string]string{"app": "web"}},
		"db":  {MatchLabels: map[string]string{"app": "db"}},
	} {
		lbls := map[string]string{"app": name}
		out, err := rsAPI.Create(t.Context(), &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img:1"}}}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if name == "web" {
			web = out
		}
	}
	set := cache.New(e.Client)
	o := dependents.Owners[*appsv1.ReplicaSet]{Cache: cache.Of[*appsv1.ReplicaSet](set), Kind: rsKind,
		Selector: func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector }}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = set.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	if err := set.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	return o, web
}

func podOf(name string, refs ...metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name),
		Labels: map[string]string{"app": "web"}, OwnerReferences: refs}}
}

func TestOwners(t *testing.T) {
	o, web := owners(t)
	ref := owner.NewControllerRef(web, rsKind)
	stale := ref
	stale.UID = "predecessor"
	otherKind := ref
	otherKind.Kind = "StatefulSet"

	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{name: "controlled", pod: podOf("p", ref), want: "web"},
		{name: "owner re-created", pod: podOf("p", stale)},
		{name: "another kind", pod: podOf("p", otherKind)},
		{name: "orphan", pod: podOf("p")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if rs, ok := o.Controller(tt.pod); ok {
				got = rs.Name
			}
			if got != tt.want {
				t.Errorf("Controller = %q, want %q", got, tt.want)
			}
		})
	}
	var matching []string
	for _, rs := range o.Matching(podOf("orphan")) {
		matching = append(matching, rs.Name)
	}
	if diff := cmp.Diff([]string{"web"}, matching); diff != "" {
		t.Errorf("Matching (-want +got):\n%s", diff)
	}
}

func TestExpecting(t *testing.T) {
	o, web := owners(t)
	exp := expect.New(time.Hour, time.Now)
	var queued, unowned []string
	h := dependents.Expecting(o, exp, func(key string) { queued = append(queued, key) },
		func(old, cur *corev1.Pod) { unowned = append(unowned, cur.Name) })
	key := "default/web"
	mine := podOf("mine", owner.NewControllerRef(web, rsKind))
	exp.ExpectCreations(key, 1)
	exp.ExpectDeletions(key, []types.UID{"mine"})

	h.OnAdd(mine)
	if adds, _ := exp.Pending(key); adds != 0 {
		t.Errorf("after the add, %d creations pending, want 0", adds)
	}
	terminating := mine.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	h.OnUpdate(mine, terminating)
	if _, dels := exp.Pending(key); dels != 0 {
		t.Errorf("after the pod turned terminating, %d deletions pending, want 0", dels)
	}
	h.OnDelete(terminating)
	h.OnAdd(podOf("orphan"))
	h.OnUpdate(podOf("orphan"), podOf("orphan"))
	h.OnDelete(podOf("orphan"))

	if diff := cmp.Diff([]string{key, key, key}, queued); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"orphan", "orphan"}, unowned); diff != "" {
		t.Errorf("unowned (-want +got):\n%s", diff)
	}
}

func TestChangedAndUpdated(t *testing.T) {
	o, web := owners(t)
	ref := owner.NewControllerRef(web, rsKind)
	otherKind := ref
	otherKind.Kind = "StatefulSet"
	at := func(p *corev1.Pod, rv string, lbls ...string) *corev1.Pod {
		p.ResourceVersion = rv
		if len(lbls) > 0 {
			p.Labels = map[string]string{"app": lbls[0]}
		}
		return p
	}
	tests := []struct {
		name     string
		old, cur *corev1.Pod // old nil: Changed(cur)
		want     []string
	}{
		{name: "add controlled", cur: podOf("p", ref), want: []string{"web"}},
		{name: "add orphan", cur: podOf("p"), want: []string{"web"}},
		{name: "add another kind's", cur: podOf("p", otherKind)},
		{name: "resync", old: at(podOf("p"), "1", "db"), cur: at(podOf("p"), "1", "web")},
		{name: "controlled pod changes", old: at(podOf("p", ref), "1"), cur: at(podOf("p", ref), "2"), want: []string{"web"}},
		{name: "released", old: at(podOf("p", ref), "1"), cur: at(podOf("p"), "2"), want: []string{"web", "web"}},
		{name: "orphan relabelled", old: at(podOf("p"), "1", "db"), cur: at(podOf("p"), "2"), want: []string{"web"}},
		{name: "orphan otherwise changed", old: at(podOf("p"), "1"), cur: at(podOf("p"), "2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			enqueue := func(rs *appsv1.ReplicaSet) { got = append(got, rs.Name) }
			if tt.old == nil {
				o.Changed(tt.cur, enqueue)
			} else {
				o.Updated(tt.old, tt.cur, enqueue)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("queued (-want +got):\n%s", diff)
			}
		})
	}
}
