package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/nodes/runtime/containerd"
)

// This file drives `skiff image push` and kubectl logs against `skiff up`
// whose local node runs containerd (issue 5): the example image goes into
// the cluster's store, a node that never saw it imports it, and its
// container's output comes back through kubectl. It skips where containerd
// cannot run, and fails instead under CI=true.

const webPods = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: skiff.local/examples/webserver:latest
---
apiVersion: v1
kind: Pod
metadata:
  name: badport
spec:
  containers:
  - name: web
    image: skiff.local/examples/webserver:latest
    imagePullPolicy: IfNotPresent
    env:
    - name: PORT
      value: nope
---
apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  containers:
  - name: web
    image: skiff.local/examples/absent:1
    imagePullPolicy: Never
`

func TestKubectlContainerd(t *testing.T) {
	if err := containerd.CanRun(""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v (run .ci/install-containerd.sh)", err)
		}
		t.Skipf("skipping: %v", err)
	}
	c := startKubectlClusterOn(t, "containerd")
	bin := filepath.Join(filepath.Dir(c.dir), "skiff")
	archive := filepath.Join(t.TempDir(), "web.tar")
	build := exec.CommandContext(t.Context(), filepath.Join(goruntime.GOROOT(), "bin", "go"), "run", "./examples/webserver/build", "-o", archive)
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go run ./examples/webserver/build: %v\n%s", err, out)
	}
	skiff := func(wantErr bool, args ...string) (string, string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, args...)
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if (err != nil) != wantErr {
			t.Fatalf("skiff %s: %v (want error %v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, wantErr, o.String(), e.String())
		}
		return o.String(), e.String()
	}

	t.Run("image push", func(t *testing.T) {
		out, _ := skiff(false, "image", "push", "--data-dir", c.dir, archive)
		wantIn(t, "skiff image push", out, "skiff: pushed skiff.local/examples/webserver:latest (sha256:")
		if strings.Count(out, "\n") != 1 {
			t.Fatalf("skiff image push printed more than one line:\n%s", out)
		}
		out, _ = skiff(false, "image", "push", "--data-dir", c.dir, archive)
		wantIn(t, "skiff image push (again)", out, "skiff: already had skiff.local/examples/webserver:latest")
		out, _ = skiff(false, "image", "ls", "--data-dir", c.dir)
		wantIn(t, "skiff image ls", out, "NAME", "skiff.local/examples/webserver:latest", "sha256:", "MB")

		notTar := filepath.Join(t.TempDir(), "main.go")
		if err := os.WriteFile(notTar, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ file, want string }{
			{notTar, "not an image archive"},
			{filepath.Join(t.TempDir(), "missing.tar"), "no such file or directory"},
		} {
			_, stderr := skiff(true, "image", "push", "--data-dir", c.dir, tc.file)
			if !strings.HasPrefix(stderr, "skiff: ") || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("skiff image push %s: want one line with %q, got:\n%s", tc.file, tc.want, stderr)
			}
		}
	})

	c.kubectl(false, webPods, "apply", "-f", "-")
	// Containers outlive skiff up in their shims: remove the pods before
	// the cluster stops (cleanups run last-in first-out).
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", "delete", "pods", "--all", "--grace-period=1", "--timeout=60s")
		cmd.Env = c.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("kubectl delete pods --all: %v\n%s", err, out)
		}
	})
	t.Run("pod runs the pushed image", func(t *testing.T) {
		c.ok("wait", "--for=condition=Ready", "pod/web", "--timeout=120s")
		id := c.ok("get", "pod", "web", "-o", "jsonpath={.status.containerStatuses[0].imageID}")
		wantIn(t, "imageID", id, "sha256:")
	})
	t.Run("logs", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for out := ""; !strings.Contains(out, "webserver: listening on :8080"); out = c.ok("logs", "web") {
			if time.Now().After(deadline) {
				t.Fatalf("kubectl logs web after 30s:\n%s", out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if out := c.ok("logs", "--tail=1", "web"); !strings.HasSuffix(out, "webserver: listening on :8080\n") || strings.Count(out, "\n") != 1 {
			t.Fatalf("kubectl logs --tail=1 = %q", out)
		}
	})
	t.Run("previous", func(t *testing.T) {
		deadline := time.Now().Add(90 * time.Second)
		for c.ok("get", "pod", "badport", "-o", "jsonpath={.status.containerStatuses[0].restartCount}") < "1" {
			if time.Now().After(deadline) {
				t.Fatalf("badport not restarted after 90s:\n%s", c.ok("get", "pod", "badport", "-o", "yaml"))
			}
			time.Sleep(200 * time.Millisecond)
		}
		out := c.ok("logs", "--previous", "badport")
		if !strings.Contains(out, "listen tcp") {
			_ = filepath.WalkDir(filepath.Join(c.dir, "node"), func(p string, d os.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(p, ".log") && strings.Contains(p, "badport") {
					b, _ := os.ReadFile(p)
					t.Logf("%s: %q", p, b)
				}
				return nil
			})
			t.Logf("status: %s", c.ok("get", "pod", "badport", "-o", "jsonpath={.status.containerStatuses}"))
		}
		wantIn(t, "kubectl logs --previous badport", out, "webserver: listening on :nope", "listen tcp")
	})
	t.Run("never pull", func(t *testing.T) {
		deadline := time.Now().Add(60 * time.Second)
		for out := ""; !strings.Contains(out, "ErrImageNeverPull"); out = c.ok("get", "pod", "never") {
			if time.Now().After(deadline) {
				t.Fatalf("pod never after 60s:\n%s", out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("follow", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", "logs", "-f", "web")
		cmd.Env = c.env
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 100)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		select {
		case l := <-lines:
			wantIn(t, "kubectl logs -f", l, "webserver: listening on :8080")
		case <-time.After(30 * time.Second):
			t.Fatalf("kubectl logs -f: nothing after 30s (stderr %s)", stderr.String())
		}
		// SIGTERM: the server logs its stop, exits, and -f ends.
		c.ok("delete", "pod", "web", "--wait=false")
		var rest []string
		for l := range lines {
			rest = append(rest, l)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("kubectl logs -f: %v (stderr %s)", err, stderr.String())
		}
		if len(rest) > 0 {
			wantIn(t, "kubectl logs -f after the delete", strings.Join(rest, "\n"), "webserver: stopped")
		}
	})
}
