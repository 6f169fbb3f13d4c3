package validation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCronSchedule(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		want     string // the error text, "" when the schedule is valid
	}{
		{"every minute", "* * * * *", ""},
		{"question mark", "0 0 ? * *", ""},
		{"steps and ranges", "*/5 9-17 * * 1-5", ""},
		{"start with step", "5/15 * * * *", ""},
		{"lists", "0,15,30,45 0 1,15 * *", ""},
		{"names in any case", "0 0 * JAN,feb Mon-FRI", ""},
		{"sunday is 0", "0 0 * * 0", ""},
		{"descriptor", "@weekly", ""},
		{"every", "@every 1h30m", ""},
		{"time zone prefix", "CRON_TZ=Europe/Paris 0 6 * * *", ""},
		{"empty", "", "empty spec string"},
		{"too few fields", "* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
		{"seconds field", "0 * * * * *", "expected exactly 5 fields, found 6: [0 * * * * *]"},
		{"minute too high", "60 * * * *", "end of range (60) above maximum (59): 60"},
		{"day of month zero", "0 0 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"day of week seven", "0 0 * * 7", "end of range (7) above maximum (6): 7"},
		{"reversed range", "0 10-2 * * *", "beginning of range (10) beyond end of range (2): 10-2"},
		{"zero step", "*/0 * * * *", "step of range should be a positive number: */0"},
		{"too many hyphens", "1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"too many slashes", "*/2/3 * * * *", "too many slashes: */2/3"},
		{"not a number", "x * * * *", `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"negative step", "*/-1 * * * *", "negative number (-1) not allowed: -1"},
		{"unknown descriptor", "@sometimes", "unrecognized descriptor: @sometimes"},
		{"bad every", "@every soon", `failed to parse duration @every soon: time: invalid duration "soon"`},
		{"bad time zone", "TZ=Nowhere/Special 0 * * * *", "provided bad location Nowhere/Special: unknown time zone Nowhere/Special"},
		{"time zone only", "TZ=UTC", "expected exactly 5 fields, found 0: []"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := parseCronSchedule(tt.schedule); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseCronSchedule(%q) (-want +got):\n%s", tt.schedule, diff)
			}
		})
	}
}
