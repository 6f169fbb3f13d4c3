package leader_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skiffhq/skiff/core/controllers/leader"
)

var timing = leader.Timing{LeaseDuration: 10 * time.Second, RenewDeadline: 7 * time.Second, RetryPeriod: time.Second}

func TestTimingValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    leader.Timing
		ok   bool
	}{
		{"default", leader.DefaultTiming, true},
		{"renew deadline equals lease", leader.Timing{LeaseDuration: 5 * time.Second, RenewDeadline: 5 * time.Second, RetryPeriod: time.Second}, false},
		{"retry equals renew deadline", leader.Timing{LeaseDuration: 5 * time.Second, RenewDeadline: time.Second, RetryPeriod: time.Second}, false},
		{"zero retry", leader.Timing{LeaseDuration: 5 * time.Second, RenewDeadline: 2 * time.Second}, false},
	} {
		if err := tc.t.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
}

func TestCandidateDecisions(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := leader.NewCandidate("a", timing)
	a.Observe(now, nil)
	rec := a.Attempt(now)
	if rec == nil || rec.Holder != "a" || rec.Transitions != 0 {
		t.Fatalf("no lease: attempt = %+v", rec)
	}
	a.Wrote(now, rec)
	if !a.Leading(now) || !a.Leading(now.Add(timing.RenewDeadline-1)) || a.Leading(now.Add(timing.RenewDeadline)) {
		t.Fatal("leading window is not [write, write+RenewDeadline)")
	}

	b := leader.NewCandidate("b", timing)
	b.Observe(now.Add(time.Second), rec)
	if got := b.Attempt(now.Add(10 * time.Second)); got != nil {
		t.Fatalf("b takes a lease that is valid by its own clock: %+v", got)
	}
	// b judges by when it first saw the record, not by the record's times:
	// a record renewed "long ago" by a skewed clock is still valid.
	if got := b.Attempt(now.Add(11 * time.Second)); got == nil || got.Holder != "b" || got.Transitions != 1 {
		t.Fatalf("b does not take an expired lease: %+v", got)
	}
	if b.Leading(now.Add(11 * time.Second)) {
		t.Fatal("b leads before its write succeeded")
	}

	// a renews: same acquire time and transitions, new renew time.
	a.Observe(now.Add(2*time.Second), rec)
	renew := a.Attempt(now.Add(2 * time.Second))
	if renew == nil || renew.Holder != "a" || !renew.Acquired.Equal(rec.Acquired) || !renew.Renewed.After(rec.Renewed) {
		t.Fatalf("renew = %+v", renew)
	}

	// Someone else's record seen by the leader ends its term at once.
	a.Observe(now.Add(3*time.Second), &leader.Record{Holder: "b", Duration: 10 * time.Second})
	if a.Leading(now.Add(3 * time.Second)) {
		t.Fatal("a still leads after seeing b hold the lease")
	}

	// A released lease is free at once.
	c := leader.NewCandidate("c", timing)
	c.Observe(now, &leader.Record{Holder: "", Duration: time.Second, Transitions: 4})
	if got := c.Attempt(now); got == nil || got.Transitions != 5 {
		t.Fatalf("released lease: attempt = %+v", got)
	}
}

func TestReleaseOnlyWhenHeld(t *testing.T) {
	now := time.Now()
	a := leader.NewCandidate("a", timing)
	if a.Release(now) != nil {
		t.Fatal("release of a lease never held")
	}
	rec := a.Attempt(now)
	a.Wrote(now, rec)
	rel := a.Release(now)
	if rel == nil || rel.Holder != "" || a.Leading(now) {
		t.Fatalf("release = %+v, leading %v", rel, a.Leading(now))
	}
}

// cluster simulates candidates sharing one lease, each polling every
// RetryPeriod, with compare-and-swap writes. A candidate can be stopped
// (crash: no release), partitioned (its reads and writes fail) or asked to
// step down (release).
type cluster struct {
	mu      sync.Mutex
	rec     *leader.Record
	version int
	cands   []*sim
}

type sim struct {
	c           *leader.Candidate
	stopped     bool
	partitioned bool
	release     bool
}

func (cl *cluster) add(id string) *sim {
	s := &sim{c: leader.NewCandidate(id, timing)}
	cl.mu.Lock()
	cl.cands = append(cl.cands, s)
	cl.mu.Unlock()
	return s
}

// run is one candidate's loop.
func (cl *cluster) run(s *sim, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-time.After(timing.RetryPeriod):
		}
		cl.mu.Lock()
		if s.stopped {
			cl.mu.Unlock()
			return
		}
		if s.partitioned {
			cl.mu.Unlock()
			continue
		}
		if s.release {
			if rel := s.c.Release(time.Now()); rel != nil {
				cl.rec, cl.version = rel, cl.version+1
			}
			s.stopped = true
			cl.mu.Unlock()
			return
		}
		s.c.Observe(time.Now(), cl.rec)
		seen := cl.version
		cl.mu.Unlock()
		start := time.Now()
		rec := s.c.Attempt(start)
		if rec == nil {
			continue
		}
		time.Sleep(10 * time.Millisecond) // the write's round trip
		cl.mu.Lock()
		if cl.version == seen && !s.partitioned {
			cl.rec, cl.version = rec, cl.version+1
			s.c.Wrote(start, rec)
		}
		cl.mu.Unlock()
	}
}

// leaders lists the candidates that may act now.
func (cl *cluster) leaders() []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var out []string
	for _, s := range cl.cands {
		if !s.stopped && s.c.Leading(time.Now()) {
			out = append(out, s.c.Identity())
		}
	}
	return out
}

// watch checks, every 10ms of fake time, that at most one candidate leads,
// and records who leads.
func (cl *cluster) watch(t *testing.T, done <-chan struct{}, history *[]string) {
	for {
		select {
		case <-done:
			return
		case <-time.After(10 * time.Millisecond):
		}
		l := cl.leaders()
		if len(l) > 1 {
			t.Errorf("%v: two leaders at once: %v", time.Now(), l)
		}
		cur := ""
		if len(l) == 1 {
			cur = l[0]
		}
		if n := len(*history); n == 0 || (*history)[n-1] != cur {
			*history = append(*history, cur)
		}
	}
}

func TestElectionSafetyAndFailover(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fail makes the leader go away; maxGap bounds the time without a
		// leader that follows.
		fail   func(s *sim)
		maxGap time.Duration
	}{
		{"crash", func(s *sim) { s.stopped = true }, timing.LeaseDuration + 2*timing.RetryPeriod},
		{"partition", func(s *sim) { s.partitioned = true }, timing.LeaseDuration + 2*timing.RetryPeriod},
		{"release", func(s *sim) { s.release = true }, 3 * timing.RetryPeriod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cl := &cluster{}
				done := make(chan struct{})
				var wg sync.WaitGroup
				for _, id := range []string{"a", "b", "c"} {
					s := cl.add(id)
					wg.Go(func() { cl.run(s, done) })
				}
				var history []string
				wg.Go(func() { cl.watch(t, done, &history) })

				time.Sleep(5 * time.Second)
				first := cl.leaders()
				if len(first) != 1 {
					t.Fatalf("after 5s the leaders are %v", first)
				}
				cl.mu.Lock()
				var old *sim
				for _, s := range cl.cands {
					if s.c.Identity() == first[0] {
						old = s
					}
				}
				tc.fail(old)
				cl.mu.Unlock()
				failedAt := time.Now()
				var next []string
				for time.Since(failedAt) < 2*time.Minute {
					time.Sleep(10 * time.Millisecond)
					if next = cl.leaders(); len(next) == 1 && next[0] != first[0] {
						break
					}
				}
				gap := time.Since(failedAt)
				if len(next) != 1 || next[0] == first[0] {
					t.Fatalf("no failover: leaders %v", next)
				}
				if gap > tc.maxGap {
					t.Fatalf("failover took %v, want at most %v", gap, tc.maxGap)
				}
				// The new leader keeps the lease.
				time.Sleep(time.Minute)
				if l := cl.leaders(); len(l) != 1 || l[0] != next[0] {
					t.Fatalf("a minute later the leaders are %v, want [%s]", l, next[0])
				}
				close(done)
				wg.Wait()
				t.Logf("failover in %v; leadership history %q", gap, history)
			})
		})
	}
}
