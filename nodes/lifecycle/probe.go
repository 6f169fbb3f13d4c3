package lifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// ProbeResult is the state of one probe of one container.
type ProbeResult struct {
	// Success is the probe's verdict after its thresholds.
	Success bool
	// Successes and Failures count the consecutive outcomes.
	Successes, Failures int
	// Next is when the next attempt is due; zero: not probed yet.
	Next time.Time
}

// Probes is the state of a container's probes.
type Probes struct {
	Startup, Readiness, Liveness ProbeResult
}

func probePeriod(p *corev1.Probe) time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}

// ProbeTimeout is the timeout of one attempt of p (default 1 s).
func ProbeTimeout(p *corev1.Probe) time.Duration {
	if p.TimeoutSeconds <= 0 {
		return time.Second
	}
	return time.Duration(p.TimeoutSeconds) * time.Second
}

func successThreshold(p *corev1.Probe) int {
	if p.SuccessThreshold <= 0 {
		return 1
	}
	return int(p.SuccessThreshold)
}

func failureThreshold(p *corev1.Probe) int {
	if p.FailureThreshold <= 0 {
		return 3
	}
	return int(p.FailureThreshold)
}

// ProbeDue returns when the next attempt of p on a container started at
// startedAt is due.
func ProbeDue(p *corev1.Probe, r ProbeResult, startedAt time.Time) time.Time {
	if r.Next.IsZero() {
		return startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
	}
	return r.Next
}

// ProbeObserve records the outcome of an attempt made at now.
func ProbeObserve(p *corev1.Probe, r ProbeResult, ok bool, now time.Time) ProbeResult {
	if ok {
		r.Successes++
		r.Failures = 0
		if r.Successes >= successThreshold(p) {
			r.Success = true
		}
	} else {
		r.Failures++
		r.Successes = 0
		if r.Failures >= failureThreshold(p) {
			r.Success = false
		}
	}
	r.Next = now.Add(probePeriod(p))
	return r
}

// NewProbes is the state of a container's probes when it starts: not
// started and not ready until their probes succeed, alive until its
// liveness probe fails.
func NewProbes() *Probes {
	return &Probes{Liveness: ProbeResult{Success: true}}
}

// started reports whether c (with probes state p, nil for none yet) has
// passed its startup probe.
func started(c *corev1.Container, p *Probes) bool {
	return c.StartupProbe == nil || p != nil && p.Startup.Success
}

// ready reports whether a running container counts as ready.
func ready(c *corev1.Container, p *Probes) bool {
	if !started(c, p) {
		return false
	}
	return c.ReadinessProbe == nil || p != nil && p.Readiness.Success
}

// unhealthy reports whether a running container must be killed for its
// probes: liveness failed, or startup failed its threshold.
func unhealthy(c *corev1.Container, p *Probes) bool {
	if p == nil {
		return false
	}
	if c.StartupProbe != nil && !p.Startup.Success && p.Startup.Failures >= failureThreshold(c.StartupProbe) {
		return true
	}
	return c.LivenessProbe != nil && started(c, p) && !p.Liveness.Success
}

// DueProbes lists the probes of a running container c (started at
// startedAt) that are due at now, in the order they gate each other:
// startup first, and liveness and readiness only once it has succeeded.
// next is when the earliest attempt not yet due is (zero: none).
func DueProbes(c *corev1.Container, p *Probes, startedAt, now time.Time) (due []runtime.ProbeKind, next time.Time) {
	consider := func(kind runtime.ProbeKind) {
		at := ProbeDue(ProbeSpec(c, kind), *p.Of(kind), startedAt)
		if !now.Before(at) {
			due = append(due, kind)
			return
		}
		next = earliest(next, at)
	}
	if c.StartupProbe != nil && !p.Startup.Success {
		consider(runtime.ProbeStartup)
		return due, next
	}
	if c.LivenessProbe != nil {
		consider(runtime.ProbeLiveness)
	}
	if c.ReadinessProbe != nil {
		consider(runtime.ProbeReadiness)
	}
	return due, next
}

// ProbeSpec returns c's probe of the given kind (nil if it has none).
func ProbeSpec(c *corev1.Container, kind runtime.ProbeKind) *corev1.Probe {
	switch kind {
	case runtime.ProbeStartup:
		return c.StartupProbe
	case runtime.ProbeReadiness:
		return c.ReadinessProbe
	case runtime.ProbeLiveness:
		return c.LivenessProbe
	}
	return nil
}

// Of returns the state of the probe of the given kind.
func (p *Probes) Of(kind runtime.ProbeKind) *ProbeResult {
	switch kind {
	case runtime.ProbeStartup:
		return &p.Startup
	case runtime.ProbeReadiness:
		return &p.Readiness
	}
	return &p.Liveness
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
