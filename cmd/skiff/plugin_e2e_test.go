package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/plugins/plugintest"
)

// This file drives uploaded scheduler plugins end to end (issue 6): the
// real skiff binary (skiff up --runtime simulated, skiff node
// --simulate, skiff plugin, skiff plan) and the real kubectl.

const teamsProfile = `apiVersion: skiff.dev/v1alpha1
kind: SchedulerProfile
metadata:
  name: teams
spec:
  schedulerName: teams
  plugins:
  - name: team
  - name: binpack
    weight: 5
`

func teamDeployment(name, team string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata:
      labels: {app: %[1]s}
      annotations: {skiff.dev/team: %[2]s}
    spec:
      schedulerName: teams
      containers:
      - name: web
        image: nginx
        resources: {requests: {cpu: 100m, memory: 64Mi}}
`, name, team, replicas)
}

// skiffCLI runs a client command of bin against the cluster in dataDir
// and returns its combined output and exit code.
func skiffCLI(t *testing.T, bin, dataDir string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	args = append(args[:1:1], append([]string{"--data-dir", dataDir}, args[1:]...)...)
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("skiff %s: %v", strings.Join(args, " "), err)
		}
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func skiffOK(t *testing.T, bin, dataDir string, args ...string) string {
	t.Helper()
	out, code := skiffCLI(t, bin, dataDir, args...)
	if code != 0 {
		t.Fatalf("skiff %s: exit %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// poll calls f until it returns nil, failing with its last error after
// timeout.
func poll(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPluginsEndToEnd(t *testing.T) {
	c := startKubectlCluster(t)
	bin := filepath.Join(filepath.Dir(c.dir), "skiff")
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	teamWasm := write("team.wasm", plugintest.Build(t, "github.com/skiffhq/skiff/examples/plugins/team"))
	binpackWasm := write("binpack.wasm", plugintest.Build(t, "github.com/skiffhq/skiff/examples/plugins/binpack"))
	notWasm := write("notwasm.wasm", []byte("#!/bin/sh\necho hi\n"))

	// Two simulated nodes per team, beside skiff up's own node.
	for _, team := range []string{"blue", "red"} {
		n := startSkiff(t, bin, "", "node", "--data-dir", c.dir, "--simulate", "2", "--name-prefix", team+"-", "--labels", "team="+team)
		if _, err := n.waitOutput(60*time.Second, "registered"); err != nil {
			t.Fatal(err)
		}
	}

	// Refused pushes: one plain line each, exit 1, nothing stored.
	for _, tc := range []struct{ args, want string }{
		{"plugin push --name bad " + notWasm, "invalid plugin: not a WebAssembly module"},
		{"plugin push --name bad --settings {\"label\":\"\"} " + teamWasm, "invalid plugin: settings"},
		{"plugin push --name bad --settings nope " + teamWasm, "invalid plugin: settings are not JSON"},
		{"plugin push --name bad --kind admission " + teamWasm, `only "scheduler" plugins exist`},
	} {
		out, code := skiffCLI(t, bin, c.dir, strings.Fields(tc.args)...)
		if code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("skiff %s: exit %d, output %q; want exit 1 and one line with %q", tc.args, code, out, tc.want)
		}
	}

	out := skiffOK(t, bin, c.dir, "plugin", "push", "--name", "team", teamWasm)
	wantIn(t, "push team", out, "pushed plugin team v1", "the scheduler serves it")
	out = skiffOK(t, bin, c.dir, "plugin", "push", "--name", "binpack", binpackWasm)
	wantIn(t, "push binpack", out, "pushed plugin binpack v1", "the scheduler serves it")
	c.kubectl(false, teamsProfile, "apply", "-f", "-")
	poll(t, 60*time.Second, func() error {
		if s := c.ok("get", "schedulerprofiles", "teams", "-o", "jsonpath={.status.state}"); s != "Active" {
			return fmt.Errorf("profile state %q", s)
		}
		return nil
	})
	wantIn(t, "kubectl get plugins", c.ok("get", "plugins"), "NAME", "VERSION", "SERVING", "team", "binpack", "Loaded")
	wantIn(t, "kubectl get sp -o yaml", c.ok("get", "sp", "teams", "-o", "yaml"), "schedulerName: teams", "team@v1", "binpack@v1")

	// The dry run says where pods would go, and why not elsewhere;
	// nothing is created.
	manifest := write("blue.yaml", []byte(teamDeployment("blue-web", "blue", 3)+"---\n"+`apiVersion: v1
kind: Pod
metadata: {name: green, annotations: {skiff.dev/team: green}}
spec: {schedulerName: teams, containers: [{name: c, image: nginx}]}
`))
	out = skiffOK(t, bin, c.dir, "plan", "-f", manifest, "--nodes", "0")
	wantIn(t, "plan", out, "default/blue-web-0: blue-", "default/blue-web-2: blue-", "binpack", "rejected by team: node(s) didn't match the pod's team",
		"default/green: not scheduled", "3/4 pods would be scheduled")
	if got := c.ok("get", "pods", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Fatalf("plan created pods:\n%s", got)
	}

	// Pods land where the plugins say.
	c.kubectl(false, teamDeployment("blue-web", "blue", 4)+"---\n"+teamDeployment("red-web", "red", 2), "apply", "-f", "-")
	placed := func(app, team string, n int) error {
		s := c.ok("get", "pods", "-l", "app="+app, "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}")
		nodes := strings.Fields(s)
		if len(nodes) != n {
			return fmt.Errorf("%s: %d pods bound (%v), want %d", app, len(nodes), nodes, n)
		}
		for _, node := range nodes {
			if !strings.HasPrefix(node, team+"-") {
				t.Fatalf("a %s pod is on node %s", app, node)
			}
		}
		return nil
	}
	poll(t, 60*time.Second, func() error { return placed("blue-web", "blue", 4) })
	poll(t, 60*time.Second, func() error { return placed("red-web", "red", 2) })

	// A new version while pods are being created: none fails.
	skiffOK(t, bin, c.dir, "plugin", "push", "--name", "team", "--settings", `{"label":"team","annotation":"skiff.dev/team"}`, "--wait", "0", teamWasm)
	c.ok("scale", "deployment", "blue-web", "--replicas", "12")
	poll(t, 60*time.Second, func() error {
		if s := c.ok("get", "plugin", "team", "-o", "jsonpath={.status.version}/{.status.state}"); s != "v2/Loaded" {
			return fmt.Errorf("team status %s", s)
		}
		return nil
	})
	poll(t, 90*time.Second, func() error { return placed("blue-web", "blue", 12) })
	failed := func() {
		t.Helper()
		if evs := c.ok("get", "events", "-o", "jsonpath={.items[*].reason}"); strings.Contains(evs, "FailedScheduling") {
			t.Fatalf("a pod failed to schedule: %s", c.ok("get", "events"))
		}
	}
	failed()

	// Roll back.
	out = skiffOK(t, bin, c.dir, "plugin", "rollback", "--name", "team")
	wantIn(t, "rollback", out, "rolled back to plugin team v1", "the scheduler serves it")

	// A broken version (settings the module refuses, written past skiff
	// plugin push's check) is refused; the previous one keeps working.
	c.ok("patch", "plugin", "team", "--type", "merge", "-p", `{"spec":{"settings":{"label":""}}}`)
	poll(t, 60*time.Second, func() error {
		out := skiffOK(t, bin, c.dir, "plugin", "ls")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 4 && f[0] == "team" && f[4] == "Refused" && f[3] == "v1" && strings.Contains(l, "annotation and label must not be empty") {
				return nil
			}
		}
		return fmt.Errorf("team not refused yet:\n%s", out)
	})
	c.ok("scale", "deployment", "red-web", "--replicas", "4")
	poll(t, 60*time.Second, func() error { return placed("red-web", "red", 4) })
	failed()

	// skiff plugin ls shows the calls the plugins served.
	out = skiffOK(t, bin, c.dir, "plugin", "ls")
	wantIn(t, "plugin ls", out, "NAME", "VERSION", "SERVING", "STATE", "DIGEST", "CALLS", "ERRORS", "P99")
	poll(t, 30*time.Second, func() error {
		s := c.ok("get", "plugin", "binpack", "-o", "jsonpath={.status.calls}")
		if n, _ := strconv.Atoi(s); n < 16 {
			return fmt.Errorf("binpack calls %q, want at least one per pod", s)
		}
		return nil
	})
}
