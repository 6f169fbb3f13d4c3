package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/sdk/client"
)

// TestRunsAsControlPlaneComponent runs the manager the way skiff up
// does: as a controlplane.Component, on the control plane's connection.
func TestRunsAsControlPlaneComponent(t *testing.T) {
	conn := runControlPlane(t, controlplane.Component{Name: "controllers", Run: func(ctx context.Context, conn *bus.Conn) error {
		return controllers.RunOn(ctx, conn, controllers.Config{})
	}})
	c, err := client.New(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*appsv1.Deployment](c).Create(t.Context(), newDeployment("web", 2, "img:v1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testenv.Eventually(t, 20*time.Second, func() error {
		ps, _, err := client.For[*corev1.Pod](c).List(t.Context(), "default", metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(ps) != 2 {
			return fmt.Errorf("%d pods", len(ps))
		}
		return nil
	})
	t.Logf("deployment's pods created %v after the create (first election included)", time.Since(start).Round(time.Millisecond))
}

// runControlPlane runs a control plane with comps until the test ends (it
// must then stop without an error) and returns a connection to its NATS.
func runControlPlane(t *testing.T, comps ...controlplane.Component) *bus.Conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	ready := make(chan controlplane.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- controlplane.Run(ctx, controlplane.Config{DataDir: dir, NATSListen: "127.0.0.1:0", Components: comps,
			Ready: func(in controlplane.Info) { ready <- in }})
	}()
	var info controlplane.Info
	select {
	case info = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("control plane ended: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("control plane not ready")
	}
	cctx, ccancel := context.WithTimeout(t.Context(), 10*time.Second)
	conn, err := bus.Connect(cctx, bus.ConnConfig{URL: info.NATSURL, Name: t.Name()})
	ccancel()
	if err != nil {
		cancel()
		<-done
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("control plane: %v", err)
		}
	})
	return conn
}
