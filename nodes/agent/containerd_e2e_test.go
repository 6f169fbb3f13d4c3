package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/containerd"
	"github.com/skiffhq/skiff/nodes/runtime/containerd/containerdtest"
	"github.com/skiffhq/skiff/sdk/client"
)

// ctrdNode is an agent on a real containerd with the test images
// imported.
type ctrdNode struct {
	e      *env
	cfg    containerd.Config
	rt     *containerd.Runtime
	agent  *running
	logDir string
	volDir string
}

// openRuntime starts a containerd runtime on cfg; cleanup removes what
// it runs and closes it.
func openRuntime(t *testing.T, cfg containerd.Config) *containerd.Runtime {
	t.Helper()
	rt, err := containerd.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		sbs, _ := rt.ListSandboxes(ctx, nil)
		for _, sb := range sbs {
			if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		_ = rt.Close()
	})
	return rt
}

func importArchive(t *testing.T, rt *containerd.Runtime, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := rt.Import(t.Context(), f); err != nil {
		t.Fatal(err)
	}
}

func newCtrdNode(t *testing.T) *ctrdNode {
	t.Helper()
	containerdtest.Need(t)
	e := start(t)
	n := &ctrdNode{e: e, cfg: containerdtest.Config(t)}
	n.logDir = filepath.Join(n.cfg.StateDir, "pods")
	n.volDir = filepath.Join(n.cfg.StateDir, "volumes")
	n.rt = openRuntime(t, n.cfg)
	importArchive(t, n.rt, containerdtest.BusyboxArchive(t))
	importArchive(t, n.rt, containerdtest.WebserverArchive(t, "../.."))
	n.agent = n.run(t)
	return n
}

func (n *ctrdNode) run(t *testing.T) *running {
	return n.e.runAgent(t, "n1", agent.Config{Runtime: n.rt, LogDir: n.logDir, VolumeDir: n.volDir})
}

// waitPod polls the pod until cond returns "".
func (n *ctrdNode) waitPod(t *testing.T, name string, timeout time.Duration, cond func(*corev1.Pod) string) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	eventually(t, timeout, func() string {
		var err error
		if p, err = n.e.getPod(t, name); err != nil {
			return err.Error()
		}
		return cond(p)
	})
	return p
}

// deletePod deletes a pod with its grace period and waits until the
// object is gone and nothing of it is left in the runtime.
func (n *ctrdNode) deletePod(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if _, _, err := client.For[*corev1.Pod](n.e.c).Delete(t.Context(), p.Namespace, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	eventually(t, 40*time.Second, func() string {
		if _, err := n.e.getPod(t, p.Name); !apierrors.IsNotFound(err) {
			return fmt.Sprintf("pod %s not deleted (%v)", p.Name, err)
		}
		if cs := containersOf(t, n.rt, p); len(cs) > 0 {
			return fmt.Sprintf("%d containers left", len(cs))
		}
		if sbs, _ := n.rt.ListSandboxes(t.Context(), map[string]string{runtime.LabelPodUID: string(p.UID)}); len(sbs) > 0 {
			return "sandbox left"
		}
		if _, err := os.Stat(filepath.Join(n.volDir, string(p.UID))); err == nil {
			return "volume dir left"
		}
		return ""
	})
}

func running1(p *corev1.Pod) string {
	if p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodReady) != corev1.ConditionTrue {
		return describe(p)
	}
	return ""
}

// ctrdPod is a pod of one container of image with pull policy Never.
func ctrdPod(name, image string, cmd ...string) *corev1.Pod {
	grace := int64(2)
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{{
			Name: "main", Image: image, Command: cmd, ImagePullPolicy: corev1.PullNever}}}}
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return string(b), err
}

func freeHostPort(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// execIn runs cmd in a container and returns its output (stdout and
// stderr) and exit code.
func execIn(t *testing.T, rt runtime.Runtime, id string, cmd ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code, err := rt.Exec(t.Context(), id, runtime.ExecRequest{Cmd: cmd, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	return out.String(), code
}

// containerID is the runtime ID of a pod's container from its status.
func containerID(p *corev1.Pod, name string) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name {
			_, id, _ := strings.Cut(cs.ContainerID, "://")
			return id
		}
	}
	return ""
}

// TestContainerd runs pods through the agent on a real containerd with
// CNI networking: the cases share one control plane, one daemon and one
// agent, and run in parallel; the agent restart comes last.
func TestContainerd(t *testing.T) {
	n := newCtrdNode(t)
	t.Run("cases", func(t *testing.T) {
		t.Run("WebserverOnPodIP", n.testWebserver)
		t.Run("CrashLoopBackOff", n.testCrashLoop)
		t.Run("OOMKilled", n.testOOM)
		t.Run("LivenessRestarts", n.testLiveness)
		t.Run("ReadinessFlips", n.testReadiness)
		t.Run("DeleteWithinGrace", n.testDeleteGrace)
		t.Run("VolumesAndEnv", n.testVolumesAndEnv)
		t.Run("HostNetwork", n.testHostNetwork)
		t.Run("TerminationMessages", n.testTerminationMessages)
	})
	t.Run("AgentRestartReadopts", n.testReadopt)
}

// testWebserver: the example image runs, is Ready through an HTTP
// readiness probe on its pod IP, answers HTTP on the pod IP and on its
// hostPort, and a second container of the pod reaches it on 127.0.0.1.
func (n *ctrdNode) testWebserver(t *testing.T) {
	t.Parallel()
	hp := freeHostPort(t)
	p := ctrdPod("web", containerdtest.Webserver)
	c := &p.Spec.Containers[0]
	c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, HostPort: hp, HostIP: "127.0.0.1"}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
		PeriodSeconds: 1, FailureThreshold: 1}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "tools", Image: containerdtest.Busybox,
		ImagePullPolicy: corev1.PullNever, Command: []string{"sleep", "3600"}})
	n.e.createPod(t, p, "n1")
	p = n.waitPod(t, "web", 30*time.Second, running1)
	if p.Status.PodIP == "" || p.Status.PodIP == p.Status.HostIP || len(p.Status.PodIPs) != 1 {
		t.Fatalf("podIP %q podIPs %v hostIP %q, want an address of the pod range", p.Status.PodIP, p.Status.PodIPs, p.Status.HostIP)
	}
	if cs := p.Status.ContainerStatuses; len(cs) != 2 || !strings.HasPrefix(cs[0].ContainerID, "containerd://") {
		t.Fatalf("container statuses: %+v", cs)
	}
	body, err := httpGet("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/")
	if err != nil || !strings.Contains(body, "hello from skiff webserver on web") {
		t.Errorf("GET on the pod IP: %q %v", body, err)
	}
	body, err = httpGet(fmt.Sprintf("http://127.0.0.1:%d/", hp))
	if err != nil || !strings.Contains(body, "hello from skiff webserver") {
		t.Errorf("GET on hostPort %d: %q %v", hp, body, err)
	}
	if _, code := execIn(t, n.rt, containerID(p, "tools"), "wget", "-qO", "/dev/null", "http://127.0.0.1:8080/healthz"); code != 0 {
		t.Errorf("from the pod's other container on 127.0.0.1: exit %d", code)
	}
	n.deletePod(t, p)
}

// testCrashLoop: a container that exits at once goes to CrashLoopBackOff,
// and the pauses between its runs grow (200 ms doubling to 800 ms here).
func (n *ctrdNode) testCrashLoop(t *testing.T) {
	t.Parallel()
	n.e.createPod(t, ctrdPod("crash", containerdtest.Busybox, "sh", "-c", "echo crashing; exit 3"), "n1")
	// The agent keeps only the newest exited containers: collect every
	// run's times while polling.
	runs := map[int]runtime.Container{}
	sawBackoff := false
	p := n.waitPod(t, "crash", 60*time.Second, func(p *corev1.Pod) string {
		for _, c := range containersOf(t, n.rt, p) {
			if c.State == runtime.StateExited {
				runs[c.Attempt] = c
			}
		}
		cs := p.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff" {
			sawBackoff = true
			if !strings.Contains(cs[0].State.Waiting.Message, "back-off") {
				return "message " + cs[0].State.Waiting.Message
			}
		}
		if len(cs) != 1 || cs[0].RestartCount < 4 || !sawBackoff || len(runs) < 5 {
			return fmt.Sprintf("%s, %d runs seen", describe(p), len(runs))
		}
		if lt := cs[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
			return fmt.Sprintf("lastState %+v", cs[0].LastTerminationState)
		}
		return ""
	})
	var gaps []time.Duration
	for i := 1; i <= 4; i++ {
		prev, ok1 := runs[i-1]
		cur, ok2 := runs[i]
		if !ok1 || !ok2 {
			t.Fatalf("run %d or %d not seen: %v", i-1, i, slices.Sorted(maps.Keys(runs)))
		}
		gaps = append(gaps, cur.StartedAt.Sub(prev.FinishedAt))
	}
	t.Logf("pauses between runs: %v", gaps)
	// Lower bounds only: a loaded machine makes pauses longer, never shorter.
	want := []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	for i, g := range gaps {
		if g < want[i]-50*time.Millisecond {
			t.Errorf("pause %d: %v, want at least %v", i+1, g, want[i])
		}
	}
	if gaps[len(gaps)-1] <= gaps[0] {
		t.Errorf("pauses did not grow: %v", gaps)
	}
	n.deletePod(t, p)
}

// testOOM: a container past its memory limit is OOMKilled (137).
func (n *ctrdNode) testOOM(t *testing.T) {
	t.Parallel()
	p := ctrdPod("hog", containerdtest.Busybox, "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=4")
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	n.e.createPod(t, p, "n1")
	p = n.waitPod(t, "hog", 30*time.Second, func(p *corev1.Pod) string {
		cs := p.Status.ContainerStatuses
		if p.Status.Phase != corev1.PodFailed || len(cs) != 1 || cs[0].State.Terminated == nil {
			return describe(p)
		}
		if tr := cs[0].State.Terminated; tr.Reason != "OOMKilled" || tr.ExitCode != 137 {
			return fmt.Sprintf("terminated %s(%d)", tr.Reason, tr.ExitCode)
		}
		return ""
	})
	n.deletePod(t, p)
}

// testLiveness: a failing TCP liveness probe (nothing listens on the
// port) kills the container, which restarts.
func (n *ctrdNode) testLiveness(t *testing.T) {
	t.Parallel()
	p := ctrdPod("unlively", containerdtest.Busybox, "sh", "-c", `trap "exit 143" TERM; sleep 3600 & wait`)
	p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9999)}},
		InitialDelaySeconds: 1, PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 1}
	n.e.createPod(t, p, "n1")
	p = n.waitPod(t, "unlively", 60*time.Second, func(p *corev1.Pod) string {
		cs := p.Status.ContainerStatuses
		if len(cs) != 1 || cs[0].RestartCount < 1 {
			return describe(p)
		}
		if lt := cs[0].LastTerminationState.Terminated; lt == nil || lt.ExitCode != 143 {
			return fmt.Sprintf("lastState %+v", cs[0].LastTerminationState)
		}
		return ""
	})
	n.deletePod(t, p)
}

// testReadiness: an HTTP readiness probe on the pod IP makes the pod
// Ready, not Ready when the page goes, and Ready again when it is back.
func (n *ctrdNode) testReadiness(t *testing.T) {
	t.Parallel()
	p := ctrdPod("flip", containerdtest.Busybox, "sh", "-c", `mkdir -p /www && touch /www/ready && exec httpd -f -p 8080 -h /www`)
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1}
	n.e.createPod(t, p, "n1")
	p = n.waitPod(t, "flip", 30*time.Second, running1)
	id := containerID(p, "main")
	if _, code := execIn(t, n.rt, id, "rm", "/www/ready"); code != 0 {
		t.Fatalf("rm: exit %d", code)
	}
	n.waitPod(t, "flip", 20*time.Second, func(p *corev1.Pod) string {
		if condition(p, corev1.PodReady) != corev1.ConditionFalse || p.Status.ContainerStatuses[0].Ready {
			return describe(p)
		}
		return ""
	})
	if _, code := execIn(t, n.rt, id, "touch", "/www/ready"); code != 0 {
		t.Fatalf("touch: exit %d", code)
	}
	p = n.waitPod(t, "flip", 20*time.Second, running1)
	if p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("readiness restarted the container: %s", describe(p))
	}
	n.deletePod(t, p)
}

// testDeleteGrace: deleting a pod whose container ignores SIGTERM kills
// it when the grace period (2 s) ends, and the pod object goes.
func (n *ctrdNode) testDeleteGrace(t *testing.T) {
	t.Parallel()
	n.e.createPod(t, ctrdPod("stubborn", containerdtest.Busybox, "sh", "-c", `trap "" TERM; while true; do sleep 1; done`), "n1")
	p := n.waitPod(t, "stubborn", 30*time.Second, running1)
	t0 := time.Now()
	if _, _, err := client.For[*corev1.Pod](n.e.c).Delete(t.Context(), "default", "stubborn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string {
		if _, err := n.e.getPod(t, "stubborn"); !apierrors.IsNotFound(err) {
			return "not deleted"
		}
		return ""
	})
	took := time.Since(t0)
	cs := containersOf(t, n.rt, p)
	for _, c := range cs {
		if c.State == runtime.StateRunning {
			t.Errorf("container still running after the pod was deleted: %+v", c)
		}
		if !c.FinishedAt.IsZero() && c.FinishedAt.Sub(t0) < 1900*time.Millisecond {
			t.Errorf("killed %v after the deletion, before its 2 s grace period", c.FinishedAt.Sub(t0))
		}
	}
	t.Logf("deleted after %v (grace period 2 s)", took)
	if took > 12*time.Second {
		t.Errorf("deletion took %v with a 2 s grace period", took)
	}
	n.deletePod(t, p)
}

// testVolumesAndEnv: configMap and secret volumes (with items, modes and
// a subPath file), an emptyDir shared by two containers, a hostPath, and
// env from the ConfigMap, the Secret and the downward API are visible in
// the containers.
func (n *ctrdNode) testVolumesAndEnv(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if _, err := client.For[*corev1.ConfigMap](n.e.c).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-config", Namespace: "default"},
		Data: map[string]string{"greeting": "hello", "app.conf": "port=8080\n"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*corev1.Secret](n.e.c).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-secret", Namespace: "default"},
		Data: map[string][]byte{"password": []byte("s3cret"), "user": []byte("admin")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostDir := filepath.Join(t.TempDir(), "host", "data")
	mode := int32(0o400)
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	p := ctrdPod("vols", containerdtest.Busybox, "sh", "-c", `echo from-main > /shared/note; echo written > /host/out; sleep 3600`)
	p.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "web-secret", DefaultMode: &mode,
			Items: []corev1.KeyToPath{{Key: "password", Path: "db/password"}}}}},
		{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir, Type: &dirOrCreate}}},
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "main", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
		}}}},
		{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}, Items: []corev1.KeyToPath{{Key: "greeting", Path: "cfg/greeting"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "web-secret"}, Items: []corev1.KeyToPath{{Key: "user", Path: "sec/user"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}},
	}
	p.Labels = map[string]string{"app": "vols", "tier": "test"}
	p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db.local", "db"}}}
	main := &p.Spec.Containers[0]
	main.VolumeMounts = []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/app"},
		{Name: "cfg", MountPath: "/etc/app.conf", SubPath: "app.conf"},
		{Name: "creds", MountPath: "/secrets"},
		{Name: "shared", MountPath: "/shared"},
		{Name: "host", MountPath: "/host"},
		{Name: "podinfo", MountPath: "/podinfo"},
		{Name: "all", MountPath: "/all"},
	}
	main.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	no := false
	main.Env = []corev1.EnvVar{
		{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}, Key: "greeting"}}},
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "web-secret"}, Key: "password"}}},
		{Name: "MISSING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}, Key: "nope", Optional: new(true)}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
	}
	main.EnvFrom = []corev1.EnvFromSource{{Prefix: "S_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-secret"}, Optional: &no}}}
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "reader", Image: containerdtest.Busybox, ImagePullPolicy: corev1.PullNever,
		Command: []string{"sleep", "3600"}, VolumeMounts: []corev1.VolumeMount{{Name: "shared", MountPath: "/in", ReadOnly: true}}})
	n.e.createPod(t, p, "n1")
	p = n.waitPod(t, "vols", 30*time.Second, running1)
	id, reader := containerID(p, "main"), containerID(p, "reader")

	for _, tc := range []struct {
		id   string
		cmd  []string
		want string
	}{
		{id, []string{"cat", "/etc/app/greeting"}, "hello"},
		{id, []string{"cat", "/etc/app.conf"}, "port=8080\n"},
		{id, []string{"cat", "/secrets/db/password"}, "s3cret"},
		{id, []string{"stat", "-L", "-c", "%a", "/secrets/db/password"}, "400\n"},
		{id, []string{"sh", "-c", `echo "$GREETING $PASSWORD $S_user $S_password [$MISSING] $POD_NAME $NODE"`}, "hello s3cret admin s3cret [] vols n1\n"},
		{id, []string{"sh", "-c", `echo $POD_IP`}, p.Status.PodIP + "\n"},
		{id, []string{"cat", "/podinfo/labels"}, "app=\"vols\"\ntier=\"test\""},
		{id, []string{"cat", "/podinfo/name", "/podinfo/mem"}, "vols64"},
		{id, []string{"cat", "/all/cfg/greeting", "/all/sec/user", "/all/ns"}, "helloadmindefault"},
		{id, []string{"sh", "-c", `grep -E "vols|db.local" /etc/hosts`}, p.Status.PodIP + "\tvols\n10.1.2.3\tdb.local\tdb\n"},
	} {
		var out string
		code := -1
		eventually(t, 10*time.Second, func() string { // main's command may not have written yet
			out, code = execIn(t, n.rt, tc.id, tc.cmd...)
			if code != 0 || out != tc.want {
				return fmt.Sprintf("%v: exit %d %q, want %q", tc.cmd, code, out, tc.want)
			}
			return ""
		})
	}
	eventually(t, 10*time.Second, func() string {
		if out, code := execIn(t, n.rt, reader, "cat", "/in/note"); code != 0 || out != "from-main\n" {
			return fmt.Sprintf("emptyDir shared with the other container: exit %d %q", code, out)
		}
		return ""
	})
	if _, code := execIn(t, n.rt, id, "touch", "/etc/app/new"); code == 0 {
		t.Error("a configMap volume is writable")
	}
	if _, code := execIn(t, n.rt, reader, "touch", "/in/new"); code == 0 {
		t.Error("a readOnly mount is writable")
	}
	eventually(t, 10*time.Second, func() string {
		if out, _ := execIn(t, n.rt, id, "sh", "-c", "grep ' /shared ' /proc/mounts"); !strings.Contains(out, "tmpfs") {
			return fmt.Sprintf("emptyDir medium Memory is not tmpfs: %q", out)
		}
		return ""
	})
	if b, err := os.ReadFile(filepath.Join(hostDir, "out")); err != nil || string(b) != "written\n" {
		t.Errorf("hostPath seen from the host: %q %v", b, err)
	}
	n.deletePod(t, p)
	if _, err := os.Stat(filepath.Join(hostDir, "out")); err != nil {
		t.Errorf("hostPath content removed with the pod: %v", err)
	}
}

// testTerminationMessages: what a container writes to its
// terminationMessagePath is its terminated state's message; with
// FallbackToLogsOnError a failed container's message is its log's end.
func (n *ctrdNode) testTerminationMessages(t *testing.T) {
	t.Parallel()
	p := ctrdPod("farewell", containerdtest.Busybox, "sh", "-c", `echo "bye now" > /dev/termination-log; exit 0`)
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "logs", Image: containerdtest.Busybox, ImagePullPolicy: corev1.PullNever,
		Command: []string{"sh", "-c", "echo first; echo last words; exit 2"}, TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError},
		corev1.Container{Name: "custom", Image: containerdtest.Busybox, ImagePullPolicy: corev1.PullNever,
			Command: []string{"sh", "-c", "echo custom > /tmp/msg"}, TerminationMessagePath: "/tmp/msg"})
	n.e.createPod(t, p, "n1")
	want := map[string]string{"main": "bye now\n", "logs": "first\nlast words\n", "custom": "custom\n"}
	p = n.waitPod(t, "farewell", 30*time.Second, func(p *corev1.Pod) string {
		if len(p.Status.ContainerStatuses) != 3 {
			return describe(p)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if tr := cs.State.Terminated; tr == nil || tr.Message != want[cs.Name] {
				return fmt.Sprintf("%s: %+v", cs.Name, cs.State)
			}
		}
		return ""
	})
	n.deletePod(t, p)
}

// testHostNetwork: a host-network pod reports the node IP as its podIP and
// listens on the host.
func (n *ctrdNode) testHostNetwork(t *testing.T) {
	t.Parallel()
	port := freeHostPort(t)
	p := ctrdPod("hostnet", containerdtest.Busybox, "sh", "-c", fmt.Sprintf(`mkdir -p /www && echo host > /www/index.html && exec httpd -f -p %d -h /www`, port))
	p.Spec.HostNetwork = true
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}}, PeriodSeconds: 1}
	n.e.createPod(t, p, "n1")
	p = n.waitPod(t, "hostnet", 30*time.Second, running1)
	if p.Status.PodIP != p.Status.HostIP {
		t.Errorf("host-network pod IP %q, want the host IP %q", p.Status.PodIP, p.Status.HostIP)
	}
	if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port)); err != nil || body != "host\n" {
		t.Errorf("GET on the host: %q %v", body, err)
	}
	n.deletePod(t, p)
}

// testReadopt: an agent (and its runtime's daemon) restarted keeps the
// running pod (same container, no restart, no duplicate), and cleans up a
// pod deleted while it was down, network and volumes included.
func (n *ctrdNode) testReadopt(t *testing.T) {
	n.e.createPod(t, ctrdPod("keeper", containerdtest.Webserver), "n1")
	doomed := ctrdPod("doomed", containerdtest.Busybox, "sleep", "3600")
	doomed.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}}
	doomed.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	doomed = n.e.createPod(t, doomed, "n1")
	keep := n.waitPod(t, "keeper", 30*time.Second, running1)
	n.waitPod(t, "doomed", 30*time.Second, running1)
	before := containerID(keep, "main")

	n.agent.stop()
	if err := n.rt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.For[*corev1.Pod](n.e.c).Delete(t.Context(), "default", "doomed", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	n.rt = openRuntime(t, n.cfg)
	n.agent = n.run(t)

	keep = n.waitPod(t, "keeper", 30*time.Second, running1)
	if got := containerID(keep, "main"); got != before || keep.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("after the restart: container %s restarts %d, want %s and 0", got, keep.Status.ContainerStatuses[0].RestartCount, before)
	}
	if cs := containersOf(t, n.rt, keep); len(cs) != 1 {
		t.Errorf("keeper has %d containers after the restart, want 1", len(cs))
	}
	if sbs, _ := n.rt.ListSandboxes(t.Context(), map[string]string{runtime.LabelPodUID: string(keep.UID)}); len(sbs) != 1 {
		t.Errorf("keeper has %d sandboxes after the restart, want 1", len(sbs))
	}
	eventually(t, 10*time.Second, func() string { // Running is not listening yet: no readiness probe here
		if body, err := httpGet("http://" + net.JoinHostPort(keep.Status.PodIP, "8080") + "/"); err != nil || !strings.Contains(body, "keeper") {
			return fmt.Sprintf("re-adopted pod on its IP: %q %v", body, err)
		}
		return ""
	})
	eventually(t, 30*time.Second, func() string {
		if cs := containersOf(t, n.rt, doomed); len(cs) > 0 {
			return fmt.Sprintf("the pod deleted meanwhile still has %d containers", len(cs))
		}
		if sbs, _ := n.rt.ListSandboxes(t.Context(), map[string]string{runtime.LabelPodUID: string(doomed.UID)}); len(sbs) > 0 {
			return "the pod deleted meanwhile still has its sandbox"
		}
		if _, err := os.Stat(filepath.Join(n.volDir, string(doomed.UID))); err == nil {
			return "the pod deleted meanwhile still has its volumes"
		}
		return ""
	})
	n.deletePod(t, keep)
	if ns, _ := os.ReadDir(filepath.Join(n.cfg.StateDir, "netns")); len(ns) > 0 {
		t.Errorf("network namespaces left: %d", len(ns))
	}
}
