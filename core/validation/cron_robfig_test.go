package validation

import (
	"fmt"
	"strings"
	"testing"

	"github.com/robfig/cron/v3"
)

// The CronJob controller runs schedules with robfig/cron's ParseStandard;
// the API must accept exactly what it can run, with the same error text.
func TestCronScheduleMatchesRobfig(t *testing.T) {
	specs := []string{
		"* * * * *", "0 0 ? * *", "*/5 9-17 * * 1-5", "5/15 * * * *", "0,15,30,45 0 1,15 * *",
		"0 0 * JAN,feb Mon-FRI", "0 0 * * 0", "@weekly", "@yearly", "@annually", "@monthly", "@daily",
		"@midnight", "@hourly", "@every 1h30m", "@every 0s", "@every -1m", "CRON_TZ=Europe/Paris 0 6 * * *",
		"TZ=UTC 0 6 * * *", "", "* * * *", "0 * * * * *", "60 * * * *", "0 0 0 * *", "0 0 * * 7",
		"0 10-2 * * *", "*/0 * * * *", "1-2-3 * * * *", "*/2/3 * * * *", "x * * * *", "*/-1 * * * *",
		"@sometimes", "@every soon", "TZ=Nowhere/Special 0 * * * *", "TZ=UTC", "0 0 31 2 *", "59 23 * * SUN",
		"0-59/15 * * * *", "1,2-5/2,7 * * * *", "0 0 L * *", "0 0 * * 1#2", " * * * * * ", "0  0  *  *  *",
		"jan * * * *", "0 0 1 0 *", "0 0 1 13 *", "0 24 * * *", "*/60 * * * *", "5-5 * * * *",
	}
	for _, spec := range specs {
		ours := parseCronSchedule(spec)
		theirs := robfig(spec)
		if (ours == nil) != (theirs == nil) || (ours != nil && ours.Error() != theirs.Error() && !strings.HasPrefix(theirs.Error(), "panic")) {
			t.Errorf("%q: validation says %v, robfig/cron says %v", spec, ours, theirs)
		}
	}
}

func FuzzCronScheduleMatchesRobfig(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/5 1-3 * JAN MON", "@every 5m", "TZ=UTC 0 0 * * *", "1-2/3,4 * * * ?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ours := parseCronSchedule(spec)
		theirs := robfig(spec)
		if (ours == nil) != (theirs == nil) {
			t.Fatalf("%q: validation says %v, robfig/cron says %v", spec, ours, theirs)
		}
	})
}

// robfig is cron.ParseStandard's verdict; a panic (it has some, on specs
// validation rejects) counts as a rejection.
func robfig(spec string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	_, err = cron.ParseStandard(spec)
	return err
}
