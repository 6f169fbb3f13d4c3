package bench

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunScheduler runs the scheduler benchmark small, with each policy:
// every pod is bound and the report ends with the RESULT line. (Figures
// are printed, not checked: see `skiff bench scheduler`.)
func TestRunScheduler(t *testing.T) {
	cache := t.TempDir()
	for _, wasm := range []bool{false, true} {
		t.Run(policyName(wasm), func(t *testing.T) {
			var out bytes.Buffer
			res, err := RunScheduler(t.Context(), SchedulerConfig{Nodes: 12, Pods: 60, Clients: 4, WASM: wasm, CacheDir: cache, Out: &out})
			t.Log(out.String())
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "RESULT pods_per_sec=") || !strings.Contains(last, "peak_rss_mb=") {
				t.Errorf("last line %q", last)
			}
			if res.Scheduler.Errors != 0 || res.PodsPerSec <= 0 {
				t.Errorf("result %+v", res)
			}
			if wasm && len(res.Plugins) != 2 {
				t.Errorf("plugins %+v", res.Plugins)
			}
		})
	}
}
