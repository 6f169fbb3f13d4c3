package gcpolicy

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Config is the policy. Zero fields take defaults.
type Config struct {
	// GCPercent is GOGC when the environment does not set it (default
	// 400).
	GCPercent int
	// Floor is the lowest limit set, in bytes (default 192 MiB).
	Floor int64
	// Factor multiplies the live heap (default 1.5): the collector then
	// runs, at worst, each time the program has allocated half its live
	// data again, as with GOGC=50.
	Factor float64
	// Observe, if set, is called with each limit Run sets.
	Observe func(limit int64)
}

// Defaults for Config.
const (
	DefaultGCPercent = 400
	DefaultFloor     = 192 << 20
	DefaultFactor    = 1.5
)

// Limit is the memory limit for a live heap and the Go runtime's memory
// outside the heap (stacks, metadata, ...), in bytes.
func (c Config) Limit(live, other uint64) int64 {
	c = c.withDefaults()
	want := c.Factor*float64(live) + float64(other)
	if want >= math.MaxInt64 {
		return math.MaxInt64
	}
	// Whole MiB: the limit then changes only when the live heap does.
	return max(c.Floor, (int64(want)+1<<20-1)&^(1<<20-1))
}

func (c Config) withDefaults() Config {
	if c.GCPercent <= 0 {
		c.GCPercent = DefaultGCPercent
	}
	if c.Floor <= 0 {
		c.Floor = DefaultFloor
	}
	if c.Factor < 1 {
		c.Factor = DefaultFactor
	}
	return c
}

// Run sets GOGC to cfg.GCPercent unless the environment sets GOGC, and
// unless it sets GOMEMLIMIT, the soft memory limit after every garbage
// collection until ctx is done. It then puts back the settings it found
// and returns ctx's error.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(cfg.GCPercent))
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		<-ctx.Done()
		return ctx.Err()
	}
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)

	gc := make(chan struct{}, 1)
	arm := func() {
		// 64 bytes: not a tiny allocation, whose cleanup could wait for
		// its neighbours.
		runtime.AddCleanup(new([64]byte), func(ch chan struct{}) {
			select {
			case ch <- struct{}{}:
			default:
			}
		}, gc)
	}
	arm()
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	set := int64(-1)
	apply := func() {
		metrics.Read(samples)
		live := samples[0].Value.Uint64()
		heap := samples[2].Value.Uint64() + samples[3].Value.Uint64() + samples[4].Value.Uint64() + samples[5].Value.Uint64()
		var other uint64
		if total := samples[1].Value.Uint64(); total > heap {
			other = total - heap
		}
		limit := cfg.Limit(live, other)
		if limit == set {
			return
		}
		debug.SetMemoryLimit(limit)
		set = limit
		if cfg.Observe != nil {
			cfg.Observe(limit)
		}
	}
	apply()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-gc:
			arm()
			apply()
		}
	}
}
