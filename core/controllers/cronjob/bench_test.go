package cronjob_test

import (
	"testing"

	"github.com/skiffhq/skiff/core/controllers/cronjob"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

// BenchmarkDecideAfterDowntime is one sync of a */5 CronJob whose
// controller was down for a year: the missed times are estimated, not
// walked, so it costs about what a normal sync does.
func BenchmarkDecideAfterDowntime(b *testing.B) {
	cj := parseCronJob(&testing.T{}, []string{"last=8760h"})
	b.ReportAllocs()
	for b.Loop() {
		if p := cronjob.Decide(cronjob.Input{CronJob: cj, Now: scenario.Now}); p.Create == nil {
			b.Fatal("no job")
		}
	}
}
