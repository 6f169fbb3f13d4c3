package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
	"github.com/skiffhq/skiff/sdk/client"
)

// This file drives the controllers end to end (issue 7): the real skiff
// binary (`skiff up` plus a second, simulated node agent) and the real
// kubectl. The Deployment runs the example image (examples/webserver) on
// containerd when it can run here, else on the simulated runtime, and
// says why; under CI=true containerd must run.

const webImage = "skiff.local/examples/webserver:latest"

// jobsNodeTaint keeps the Deployment off the simulated node; the Job,
// CronJob and StatefulSet pods tolerate it and select that node, where
// the simulated runtime makes their containers exit as the annotation
// says (the example image is a server that never exits on its own).
const jobsNode = "jobs-sim"

const controllersManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      nodeSelector: {skiff-e2e/jobs: "no"}
      containers:
      - name: web
        image: ` + webImage + `
        imagePullPolicy: IfNotPresent
        ports: [{containerPort: 8080}]
`

const jobsManifest = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 2
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {sim.skiff.dev/exit-after: 1s}
        spec:
          restartPolicy: Never
          nodeSelector: {skiff-e2e/jobs: "yes"}
          tolerations: [{key: skiff-e2e/jobs, operator: Exists, effect: NoSchedule}]
          containers: [{name: tick, image: busybox}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  completions: 3
  parallelism: 2
  template:
    metadata:
      annotations: {sim.skiff.dev/exit-after: 1s}
    spec:
      restartPolicy: Never
      nodeSelector: {skiff-e2e/jobs: "yes"}
      tolerations: [{key: skiff-e2e/jobs, operator: Exists, effect: NoSchedule}]
      containers: [{name: once, image: busybox}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  replicas: 3
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      nodeSelector: {skiff-e2e/jobs: "yes"}
      tolerations: [{key: skiff-e2e/jobs, operator: Exists, effect: NoSchedule}]
      containers: [{name: db, image: db:1}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      tolerations: [{key: skiff-e2e/jobs, operator: Exists, effect: NoSchedule}]
      containers:
      - name: agent
        image: ` + webImage + `
        imagePullPolicy: IfNotPresent
        env: [{name: PORT, value: "8081"}]
`

// controllersCluster is a `skiff up`, a simulated node and kubectl's
// environment.
type controllersCluster struct {
	kubectlCluster
	natsURL  string
	runtime  string
	nodeName string // the local node of skiff up
}

// pickRuntime is containerd when it can run here; otherwise simulated,
// with the reason printed, except under CI=true where it fails.
func pickRuntime(t *testing.T) string {
	err := containerd.CanRun("")
	switch {
	case err == nil:
		return "containerd"
	case os.Getenv("CI") == "true":
		t.Fatalf("containerd cannot run under CI=true: %v", err)
	}
	t.Logf("containerd cannot run here (%v): using the simulated runtime", err)
	return "simulated"
}

func startControllersCluster(t *testing.T) *controllersCluster {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl is not on the PATH")
		}
		t.Skip("kubectl is not on the PATH")
	}
	rt := pickRuntime(t)
	bin := buildSkiff(t)
	tmp := t.TempDir()
	// The data dir is short: it holds containerd's socket, and unix
	// socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	c := &controllersCluster{runtime: rt}
	t.Cleanup(func() { c.removeAll(t) })
	up := startSkiff(t, bin, tmp, "up", "--runtime", rt, "--data-dir", dir, "--nats-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	t.Cleanup(func() {
		_ = up.cmd.Process.Signal(syscall.SIGTERM)
		if _, ok := up.wait(30 * time.Second); !ok {
			t.Errorf("skiff up did not stop on SIGTERM")
		}
	})
	out, err := up.waitOutput(120*time.Second, "local node:")
	if err != nil {
		t.Fatal(err)
	}
	c.t, c.dir = t, dir
	for l := range strings.Lines(out) {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "kubeconfig:"); ok {
			c.kubeconfig = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "NATS:"); ok {
			c.natsURL = strings.TrimSpace(v)
		}
	}
	if _, err := up.waitOutput(60*time.Second, "(runtime "); err != nil {
		t.Fatal(err)
	}
	out = up.stdout.String()
	_, rest, _ := strings.Cut(out, "local node:")
	c.nodeName = strings.Fields(rest)[0]
	home := filepath.Join(tmp, "home")
	c.env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "HOME="+home, "KUBECACHEDIR="+filepath.Join(home, "cache"))
	// The second node: simulated, tainted, for the Jobs.
	node := startSkiff(t, bin, tmp, "node", "--server", c.natsURL, "--name", jobsNode, "--runtime", "simulated",
		"--labels", "skiff-e2e/jobs=yes", "--taints", "skiff-e2e/jobs=yes:NoSchedule", "--state-dir", filepath.Join(tmp, "jobs-node"))
	if _, err := node.waitOutput(60*time.Second, "registered"); err != nil {
		t.Fatal(err)
	}
	c.ok("label", "node", c.nodeName, "skiff-e2e/jobs=no")
	return c
}

// removeAll removes, once skiff up has stopped, what its containerd
// still runs (containers outlive their agent, for re-adoption), then the
// data dir.
func (c *controllersCluster) removeAll(t *testing.T) {
	if c.runtime == "containerd" && c.nodeName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		rt, err := containerd.New(ctx, containerd.Config{StateDir: filepath.Join(c.dir, "node", c.nodeName)})
		if err != nil {
			t.Errorf("cleanup: %v", err)
		} else {
			sbs, err := rt.ListSandboxes(ctx, nil)
			if err != nil {
				t.Errorf("cleanup: %v", err)
			}
			for _, sb := range sbs {
				if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
			_ = rt.Close()
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// importImage builds the example image and imports it into the local
// node's private containerd.
func (c *controllersCluster) importImage(t *testing.T) {
	t.Helper()
	tar := filepath.Join(t.TempDir(), "web.tar")
	build := exec.CommandContext(t.Context(), "go", "run", "../../examples/webserver/build", "-o", tar)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the example image: %v\n%s", err, out)
	}
	sock := filepath.Join(c.dir, "node", c.nodeName, "containerd", "containerd.sock")
	out, err := exec.CommandContext(t.Context(), "ctr", "--address", sock, "-n", "skiff", "images", "import", tar).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
}

// readyMonitor watches the web pods over the bus and records the fewest
// ready, not terminating pods seen while armed.
type readyMonitor struct {
	mu    sync.Mutex
	ready map[string]bool
	armed bool
	low   int
	when  string
}

func (m *readyMonitor) observe(p *corev1.Pod, gone bool) {
	if p.Labels["app"] != "web" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ok := !gone && p.DeletionTimestamp == nil
	if ok {
		ok = false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
	}
	if ok {
		m.ready[p.Name] = true
	} else {
		delete(m.ready, p.Name)
	}
	if m.armed && len(m.ready) < m.low {
		m.low, m.when = len(m.ready), fmt.Sprintf("pod %s changed (gone=%v)", p.Name, gone)
	}
}

func (m *readyMonitor) arm(want int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed, m.low, m.when = true, want, ""
}

func (m *readyMonitor) disarm() (low int, when string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed = false
	return m.low, m.when
}

func watchWebPods(t *testing.T, natsURL string) *readyMonitor {
	t.Helper()
	conn, err := bus.Connect(t.Context(), bus.ConnConfig{URL: natsURL, Name: "e2e-monitor"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	cl, err := client.New(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	m := &readyMonitor{ready: map[string]bool{}}
	inf := client.NewInformer[*corev1.Pod](cl, "default", client.Handlers[*corev1.Pod]{
		OnAdd:    func(p *corev1.Pod) { m.observe(p, false) },
		OnUpdate: func(_, p *corev1.Pod) { m.observe(p, false) },
		OnDelete: func(p *corev1.Pod) { m.observe(p, true) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = inf.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := inf.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// poll runs kubectl until f accepts its output (whatever its exit code)
// or timeout passes.
func (c *controllersCluster) poll(timeout time.Duration, f func(out string) error, args ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--request-timeout=20s"}, args...)...)
		cmd.Env = c.env
		raw, _ := cmd.Output()
		cancel()
		err := f(string(raw))
		if err == nil {
			return string(raw)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("kubectl %s: after %v: %v", strings.Join(args, " "), timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestControllersWithKubectl(t *testing.T) {
	start := time.Now()
	c := startControllersCluster(t)
	t.Logf("cluster up in %v: local node %s (runtime %s), simulated node %s", time.Since(start).Round(time.Millisecond), c.nodeName, c.runtime, jobsNode)
	if c.runtime == "containerd" {
		c.importImage(t)
	}
	// The CronJob first: it fires at the next minute while the rest runs.
	cronCreated := time.Now()
	c.ok("apply", "-f", writeFile(t, "jobs.yaml", jobsManifest))
	mon := watchWebPods(t, c.natsURL)
	c.ok("apply", "-f", writeFile(t, "web.yaml", controllersManifest))
	rollout := func(what string) {
		t.Helper()
		s := time.Now()
		out := c.ok("rollout", "status", what, "--timeout=120s")
		t.Logf("%s: %s (%v)", what, lastLine(out), time.Since(s).Round(time.Millisecond))
	}
	rollout("deployment/web")
	for _, n := range []int{5, 2} {
		c.ok("scale", "deployment/web", "--replicas="+strconv.Itoa(n))
		rollout("deployment/web")
		c.poll(60*time.Second, func(out string) error {
			if got := len(strings.Fields(out)); got != n {
				return fmt.Errorf("%d running web pods, want %d", got, n)
			}
			return nil
		}, "get", "pods", "-l", "app=web", "--field-selector=status.phase=Running", "-o", "name")
	}
	// A new pod template (the env changes; one image is all this machine
	// has), with the pods watched all along: never fewer than 2 ready.
	mon.arm(2)
	c.ok("set", "env", "deployment/web", "GREETING=v2")
	rollout("deployment/web")
	if low, when := mon.disarm(); low < 2 {
		t.Fatalf("rolling update: only %d web pods ready (after %s)", low, when)
	}
	mon.arm(2)
	c.ok("rollout", "undo", "deployment/web")
	rollout("deployment/web")
	if low, when := mon.disarm(); low < 2 {
		t.Fatalf("rollout undo: only %d web pods ready (after %s)", low, when)
	}
	if env := c.ok("get", "deployment/web", "-o", "jsonpath={.spec.template.spec.containers[0].env}"); strings.Contains(env, "GREETING") {
		t.Fatalf("rollout undo kept the env: %s", env)
	}
	hist := c.ok("rollout", "history", "deployment/web")
	wantIn(t, "rollout history", hist, "2 ", "3 ")

	// The Job completes.
	c.ok("wait", "--for=condition=Complete", "job/once", "--timeout=90s")
	wantIn(t, "job", c.ok("get", "job", "once", "-o", "jsonpath={.status.succeeded}"), "3")

	// The StatefulSet and the DaemonSet, through kubectl rollout.
	rollout("statefulset/db")
	wantIn(t, "statefulset pods", c.ok("get", "pods", "-l", "app=db", "-o", "name"), "pod/db-0", "pod/db-1", "pod/db-2")
	rollout("daemonset/agent")
	nodesOf := c.ok("get", "pods", "-l", "app=agent", "-o", "jsonpath={.items[*].spec.nodeName}")
	wantIn(t, "daemon pods", nodesOf, c.nodeName, jobsNode)
	c.ok("set", "env", "daemonset/agent", "LEVEL=debug")
	rollout("daemonset/agent")
	c.ok("rollout", "undo", "daemonset/agent")
	rollout("daemonset/agent")
	if env := c.ok("get", "daemonset/agent", "-o", "jsonpath={.spec.template.spec.containers[0].env}"); strings.Contains(env, "LEVEL") {
		t.Fatalf("daemonset rollout undo kept the env: %s", env)
	}
	c.ok("set", "image", "statefulset/db", "db=db:2")
	rollout("statefulset/db")

	// Deleting the Deployment removes its ReplicaSets and pods.
	c.ok("delete", "deployment", "web")
	s := time.Now()
	c.poll(60*time.Second, func(out string) error {
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("left: %s", strings.Join(strings.Fields(out), " "))
		}
		return nil
	}, "get", "replicasets,pods", "-l", "app=web", "-o", "name")
	t.Logf("deployment deleted: its ReplicaSets and pods gone in %v", time.Since(s).Round(time.Millisecond))

	// The CronJob fired (at the first minute boundary after its creation)
	// and its Job completed.
	out := c.poll(75*time.Second-time.Since(cronCreated), func(out string) error {
		if !strings.Contains(out, "lastSuccessfulTime") {
			return errors.New("no successful run yet")
		}
		return nil
	}, "get", "cronjob", "tick", "-o", "jsonpath={.status}")
	t.Logf("cronjob fired %v after it was created: %s", time.Since(cronCreated).Round(time.Second), out)
	jobs := c.ok("get", "jobs", "-o", "name")
	wantIn(t, "cron jobs", jobs, "job.batch/tick-")
	t.Logf("whole test: %v", time.Since(start).Round(time.Millisecond))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}
