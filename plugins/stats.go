package plugins

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats is what a Plugin did since it was loaded, across its versions.
type Stats struct {
	Name, Version, Digest string
	// Calls counts filter and score calls that reached an instance.
	Calls int64
	// Errors counts failures by kind, including failed instantiations
	// and refused swaps; only kinds that happened are present.
	Errors map[Kind]int64
	// Instances is the number of live instances of the active version,
	// Idle how many of them wait in the pool; Instantiated counts every
	// instance ever made (a rising count means instances keep breaking).
	Instances, Idle int
	Instantiated    int64
	// Swaps counts successful swaps.
	Swaps int64
	// Latency of calls that reached an instance (successful or not).
	Latency Latency
	// LastError is the latest failure, nil if none.
	LastError *Error
}

// Latency summarises a latency histogram. Quantiles are upper bounds of
// log-linear buckets (4 per power of two, so within 19 %).
type Latency struct {
	Count         int64
	P50, P99, Max time.Duration
}

// histogram is a lock-free log-linear histogram of durations in ns.
type histogram struct {
	buckets [256]atomic.Int64
	max     atomic.Int64
}

func bucketOf(ns int64) int {
	if ns < 4 {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 1 // ns in [2^e, 2^(e+1))
	sub := int(uint64(ns)>>(e-2)) & 3
	return min(4*(e-1)+sub, 255)
}

// bucketTop is the smallest value above bucket i.
func bucketTop(i int) int64 {
	if i < 4 {
		return int64(i + 1)
	}
	e, sub := i/4+1, i%4
	return (int64(4+sub) + 1) << (e - 2)
}

func (h *histogram) record(d time.Duration) {
	ns := int64(d)
	h.buckets[bucketOf(ns)].Add(1)
	for {
		m := h.max.Load()
		if ns <= m || h.max.CompareAndSwap(m, ns) {
			return
		}
	}
}

func (h *histogram) summary() Latency {
	var counts [256]int64
	var total int64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	l := Latency{Count: total, Max: time.Duration(h.max.Load())}
	if total == 0 {
		return l
	}
	quantile := func(q float64) time.Duration {
		rank := int64(q*float64(total-1)) + 1
		var seen int64
		for i, c := range counts {
			seen += c
			if seen >= rank {
				return min(time.Duration(bucketTop(i)), l.Max)
			}
		}
		return l.Max
	}
	l.P50, l.P99 = quantile(0.50), quantile(0.99)
	return l
}

// counters are a Plugin's live counts.
type counters struct {
	calls        atomic.Int64
	errors       [numKinds]atomic.Int64
	instantiated atomic.Int64
	swaps        atomic.Int64
	latency      histogram
	lastErr      atomic.Pointer[Error]
}

func (c *counters) fail(e *Error) {
	c.errors[e.Kind].Add(1)
	c.lastErr.Store(e)
}
