package podbench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPrintPhases(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var full, partial [numPhases]time.Time
	for p := range numPhases {
		full[p] = t0.Add(time.Duration(p+1) * 10 * time.Millisecond)
	}
	partial[phaseSeen] = t0.Add(time.Millisecond) // never Running: left out
	tests := []struct {
		name string
		all  [][numPhases]time.Time
		want []string
	}{
		{name: "none complete", all: [][numPhases]time.Time{partial}},
		{name: "one complete", all: [][numPhases]time.Time{full, partial}, want: []string{
			"burst phases of 1 pods",
			"  seen         at    10.0/   10.0  step   10.0/  10.0",
			"  running      at    80.0/   80.0  step   10.0/  10.0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printPhases(&b, "burst", []time.Time{t0, t0}, tt.all)
			if len(tt.want) == 0 && b.Len() > 0 {
				t.Errorf("printed %q, want nothing", b.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestProcessCPUFindsItself(t *testing.T) {
	got := processCPU(t.TempDir())
	if _, ok := got["bench"]; !ok {
		t.Fatalf("processCPU = %v, want this process as bench", got)
	}
	if len(got) != 1 {
		t.Errorf("processCPU of an unused state dir = %v, want only this process", got)
	}
}
