package apiserver_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// `kubectl delete --wait` lists the object with a fieldSelector, then
// watches from the list's revision. When the deletion lands between the
// two, the watch must still report it: the object matched when the
// client listed, even though it is gone when the watch starts.
func TestFilteredWatchReportsADeletionBetweenListAndWatch(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, lm, err := cms.List(ctx, "default", metav1.ListOptions{FieldSelector: "metadata.name=x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cms.Delete(ctx, "default", "x", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := e.srv.Watch(ctx, api.ConfigMaps, "default", metav1.ListOptions{FieldSelector: "metadata.name=x", ResourceVersion: lm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != watch.Deleted {
			t.Fatalf("got %s, want DELETED", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no DELETED event: a client waiting for the deletion would wait for ever")
	}
}
