package leader

import (
	"errors"
	"time"
)

// Record is what a lease says.
type Record struct {
	// Holder is the identity of the leader; "" when the lease is free.
	Holder string
	// Duration is how long the lease is valid after it is seen renewed.
	Duration time.Duration
	// Acquired and Renewed are the holder's clock when it took and last
	// renewed the lease; informative only (see the package doc).
	Acquired, Renewed time.Time
	// Transitions counts changes of holder.
	Transitions int32
}

// Timing are the election's durations.
type Timing struct {
	// LeaseDuration is how long others wait after the last renewal they
	// saw before they take the lease.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps acting without a
	// successful renewal. It must be shorter than LeaseDuration.
	RenewDeadline time.Duration
	// RetryPeriod is how often candidates try to acquire and the leader
	// renews.
	RetryPeriod time.Duration
}

// DefaultTiming fails a crashed leader over in at most 10 s, and a leader
// that stops cleanly in about a second.
var DefaultTiming = Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 7 * time.Second, RetryPeriod: time.Second}

// Validate checks the durations' order.
func (t Timing) Validate() error {
	if t.RetryPeriod <= 0 || t.RenewDeadline <= t.RetryPeriod || t.LeaseDuration <= t.RenewDeadline {
		return errors.New("leader: timing must satisfy 0 < RetryPeriod < RenewDeadline < LeaseDuration")
	}
	return nil
}

// Candidate is the election's decision core for one identity: pure state,
// fed with what the lease holds and the time, answering what to write.
type Candidate struct {
	id string
	t  Timing

	observed   *Record   // the lease as last read or written; nil if absent
	observedAt time.Time // when observed was first seen in this form
	renewedAt  time.Time // start of our last successful write; zero if not leading
}

// NewCandidate returns the core for identity id.
func NewCandidate(id string, t Timing) *Candidate { return &Candidate{id: id, t: t} }

// Identity is the candidate's identity.
func (c *Candidate) Identity() string { return c.id }

// Observe records what the lease holds at now (nil: there is no lease).
func (c *Candidate) Observe(now time.Time, r *Record) {
	if !same(c.observed, r) {
		c.observed = clone(r)
		c.observedAt = now
	}
	if r == nil || r.Holder != c.id {
		c.renewedAt = time.Time{}
	}
}

// Attempt returns the record to write at now to acquire or renew the
// lease, or nil when another candidate holds a lease that is still valid
// by this candidate's clock. The write must be a compare-and-swap on the
// last observed lease; report its success with Wrote.
func (c *Candidate) Attempt(now time.Time) *Record {
	o := c.observed
	// What is written has the lease's precision (whole seconds,
	// microseconds), so that reading it back finds the same record.
	stamp := now.Round(0).Truncate(time.Microsecond)
	dur := wholeSeconds(c.t.LeaseDuration)
	switch {
	case o == nil:
		return &Record{Holder: c.id, Duration: dur, Acquired: stamp, Renewed: stamp}
	case o.Holder == c.id:
		r := *o
		r.Duration, r.Renewed = dur, stamp
		return &r
	case o.Holder != "" && now.Before(c.observedAt.Add(o.Duration)):
		return nil
	}
	return &Record{Holder: c.id, Duration: dur, Acquired: stamp, Renewed: stamp, Transitions: o.Transitions + 1}
}

// wholeSeconds rounds d up to whole seconds, at least one.
func wholeSeconds(d time.Duration) time.Duration {
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

// Wrote records that the write of r, started at start, succeeded.
func (c *Candidate) Wrote(start time.Time, r *Record) {
	c.observed = clone(r)
	c.observedAt = start
	if r.Holder == c.id {
		c.renewedAt = start
	} else {
		c.renewedAt = time.Time{}
	}
}

// Leading reports whether the candidate may act as leader at now: it
// holds the lease and its last successful write started less than
// RenewDeadline ago.
func (c *Candidate) Leading(now time.Time) bool {
	return !c.renewedAt.IsZero() && now.Sub(c.renewedAt) < c.t.RenewDeadline
}

// LeadingUntil is when the candidate stops leading unless it renews; zero
// when it does not lead.
func (c *Candidate) LeadingUntil() time.Time {
	if c.renewedAt.IsZero() {
		return time.Time{}
	}
	return c.renewedAt.Add(c.t.RenewDeadline)
}

// Release returns the record that frees the lease, or nil if the candidate
// does not hold it. It stops leading at once, whether or not the write
// then succeeds.
func (c *Candidate) Release(now time.Time) *Record {
	c.renewedAt = time.Time{}
	o := c.observed
	if o == nil || o.Holder != c.id {
		return nil
	}
	stamp := now.Round(0).Truncate(time.Microsecond)
	return &Record{Duration: time.Second, Acquired: stamp, Renewed: stamp, Transitions: o.Transitions}
}

// Holder is the leader as last observed ("" when none).
func (c *Candidate) Holder() string {
	if c.observed == nil {
		return ""
	}
	return c.observed.Holder
}

func same(a, b *Record) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Holder == b.Holder && a.Duration == b.Duration && a.Acquired.Equal(b.Acquired) &&
		a.Renewed.Equal(b.Renewed) && a.Transitions == b.Transitions
}

func clone(r *Record) *Record {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}
