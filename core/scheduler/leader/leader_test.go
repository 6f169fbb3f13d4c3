package leader_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiffhq/skiff/core/scheduler/leader"
)

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	timing = leader.Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestDecide(t *testing.T) {
	held := func(holder string, trans int32) leader.Record {
		return leader.Record{Holder: holder, LeaseDuration: 15 * time.Second, AcquireTime: t0, RenewTime: t0, Transitions: trans}
	}
	tests := []struct {
		name  string
		state leader.State
		now   time.Time
		want  leader.Decision
	}{
		{"no lease: create it", leader.State{}, at(0),
			leader.Decision{Action: leader.Create, Record: leader.Record{Holder: "me", LeaseDuration: 15 * time.Second, AcquireTime: at(0), RenewTime: at(0)}}},
		{"another's fresh lease: wait", leader.State{Exists: true, Record: held("other", 2), ObservedAt: at(0)}, at(14 * time.Second),
			leader.Decision{Action: leader.Wait}},
		{"another's lease unchanged for its duration: take it over", leader.State{Exists: true, Record: held("other", 2), ObservedAt: at(0)}, at(15 * time.Second),
			leader.Decision{Action: leader.Update, Record: leader.Record{Holder: "me", LeaseDuration: 15 * time.Second, AcquireTime: at(15 * time.Second), RenewTime: at(15 * time.Second), Transitions: 3}}},
		{"a lease that says 5s lasts 5s", leader.State{Exists: true, Record: leader.Record{Holder: "other", LeaseDuration: 5 * time.Second}, ObservedAt: at(0)}, at(5 * time.Second),
			leader.Decision{Action: leader.Update, Record: leader.Record{Holder: "me", LeaseDuration: 15 * time.Second, AcquireTime: at(5 * time.Second), RenewTime: at(5 * time.Second), Transitions: 1}}},
		{"a released lease: take it at once", leader.State{Exists: true, Record: held("", 4), ObservedAt: at(0)}, at(time.Millisecond),
			leader.Decision{Action: leader.Update, Record: leader.Record{Holder: "me", LeaseDuration: 15 * time.Second, AcquireTime: at(time.Millisecond), RenewTime: at(time.Millisecond), Transitions: 5}}},
		{"own lease, renewed recently: renew, and lead", leader.State{Exists: true, Record: held("me", 1), ObservedAt: at(0), RenewedAt: at(0)}, at(2 * time.Second),
			leader.Decision{Action: leader.Update, Leading: true, Record: leader.Record{Holder: "me", LeaseDuration: 15 * time.Second, AcquireTime: t0, RenewTime: at(2 * time.Second), Transitions: 1}}},
		{"own lease, not renewed for the deadline: renew, but do not lead", leader.State{Exists: true, Record: held("me", 1), ObservedAt: at(0), RenewedAt: at(0)}, at(10 * time.Second),
			leader.Decision{Action: leader.Update, Record: leader.Record{Holder: "me", LeaseDuration: 15 * time.Second, AcquireTime: t0, RenewTime: at(10 * time.Second), Transitions: 1}}},
		{"own lease from an earlier life: renew, not leading yet", leader.State{Exists: true, Record: held("me", 1), ObservedAt: at(0)}, at(time.Second),
			leader.Decision{Action: leader.Update, Record: leader.Record{Holder: "me", LeaseDuration: 15 * time.Second, AcquireTime: t0, RenewTime: at(time.Second), Transitions: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := leader.Decide(timing, "me", tt.state, tt.now)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Decide (-want +got):\n%s", d)
			}
		})
	}
}

func lease(holder string, renew time.Time, trans int32) *coordinationv1.Lease {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: "ns", ResourceVersion: "7"},
		Spec: leader.ToSpec(leader.Record{Holder: holder, LeaseDuration: 15 * time.Second, AcquireTime: t0, RenewTime: renew, Transitions: trans})}
	return l
}

func TestObserve(t *testing.T) {
	s := leader.Observe("me", leader.State{}, lease("other", at(0), 1), at(time.Second))
	if !s.Exists || s.ObservedAt != at(time.Second) || s.Version != "7" || s.Record.Holder != "other" {
		t.Fatalf("first observation: %+v", s)
	}
	// The same record read again (times go through the API's
	// microsecond encoding and another location) is not a change.
	again := lease("other", at(0).In(time.FixedZone("x", 3600)), 1)
	if s2 := leader.Observe("me", s, again, at(5*time.Second)); s2.ObservedAt != at(time.Second) {
		t.Errorf("unchanged record moved ObservedAt to %v", s2.ObservedAt)
	}
	// A renewal is.
	if s2 := leader.Observe("me", s, lease("other", at(2*time.Second), 1), at(5*time.Second)); s2.ObservedAt != at(5*time.Second) {
		t.Errorf("renewed record left ObservedAt at %v", s2.ObservedAt)
	}
	// Seeing someone else hold it ends our claim.
	mine := leader.Wrote("me", leader.State{}, leader.FromLease(lease("me", at(0), 1)), "8", at(0))
	if !leader.Leading(timing, "me", mine, at(time.Second)) {
		t.Fatal("not leading right after a write")
	}
	if s2 := leader.Observe("me", mine, lease("other", at(3*time.Second), 2), at(3*time.Second)); leader.Leading(timing, "me", s2, at(3*time.Second)) {
		t.Error("still leading after seeing another holder")
	}
	if s2 := leader.Observe("me", s, nil, at(9*time.Second)); s2.Exists {
		t.Error("no lease observed, but Exists")
	}
}

// memLeases is an in-memory lease store with the API's compare-and-swap
// semantics (and a switch that makes it fail, as an unreachable API).
type memLeases struct {
	mu   sync.Mutex
	l    *coordinationv1.Lease
	rev  int
	down bool
}

var gr = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

func (m *memLeases) Get(_ context.Context, _, name string) (*coordinationv1.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, apierrors.NewServiceUnavailable("down")
	}
	if m.l == nil {
		return nil, apierrors.NewNotFound(gr, name)
	}
	return m.l.DeepCopy(), nil
}

func (m *memLeases) Create(_ context.Context, l *coordinationv1.Lease, _ metav1.CreateOptions) (*coordinationv1.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, apierrors.NewServiceUnavailable("down")
	}
	if m.l != nil {
		return nil, apierrors.NewAlreadyExists(gr, l.Name)
	}
	return m.put(l), nil
}

func (m *memLeases) Update(_ context.Context, l *coordinationv1.Lease, _ metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, apierrors.NewServiceUnavailable("down")
	}
	if m.l == nil {
		return nil, apierrors.NewNotFound(gr, l.Name)
	}
	if l.ResourceVersion != m.l.ResourceVersion {
		return nil, apierrors.NewConflict(gr, l.Name, errors.New("stale"))
	}
	return m.put(l), nil
}

func (m *memLeases) put(l *coordinationv1.Lease) *coordinationv1.Lease {
	m.rev++
	c := l.DeepCopy()
	c.ResourceVersion = strconv.Itoa(m.rev)
	m.l = c
	return c.DeepCopy()
}

func (m *memLeases) setDown(v bool) {
	m.mu.Lock()
	m.down = v
	m.mu.Unlock()
}

// replica is an elector whose leadership periods are recorded.
type replica struct {
	e      *leader.Elector
	cancel context.CancelFunc
	done   chan struct{}
	log    *terms
}

type interval struct {
	who        string
	start, end time.Time
}

// terms records who led when.
type terms struct {
	mu  sync.Mutex
	all []interval
}

func (ts *terms) leading() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []string
	for _, iv := range ts.all {
		if iv.end.IsZero() {
			out = append(out, iv.who)
		}
	}
	return out
}

// overlaps reports two terms that overlap.
func (ts *terms) overlaps() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []string
	for i, a := range ts.all {
		for _, b := range ts.all[i+1:] {
			aEnd, bEnd := a.end, b.end
			if aEnd.IsZero() {
				aEnd = time.Now().Add(time.Hour)
			}
			if bEnd.IsZero() {
				bEnd = time.Now().Add(time.Hour)
			}
			if a.start.Before(bEnd) && b.start.Before(aEnd) {
				out = append(out, a.who+" and "+b.who)
			}
		}
	}
	return out
}

func start(t *testing.T, store leader.Leases, id string, release bool, ts *terms) *replica {
	t.Helper()
	e, err := leader.New(leader.Config{Leases: store, Namespace: "ns", Name: "l", Identity: id, Timing: timing, ReleaseOnCancel: release})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &replica{e: e, cancel: cancel, done: make(chan struct{}), log: ts}
	go func() {
		defer close(r.done)
		_ = e.Run(ctx, func(ctx context.Context) {
			ts.mu.Lock()
			i := len(ts.all)
			ts.all = append(ts.all, interval{who: id, start: time.Now()})
			ts.mu.Unlock()
			<-ctx.Done()
			ts.mu.Lock()
			ts.all[i].end = time.Now()
			ts.mu.Unlock()
		})
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() { r.cancel(); <-r.done }

func TestOneLeaderAndTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &memLeases{}
		ts := &terms{}
		a := start(t, store, "a", false, ts)
		time.Sleep(time.Second)
		b := start(t, store, "b", false, ts)
		// For a minute a leads and b waits.
		for range 30 {
			time.Sleep(2 * time.Second)
			synctest.Wait()
			if d := cmp.Diff([]string{"a"}, ts.leading()); d != "" {
				t.Fatalf("at %v (-want +got):\n%s", time.Since(t0), d)
			}
			if !a.e.Leading() || b.e.Leading() {
				t.Fatalf("Leading: a %v, b %v", a.e.Leading(), b.e.Leading())
			}
		}
		// a dies without releasing: b takes over after the lease's
		// duration, not before.
		a.stop()
		died := time.Now()
		for len(ts.leading()) == 0 {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		took := time.Since(died)
		if d := cmp.Diff([]string{"b"}, ts.leading()); d != "" {
			t.Fatalf("after a died (-want +got):\n%s", d)
		}
		if took < timing.LeaseDuration-timing.RetryPeriod || took > timing.LeaseDuration+2*timing.RetryPeriod {
			t.Errorf("b took over %v after a died, want about the lease duration (%v)", took, timing.LeaseDuration)
		}
		if l, _ := store.Get(t.Context(), "ns", "l"); *l.Spec.HolderIdentity != "b" || *l.Spec.LeaseTransitions != 1 {
			t.Errorf("lease after the takeover: holder %s, transitions %d", *l.Spec.HolderIdentity, *l.Spec.LeaseTransitions)
		}
		if o := ts.overlaps(); len(o) > 0 {
			t.Errorf("overlapping terms: %v", o)
		}
	})
}

func TestReleaseHandsOverAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &memLeases{}
		ts := &terms{}
		a := start(t, store, "a", true, ts)
		time.Sleep(time.Second)
		start(t, store, "b", true, ts)
		time.Sleep(5 * time.Second)
		a.stop()
		stopped := time.Now()
		for len(ts.leading()) == 0 {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		if took := time.Since(stopped); took > timing.RetryPeriod*2 {
			t.Errorf("b took over %v after a released the lease", took)
		}
		if o := ts.overlaps(); len(o) > 0 {
			t.Errorf("overlapping terms: %v", o)
		}
	})
}

// TestLeaderThatCannotRenewSteps down: with the API unreachable the
// leader stops within the renew deadline, before anyone could take over;
// once the API is back the lease goes to whoever gets it first and terms
// never overlap.
func TestLeaderThatCannotRenewStepsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &memLeases{}
		ts := &terms{}
		a := start(t, store, "a", false, ts)
		time.Sleep(3 * time.Second)
		if !a.e.Leading() {
			t.Fatal("a is not leading")
		}
		store.setDown(true)
		down := time.Now()
		for len(ts.leading()) > 0 {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		if took := time.Since(down); took > timing.RenewDeadline {
			t.Errorf("a led for %v without the API, past the renew deadline %v", took, timing.RenewDeadline)
		}
		start(t, store, "b", false, ts)
		time.Sleep(5 * time.Second)
		store.setDown(false)
		for len(ts.leading()) == 0 {
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := ts.leading(); len(got) != 1 {
			t.Errorf("leading after the API came back: %v", got)
		}
		if o := ts.overlaps(); len(o) > 0 {
			t.Errorf("overlapping terms: %v", o)
		}
	})
}

func TestConfig(t *testing.T) {
	for _, tm := range []leader.Timing{
		{LeaseDuration: 10 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: time.Second},
		{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 10 * time.Second},
	} {
		if _, err := leader.New(leader.Config{Leases: &memLeases{}, Namespace: "n", Name: "l", Identity: "i", Timing: tm}); err == nil {
			t.Errorf("timing %+v accepted", tm)
		}
	}
	if _, err := leader.New(leader.Config{Leases: &memLeases{}, Namespace: "n", Name: "l"}); err == nil {
		t.Error("no identity accepted")
	}
}
