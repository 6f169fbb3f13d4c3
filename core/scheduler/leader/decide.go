package leader

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Timing is the election's clock: how long a lease lasts, how long a
// leader goes on without renewing, how often replicas try.
type Timing struct {
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// DefaultTiming is kube-scheduler's: 15 s, 10 s, 2 s.
var DefaultTiming = Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// Record is what a lease says.
type Record struct {
	Holder                 string
	LeaseDuration          time.Duration
	AcquireTime, RenewTime time.Time
	Transitions            int32
}

// State is what a replica knows of the lease.
type State struct {
	// Exists is false while no lease was found.
	Exists bool
	// Record is the lease as last read or written, Version its
	// resourceVersion.
	Record  Record
	Version string
	// ObservedAt is when, by the local clock, the record was last seen to
	// change (or was written by this replica).
	ObservedAt time.Time
	// RenewedAt is when this replica started its last successful write
	// as the holder; zero when it does not hold the lease.
	RenewedAt time.Time
}

// Action is what to do with the lease.
type Action int

// Actions.
const (
	Wait Action = iota
	Create
	Update
)

func (a Action) String() string { return [...]string{"Wait", "Create", "Update"}[a] }

// Decision is the outcome of Decide.
type Decision struct {
	Action Action
	// Record is what to write for Create and Update.
	Record Record
	// Leading is whether the replica may act as the leader now.
	Leading bool
}

// Decide says what replica id should do at now, given s: create the lease
// if there is none, renew it if it holds it, take it over once it has
// seen it unchanged for its duration (or released), and wait otherwise.
func Decide(t Timing, id string, s State, now time.Time) Decision {
	d := Decision{Leading: Leading(t, id, s, now)}
	r := s.Record
	switch {
	case !s.Exists:
		d.Action = Create
		d.Record = Record{Holder: id, LeaseDuration: t.LeaseDuration, AcquireTime: now, RenewTime: now}
	case r.Holder == id:
		d.Action = Update
		d.Record = r
		d.Record.LeaseDuration, d.Record.RenewTime = t.LeaseDuration, now
		if d.Record.AcquireTime.IsZero() {
			d.Record.AcquireTime = now
		}
	case r.Holder != "" && now.Before(s.ObservedAt.Add(leaseDuration(t, r))):
		d.Action = Wait
	default:
		d.Action = Update
		d.Record = Record{Holder: id, LeaseDuration: t.LeaseDuration, AcquireTime: now, RenewTime: now, Transitions: r.Transitions + 1}
	}
	return d
}

// leaseDuration is the duration the holder wrote, or ours if it wrote none.
func leaseDuration(t Timing, r Record) time.Duration {
	if r.LeaseDuration > 0 {
		return r.LeaseDuration
	}
	return t.LeaseDuration
}

// Leading reports whether replica id may lead at now: it holds the lease
// and renewed it less than RenewDeadline ago.
func Leading(t Timing, id string, s State, now time.Time) bool {
	return s.Exists && s.Record.Holder == id && !s.RenewedAt.IsZero() && now.Before(s.RenewedAt.Add(t.RenewDeadline))
}

// Observe records a lease read at now (nil: there is none).
func Observe(id string, s State, l *coordinationv1.Lease, now time.Time) State {
	if l == nil {
		return State{}
	}
	r := FromLease(l)
	if !s.Exists || !r.Equal(s.Record) {
		s.ObservedAt = now
	}
	if r.Holder != id {
		s.RenewedAt = time.Time{}
	}
	s.Exists, s.Record, s.Version = true, r, l.ResourceVersion
	return s
}

// Wrote records a successful write of r (started at sent) that left the
// lease at version.
func Wrote(id string, s State, r Record, version string, sent time.Time) State {
	s.Exists, s.Record, s.Version, s.ObservedAt = true, r, version, sent
	s.RenewedAt = time.Time{}
	if r.Holder == id {
		s.RenewedAt = sent
	}
	return s
}

// Equal reports whether two records say the same (times compared as
// instants).
func (r Record) Equal(o Record) bool {
	return r.Holder == o.Holder && r.LeaseDuration == o.LeaseDuration && r.Transitions == o.Transitions &&
		r.AcquireTime.Equal(o.AcquireTime) && r.RenewTime.Equal(o.RenewTime)
}

// FromLease reads a lease's record.
func FromLease(l *coordinationv1.Lease) Record {
	var r Record
	sp := &l.Spec
	if sp.HolderIdentity != nil {
		r.Holder = *sp.HolderIdentity
	}
	if sp.LeaseDurationSeconds != nil {
		r.LeaseDuration = time.Duration(*sp.LeaseDurationSeconds) * time.Second
	}
	if sp.AcquireTime != nil {
		r.AcquireTime = sp.AcquireTime.Time
	}
	if sp.RenewTime != nil {
		r.RenewTime = sp.RenewTime.Time
	}
	if sp.LeaseTransitions != nil {
		r.Transitions = *sp.LeaseTransitions
	}
	return r
}

// ToSpec writes a record as a lease spec (durations in whole seconds, at
// least 1).
func ToSpec(r Record) coordinationv1.LeaseSpec {
	secs := int32(max(1, (r.LeaseDuration+time.Second-1)/time.Second))
	holder, trans := r.Holder, r.Transitions
	acq, ren := metav1.NewMicroTime(r.AcquireTime), metav1.NewMicroTime(r.RenewTime)
	return coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &secs,
		AcquireTime: &acq, RenewTime: &ren, LeaseTransitions: &trans}
}
