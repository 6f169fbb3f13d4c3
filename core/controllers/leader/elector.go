package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/sdk/client"
)

// Config configures an Elector. Client, Name and Identity are required.
type Config struct {
	Client *client.Client
	// Namespace and Name locate the Lease (namespace default kube-system).
	Namespace, Name string
	// Identity names this replica; it must be unique among the replicas.
	Identity string
	// Timing defaults to DefaultTiming when zero.
	Timing Timing
	// Logger receives leadership changes; nil discards them.
	Logger *slog.Logger
}

// Elector runs a function while its replica leads.
type Elector struct {
	cfg    Config
	leases *client.Typed[*coordinationv1.Lease]
	log    *slog.Logger
	cand   *Candidate
	lease  *coordinationv1.Lease // as last read or written; nil if absent
	leader atomic.Bool
}

// New checks cfg and returns an Elector. It starts nothing.
func New(cfg Config) (*Elector, error) {
	if cfg.Client == nil || cfg.Name == "" || cfg.Identity == "" {
		return nil, errors.New("leader: Config.Client, Name and Identity are required")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = metav1.NamespaceSystem
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = DefaultTiming
	}
	if err := cfg.Timing.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{cfg: cfg, leases: client.For[*coordinationv1.Lease](cfg.Client),
		log:  cfg.Logger.With("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity),
		cand: NewCandidate(cfg.Identity, cfg.Timing)}, nil
}

// IsLeader reports whether this replica leads now.
func (e *Elector) IsLeader() bool { return e.leader.Load() }

// errLost ends a term whose renewals failed for RenewDeadline.
var errLost = errors.New("leader: lost the lease")

// Run campaigns for the lease and runs lead while this replica holds it,
// with a context that ends when the lease is lost or ctx ends. After a lost
// lease, lead is waited for and the replica campaigns again. Run returns
// when ctx ends (nil) or when lead returns by itself (its error), after
// lead has returned and the lease has been released.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context) error) error {
	retry := e.cfg.Timing.RetryPeriod
	for {
		// Campaign.
		for !e.tryWithin(ctx, e.cfg.Timing.RenewDeadline) {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retry):
			}
		}
		e.leader.Store(true)
		e.log.Info("leading")
		leadCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- lead(leadCtx) }()
		err, returned := e.hold(ctx, done)
		cancel()
		if !returned {
			err = <-done
		}
		e.leader.Store(false)
		if ctx.Err() != nil || returned {
			e.release(ctx)
			if returned && err != nil {
				return fmt.Errorf("leader: %w", err)
			}
			return nil
		}
		e.log.Warn("stopped leading: lease not renewed in time")
	}
}

// hold renews the lease until it is lost, ctx ends or lead returns
// (returned is true then, with lead's error).
func (e *Elector) hold(ctx context.Context, done <-chan error) (err error, returned bool) {
	for {
		until := e.cand.LeadingUntil()
		wait := min(e.cfg.Timing.RetryPeriod, time.Until(until))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false
		case err := <-done:
			t.Stop()
			return err, true
		case <-t.C:
		}
		if !e.cand.Leading(time.Now()) {
			return errLost, false
		}
		actx, cancel := context.WithDeadline(ctx, until)
		e.try(actx)
		cancel()
		if !e.cand.Leading(time.Now()) {
			return errLost, false
		}
	}
}

func (e *Elector) tryWithin(ctx context.Context, d time.Duration) bool {
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return e.try(tctx)
}

// try reads the lease and acquires or renews it if the candidate may. It
// reports whether the replica leads afterwards.
func (e *Elector) try(ctx context.Context) bool {
	cur, err := e.leases.Get(ctx, e.cfg.Namespace, e.cfg.Name)
	switch {
	case apierrors.IsNotFound(err):
		e.lease = nil
		e.cand.Observe(time.Now(), nil)
	case err != nil:
		e.log.Debug("read lease", "err", err)
		return e.cand.Leading(time.Now())
	default:
		e.lease = cur
		e.cand.Observe(time.Now(), recordOf(cur))
	}
	start := time.Now()
	rec := e.cand.Attempt(start)
	if rec == nil {
		return false
	}
	var out *coordinationv1.Lease
	if e.lease == nil {
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: e.cfg.Namespace, Name: e.cfg.Name}}
		setRecord(l, rec)
		out, err = e.leases.Create(ctx, l, metav1.CreateOptions{})
	} else {
		l := e.lease.DeepCopy()
		setRecord(l, rec)
		out, err = e.leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		e.log.Debug("write lease", "err", err)
		return e.cand.Leading(time.Now())
	}
	prev := e.cand.Holder()
	e.lease = out
	e.cand.Wrote(start, rec)
	if prev != e.cfg.Identity {
		e.log.Info("acquired lease", "previous", prev, "transitions", rec.Transitions)
	}
	return e.cand.Leading(time.Now())
}

// release frees the lease so that another replica need not wait for it
// to expire.
func (e *Elector) release(ctx context.Context) {
	rec := e.cand.Release(time.Now())
	if rec == nil || e.lease == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	l := e.lease.DeepCopy()
	setRecord(l, rec)
	if _, err := e.leases.Update(rctx, l, metav1.UpdateOptions{}); err != nil {
		e.log.Warn("release lease", "err", err)
		return
	}
	e.log.Info("released lease")
}

func recordOf(l *coordinationv1.Lease) *Record {
	r := &Record{}
	s := l.Spec
	if s.HolderIdentity != nil {
		r.Holder = *s.HolderIdentity
	}
	if s.LeaseDurationSeconds != nil {
		r.Duration = time.Duration(*s.LeaseDurationSeconds) * time.Second
	}
	if s.AcquireTime != nil {
		r.Acquired = s.AcquireTime.Time
	}
	if s.RenewTime != nil {
		r.Renewed = s.RenewTime.Time
	}
	if s.LeaseTransitions != nil {
		r.Transitions = *s.LeaseTransitions
	}
	return r
}

func setRecord(l *coordinationv1.Lease, r *Record) {
	secs := int32(wholeSeconds(r.Duration) / time.Second)
	acq, ren := metav1.NewMicroTime(r.Acquired), metav1.NewMicroTime(r.Renewed)
	l.Spec.HolderIdentity = &r.Holder
	l.Spec.LeaseDurationSeconds = &secs
	l.Spec.AcquireTime = &acq
	l.Spec.RenewTime = &ren
	l.Spec.LeaseTransitions = &r.Transitions
}
