package lifecycle

import "time"

// Default back-off of container restarts and image pulls, as the kubelet's.
const (
	DefaultBackoffInitial = 10 * time.Second
	DefaultBackoffMax     = 5 * time.Minute
)

// Backoff is an exponential back-off: Initial, doubling up to Max. The zero
// value is the kubelet's 10 s to 5 min.
type Backoff struct {
	Initial, Max time.Duration
}

func (b Backoff) norm() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	return b
}

// BackoffEntry is the back-off state of one container (or one image
// pull): the delay that applies to its next failure and when it last
// restarted. The zero value is "never backed off".
type BackoffEntry struct {
	Delay time.Duration
	Last  time.Time
}

// Blocked reports whether a restart after a failure at failedAt must still
// wait at now, and until when. As in the kubelet, the first restart is
// immediate, the second waits Initial after the failure, each later one
// twice as long up to Max; an entry untouched for more than 2×Max no
// longer applies.
func (b Backoff) Blocked(e BackoffEntry, failedAt, now time.Time) (until time.Time, blocked bool) {
	b = b.norm()
	if e.Last.IsZero() || now.Sub(e.Last) > 2*b.Max {
		return time.Time{}, false
	}
	until = failedAt.Add(e.Delay)
	return until, now.Before(until)
}

// Next is the entry after a restart at now that follows a failure at
// failedAt: Initial for a first (or long-forgotten) failure, else double
// the previous delay, up to Max.
func (b Backoff) Next(e BackoffEntry, failedAt, now time.Time) BackoffEntry {
	b = b.norm()
	if e.Last.IsZero() || failedAt.Sub(e.Last) > 2*b.Max {
		return BackoffEntry{Delay: b.Initial, Last: now}
	}
	return BackoffEntry{Delay: min(2*e.Delay, b.Max), Last: now}
}
