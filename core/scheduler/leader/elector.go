package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Leases is how an Elector reads and writes its lease;
// client.For[*coordinationv1.Lease] is one. Update must be conditional on
// the lease's resourceVersion and fail with a Kubernetes conflict when it
// is stale; Get must fail with NotFound when there is no lease.
type Leases interface {
	Get(ctx context.Context, ns, name string) (*coordinationv1.Lease, error)
	Create(ctx context.Context, l *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error)
	Update(ctx context.Context, l *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error)
}

// Config configures an Elector.
type Config struct {
	Leases          Leases
	Namespace, Name string
	// Identity names this replica; it must differ between replicas.
	Identity string
	// Timing defaults to DefaultTiming (fields left zero are taken from it).
	Timing Timing
	// ReleaseOnCancel gives the lease up when Run's context ends, so that
	// another replica takes over at once rather than after LeaseDuration.
	ReleaseOnCancel bool
	// Logger receives transitions; nil discards them.
	Logger *slog.Logger
}

// Elector runs an election for one replica.
type Elector struct {
	cfg     Config
	log     *slog.Logger
	leading atomic.Bool
}

// New validates cfg and returns an elector.
func New(cfg Config) (*Elector, error) {
	if cfg.Leases == nil || cfg.Name == "" || cfg.Namespace == "" || cfg.Identity == "" {
		return nil, errors.New("leader: Leases, Namespace, Name and Identity are required")
	}
	t := &cfg.Timing
	if t.LeaseDuration == 0 {
		t.LeaseDuration = DefaultTiming.LeaseDuration
	}
	if t.RenewDeadline == 0 {
		t.RenewDeadline = DefaultTiming.RenewDeadline
	}
	if t.RetryPeriod == 0 {
		t.RetryPeriod = DefaultTiming.RetryPeriod
	}
	if t.RenewDeadline >= t.LeaseDuration || t.RetryPeriod >= t.RenewDeadline || t.RetryPeriod <= 0 {
		return nil, fmt.Errorf("leader: want 0 < retryPeriod (%v) < renewDeadline (%v) < leaseDuration (%v)",
			t.RetryPeriod, t.RenewDeadline, t.LeaseDuration)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Elector{cfg: cfg, log: log.With("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)}, nil
}

// Leading reports whether this replica leads now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run takes part in the election until ctx ends. Each time the replica
// wins it calls lead in a goroutine with a context that ends when it
// loses (or ctx ends), and waits for lead to return before it tries to
// win again; lead must return soon after its context ends. Run returns
// nil when ctx ends, after lead has returned.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context)) error {
	t := e.cfg.Timing
	var (
		st     State
		term   *term
		jitter = rand.New(rand.NewPCG(rand.Uint64(), 0))
	)
	defer func() {
		if term != nil {
			term.stop()
		}
		e.leading.Store(false)
		if e.cfg.ReleaseOnCancel && st.Exists && st.Record.Holder == e.cfg.Identity {
			e.release(st)
		}
	}()
	for {
		st = e.round(ctx, st)
		now := time.Now()
		leading := Leading(t, e.cfg.Identity, st, now)
		switch {
		case leading && term == nil:
			e.log.Info("leading")
			term = e.start(ctx, lead)
		case !leading && term != nil:
			e.log.Warn("lost the lease; stopping")
			term.stop()
			term = nil
		}
		if term != nil {
			// Stop leading at the deadline even if a renewal hangs.
			term.deadline(st.RenewedAt.Add(t.RenewDeadline))
		}
		e.leading.Store(term != nil && !term.ended())
		wait := t.RetryPeriod
		if term == nil {
			wait += time.Duration(jitter.Int64N(int64(t.RetryPeriod) / 5))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		case <-term.done():
			// The term ended on its own (deadline): go round at once.
		}
		if term != nil && term.ended() {
			term.stop()
			term = nil
			e.leading.Store(false)
		}
	}
}

// round reads the lease and writes it if Decide says so.
func (e *Elector) round(ctx context.Context, st State) State {
	t := e.cfg.Timing
	cctx, cancel := context.WithTimeout(ctx, t.RetryPeriod)
	defer cancel()
	l, err := e.cfg.Leases.Get(cctx, e.cfg.Namespace, e.cfg.Name)
	now := time.Now()
	switch {
	case apierrors.IsNotFound(err):
		st = Observe(e.cfg.Identity, st, nil, now)
	case err != nil:
		if ctx.Err() == nil {
			e.log.Debug("read lease", "err", err)
		}
		return st
	default:
		st = Observe(e.cfg.Identity, st, l, now)
	}
	d := Decide(t, e.cfg.Identity, st, now)
	if d.Action == Wait {
		return st
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.Name, ResourceVersion: st.Version},
		Spec: ToSpec(d.Record)}
	var out *coordinationv1.Lease
	if d.Action == Create {
		lease.ResourceVersion = ""
		out, err = e.cfg.Leases.Create(cctx, lease, metav1.CreateOptions{})
	} else {
		out, err = e.cfg.Leases.Update(cctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		if ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			e.log.Debug("write lease", "action", d.Action, "err", err)
		}
		return st
	}
	if st.Record.Holder != e.cfg.Identity {
		e.log.Info("acquired the lease", "previous", st.Record.Holder, "transitions", d.Record.Transitions)
	}
	return Wrote(e.cfg.Identity, st, FromLease(out), out.ResourceVersion, now)
}

// release gives the lease up: no holder, a one-second duration.
func (e *Elector) release(st State) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timing.RetryPeriod)
	defer cancel()
	now := time.Now()
	r := Record{LeaseDuration: time.Second, AcquireTime: now, RenewTime: now, Transitions: st.Record.Transitions}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.Name, ResourceVersion: st.Version},
		Spec: ToSpec(r)}
	if _, err := e.cfg.Leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		e.log.Debug("release lease", "err", err)
		return
	}
	e.log.Info("released the lease")
}

// term is one period of leadership: the leader's goroutine and the
// context that stops it.
type term struct {
	cancel   context.CancelFunc
	finished chan struct{}
	mu       sync.Mutex
	timer    *time.Timer
	over     chan struct{} // closed when the deadline passes
	overOnce sync.Once
}

func (e *Elector) start(ctx context.Context, lead func(context.Context)) *term {
	lctx, cancel := context.WithCancel(ctx)
	tm := &term{cancel: cancel, finished: make(chan struct{}), over: make(chan struct{})}
	go func() {
		defer close(tm.finished)
		lead(lctx)
	}()
	return tm
}

// deadline (re)arms the time at which the term ends without a renewal.
func (tm *term) deadline(at time.Time) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	if tm.timer != nil {
		tm.timer.Stop()
	}
	tm.timer = time.AfterFunc(time.Until(at), func() {
		tm.overOnce.Do(func() { close(tm.over) })
		tm.cancel()
	})
}

func (tm *term) done() <-chan struct{} {
	if tm == nil {
		return nil
	}
	return tm.over
}

func (tm *term) ended() bool {
	select {
	case <-tm.over:
		return true
	default:
		return false
	}
}

// stop ends the term and waits for the leader's goroutine.
func (tm *term) stop() {
	tm.mu.Lock()
	if tm.timer != nil {
		tm.timer.Stop()
	}
	tm.mu.Unlock()
	tm.cancel()
	<-tm.finished
}
