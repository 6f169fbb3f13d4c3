package podbench_test

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/nodes/podbench"
	"github.com/skiffhq/skiff/nodes/runtime/containerd/containerdtest"
)

// TestRun runs a small bench against an in-process control plane and
// checks its figures and RESULT line (not their values: the machine may
// be loaded).
func TestRun(t *testing.T) {
	containerdtest.Need(t)
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan controlplane.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- controlplane.Run(ctx, controlplane.Config{DataDir: t.TempDir(), NATSListen: "127.0.0.1:0",
			Ready: func(in controlplane.Info) { ready <- in }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var url string
	select {
	case in := <-ready:
		url = in.NATSURL
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("control plane not ready")
	}
	conn, err := bus.Connect(ctx, bus.ConnConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	nw := containerdtest.NewNetwork(t)
	var out bytes.Buffer
	r, err := podbench.Run(ctx, conn, podbench.Config{Sequential: 3, Burst: 3, StateDir: containerdtest.StateDir(t),
		PodCIDR: nw.PodCIDR, Bridge: nw.Bridge, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Logf("\n%s", out.String())
	if len(r.Sequential) != 3 || r.P50 <= 0 || r.P99 < r.P50 || r.BurstAll <= 0 {
		t.Errorf("result %+v", r)
	}
	last := bytes.TrimSpace(out.Bytes())
	last = last[bytes.LastIndexByte(last, '\n')+1:]
	if !regexp.MustCompile(`^RESULT start_p50_ms=[0-9.]+ start_p99_ms=[0-9.]+ burst3_all_running_ms=[0-9.]+$`).Match(last) {
		t.Errorf("last line %q", last)
	}
}
