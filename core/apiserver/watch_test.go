package apiserver_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

func nextEvent(t *testing.T, ch <-chan apiserver.WatchEvent) apiserver.WatchEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	return apiserver.WatchEvent{}
}

func TestWatchInitialListAndChanges(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	if _, err := pods.Create(ctx, pod("default", "a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := e.srv.Watch(ctx, api.Pods, "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "a" {
		t.Fatalf("initial event %v %T", ev.Type, ev.Object)
	}
	b, err := pods.Create(ctx, pod("default", "b"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.Type != watch.Added || ev.Object.(*corev1.Pod).ResourceVersion != b.ResourceVersion {
		t.Fatalf("create event %v %+v", ev.Type, ev.Object.(*corev1.Pod).ObjectMeta)
	}
	b.Labels["x"] = "1"
	if _, err := pods.Update(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.Type != watch.Modified || ev.Object.(*corev1.Pod).Labels["x"] != "1" {
		t.Fatalf("update event %v", ev.Type)
	}
	if _, _, err := pods.Delete(ctx, "default", "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.Type != watch.Deleted || ev.Object.(*corev1.Pod).Labels["x"] != "1" {
		t.Fatalf("delete event %v (want the final state)", ev.Type)
	}
}

func TestWatchSelectorTransitions(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	p, err := pods.Create(ctx, pod("default", "p"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := e.srv.Watch(ctx, api.Pods, "default", metav1.ListOptions{LabelSelector: "tier=web", ResourceVersion: p.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	p.Labels["tier"] = "web" // starts matching: ADDED
	if p, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.Type != watch.Added {
		t.Fatalf("start matching: %v", ev.Type)
	}
	p.Labels["tier"] = "db" // stops matching: DELETED
	if _, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.Type != watch.Deleted {
		t.Fatalf("stop matching: %v", ev.Type)
	}
	// A pod that never matches is never reported; the next one that does is.
	if _, err := pods.Create(ctx, pod("default", "other"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := pod("default", "web")
	web.Labels["tier"] = "web"
	if _, err := pods.Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, ch); ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "web" {
		t.Fatalf("got %v %s", ev.Type, ev.Object.(*corev1.Pod).Name)
	}
}

func TestWatchBookmarks(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a bookmark interval")
	}
	e := start(t)
	ch, err := e.srv.Watch(t.Context(), api.ConfigMaps, "default", metav1.ListOptions{ResourceVersion: "1", AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(apiserver.BookmarkInterval + 5*time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Type == watch.Bookmark {
				if ev.Object.(*corev1.ConfigMap).ResourceVersion == "" {
					t.Fatal("bookmark without resourceVersion")
				}
				return
			}
		case <-deadline:
			t.Fatal("no bookmark")
		}
	}
}
