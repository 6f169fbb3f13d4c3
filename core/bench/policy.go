package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// The scheduler benchmark's policy: the default profile plus "only
// nodes labelled with the pod's team" (a filter) and "pack pods onto the
// fullest nodes" (a score, weight 5), either built in (the Go plugins
// below) or as the example WASM plugins (examples/plugins/team and
// binpack) doing the same.

const (
	teamAnnotation = "skiff.dev/team"
	teamLabel      = "team"
	binpackWeight  = 5
)

var teams = []string{"blue", "red", "green"}

// teamFilter is examples/plugins/team as a built-in plugin.
type teamFilter struct{}

var teamMismatch = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match the pod's team")

func (teamFilter) Name() string { return "team" }

func (teamFilter) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, statuses []*framework.Status) *framework.Status {
	team, ok := pod.Pod.Annotations[teamAnnotation]
	if !ok {
		return nil
	}
	for i, ni := range nodes {
		if ni.Node().Labels[teamLabel] != team {
			statuses[i] = teamMismatch
		}
	}
	return nil
}

// binpackScore is examples/plugins/binpack as a built-in plugin:
// NodeResourcesFit's MostAllocated score without its filter.
type binpackScore struct{ fit framework.ScorePlugin }

func (binpackScore) Name() string { return "binpack" }

func (b binpackScore) Score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	return b.fit.Score(ctx, s, pod, nodes, scores)
}

// builtinPolicy registers the Go team filter and bin-packing score.
func builtinPolicy(reg framework.Registry) {
	reg["team"] = func(any, framework.Handle) (framework.Plugin, error) { return teamFilter{}, nil }
	reg["binpack"] = func(args any, h framework.Handle) (framework.Plugin, error) {
		fit, err := builtin.Registry()[builtin.NodeResourcesFitName](builtin.FitArgs{ScoringStrategy: &builtin.ScoringStrategy{Type: builtin.MostAllocated}}, h)
		if err != nil {
			return nil, err
		}
		return binpackScore{fit.(framework.ScorePlugin)}, nil
	}
}

// policyProfile is the default profile with the team filter and the
// bin-packing score, however they are registered.
func policyProfile() framework.Profile {
	return framework.Profile{SchedulerName: builtin.DefaultSchedulerName,
		Plugins: append(builtin.DefaultPlugins(), framework.PluginConfig{Name: "team"}, framework.PluginConfig{Name: "binpack", Weight: binpackWeight})}
}

// Example plugins built for the benchmark.
const (
	teamPkg    = "github.com/skiffhq/skiff/examples/plugins/team"
	binpackPkg = "github.com/skiffhq/skiff/examples/plugins/binpack"
)

// buildPlugin builds pkg (an import path of this module) with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared into cacheDir, named by a digest of the
// go version and the sources it is built from, so that a second run
// reuses the module. It needs the go command and the module's sources
// (run it from inside the repository).
func buildPlugin(ctx context.Context, cacheDir, pkg string, log io.Writer) ([]byte, error) {
	goTool := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	list := exec.CommandContext(ctx, goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", pkg)
	list.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	out, err := list.Output()
	if err != nil {
		return nil, fmt.Errorf("bench: go list %s (run from the repository): %w", pkg, err)
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version(), pkg)
	dirs := slices.Sorted(slices.Values(strings.Fields(string(out))))
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		sfiles, _ := filepath.Glob(filepath.Join(dir, "*.s"))
		for _, f := range append(files, sfiles...) {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			fmt.Fprintln(h, f, len(b))
			h.Write(b)
		}
	}
	name := filepath.Base(pkg) + "-" + hex.EncodeToString(h.Sum(nil))[:16] + ".wasm"
	path := filepath.Join(cacheDir, name)
	if b, err := os.ReadFile(path); err == nil {
		fmt.Fprintf(log, "plugin %s: %s (cached)\n", filepath.Base(pkg), path)
		return b, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	build := exec.CommandContext(ctx, goTool, "build", "-buildmode=c-shared", "-o", tmp, pkg)
	build.Env = list.Env
	if msg, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("bench: build %s: %w\n%s", pkg, err, msg)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "plugin %s: built %s\n", filepath.Base(pkg), path)
	return os.ReadFile(path)
}
