package v1alpha1

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestDeepCopy checks that a copy equals the original and shares no
// memory with it: changing every reference field of the copy leaves the
// original as it was.
func TestDeepCopy(t *testing.T) {
	raw := func(s string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(s)} }
	pct := int32(50)
	objs := []runtime.Object{
		&Plugin{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"a": "b"}},
			Spec: PluginSpec{Kind: KindScheduler, Version: "v2", Digest: "sha256:x", Size: 3, Settings: raw(`{"a":1}`),
				History: []PluginVersion{{Version: "v1", Digest: "sha256:y", Settings: raw(`{}`)}}},
			Status: PluginStatus{Version: "v2", Replicas: []PluginReplicaStatus{{Replica: "r1", Calls: 3}}}},
		&SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: "teams"},
			Spec: SchedulerProfileSpec{SchedulerName: "teams", Builtins: Builtins{Disabled: []string{"*"}},
				Plugins:                  []ProfilePlugin{{Name: "team", Points: []ExtensionPoint{PointFilter}, Settings: raw(`{"label":"t"}`)}},
				PercentageOfNodesToScore: &pct},
			Status: SchedulerProfileStatus{Plugins: []string{"team@v2"}}},
	}
	objs = append(objs, &PluginList{Items: []Plugin{*objs[0].(*Plugin)}},
		&SchedulerProfileList{Items: []SchedulerProfile{*objs[1].(*SchedulerProfile)}})
	for _, o := range objs {
		before, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		c := o.DeepCopyObject()
		if diff := cmp.Diff(o, c); diff != "" {
			t.Errorf("%T copy differs (-orig +copy):\n%s", o, diff)
		}
		scribble(c)
		after, _ := json.Marshal(o)
		if string(before) != string(after) {
			t.Errorf("%T: changing the copy changed the original:\n%s\n%s", o, before, after)
		}
	}
}

func scribble(o runtime.Object) {
	switch c := o.(type) {
	case *Plugin:
		c.Labels["a"] = "z"
		c.Spec.Settings.Raw[1] = 'X'
		c.Spec.History[0].Version = "zz"
		c.Spec.History[0].Settings.Raw[0] = 'X'
		c.Status.Replicas[0].Calls = 99
	case *SchedulerProfile:
		c.Spec.Builtins.Disabled[0] = "x"
		c.Spec.Plugins[0].Points[0] = "x"
		c.Spec.Plugins[0].Settings.Raw[1] = 'X'
		*c.Spec.PercentageOfNodesToScore = 1
		c.Status.Plugins[0] = "x"
	case *PluginList:
		scribble(&c.Items[0])
	case *SchedulerProfileList:
		scribble(&c.Items[0])
	}
}
