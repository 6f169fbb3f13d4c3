package scenario_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/core/scheduler/scenario"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/*.txt")

// TestScenarios runs every testdata/*.txt through the scheduler's
// decision core and compares the placements with the file's want
// section; -update rewrites it.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := scenario.Parse(string(raw))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got, err := scenario.Run(t.Context(), sc)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if *update {
				if err := os.WriteFile(file, []byte(sc.Input+got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if d := cmp.Diff(sc.Want, got); d != "" {
				t.Errorf("%s: placements differ (-want +got); run go test -update and review the diff:\n%s", file, d)
			}
		})
	}
}
