package containerd_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// TestExecOneWriter: a caller may pass one writer as stdout and stderr
// (a bytes.Buffer, which cio's two copy goroutines would otherwise race
// on): no output is lost.
func TestExecOneWriter(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "u-exec")
	c, _ := p.run(t, runtime.ContainerConfig{Name: "c", Image: image(t), Command: sh("sleep 3600")})
	for i := range 20 {
		var out bytes.Buffer
		code, err := rt.Exec(t.Context(), c.ID, runtime.ExecRequest{Cmd: sh("echo out; echo err >&2"), Stdout: &out, Stderr: &out})
		if err != nil || code != 0 {
			t.Fatalf("exec %d: exit %d %v", i, code, err)
		}
		lines := strings.Fields(out.String())
		slices.Sort(lines)
		if !slices.Equal(lines, []string{"err", "out"}) {
			t.Fatalf("exec %d: output %q, want both lines", i, out.String())
		}
	}
}
