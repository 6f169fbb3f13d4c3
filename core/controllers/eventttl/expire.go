package eventttl

import (
	"cmp"
	"container/heap"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Activity is when ev was last active: the latest of its lastTimestamp,
// eventTime and series.lastObservedTime that are set, or its
// creationTimestamp when none is.
func Activity(ev *corev1.Event) time.Time {
	last := ev.LastTimestamp.Time
	if t := ev.EventTime.Time; t.After(last) {
		last = t
	}
	if ev.Series != nil {
		if t := ev.Series.LastObservedTime.Time; t.After(last) {
			last = t
		}
	}
	if last.IsZero() {
		return ev.CreationTimestamp.Time
	}
	return last
}

// Entry is what the controller knows of one Event: enough to judge its
// age and to delete exactly the version it judged.
type Entry struct {
	Namespace, Name string
	UID             types.UID
	ResourceVersion string
	// Active is Activity of the Event at ResourceVersion.
	Active time.Time
}

// EntryOf is ev's Entry.
func EntryOf(ev *corev1.Event) Entry {
	return Entry{Namespace: ev.Namespace, Name: ev.Name, UID: ev.UID, ResourceVersion: ev.ResourceVersion, Active: Activity(ev)}
}

// Expired reports whether an Event last active at active has expired at
// now: ttl or more has passed since.
func Expired(active, now time.Time, ttl time.Duration) bool {
	return !now.Before(active.Add(ttl))
}

// Due returns the entries that have expired at now, oldest activity first
// (ties by namespace, then name), at most limit of them (limit <= 0: all),
// and how many more expired entries it left out. It does not modify
// entries.
func Due(entries []Entry, now time.Time, ttl time.Duration, limit int) (due []Entry, left int) {
	if limit <= 0 {
		limit = len(entries)
	}
	// The oldest limit so far, in a heap with the youngest of them on top.
	h := &youngestFirst{}
	for _, e := range entries {
		if !Expired(e.Active, now, ttl) {
			continue
		}
		switch {
		case h.Len() < limit:
			heap.Push(h, e)
		case older(e, h.s[0]):
			h.s[0] = e
			heap.Fix(h, 0)
			left++
		default:
			left++
		}
	}
	due = h.s
	slices.SortFunc(due, func(a, b Entry) int {
		if older(a, b) {
			return -1
		}
		return 1 // entries name distinct Events
	})
	return due, left
}

// older orders entries by activity, then namespace and name.
func older(a, b Entry) bool {
	return cmp.Or(a.Active.Compare(b.Active), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name)) < 0
}

// youngestFirst is a heap.Interface of entries, the youngest on top.
type youngestFirst struct{ s []Entry }

func (h *youngestFirst) Len() int           { return len(h.s) }
func (h *youngestFirst) Less(i, j int) bool { return older(h.s[j], h.s[i]) }
func (h *youngestFirst) Swap(i, j int)      { h.s[i], h.s[j] = h.s[j], h.s[i] }
func (h *youngestFirst) Push(x any)         { h.s = append(h.s, x.(Entry)) }
func (h *youngestFirst) Pop() any {
	e := h.s[len(h.s)-1]
	h.s = h.s[:len(h.s)-1]
	return e
}
