package cronjob_test

import (
	"testing"
	"testing/synctest"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/cronjob"
)

// TestRequeueDrivesTheSchedule runs a day of "*/15 * * * *" in a synctest
// bubble: the controller's loop is Decide, then sleep RequeueAfter (what
// the shell's queue does), on the bubble's fake clock. Each Job starts
// 100 ms after its time, none is missed or doubled, and the loop wakes
// only when there is something to do.
func TestRequeueDrivesTheSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "default", UID: "uid-q",
			CreationTimestamp: metav1.NewTime(start)},
			Spec: batchv1.CronJobSpec{Schedule: "*/15 * * * *", ConcurrencyPolicy: batchv1.AllowConcurrent}}
		var started []time.Time
		syncs := 0
		for time.Since(start) < 24*time.Hour+time.Second { // 00:15 to the next 00:00
			syncs++
			p := cronjob.Decide(cronjob.Input{CronJob: cj, Now: time.Now()})
			if p.Status != nil {
				cj.Status = *p.Status
			}
			if p.Create != nil {
				started = append(started, time.Now())
			}
			if p.RequeueAfter <= 0 {
				t.Fatalf("no requeue at %v", time.Now())
			}
			time.Sleep(p.RequeueAfter)
		}
		if len(started) != 96 {
			t.Fatalf("%d Jobs in a day, want 96", len(started))
		}
		for _, at := range started {
			if off := at.Sub(at.Truncate(15 * time.Minute)); off != 100*time.Millisecond {
				t.Fatalf("a Job started at %v, %v after its time, want 100ms", at, off)
			}
		}
		if syncs > 2*len(started)+2 {
			t.Fatalf("%d syncs for %d Jobs: the loop wakes for nothing", syncs, len(started))
		}
	})
}
