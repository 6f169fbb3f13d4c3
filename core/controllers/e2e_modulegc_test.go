package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/blobs"
	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controllers/modulegc"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/plugins/plugintest"
)

// TestModuleGCInControlPlane runs two controller manager replicas as
// control plane components, as skiff server on two machines would (one
// leads): modulegc runs by default in the leader, on the modules' bucket
// RunOn opens, and deletes a stored module no Plugin names once its grace
// period has passed, while a pushed plugin's module stays.
func TestModuleGCInControlPlane(t *testing.T) {
	replica := func(id string) controlplane.Component {
		return controlplane.Component{Name: id, Run: func(ctx context.Context, conn *bus.Conn) error {
			return controllers.RunOn(ctx, conn, controllers.Config{Identity: id, Election: fastElection,
				ModuleGC: modulegc.Timing{Grace: 100 * time.Millisecond, Interval: 50 * time.Millisecond}})
		}}
	}
	conn := runControlPlane(t, replica("cm-1"), replica("cm-2"))
	r, err := registry.Open(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	kept := plugintest.Minimal("kept")
	if _, err := r.Push(t.Context(), registry.Push{Name: "team", Wasm: kept}); err != nil {
		t.Fatal(err)
	}
	b, err := registry.OpenBucket(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	orphan := plugintest.Minimal("orphan")
	if err := b.PutOnce(t.Context(), plugins.Digest(orphan), orphan); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if _, err := b.Stat(t.Context(), plugins.Digest(orphan)); !errors.Is(err, blobs.ErrNotFound) {
			return fmt.Errorf("the module no Plugin names is still there (%v)", err)
		}
		return nil
	})
	if _, err := b.Stat(t.Context(), plugins.Digest(kept)); err != nil {
		t.Fatalf("the pushed plugin's module: %v", err)
	}
}

// TestModuleGCNeedsBucket: without Config.PluginModules, the default set
// leaves modulegc out and naming it is an error.
func TestModuleGCNeedsBucket(t *testing.T) {
	e := testenv.Start(t)
	if _, err := controllers.New(controllers.Config{Client: e.Client}); err != nil {
		t.Fatalf("default set without a bucket: %v", err)
	}
	if _, err := controllers.New(controllers.Config{Client: e.Client, Controllers: []string{controllers.ModuleGC}}); err == nil {
		t.Fatal("modulegc named without a bucket: no error")
	}
}
