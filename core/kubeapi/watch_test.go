package kubeapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/core/kubeapi"
)

// TestWatchTooOld checks that a watch from a revision compaction has
// passed gets 410 Gone, the answer that makes clients relist.
func TestWatchTooOld(t *testing.T) {
	e := apiservertest.Start(t, apiservertest.Config{Store: store.Config{TombstoneRetention: time.Nanosecond, CompactGrace: time.Nanosecond}})
	st, srv := e.Store, e.Server
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	ready := make(chan kubeapi.Endpoint, 1)
	https, err := kubeapi.New(kubeapi.Config{Server: srv, Listen: "127.0.0.1:0", DataDir: dir, Ready: func(ep kubeapi.Endpoint) { ready <- ep }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- https.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	ep := <-ready
	kc, err := kubeapi.ReadKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != ep.URL {
		t.Fatalf("kubeconfig server %s, endpoint %s", cfg.Host, ep.URL)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "gone"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Announce, then carry out, a compaction past the deletion.
	for range 2 {
		if _, err := st.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err = cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: cm.ResourceVersion})
	var se apierrors.APIStatus
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from a compacted revision: want 410, got %v", err)
	}
	if ok := asStatus(err, &se); !ok || se.Status().Code != http.StatusGone {
		t.Fatalf("watch from a compacted revision: code %v", err)
	}
	// A watch from now works.
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch from now: %v", err)
	}
	w.Stop()
}

func asStatus(err error, into *apierrors.APIStatus) bool {
	s, ok := err.(apierrors.APIStatus)
	if ok {
		*into = s
	}
	return ok
}
