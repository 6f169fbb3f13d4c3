package v1alpha1

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
)

// The deep copies are written by hand (the types are few and small); the
// test in deepcopy_test.go checks them against a JSON round trip.

func copyRaw(r *runtime.RawExtension) *runtime.RawExtension {
	if r == nil {
		return nil
	}
	return r.DeepCopy()
}

// DeepCopyInto copies p into out.
func (p *Plugin) DeepCopyInto(out *Plugin) {
	*out = *p
	out.TypeMeta = p.TypeMeta
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	p.Spec.DeepCopyInto(&out.Spec)
	p.Status.DeepCopyInto(&out.Status)
}

// DeepCopy returns a deep copy of p.
func (p *Plugin) DeepCopy() *Plugin {
	if p == nil {
		return nil
	}
	out := new(Plugin)
	p.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (p *Plugin) DeepCopyObject() runtime.Object {
	if c := p.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies s into out.
func (s *PluginSpec) DeepCopyInto(out *PluginSpec) {
	*out = *s
	out.Settings = copyRaw(s.Settings)
	if s.History != nil {
		out.History = make([]PluginVersion, len(s.History))
		for i := range s.History {
			s.History[i].DeepCopyInto(&out.History[i])
		}
	}
}

// DeepCopyInto copies v into out.
func (v *PluginVersion) DeepCopyInto(out *PluginVersion) {
	*out = *v
	out.Settings = copyRaw(v.Settings)
	v.Pushed.DeepCopyInto(&out.Pushed)
}

// DeepCopyInto copies s into out.
func (s *PluginStatus) DeepCopyInto(out *PluginStatus) {
	*out = *s
	if s.Replicas != nil {
		out.Replicas = make([]PluginReplicaStatus, len(s.Replicas))
		for i := range s.Replicas {
			out.Replicas[i] = s.Replicas[i]
			s.Replicas[i].Updated.DeepCopyInto(&out.Replicas[i].Updated)
		}
	}
}

// DeepCopyInto copies l into out.
func (l *PluginList) DeepCopyInto(out *PluginList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]Plugin, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a deep copy of l.
func (l *PluginList) DeepCopy() *PluginList {
	if l == nil {
		return nil
	}
	out := new(PluginList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *PluginList) DeepCopyObject() runtime.Object {
	if c := l.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies p into out.
func (p *SchedulerProfile) DeepCopyInto(out *SchedulerProfile) {
	*out = *p
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	p.Spec.DeepCopyInto(&out.Spec)
	out.Status = p.Status
	out.Status.Plugins = slices.Clone(p.Status.Plugins)
}

// DeepCopy returns a deep copy of p.
func (p *SchedulerProfile) DeepCopy() *SchedulerProfile {
	if p == nil {
		return nil
	}
	out := new(SchedulerProfile)
	p.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (p *SchedulerProfile) DeepCopyObject() runtime.Object {
	if c := p.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies s into out.
func (s *SchedulerProfileSpec) DeepCopyInto(out *SchedulerProfileSpec) {
	*out = *s
	out.Builtins.Disabled = slices.Clone(s.Builtins.Disabled)
	if s.Plugins != nil {
		out.Plugins = make([]ProfilePlugin, len(s.Plugins))
		for i := range s.Plugins {
			out.Plugins[i] = s.Plugins[i]
			out.Plugins[i].Points = slices.Clone(s.Plugins[i].Points)
			out.Plugins[i].Settings = copyRaw(s.Plugins[i].Settings)
		}
	}
	if s.PercentageOfNodesToScore != nil {
		v := *s.PercentageOfNodesToScore
		out.PercentageOfNodesToScore = &v
	}
}

// DeepCopyInto copies l into out.
func (l *SchedulerProfileList) DeepCopyInto(out *SchedulerProfileList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]SchedulerProfile, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a deep copy of l.
func (l *SchedulerProfileList) DeepCopy() *SchedulerProfileList {
	if l == nil {
		return nil
	}
	out := new(SchedulerProfileList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (l *SchedulerProfileList) DeepCopyObject() runtime.Object {
	if c := l.DeepCopy(); c != nil {
		return c
	}
	return nil
}
