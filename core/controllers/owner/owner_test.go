package owner_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/owner"
)

func pod(name string, lbls map[string]string, controller types.UID, deleting bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: lbls}}
	if controller != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "x", UID: controller, Controller: &yes}}
	}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

func names(ps []*corev1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestClaim(t *testing.T) {
	web := map[string]string{"app": "web"}
	other := map[string]string{"app": "db"}
	candidates := []*corev1.Pod{
		pod("mine", web, "me", false),
		pod("mine-unmatched", other, "me", false),
		pod("theirs", web, "them", false),
		pod("orphan", web, "", false),
		pod("orphan-unmatched", other, "", false),
		pod("orphan-terminating", web, "", true),
	}
	sel := labels.SelectorFromSet(web)
	tests := []struct {
		name     string
		deleting bool
		want     [3][]string // owned, adopt, release
	}{
		{name: "live owner", want: [3][]string{{"mine"}, {"orphan"}, {"mine-unmatched"}}},
		{name: "owner being deleted", deleting: true, want: [3][]string{{"mine"}, nil, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &metav1.ObjectMeta{Name: "x", Namespace: "default", UID: "me"}
			if tt.deleting {
				o.DeletionTimestamp = &metav1.Time{}
			}
			cl := owner.Claim[*corev1.Pod](o, sel, candidates)
			got := [3][]string{names(cl.Owned), names(cl.Adopt), names(cl.Release)}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Claim (-want +got):\n%s", diff)
			}
		})
	}
}
