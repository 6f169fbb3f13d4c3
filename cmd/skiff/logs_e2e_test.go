package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/nodes/agent"
)

// This file drives kubectl logs (issue 5) against `skiff up` with the
// simulated runtime, whose containers write a line when they start and
// when they exit; the test appends more lines to their log files, as a
// container would.

const logPods = `apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  containers:
  - name: app
    image: busybox:1.36
---
apiVersion: v1
kind: Pod
metadata:
  name: crasher
  annotations:
    sim.skiff.dev/exit-after: 100ms
    sim.skiff.dev/exit-code: "3"
    sim.skiff.dev/exit-attempts: "1"
spec:
  containers:
  - name: app
    image: busybox:1.36
---
apiVersion: v1
kind: Pod
metadata:
  name: pair
spec:
  containers:
  - name: a
    image: busybox:1.36
  - name: b
    image: busybox:1.36
`

// appendPodLog appends lines, timestamped as the simulated runtime writes
// them, to the log of a pod's container instance on the local node.
func (c *kubectlCluster) appendPodLog(pod, container string, attempt int, lines ...string) {
	c.t.Helper()
	uid := c.ok("get", "pod", pod, "-o", "jsonpath={.metadata.uid}")
	node := c.ok("get", "pod", pod, "-o", "jsonpath={.spec.nodeName}")
	path := agent.LogPath(filepath.Join(c.dir, "node", node, "pods"), "default", pod, uid, container, attempt)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, l := range lines {
		fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), l)
	}
	if err := f.Close(); err != nil {
		c.t.Fatal(err)
	}
}

func TestKubectlLogs(t *testing.T) {
	c := startKubectlCluster(t)
	c.kubectl(false, logPods, "apply", "-f", "-")
	c.ok("wait", "--for=condition=Ready", "pod/talker", "pod/pair", "--timeout=60s")

	t.Run("logs", func(t *testing.T) {
		if out := c.ok("logs", "talker"); out != "container app started (simulated)\n" {
			t.Fatalf("kubectl logs = %q", out)
		}
		c.appendPodLog("talker", "app", 0, "one", "two", "three")
		if out := c.ok("logs", "--tail=2", "talker"); out != "two\nthree\n" {
			t.Fatalf("kubectl logs --tail=2 = %q", out)
		}
		out := c.ok("logs", "--timestamps", "--tail=1", "talker")
		ts, line, _ := strings.Cut(strings.TrimSpace(out), " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || line != "three" {
			t.Fatalf("kubectl logs --timestamps = %q", out)
		}
		if out := c.ok("logs", "pair", "-c", "b"); out != "container b started (simulated)\n" {
			t.Fatalf("kubectl logs -c b = %q", out)
		}
	})

	t.Run("previous", func(t *testing.T) {
		// The crasher exits once (code 3) and is restarted after the
		// default 10 s back-off.
		deadline := time.Now().Add(60 * time.Second)
		for c.ok("get", "pod", "crasher", "-o", "jsonpath={.status.containerStatuses[0].restartCount}") != "1" ||
			!strings.Contains(c.ok("get", "pod", "crasher"), "Running") {
			if time.Now().After(deadline) {
				t.Fatalf("crasher not restarted after 60s:\n%s", c.ok("get", "pod", "crasher", "-o", "yaml"))
			}
			time.Sleep(200 * time.Millisecond)
		}
		out := c.ok("logs", "--previous", "crasher")
		wantIn(t, "kubectl logs --previous", out, "container app started (simulated)\ncontainer app exited with code 3 (simulated)\n")
		if out := c.ok("logs", "crasher"); out != "container app started (simulated)\n" {
			t.Fatalf("kubectl logs (current instance) = %q", out)
		}
	})

	t.Run("follow", func(t *testing.T) {
		f := followLogs(t, c.env, 60*time.Second, "talker")
		lines, stderr := f.lines, &f.stderr
		next := func(want string) {
			t.Helper()
			select {
			case l := <-lines:
				if l != want {
					t.Fatalf("kubectl logs -f: got %q, want %q (stderr %s)", l, want, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("kubectl logs -f: no %q after 30s (stderr %s)", want, stderr.String())
			}
		}
		for _, l := range []string{"container app started (simulated)", "one", "two", "three"} {
			next(l)
		}
		c.appendPodLog("talker", "app", 0, "live")
		next("live")
		// Deleting the pod stops the container; kubectl -f then exits.
		c.ok("delete", "pod", "talker", "--wait=false")
		f.wait(t)
	})

	t.Run("exec", func(t *testing.T) {
		// The simulated runtime runs nothing: a command succeeds silently.
		if out := c.ok("exec", "pair", "-c", "a", "--", "true"); out != "" {
			t.Fatalf("kubectl exec = %q", out)
		}
		_, stderr := c.kubectl(true, "", "exec", "pair", "-c", "zz", "--", "true")
		wantIn(t, "kubectl exec -c zz", stderr, "container zz is not valid for pod pair")
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"logs", "nope"}, `pods "nope" not found`},
			{[]string{"logs", "pair", "-c", "zz"}, "container zz is not valid for pod pair"},
			{[]string{"logs", "--previous", "pair", "-c", "a"}, `previous terminated container "a" in pod "pair" not found`},
			{[]string{"get", "--raw", "/api/v1/namespaces/default/pods/pair/log?container=a&tailLines=-2"}, "tailLines: Invalid value: -2: must be greater than or equal to 0"},
		} {
			_, stderr := c.kubectl(true, "", tc.args...)
			wantIn(t, "kubectl "+strings.Join(tc.args, " "), stderr, tc.want)
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n > 0 {
				t.Errorf("kubectl %s: %d lines on stderr, want one:\n%s", strings.Join(tc.args, " "), n+1, stderr)
			}
		}
	})
}

// followed is a running `kubectl logs -f`: its output lines, then closed.
type followed struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr strings.Builder
	rest   []string
}

// followLogs starts `kubectl logs -f pod` with env, bounded by timeout.
func followLogs(t *testing.T, env []string, timeout time.Duration, pod string) *followed {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	f := &followed{cmd: exec.CommandContext(ctx, "kubectl", "logs", "-f", pod), lines: make(chan string, 100)}
	f.cmd.Env = env
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f.cmd.Stderr = &f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	return f
}

// wait reads the lines left (into f.rest) and fails the test unless
// kubectl exits cleanly.
func (f *followed) wait(t *testing.T) {
	t.Helper()
	for l := range f.lines {
		f.rest = append(f.rest, l)
	}
	if err := f.cmd.Wait(); err != nil {
		t.Fatalf("kubectl logs -f: %v (stderr %s)", err, f.stderr.String())
	}
}
