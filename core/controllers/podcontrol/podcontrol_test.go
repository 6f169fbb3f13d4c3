package podcontrol

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSlowStart(t *testing.T) {
	tests := []struct {
		name     string
		count    int
		failFrom int // calls with this index or higher fail; -1: none
		wantDone int
		wantErr  bool
		wantRun  int
	}{
		{name: "none", count: 0, failFrom: -1},
		{name: "all succeed", count: 10, failFrom: -1, wantDone: 10, wantRun: 10},
		{name: "first fails", count: 100, failFrom: 0, wantErr: true, wantRun: 1},
		// Batches 1, 2, 4: index 5 fails in the third batch, which runs
		// to its end (indexes 3..6); no fourth batch starts.
		{name: "third batch fails", count: 100, failFrom: 5, wantDone: 5, wantErr: true, wantRun: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			ran := map[int]bool{}
			done, err := slowStart(tt.count, func(i int) error {
				mu.Lock()
				ran[i] = true
				mu.Unlock()
				if tt.failFrom >= 0 && i >= tt.failFrom {
					return errors.New("quota")
				}
				return nil
			})
			got := struct {
				Done, Run int
				Err       bool
			}{done, len(ran), err != nil}
			want := struct {
				Done, Run int
				Err       bool
			}{tt.wantDone, tt.wantRun, tt.wantErr}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("slowStart (-want +got):\n%s", diff)
			}
			for i := range len(ran) {
				if !ran[i] {
					t.Errorf("call %d was skipped while a later one ran", i)
				}
			}
		})
	}
}
