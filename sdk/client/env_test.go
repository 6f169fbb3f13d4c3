package client_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/sdk/client"
)

// env is a real NATS server with the objects bucket, an API server serving
// it, and a client on its own connection.
type env struct {
	nats *bustest.Server
	conn *bus.Conn // the API server's connection
	st   *store.Store
	c    *client.Client
}

// start runs NATS, the store (opened with cfg; Bucket is filled in), the
// API server and a client, and stops them in t.Cleanup.
func start(t testing.TB, cfg store.Config) *env {
	t.Helper()
	e := apiservertest.Start(t, apiservertest.Config{Store: cfg})
	return &env{nats: e.NATS, conn: e.Conn, st: e.Store, c: e.Client}
}

// tinyCompaction makes tombstones compactable at once, for tests of
// expired revisions.
var tinyCompaction = store.Config{TombstoneRetention: time.Millisecond, CompactGrace: 50 * time.Millisecond}

// compactAll compacts until at least one tombstone is removed, which takes
// two Compact calls at least CompactGrace apart, and returns the
// compaction revision.
func compactAll(t *testing.T, st *store.Store) uint64 {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		n, err := st.Compact(t.Context())
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no tombstone removed yet")
		}
		return nil
	})
	rev, err := st.CompactRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// eventually polls f until it returns nil, failing the test with f's last
// error after timeout.
func eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		<-tick.C
	}
}

// cmpOpts compare Kubernetes objects: quantities by value.
var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }),
}

func pod(ns, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}}
}

func configMap(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Data: map[string]string{"k": "v"}}
}

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24"}}
}

func deployment(ns, name string) *appsv1.Deployment {
	replicas := int32(2)
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}}}}
}
