package gcpolicy

import (
	"context"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Config is the policy. Zero fields take defaults.
type Config struct {
	// GCPercent is GOGC when the environment does not set it (default
	// 400).
	GCPercent int
	// Floor is the process's budget for anonymous memory while its live
	// heap is small, in bytes (default 256 MiB): the limit is at least
	// Floor less the anonymous memory the process holds outside the Go
	// runtime (wazero's compiled code and guest memory, which the
	// collector cannot see), so that the two together stay near Floor.
	Floor int64
	// Factor multiplies the live heap (default 1.5): the collector then
	// runs, at worst, each time the program has allocated half its live
	// data again, as with GOGC=50.
	Factor float64
	// Outside, if set, replaces the reading of the anonymous memory held
	// outside the Go runtime (by default from /proc/self/status; zero
	// where that cannot be read). It is given the Go runtime's own
	// resident memory.
	Outside func(goResident uint64) uint64
	// Observe, if set, is called with each limit Run sets.
	Observe func(limit int64)
}

// Defaults for Config.
const (
	DefaultGCPercent = 400
	DefaultFloor     = 256 << 20
	DefaultFactor    = 1.5
)

// Limit is the memory limit for a live heap, the Go runtime's memory
// outside the heap (stacks, metadata, ...) and the process's anonymous
// memory outside the Go runtime, in bytes: the larger of Floor less
// outside and Factor times live plus other.
func (c Config) Limit(live, other, outside uint64) int64 {
	c = c.withDefaults()
	want := c.Factor*float64(live) + float64(other)
	if want >= math.MaxInt64 {
		return math.MaxInt64
	}
	floor := c.Floor - int64(min(outside, uint64(c.Floor)))
	// Whole MiB: the limit then changes only when the live heap does.
	return max(floor, (int64(want)+1<<20-1)&^(1<<20-1))
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
	outside := cfg.Outside
	if outside == nil {
		outside = anonOutsideGo
	}
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
		total, released := samples[1].Value.Uint64(), samples[5].Value.Uint64()
		var other uint64
		if total > heap {
			other = total - heap
		}
		limit := cfg.Limit(live, other, outside(total-min(released, total)))
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

// anonOutsideGo is the process's resident anonymous memory (RssAnon)
// less the Go runtime's resident memory; zero where /proc/self/status
// cannot be read.
func anonOutsideGo(goResident uint64) uint64 {
	anon, ok := Status("RssAnon")
	if !ok || anon <= goResident {
		return 0
	}
	return anon - goResident
}

// Status reads a memory field of /proc/self/status (VmRSS, VmHWM,
// RssAnon, ...) in bytes; false where the file or the field is missing.
func Status(field string) (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	return statusKB(b, field+":")
}

// statusKB reads a "Name:   123 kB" line of /proc/<pid>/status, in bytes.
func statusKB(b []byte, name string) (uint64, bool) {
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}
