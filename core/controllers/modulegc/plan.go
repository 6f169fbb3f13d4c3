package modulegc

import (
	"slices"
	"time"

	"github.com/skiffhq/skiff/core/scheduler/registry"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// Timing is when modules are collected.
type Timing struct {
	// Grace is how long a copy stays after it was last written, whether
	// or not a Plugin references it. It must be well above
	// registry.RefreshAge plus a push's duration (see the package doc).
	Grace time.Duration
	// Interval is how often the collector looks without being told of a
	// change.
	Interval time.Duration
}

// DefaultTiming collects a module 10 minutes after it was written at the
// earliest, and looks at least every 5 minutes.
var DefaultTiming = Timing{Grace: 10 * time.Minute, Interval: 5 * time.Minute}

// withDefaults fills in the zero fields from DefaultTiming.
func (t Timing) withDefaults() Timing {
	if t.Grace <= 0 {
		t.Grace = DefaultTiming.Grace
	}
	if t.Interval <= 0 {
		t.Interval = DefaultTiming.Interval
	}
	return t
}

// Referenced returns the digests ps reference: each Plugin's current
// digest and every history entry's.
func Referenced(ps []*skiffv1alpha1.Plugin) map[string]bool {
	refs := map[string]bool{}
	for _, p := range ps {
		if p.Spec.Digest != "" {
			refs[p.Spec.Digest] = true
		}
		for _, v := range p.Spec.History {
			refs[v.Digest] = true
		}
	}
	return refs
}

// dropsReferences reports whether cur references a digest fewer than
// old: the only change to a Plugin that can make a module garbage.
func dropsReferences(old, cur *skiffv1alpha1.Plugin) bool {
	now := Referenced([]*skiffv1alpha1.Plugin{cur})
	for d := range Referenced([]*skiffv1alpha1.Plugin{old}) {
		if !now[d] {
			return true
		}
	}
	return false
}

// Plan returns, sorted, the digests of the stored copies to delete at
// now: those no Plugin of ps references that were written more than grace
// before now. ps must be every Plugin. wait is how long until the grace
// period of the next unreferenced copy ends (0 when none is waiting).
func Plan(stored []registry.Stored, ps []*skiffv1alpha1.Plugin, now time.Time, grace time.Duration) (remove []string, wait time.Duration) {
	refs := Referenced(ps)
	cutoff := now.Add(-grace)
	for _, s := range stored {
		switch {
		case refs[s.Digest]:
		case s.ModTime.Before(cutoff):
			remove = append(remove, s.Digest)
		default:
			// Due once its time is strictly before the cutoff.
			if w := s.ModTime.Sub(cutoff) + time.Nanosecond; wait == 0 || w < wait {
				wait = w
			}
		}
	}
	slices.Sort(remove)
	return slices.Compact(remove), wait
}
