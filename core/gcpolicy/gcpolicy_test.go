package gcpolicy

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name                 string
		cfg                  Config
		live, other, outside uint64
		want                 int64
	}{
		{name: "small heap: the floor", live: 40 * mib, other: 20 * mib, want: DefaultFloor},
		{name: "small heap beside wasm: the floor less what is outside Go", live: 40 * mib, other: 20 * mib, outside: 36 * mib, want: DefaultFloor - 36*mib},
		{name: "large heap: live times the factor plus the rest", live: 200 * mib, other: 20 * mib, want: 320 * mib},
		{name: "large heap: memory outside Go does not lower it", live: 200 * mib, other: 20 * mib, outside: 100 * mib, want: 320 * mib},
		{name: "more outside Go than the floor", cfg: Config{Floor: 64 * mib}, live: 10 * mib, outside: 100 * mib, want: 15 * mib},
		{name: "rounded up to a MiB", cfg: Config{Floor: mib, Factor: 1}, live: 10*mib + 1, want: 11 * mib},
		{name: "own floor and factor", cfg: Config{Floor: 64 * mib, Factor: 2}, live: 50 * mib, other: 5 * mib, want: 105 * mib},
		{name: "a factor below 1 takes the default", cfg: Config{Factor: 0.5}, live: 200 * mib, want: 300 * mib},
		{name: "no overflow", live: math.MaxUint64, want: math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.Limit(tt.live, tt.other, tt.outside); got != tt.want {
				t.Errorf("Limit(%d, %d, %d) = %d, want %d", tt.live, tt.other, tt.outside, got, tt.want)
			}
		})
	}
}

func TestStatusKB(t *testing.T) {
	status := []byte("Name:\tskiff\nVmHWM:\t  300000 kB\nRssAnon:\t  204800 kB\nRssFile:\t   40960 kB\n")
	if got, ok := statusKB(status, "RssAnon:"); !ok || got != 200<<20 {
		t.Errorf("RssAnon = %d, %v; want %d", got, ok, 200<<20)
	}
	if _, ok := statusKB(status, "VmSwap:"); ok {
		t.Error("a missing line was found")
	}
	if _, ok := statusKB([]byte("RssAnon: many kB\n"), "RssAnon:"); ok {
		t.Error("a malformed line was read")
	}
}

func TestOutsideGoOnThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status here:", err)
	}
	// Resident anonymous memory the Go runtime does not know of: touch 32
	// MiB of an anonymous mapping.
	m, err := syscall.Mmap(-1, 0, 32<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(m) //nolint:errcheck // test cleanup
	for i := 0; i < len(m); i += 4096 {
		m[i] = 1
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	got := anonOutsideGo(s[0].Value.Uint64() - s[1].Value.Uint64())
	if got < 24<<20 {
		t.Errorf("outside Go: %d MiB, want at least the 32 MiB mapped (less slack)", got>>20)
	}
}

// sink keeps the test's live data reachable across collections.
var sink [][]byte

func TestRunFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before, beforeGC := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(beforeGC)
	limits := make(chan int64, 100)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{GCPercent: 300, Floor: 16 << 20, Factor: 1.5, Outside: func(uint64) uint64 { return 0 }, Observe: func(l int64) {
			select {
			case limits <- l:
			default:
			}
		}})
	}()
	// The first limit is set at once: the floor or above.
	if l := waitLimit(t, limits, func(l int64) bool { return l >= 16<<20 }); debug.SetMemoryLimit(-1) != l {
		t.Fatalf("the runtime's limit is not the one observed (%d)", l)
	}
	if gc := debug.SetGCPercent(300); gc != 300 {
		t.Errorf("GOGC is %d, want 300", gc)
	}

	// 64 MiB of live data: after a collection the limit is at least
	// 1.5 times that.
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	runtime.GC()
	waitLimit(t, limits, func(l int64) bool { return l >= 96<<20 })

	// Dropped: the limit comes down again.
	sink = nil
	runtime.GC()
	waitLimit(t, limits, func(l int64) bool { return l < 96<<20 })

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after Run the limit is %d, want the one before (%d)", got, before)
	}
	if got := debug.SetGCPercent(beforeGC); got != beforeGC {
		t.Errorf("after Run GOGC is %d, want the one before (%d)", got, beforeGC)
	}
}

func TestRunLeavesWhatTheEnvironmentSets(t *testing.T) {
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	gc := debug.SetGCPercent(150)
	defer debug.SetGCPercent(gc)
	limit := debug.SetMemoryLimit(1 << 30)
	defer debug.SetMemoryLimit(limit)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Floor: 16 << 20, Observe: func(int64) { t.Error("a limit was set") }}) }()
	runtime.GC()
	runtime.GC()
	if got := debug.SetGCPercent(-1); got != 150 {
		t.Errorf("GOGC is %d, want the environment's 150", got)
	}
	debug.SetGCPercent(150)
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("the limit is %d, want the environment's 1 GiB", got)
	}
	cancel()
	<-done
}

// waitLimit returns the first limit observed that ok accepts, collecting
// garbage while it waits (a collection is what makes Run look again).
func waitLimit(t *testing.T, limits <-chan int64, ok func(int64) bool) int64 {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case l := <-limits:
			if ok(l) {
				return l
			}
		case <-tick.C:
			runtime.GC()
		case <-deadline:
			t.Fatal("no acceptable limit within 10s")
		}
	}
}
