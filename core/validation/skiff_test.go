package validation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

const goodDigest = "sha256:00cc8693e1a2c1d60b6d28e8c7da8f661a1a75fdca16e7337aa9efcb6fc25910"

func goodPlugin() *skiffv1alpha1.Plugin {
	return &skiffv1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: skiffv1alpha1.PluginSpec{
		Kind: skiffv1alpha1.KindScheduler, Version: "v2", Digest: goodDigest, Size: 10,
		Settings: &runtime.RawExtension{Raw: []byte(`{"label":"team"}`)},
		History: []skiffv1alpha1.PluginVersion{{Version: "v1", Digest: goodDigest, Size: 10},
			{Version: "v2", Digest: goodDigest, Size: 10}}}}
}

func goodProfile() *skiffv1alpha1.SchedulerProfile {
	return &skiffv1alpha1.SchedulerProfile{ObjectMeta: metav1.ObjectMeta{Name: "teams"}, Spec: skiffv1alpha1.SchedulerProfileSpec{
		SchedulerName: "teams", Builtins: skiffv1alpha1.Builtins{Disabled: []string{"ImageLocality"}},
		Plugins: []skiffv1alpha1.ProfilePlugin{{Name: "team", Points: []skiffv1alpha1.ExtensionPoint{"filter"}}, {Name: "binpack", Weight: 5}}}}
}

func TestValidateSkiffKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		want []string // field paths of the errors, "" for valid
	}{
		{"plugin", goodPlugin(), nil},
		{"profile", goodProfile(), nil},
		{"plugin without history", func() runtime.Object { p := goodPlugin(); p.Spec.History = nil; return p }(), nil},
		{"plugin name upper case", func() runtime.Object { p := goodPlugin(); p.Name = "Team"; return p }(), []string{"metadata.name"}},
		{"plugin namespaced", func() runtime.Object { p := goodPlugin(); p.Namespace = "default"; return p }(), []string{"metadata.namespace"}},
		{"plugin kind", func() runtime.Object { p := goodPlugin(); p.Spec.Kind = "admission"; return p }(), []string{"spec.kind"}},
		{"plugin no kind", func() runtime.Object { p := goodPlugin(); p.Spec.Kind = ""; return p }(), []string{"spec.kind"}},
		{"plugin digest", func() runtime.Object { p := goodPlugin(); p.Spec.Digest = "md5:abc"; return p }(), []string{"spec.digest", "spec.digest"}},
		{"plugin size", func() runtime.Object { p := goodPlugin(); p.Spec.Size = 0; return p }(), []string{"spec.size"}},
		{"plugin settings", func() runtime.Object {
			p := goodPlugin()
			p.Spec.Settings = &runtime.RawExtension{Raw: []byte("{nope")}
			return p
		}(), []string{"spec.settings"}},
		{"plugin settings too big", func() runtime.Object {
			p := goodPlugin()
			p.Spec.Settings = &runtime.RawExtension{Raw: []byte(`"` + strings.Repeat("x", MaxSettingsBytes) + `"`)}
			return p
		}(), []string{"spec.settings"}},
		{"plugin policy", func() runtime.Object { p := goodPlugin(); p.Spec.FailurePolicy = "Sometimes"; return p }(), []string{"spec.failurePolicy"}},
		{"plugin version not in history", func() runtime.Object { p := goodPlugin(); p.Spec.Version = "v3"; return p }(), []string{"spec.version"}},
		{"plugin duplicate version", func() runtime.Object {
			p := goodPlugin()
			p.Spec.History[0].Version = "v2"
			return p
		}(), []string{"spec.history[1].version"}},
		{"plugin version name", func() runtime.Object { p := goodPlugin(); p.Spec.History[0].Version = "V 1"; return p }(), []string{"spec.history[0].version"}},
		{"profile no schedulerName", func() runtime.Object { p := goodProfile(); p.Spec.SchedulerName = ""; return p }(), []string{"spec.schedulerName"}},
		{"profile plugin twice", func() runtime.Object {
			p := goodProfile()
			p.Spec.Plugins[1].Name = "team"
			return p
		}(), []string{"spec.plugins[1].name"}},
		{"profile point", func() runtime.Object {
			p := goodProfile()
			p.Spec.Plugins[0].Points = []skiffv1alpha1.ExtensionPoint{"bind"}
			return p
		}(), []string{"spec.plugins[0].points[0]"}},
		{"profile weight", func() runtime.Object { p := goodProfile(); p.Spec.Plugins[1].Weight = 101; return p }(), []string{"spec.plugins[1].weight"}},
		{"profile binder disabled", func() runtime.Object {
			p := goodProfile()
			p.Spec.Builtins.Disabled = []string{"DefaultBinder"}
			return p
		}(), []string{"spec.builtins.disabled[0]"}},
		{"profile percentage", func() runtime.Object {
			p := goodProfile()
			v := int32(101)
			p.Spec.PercentageOfNodesToScore = &v
			return p
		}(), []string{"spec.percentageOfNodesToScore"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := Validate(tc.obj)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors %v, want fields %v", errs, tc.want)
			}
		})
	}
	// Updates: the kind is immutable; statuses check metadata only.
	n, o := goodPlugin(), goodPlugin()
	n.Spec.Kind = "admission"
	if errs := ValidateUpdate(n, o); len(errs) == 0 {
		t.Error("ValidateUpdate accepted a change of spec.kind")
	}
	if errs := ValidateUpdate(goodProfile(), goodProfile()); len(errs) != 0 {
		t.Errorf("ValidateUpdate of an unchanged profile: %v", errs)
	}
	if errs := ValidateStatusUpdate(goodPlugin(), goodPlugin()); len(errs) != 0 {
		t.Errorf("ValidateStatusUpdate: %v", errs)
	}
}
