package history_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/core/controllers/history"
)

var dsKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

func template(image string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}}
}

var ds = &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default", UID: "uid-a"}}

// stored is what the API server would hold after plan's writes.
func stored(revs []*appsv1.ControllerRevision, plan history.Plan) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		deleted := false
		for _, d := range plan.Delete {
			deleted = deleted || d.Name == r.Name
		}
		if !deleted && r.Name != plan.Update.Name {
			out = append(out, r)
		}
	}
	return append(out, plan.Update)
}

func decide(t *testing.T, image string, revs []*appsv1.ControllerRevision, limit int32, inUse ...string) history.Plan {
	t.Helper()
	use := map[string]bool{}
	for _, u := range inUse {
		use[u] = true
	}
	plan, err := history.Decide(history.Input{Owner: ds, Kind: dsKind, Template: template(image), Revisions: revs, Limit: limit, InUse: use})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func TestDecide(t *testing.T) {
	// A first template: revision 1, created, labelled with its hash and
	// the template's labels, controlled by the owner.
	p1 := decide(t, "v1", nil, 10)
	if !p1.Create || p1.Update.Revision != 1 || p1.Update.Labels["app"] != "a" || p1.Update.Labels[history.HashLabel] == "" {
		t.Fatalf("first: %+v", p1)
	}
	if ref := metav1.GetControllerOf(p1.Update); ref == nil || ref.UID != ds.UID || ref.Kind != "DaemonSet" {
		t.Fatalf("first: controller %v", ref)
	}
	if got, err := history.Template(p1.Update); err != nil || got.Spec.Containers[0].Image != "v1" {
		t.Fatalf("Template: %v, %v", got, err)
	}
	revs := stored(nil, p1)
	// The same template: nothing to write.
	if p := decide(t, "v1", revs, 10); p.Create || p.Renumber || p.Update.Name != p1.Update.Name {
		t.Fatalf("same: %+v", p)
	}
	// A new template: revision 2.
	p2 := decide(t, "v2", revs, 10)
	if !p2.Create || p2.Update.Revision != 2 || p2.Update.Name == p1.Update.Name {
		t.Fatalf("second: %+v", p2)
	}
	revs = stored(revs, p2)
	// Back to v1 (a rollback): revision 1 is renumbered 3, not copied.
	p3 := decide(t, "v1", revs, 10)
	if p3.Create || !p3.Renumber || p3.Update.Name != p1.Update.Name || p3.Update.Revision != 3 {
		t.Fatalf("rollback: %+v", p3)
	}
	revs = stored(revs, p3)
	// History limit 0: the old revision goes unless a pod still uses it.
	if p := decide(t, "v1", revs, 0, p2.Update.Labels[history.HashLabel]); len(p.Delete) != 0 {
		t.Fatalf("in use: deleted %v", p.Delete)
	}
	if p := decide(t, "v1", revs, 0); len(p.Delete) != 1 || p.Delete[0].Name != p2.Update.Name {
		t.Fatalf("limit 0: deleted %v", p.Delete)
	}
}

func TestDecideCollision(t *testing.T) {
	p := decide(t, "v1", nil, 10)
	// Another revision already has that name with other data.
	squatter := p.Update.DeepCopy()
	squatter.Data = runtime.RawExtension{Raw: []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"other"}]}}}}`)}
	got := decide(t, "v1", []*appsv1.ControllerRevision{squatter}, 10)
	if !got.Create || got.Update.Name == squatter.Name || got.CollisionCount == nil || *got.CollisionCount != 1 {
		t.Fatalf("collision: %+v (count %v)", got.Update.Name, got.CollisionCount)
	}
}

func TestLimitAndInUse(t *testing.T) {
	three := int32(3)
	if got := history.Limit(nil); got != history.DefaultLimit {
		t.Errorf("Limit(nil) = %d, want %d", got, history.DefaultLimit)
	}
	if got := history.Limit(&three); got != 3 {
		t.Errorf("Limit(3) = %d, want 3", got)
	}
	ps := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{history.HashLabel: "a"}}},
		{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{history.HashLabel: "b"}}},
		{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{history.HashLabel: "a"}}},
	}
	got := history.InUse(ps)
	if len(got) != 2 || !got["a"] || !got["b"] {
		t.Errorf("InUse = %v, want a and b", got)
	}
	if history.InUse(nil) == nil {
		t.Error("InUse(nil) is nil; callers add to it")
	}
}
