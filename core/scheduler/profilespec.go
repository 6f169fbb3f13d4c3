package scheduler

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// wasmRef is an uploaded plugin a SchedulerProfile enables.
type wasmRef struct {
	Name string
	// Settings override the Plugin's (nil: the Plugin's own).
	Settings []byte
	// Points restricts the plugin to some of its points (nil: all).
	Points []skiffv1alpha1.ExtensionPoint
	// Policy overrides the Plugin's failure policy ("": the Plugin's).
	Policy skiffv1alpha1.FailurePolicy
}

// profileFromSpec turns a SchedulerProfile's spec into a framework
// profile: the default built-ins (kube-scheduler's order and weights) but
// the disabled ones, then the listed plugins in order. A listed built-in
// that is already enabled keeps its place and takes the listed weight
// and settings. uploaded says whether a name is an uploaded plugin; each
// one listed is returned as a wasmRef, for the caller to register under
// its name. It is pure.
func profileFromSpec(spec *skiffv1alpha1.SchedulerProfileSpec, reg framework.Registry, uploaded func(string) bool) (framework.Profile, []wasmRef, error) {
	p := framework.Profile{SchedulerName: spec.SchedulerName, PercentageOfNodesToScore: spec.PercentageOfNodesToScore}
	disabled := map[string]bool{}
	all := false
	for _, n := range spec.Builtins.Disabled {
		switch {
		case n == "*":
			all = true
		case n == builtin.DefaultBinderName:
			return p, nil, fmt.Errorf("builtins.disabled: %s cannot be disabled (a profile must bind)", n)
		case reg[n] == nil:
			return p, nil, fmt.Errorf("builtins.disabled: %q is not a built-in plugin", n)
		}
		disabled[n] = true
	}
	for _, pc := range builtin.DefaultPlugins() {
		if pc.Name == builtin.DefaultBinderName || !all && !disabled[pc.Name] {
			p.Plugins = append(p.Plugins, pc)
		}
	}
	var refs []wasmRef
	for _, pl := range spec.Plugins {
		var settings []byte
		if pl.Settings != nil && len(pl.Settings.Raw) > 0 {
			settings = pl.Settings.Raw
		}
		switch {
		case uploaded(pl.Name):
			refs = append(refs, wasmRef{Name: pl.Name, Settings: settings, Points: pl.Points, Policy: pl.FailurePolicy})
			p.Plugins = append(p.Plugins, framework.PluginConfig{Name: pl.Name, Weight: pl.Weight})
		case reg[pl.Name] != nil:
			if len(pl.Points) > 0 {
				return p, nil, fmt.Errorf("plugin %s: points apply to uploaded plugins only; built-ins run at every point they implement", pl.Name)
			}
			pc := framework.PluginConfig{Name: pl.Name, Weight: pl.Weight}
			if settings != nil {
				pc.Args = json.RawMessage(settings)
			}
			if i := slices.IndexFunc(p.Plugins, func(c framework.PluginConfig) bool { return c.Name == pl.Name }); i >= 0 {
				if pc.Weight == 0 {
					pc.Weight = p.Plugins[i].Weight
				}
				p.Plugins[i] = pc
			} else {
				p.Plugins = append(p.Plugins, pc)
			}
		default:
			return p, nil, fmt.Errorf("plugin %q: no Plugin object or built-in plugin has that name", pl.Name)
		}
	}
	return p, refs, nil
}
