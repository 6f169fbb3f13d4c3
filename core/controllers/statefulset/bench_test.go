package statefulset_test

import (
	"fmt"
	"testing"

	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
	"github.com/skiffhq/skiff/core/controllers/statefulset"
)

// BenchmarkDecide is one sync of a 500-replica StatefulSet in the middle
// of a rolling update.
func BenchmarkDecide(b *testing.B) {
	set, cur, upd := parseSet(&testing.T{}, []string{"replicas=500", "rolling"})
	in := statefulset.Input{Set: set, Current: cur, Update: upd, Now: scenario.Now}
	for i := range 500 {
		rev := "rev=r1"
		if i >= 250 {
			rev = "rev=r2"
		}
		in.Pods = append(in.Pods, parsePod(&testing.T{}, []string{fmt.Sprintf("web-%d", i), "node=n1", "ready", rev}))
	}
	b.ReportAllocs()
	for b.Loop() {
		if p := statefulset.Decide(in); len(p.Delete) != 1 || p.Delete[0].Name != "web-249" {
			b.Fatalf("plan %+v", p.Delete)
		}
	}
}
