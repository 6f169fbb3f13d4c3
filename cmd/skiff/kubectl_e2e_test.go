package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file drives the real skiff binary and the real kubectl through what
// people do with a cluster (issue 4). kubectl must be on the PATH; without
// it the test skips, except under CI=true where it fails.

// manifest is in the shape of the Kubernetes docs' examples (ConfigMap,
// Secret, Deployment and Service pages), in a namespace of its own.
const manifest = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels:
    team: web
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: game-demo
  namespace: demo
data:
  player_initial_lives: "3"
  ui_properties_file_name: "user-interface.properties"
  game.properties: |
    enemy.types=aliens,monsters
    player.maximum-lives=5
---
apiVersion: v1
kind: Secret
metadata:
  name: mysecret
  namespace: demo
type: Opaque
data:
  username: YWRtaW4=
  password: MWYyZDFlMmU2N2Rm
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  namespace: demo
  labels:
    app: nginx
spec:
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.14.2
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: my-service
  namespace: demo
  labels:
    app: nginx
spec:
  selector:
    app: nginx
  ports:
    - protocol: TCP
      port: 80
      targetPort: 9376
`

const pod = `apiVersion: v1
kind: Pod
metadata:
  name: nginx
  namespace: demo
  labels:
    app: nginx
spec:
  containers:
  - name: nginx
    image: nginx:1.14.2
    ports:
    - containerPort: 80
`

// unknownField has typos kubectl's default (strict) validation reports.
const unknownField = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: typo
  namespace: demo
spec:
  replica: 2
  selector:
    matchLabels:
      app: typo
  template:
    metadata:
      labels:
        app: typo
    spec:
      containers:
      - name: web
        image: nginx
        imagePullPolice: Always
`

// invalid breaks the API's validation rules.
const invalid = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: Not_A_Name
  namespace: demo
spec:
  selector:
    matchLabels:
      app: one
  template:
    metadata:
      labels:
        app: other
    spec:
      containers:
      - name: web
        image: nginx
`

// cluster is a running `skiff up` and the environment kubectl needs.
type kubectlCluster struct {
	t          *testing.T
	dir        string
	kubeconfig string
	env        []string
}

func startKubectlCluster(t *testing.T) *kubectlCluster {
	t.Helper()
	return startKubectlClusterOn(t, "simulated")
}

// startKubectlClusterOn starts `skiff up` with its local node on the
// given runtime.
func startKubectlClusterOn(t *testing.T, runtime string) *kubectlCluster {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kubectl is not on the PATH")
		}
		t.Skip("kubectl is not on the PATH")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "skiff")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "data")
	cmd := exec.Command(bin, "up", "--runtime", runtime, "--data-dir", dir, "--nats-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("skiff up did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("skiff up stderr:\n%s", stderr.String())
		}
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	c := &kubectlCluster{t: t, dir: dir}
	deadline := time.After(60 * time.Second)
	for c.kubeconfig == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("skiff up exited before it was ready:\n%s", stderr.String())
			}
			if k, ok := strings.CutPrefix(strings.TrimSpace(l), "kubeconfig:"); ok {
				c.kubeconfig = strings.TrimSpace(k)
			}
		case <-deadline:
			t.Fatalf("skiff up not ready after 60s:\n%s", stderr.String())
		}
	}
	if want := filepath.Join(dir, "kubeconfig"); c.kubeconfig != want {
		t.Fatalf("skiff up printed kubeconfig %q, want %q", c.kubeconfig, want)
	}
	home := filepath.Join(tmp, "home")
	c.env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "HOME="+home, "KUBECACHEDIR="+filepath.Join(home, "cache"))
	return c
}

// kubectl runs kubectl and returns its output; it fails the test on a
// non-zero exit unless wantErr.
func (c *kubectlCluster) kubectl(wantErr bool, stdin string, args ...string) (stdout, stderr string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--request-timeout=30s"}, args...)...)
	cmd.Env = c.env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		c.t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	case err != nil && !wantErr:
		c.t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, o.String(), e.String())
	case err == nil && wantErr:
		c.t.Fatalf("kubectl %s succeeded, want a failure\nstdout:\n%s", strings.Join(args, " "), o.String())
	}
	return o.String(), e.String()
}

func (c *kubectlCluster) ok(args ...string) string {
	c.t.Helper()
	out, _ := c.kubectl(false, "", args...)
	return out
}

func wantIn(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}

// firstLine is the header of kubectl get's output, its blanks squeezed.
func headerOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.Join(strings.Fields(line), " ")
}

func TestKubectl(t *testing.T) {
	c := startKubectlCluster(t)

	t.Run("kubeconfig command", func(t *testing.T) {
		var out bytes.Buffer
		cmd := kubeconfigCmd()
		cmd.SetOut(&out)
		cmd.SetArgs([]string{"--data-dir", c.dir})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(c.kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != string(file) {
			t.Fatalf("skiff kubeconfig printed:\n%s\nwant the file:\n%s", out.String(), file)
		}
		wantIn(t, "kubeconfig", out.String(), "current-context: skiff", "namespace: default", "certificate-authority-data: ", "token: ")
	})

	dir := t.TempDir()
	app := filepath.Join(dir, "app.yaml")
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(app, manifest)

	t.Run("apply", func(t *testing.T) {
		out := c.ok("apply", "-f", app)
		wantIn(t, "apply", out, "namespace/demo created", "configmap/game-demo created", "secret/mysecret created",
			"deployment.apps/nginx-deployment created", "service/my-service created")
		out = c.ok("get", "namespaces")
		wantIn(t, "get namespaces", out, "default", "kube-system", "kube-public", "kube-node-lease", "demo")
	})

	t.Run("apply again after an edit", func(t *testing.T) {
		edited := strings.Replace(manifest, "image: nginx:1.14.2", "image: nginx:1.16.1", 1)
		edited = strings.Replace(edited, `player_initial_lives: "3"`, `player_initial_lives: "5"`, 1)
		write(app, edited)
		out := c.ok("apply", "-f", app)
		wantIn(t, "re-apply", out, "namespace/demo unchanged", "configmap/game-demo configured",
			"deployment.apps/nginx-deployment configured", "service/my-service unchanged")
		got := c.ok("-n", "demo", "get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}")
		if got != "nginx:1.16.1 2" {
			t.Fatalf("after re-apply: image and generation %q", got)
		}
		got = c.ok("-n", "demo", "get", "cm", "game-demo", "-o", "jsonpath={.data.player_initial_lives}")
		if got != "5" {
			t.Fatalf("after re-apply: player_initial_lives %q", got)
		}
	})

	t.Run("get", func(t *testing.T) {
		out := c.ok("-n", "demo", "get", "deployments")
		if h := headerOf(out); h != "NAME READY UP-TO-DATE AVAILABLE AGE" {
			t.Fatalf("deployment columns: %q", h)
		}
		// skiff up runs the controllers, scheduler and a local node: the
		// Deployment becomes available.
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out, "3/3") && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			out = c.ok("-n", "demo", "get", "deployments")
		}
		wantIn(t, "get deployments", out, "nginx-deployment", "3/3")
		out = c.ok("-n", "demo", "get", "deployments", "-o", "wide")
		if h := headerOf(out); h != "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR" {
			t.Fatalf("deployment wide columns: %q", h)
		}
		wantIn(t, "get -o wide", out, "nginx:1.16.1", "app=nginx")
		out = c.ok("-n", "demo", "get", "svc")
		if h := headerOf(out); h != "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE" {
			t.Fatalf("service columns: %q", h)
		}
		wantIn(t, "get svc", out, "my-service", "ClusterIP", "80/TCP")
		out = c.ok("-n", "demo", "get", "configmaps")
		if h := headerOf(out); h != "NAME DATA AGE" {
			t.Fatalf("configmap columns: %q", h)
		}
		out = c.ok("get", "ns", "demo")
		if h := headerOf(out); h != "NAME STATUS AGE" {
			t.Fatalf("namespace columns: %q", h)
		}
		wantIn(t, "get ns", out, "Active")

		out = c.ok("-n", "demo", "get", "deployment", "nginx-deployment", "-o", "yaml")
		wantIn(t, "get -o yaml", out, "apiVersion: apps/v1", "kind: Deployment", "name: nginx-deployment",
			"image: nginx:1.16.1", "resourceVersion:", "uid:", "kubectl.kubernetes.io/last-applied-configuration")

		_, _ = c.kubectl(false, pod, "apply", "-f", "-")
		out = c.ok("-n", "demo", "get", "pods", "-o", "wide")
		if h := headerOf(out); h != "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES" {
			t.Fatalf("pod wide columns: %q", h)
		}
		// skiff up runs the scheduler and a local (simulated) node: the pod
		// is scheduled and starts.
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out, "Running") && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			out = c.ok("-n", "demo", "get", "pods", "-o", "wide")
		}
		wantIn(t, "get pods -o wide", out, "nginx", "1/1", "Running", "10.88.")
		if h := headerOf(c.ok("-n", "demo", "get", "pods")); h != "NAME READY STATUS RESTARTS AGE" {
			t.Fatalf("pod columns: %q", h)
		}
		out = c.ok("get", "all", "-n", "demo")
		wantIn(t, "get all", out, "pod/nginx", "service/my-service", "deployment.apps/nginx-deployment")
		_, stderr := c.kubectl(true, "", "-n", "demo", "get", "deployment", "missing")
		wantIn(t, "get missing", stderr, `Error from server (NotFound): deployments.apps "missing" not found`)
	})

	t.Run("get -w", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "kubectl", "-n", "demo", "get", "deployment", "nginx-deployment", "-w", "--request-timeout=40s")
		cmd.Env = c.env
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}()
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		next := func(what string) string {
			t.Helper()
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("kubectl get -w ended while waiting for %s: %s", what, stderr.String())
				}
				return l
			case <-ctx.Done():
				t.Fatalf("kubectl get -w: no %s in time: %s", what, stderr.String())
			}
			return ""
		}
		if h := strings.Join(strings.Fields(next("header")), " "); h != "NAME READY UP-TO-DATE AVAILABLE AGE" {
			t.Fatalf("watch header %q", h)
		}
		wantIn(t, "watch first row", next("first row"), "nginx-deployment", "/3")
		c.ok("-n", "demo", "patch", "deployment", "nginx-deployment", "--type=merge", "-p", `{"spec":{"replicas":7}}`)
		for {
			if l := next("the change"); strings.Contains(l, "/7") {
				break
			}
		}
	})

	t.Run("describe", func(t *testing.T) {
		out := c.ok("-n", "demo", "describe", "deployment", "nginx-deployment")
		wantIn(t, "describe deployment", out, "Name:                   nginx-deployment", "Namespace:              demo",
			"Selector:               app=nginx", "7 desired", "Image:         nginx:1.16.1")
		out = c.ok("-n", "demo", "describe", "service", "my-service")
		wantIn(t, "describe service", out, "my-service", "TargetPort:", "9376/TCP")
		out = c.ok("-n", "demo", "describe", "pod", "nginx")
		wantIn(t, "describe pod", out, "Name:", "nginx", "Status:", "Running", "Node:", "Scheduled")
		out = c.ok("describe", "namespace", "demo")
		wantIn(t, "describe namespace", out, "Name:", "demo", "Active")
	})

	t.Run("label and annotate", func(t *testing.T) {
		wantIn(t, "label", c.ok("-n", "demo", "label", "deployment", "nginx-deployment", "tier=frontend"), "deployment.apps/nginx-deployment labeled")
		wantIn(t, "get -l", c.ok("-n", "demo", "get", "deployments", "-l", "tier=frontend", "--show-labels"), "nginx-deployment", "tier=frontend")
		wantIn(t, "annotate", c.ok("-n", "demo", "annotate", "deployment", "nginx-deployment", "owner=alice"), "deployment.apps/nginx-deployment annotated")
		if got := c.ok("-n", "demo", "get", "deployment", "nginx-deployment", "-o", "jsonpath={.metadata.annotations.owner}"); got != "alice" {
			t.Fatalf("annotation owner = %q", got)
		}
		wantIn(t, "unlabel", c.ok("-n", "demo", "label", "deployment", "nginx-deployment", "tier-"), "deployment.apps/nginx-deployment unlabeled")
		_, stderr := c.kubectl(true, "", "-n", "demo", "label", "deployment", "nginx-deployment", "app=other")
		wantIn(t, "label without --overwrite", stderr, "'app' already has a value (nginx), and --overwrite is false")
	})

	t.Run("scale", func(t *testing.T) {
		wantIn(t, "scale", c.ok("-n", "demo", "scale", "deployment", "nginx-deployment", "--replicas=4"), "deployment.apps/nginx-deployment scaled")
		if got := c.ok("-n", "demo", "get", "deployment", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"); got != "4" {
			t.Fatalf("replicas after scale = %q", got)
		}
		_, stderr := c.kubectl(true, "", "-n", "demo", "scale", "deployment", "nginx-deployment", "--replicas=2", "--current-replicas=3")
		wantIn(t, "scale with a wrong precondition", stderr, "replicas to be 3, was 4")
	})

	t.Run("explain", func(t *testing.T) {
		out := c.ok("explain", "pod.spec")
		wantIn(t, "explain pod.spec", out, "KIND:       Pod", "VERSION:    v1", "FIELD: spec <PodSpec>",
			"containers\t<[]Container> -required-", "List of containers belonging to the pod.")
		out = c.ok("explain", "deployment.spec.replicas")
		wantIn(t, "explain deployment.spec.replicas", out, "GROUP:      apps", "FIELD: replicas <integer>")
	})

	t.Run("invalid manifests", func(t *testing.T) {
		_, stderr := c.kubectl(true, unknownField, "apply", "-f", "-")
		wantIn(t, "unknown fields", stderr, `Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", unknown field "spec.template.spec.containers[0].imagePullPolice"`)
		_, stderr = c.kubectl(true, invalid, "apply", "-f", "-")
		wantIn(t, "invalid", stderr, `The Deployment "Not_A_Name" is invalid:`, `metadata.name: Invalid value: "Not_A_Name"`,
			"spec.template.metadata.labels: Invalid value:")
		_, stderr = c.kubectl(true, "", "apply", "--server-side", "-f", app)
		wantIn(t, "server-side apply", stderr, "server-side apply (application/apply-patch+yaml) is not supported by Skiff yet")
	})

	t.Run("delete", func(t *testing.T) {
		wantIn(t, "delete one", c.ok("-n", "demo", "delete", "configmap", "game-demo"), `configmap "game-demo" deleted`)
		_, stderr := c.kubectl(true, "", "-n", "demo", "get", "configmap", "game-demo")
		wantIn(t, "get deleted", stderr, `Error from server (NotFound): configmaps "game-demo" not found`)
		out := c.ok("-n", "demo", "delete", "deployments,services,pods", "-l", "app=nginx")
		wantIn(t, "delete by label", out, `deployment.apps "nginx-deployment" deleted`, `service "my-service" deleted`, `pod "nginx" deleted`)
		if out, _ := c.kubectl(false, "", "-n", "demo", "get", "deployments,services,pods", "-l", "app=nginx", "-o", "name"); out != "" {
			t.Fatalf("left after delete by label:\n%s", out)
		}
		wantIn(t, "delete namespace", c.ok("delete", "namespace", "demo", "--timeout=60s"), `namespace "demo" deleted`)
		_, stderr = c.kubectl(true, "", "get", "namespace", "demo")
		wantIn(t, "get deleted namespace", stderr, `Error from server (NotFound): namespaces "demo" not found`)
		_, stderr = c.kubectl(true, "", "-n", "demo", "get", "secret", "mysecret")
		wantIn(t, "namespace content", stderr, "NotFound")
	})

	t.Run("version and health", func(t *testing.T) {
		out := c.ok("version", "-o", "json")
		wantIn(t, "version", out, `"serverVersion"`, `"gitVersion": "v1.`)
		wantIn(t, "readyz", c.ok("get", "--raw", "/readyz"), "ok")
	})
}
