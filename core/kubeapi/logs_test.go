package kubeapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/nodes"
	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/nodes/lifecycle"
	"github.com/skiffhq/skiff/nodes/runtime/simulated"
)

// logPlane is a control plane with one simulated node, "n1", whose
// container logs are files under logDir.
type logPlane struct {
	cs      *kubernetes.Clientset
	logDir  string
	natsURL string
}

func startLogPlane(t *testing.T) *logPlane {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan controlplane.Info, 1)
	nodeReady := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- controlplane.Run(ctx, controlplane.Config{
			DataDir: dir, NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0",
			Components: []controlplane.Component{{Name: "node", Run: func(ctx context.Context, conn *bus.Conn) error {
				return nodes.Run(ctx, conn, nodes.Config{Name: "n1", Runtime: nodes.RuntimeSimulated,
					StateDir: filepath.Join(dir, "node"), Backoff: lifecycle.Backoff{Initial: 100 * time.Millisecond, Max: 200 * time.Millisecond},
					Ready: func([]string, string) { close(nodeReady) }})
			}}},
			Ready: func(in controlplane.Info) { ready <- in },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("control plane: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("control plane did not stop")
		}
	})
	var in controlplane.Info
	for _, c := range []<-chan struct{}{nil, nodeReady} {
		select {
		case in = <-ready:
			if c == nil {
				continue
			}
		case <-c:
			continue
		case err := <-done:
			t.Fatalf("control plane: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("control plane or node not ready after 60s")
		}
	}
	kc, err := os.ReadFile(in.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &logPlane{cs: cs, logDir: filepath.Join(dir, "node", "n1", "pods"), natsURL: in.NATSURL}
}

// runPod creates a pod bound to n1 and waits until its containers have
// started want times in all (restarts included).
func (p *logPlane) runPod(t *testing.T, pod *corev1.Pod, want int) *corev1.Pod {
	t.Helper()
	ctx := testContext(t)
	pod.Namespace = "default"
	pod.Spec.NodeName = "n1"
	if _, err := p.cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := p.cs.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		started := 0
		for _, cs := range got.Status.ContainerStatuses {
			if cs.State.Running != nil {
				started += int(cs.RestartCount) + 1
			}
		}
		if started >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: %d container starts after 60s, want %d; status %+v", pod.Name, started, want, got.Status)
		}
	}
}

// appendLog appends timestamped lines to a container instance's log file,
// as the simulated runtime writes them.
func (p *logPlane) appendLog(t *testing.T, pod *corev1.Pod, container string, attempt int, at time.Time, lines ...string) {
	t.Helper()
	path := agent.LogPath(p.logDir, pod.Namespace, pod.Name, string(pod.UID), container, attempt)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		fmt.Fprintf(f, "%s %s\n", at.UTC().Format(time.RFC3339Nano), l)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func (p *logPlane) logs(t *testing.T, name string, o *corev1.PodLogOptions) (string, error) {
	t.Helper()
	// Result.Error decodes the Status; Raw would not.
	res := p.cs.CoreV1().Pods("default").GetLogs(name, o).Do(testContext(t))
	if err := res.Error(); err != nil {
		return "", err
	}
	b, err := res.Raw()
	return string(b), err
}

func podOf(name string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox:1.36"})
	}
	return p
}

func TestPodLogs(t *testing.T) {
	p := startLogPlane(t)
	web := p.runPod(t, podOf("web", "c"), 1)
	old := time.Now().Add(-time.Hour)
	p.appendLog(t, web, "c", 0, old, "an hour ago")
	p.appendLog(t, web, "c", 0, time.Now(), "one", "two", "three")

	t.Run("all", func(t *testing.T) {
		out, err := p.logs(t, "web", &corev1.PodLogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := "container c started (simulated)\nan hour ago\none\ntwo\nthree\n"
		if out != want {
			t.Fatalf("logs = %q, want %q", out, want)
		}
	})
	t.Run("tail", func(t *testing.T) {
		out, err := p.logs(t, "web", &corev1.PodLogOptions{TailLines: new(int64(2))})
		if err != nil || out != "two\nthree\n" {
			t.Fatalf("tail 2 = %q, %v", out, err)
		}
		out, err = p.logs(t, "web", &corev1.PodLogOptions{TailLines: new(int64(0))})
		if err != nil || out != "" {
			t.Fatalf("tail 0 = %q, %v", out, err)
		}
	})
	t.Run("since", func(t *testing.T) {
		out, err := p.logs(t, "web", &corev1.PodLogOptions{SinceSeconds: new(int64(600))})
		if err != nil || out != "container c started (simulated)\none\ntwo\nthree\n" {
			t.Fatalf("since 10m = %q, %v", out, err)
		}
		at := metav1.NewTime(old.Add(-time.Minute))
		out, err = p.logs(t, "web", &corev1.PodLogOptions{SinceTime: &at, TailLines: new(int64(4))})
		if err != nil || out != "an hour ago\none\ntwo\nthree\n" {
			t.Fatalf("sinceTime = %q, %v", out, err)
		}
	})
	t.Run("timestamps", func(t *testing.T) {
		out, err := p.logs(t, "web", &corev1.PodLogOptions{Timestamps: true, TailLines: new(int64(1))})
		if err != nil {
			t.Fatal(err)
		}
		ts, line, _ := strings.Cut(strings.TrimSuffix(out, "\n"), " ")
		if _, perr := time.Parse(time.RFC3339Nano, ts); perr != nil || line != "three" {
			t.Fatalf("timestamps = %q", out)
		}
	})
	t.Run("limitBytes", func(t *testing.T) {
		out, err := p.logs(t, "web", &corev1.PodLogOptions{LimitBytes: new(int64(9)), TailLines: new(int64(3))})
		if err != nil || out != "one\ntwo\nt" {
			t.Fatalf("limitBytes 9 = %q, %v", out, err)
		}
	})
	t.Run("previous", func(t *testing.T) {
		_, err := p.logs(t, "web", &corev1.PodLogOptions{Previous: true})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `previous terminated container "c" in pod "web" not found`) {
			t.Fatalf("previous without restart: %v", err)
		}
		crash := podOf("crash", "c")
		crash.Annotations = map[string]string{simulated.AnnotationExitAfter: "50ms", simulated.AnnotationExitCode: "3", simulated.AnnotationExitAttempts: "1"}
		p.runPod(t, crash, 2)
		out, err := p.logs(t, "crash", &corev1.PodLogOptions{Previous: true})
		if err != nil || out != "container c started (simulated)\ncontainer c exited with code 3 (simulated)\n" {
			t.Fatalf("previous = %q, %v", out, err)
		}
		// Following a stopped instance ends at its end.
		out, err = p.logs(t, "crash", &corev1.PodLogOptions{Previous: true, Follow: true})
		if err != nil || !strings.HasSuffix(out, "exited with code 3 (simulated)\n") {
			t.Fatalf("previous -f = %q, %v", out, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		p.runPod(t, podOf("two", "a", "b"), 2)
		bound := podOf("ghost-bound", "c")
		bound.Namespace, bound.Spec.NodeName = "default", "ghost"
		if _, err := p.cs.CoreV1().Pods("default").Create(testContext(t), bound, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, pod string
			opts      corev1.PodLogOptions
			code      int32
			msg       string
		}{
			{"no such pod", "nope", corev1.PodLogOptions{}, http.StatusNotFound, `pods "nope" not found`},
			{"container needed", "two", corev1.PodLogOptions{}, http.StatusBadRequest, "a container name must be specified for pod two, choose one of: [a b]"},
			{"unknown container", "web", corev1.PodLogOptions{Container: "zz"}, http.StatusBadRequest, "container zz is not valid for pod web"},
			{"negative tail", "web", corev1.PodLogOptions{TailLines: new(int64(-1))}, http.StatusUnprocessableEntity, "tailLines: Invalid value: -1: must be greater than or equal to 0"},
			{"zero limit", "web", corev1.PodLogOptions{LimitBytes: new(int64(0))}, http.StatusUnprocessableEntity, "limitBytes: Invalid value: 0: must be greater than 0"},
			{"node not answering", "ghost-bound", corev1.PodLogOptions{}, http.StatusServiceUnavailable, `node "ghost" does not answer log requests`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := p.logs(t, tc.pod, &tc.opts)
				var st apierrors.APIStatus
				if !errors.As(err, &st) || st.Status().Code != tc.code || !strings.Contains(st.Status().Message, tc.msg) {
					t.Fatalf("got %v, want %d %q", err, tc.code, tc.msg)
				}
			})
		}
		out, err := p.logs(t, "two", &corev1.PodLogOptions{Container: "b"})
		if err != nil || out != "container b started (simulated)\n" {
			t.Fatalf("container b = %q, %v", out, err)
		}
	})
	t.Run("follow", func(t *testing.T) {
		ctx := testContext(t)
		f := p.runPod(t, podOf("follow", "c"), 1)
		rc, err := p.cs.CoreV1().Pods("default").GetLogs("follow", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		lines := make(chan string, 100)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(rc)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		next := func(want string) {
			t.Helper()
			select {
			case l, ok := <-lines:
				if !ok || l != want {
					t.Fatalf("follow: got %q (open %v), want %q", l, ok, want)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("follow: no %q after 30s", want)
			}
		}
		next("container c started (simulated)")
		for i := range 3 {
			p.appendLog(t, f, "c", 0, time.Now(), fmt.Sprintf("line %d", i))
			next(fmt.Sprintf("line %d", i))
		}
		// The stream ends when the container stops (its last line may be
		// lost with the pod's removal).
		if err := p.cs.CoreV1().Pods("default").Delete(ctx, "follow", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		timeout := time.After(30 * time.Second)
		for open := true; open; {
			select {
			case l, ok := <-lines:
				if ok && !strings.HasPrefix(l, "container c exited with code ") {
					t.Fatalf("follow: %q after the deletion", l)
				}
				open = ok
			case <-timeout:
				t.Fatal("follow: the stream did not end after the container stopped")
			}
		}
	})
	t.Run("flow control", func(t *testing.T) {
		// A follower that stops reading: the API server stops asking the
		// node for chunks once the connection's buffers are full, instead
		// of reading the whole 48 MiB log into memory.
		ctx := testContext(t)
		fc := p.runPod(t, podOf("flow", "c"), 1)
		batch := make([]string, 48<<10)
		line := strings.Repeat("z", 1000)
		for i := range batch {
			batch[i] = line
		}
		p.appendLog(t, fc, "c", 0, time.Now(), batch...)
		conn, err := bus.Connect(ctx, bus.ConnConfig{URL: p.natsURL})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var mu sync.Mutex
		asked := 0
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		counting := make(chan struct{})
		go func() {
			// A second subscriber that only counts (it never answers).
			served <- conn.Serve(sctx, bus.ServeConfig{Subject: subjects.PodLogs("n1"), Workers: 1, Ready: func() { close(counting) }},
				func(context.Context, *bus.Msg) *bus.Msg {
					mu.Lock()
					asked++
					mu.Unlock()
					return nil
				})
		}()
		<-counting
		rc, err := p.cs.CoreV1().Pods("default").GetLogs("flow", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			return asked
		}
		// Wait until the requests stop (none for half a second).
		last, since := -1, time.Now()
		for deadline := time.Now().Add(30 * time.Second); time.Since(since) < 500*time.Millisecond; time.Sleep(20 * time.Millisecond) {
			if n := count(); n != last {
				last, since = n, time.Now()
			}
			if time.Now().After(deadline) {
				t.Fatalf("still asking for chunks after 30s (%d)", last)
			}
		}
		total := (48<<10)*1001 + len("container c started (simulated)\n")
		if chunks := total / (64 << 10); last > chunks/2 {
			t.Fatalf("a reader that reads nothing made the API server ask for %d of the %d chunks", last, chunks)
		}
		t.Logf("stalled reader: %d chunk requests of %d", last, total/(64<<10))
		// Reading resumes the stream where it stopped.
		buf := make([]byte, 1<<20)
		got := 0
		for got < total {
			n, err := rc.Read(buf)
			got += n
			if err != nil {
				t.Fatalf("read after %d of %d bytes: %v", got, total, err)
			}
		}
		stop()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("slow reader", func(t *testing.T) {
		// 4 MiB of log read 4 KiB at a time: the stream paces itself by the
		// reader (one chunk in flight) and delivers every byte in order.
		ctx := testContext(t)
		big := p.runPod(t, podOf("big", "c"), 1)
		line := strings.Repeat("x", 1000)
		var want strings.Builder
		want.WriteString("container c started (simulated)\n")
		batch := make([]string, 4096)
		for i := range batch {
			batch[i] = fmt.Sprintf("%04d %s", i, line)
			want.WriteString(batch[i] + "\n")
		}
		p.appendLog(t, big, "c", 0, time.Now(), batch...)
		rc, err := p.cs.CoreV1().Pods("default").GetLogs("big", &corev1.PodLogOptions{}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var got strings.Builder
		buf := make([]byte, 4<<10)
		for {
			n, err := rc.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got.Len() != want.Len() || got.String() != want.String() {
			t.Fatalf("read %d bytes, want %d", got.Len(), want.Len())
		}
	})
}
