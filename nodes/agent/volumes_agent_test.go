package agent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/sdk/client"
)

// waitingReason is the waiting reason and message of a pod's container.
func waitingReason(p *corev1.Pod, name string) (string, string) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name && cs.State.Waiting != nil {
			return cs.State.Waiting.Reason, cs.State.Waiting.Message
		}
	}
	return "", ""
}

// TestVolumesAndConfigErrors: a pod whose configMap volume (and env) is
// missing waits with CreateContainerConfigError; once the ConfigMap and
// Secret exist it runs, with the volumes projected under the agent's
// volume dir (the secret on tmpfs, with its defaultMode), and deleting
// the pod removes them.
func TestVolumesAndConfigErrors(t *testing.T) {
	e := start(t)
	volDir := filepath.Join(t.TempDir(), "volumes")
	e.runAgent(t, "n1", agent.Config{VolumeDir: volDir, ResyncInterval: 300 * time.Millisecond})
	pod := podSpec("vols", nil)
	mode := int32(0o400)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
		{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app-secret", DefaultMode: &mode,
			Items: []corev1.KeyToPath{{Key: "password", Path: "db/password"}}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/app"}, {Name: "creds", MountPath: "/secrets"}, {Name: "scratch", MountPath: "/scratch"}}
	c.Env = []corev1.EnvVar{{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}, Key: "greeting"}}}}
	p := e.createPod(t, pod, "n1")

	eventually(t, 10*time.Second, func() string {
		got, err := e.getPod(t, "vols")
		if err != nil {
			return err.Error()
		}
		if r, msg := waitingReason(got, "app"); r != "CreateContainerConfigError" || !strings.Contains(msg, `"app-config"`) {
			return describe(got) + " " + msg
		}
		return ""
	})

	ctx := t.Context()
	if _, err := client.For[*corev1.ConfigMap](e.c).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: "default"},
		Data: map[string]string{"greeting": "hello", "app.conf": "x=1\n"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The secret is still missing: the message now names it.
	eventually(t, 10*time.Second, func() string {
		got, _ := e.getPod(t, "vols")
		if r, msg := waitingReason(got, "app"); r != "CreateContainerConfigError" || !strings.Contains(msg, `"app-secret"`) {
			return describe(got) + " " + msg
		}
		return ""
	})
	if _, err := client.For[*corev1.Secret](e.c).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app-secret", Namespace: "default"},
		Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		got, _ := e.getPod(t, "vols")
		if got.Status.Phase != corev1.PodRunning {
			return describe(got)
		}
		return ""
	})

	podDir := filepath.Join(volDir, string(p.UID))
	for path, want := range map[string]string{
		"configmap/cfg/greeting":   "hello",
		"configmap/cfg/app.conf":   "x=1\n",
		"secret/creds/db/password": "s3cret",
	} {
		b, err := os.ReadFile(filepath.Join(podDir, path))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", path, b, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(podDir, "secret/creds/db/password")); err != nil || st.Mode().Perm() != 0o400 {
		t.Errorf("secret file mode: %v %v, want 0400", st, err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Join(podDir, "secret/creds"), &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Errorf("secret volume is not on tmpfs (%x, %v)", fs.Type, err)
	}
	if st, err := os.Stat(filepath.Join(podDir, "empty-dir/scratch")); err != nil || !st.IsDir() {
		t.Errorf("emptyDir: %v", err)
	}

	// An update of the ConfigMap reaches the volume of the running pod.
	cm, err := client.For[*corev1.ConfigMap](e.c).Get(ctx, "default", "app-config")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["greeting"] = "hi again"
	if _, err := client.For[*corev1.ConfigMap](e.c).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		if b, _ := os.ReadFile(filepath.Join(podDir, "configmap/cfg/greeting")); string(b) != "hi again" {
			return "configMap volume not refreshed: " + string(b)
		}
		return ""
	})

	if _, _, err := client.For[*corev1.Pod](e.c).Delete(ctx, "default", "vols", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		if _, err := os.Stat(podDir); err == nil {
			return "pod volume dir still there"
		}
		return ""
	})
}
