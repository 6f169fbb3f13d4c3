package controllers_test

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/eventttl"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/sdk/client"
)

// TestEventsExpire runs the manager with its default TTL of an hour, on a
// clock the test moves: an Event last active two hours ago is deleted
// (a watcher sees it DELETED), one from ten minutes ago and one created
// long ago whose count was just bumped stay through later passes, and go
// once the clock is two hours on.
func TestEventsExpire(t *testing.T) {
	e := testenv.Start(t)
	api := client.For[*corev1.Event](e.Client)
	now := time.Now()
	mk := func(name string, last time.Time) *corev1.Event {
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "default", Name: "web"},
			Reason:         "Tested", Message: name, Type: corev1.EventTypeNormal, Count: 1,
			FirstTimestamp: metav1.NewTime(last), LastTimestamp: metav1.NewTime(last)}
		out, err := api.Create(t.Context(), ev, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	mk("old", now.Add(-2*time.Hour))
	mk("recent", now.Add(-10*time.Minute))
	bumped := mk("bumped", now.Add(-3*time.Hour))
	bumped.Count++
	bumped.LastTimestamp = metav1.NewTime(now)
	if _, err := api.Update(t.Context(), bumped, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := api.Watch(t.Context(), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	var offset atomic.Int64
	startManagerWith(t, e, controllers.Config{EventTTL: eventttl.Timing{Interval: 50 * time.Millisecond},
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	gone := func(name string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() error {
			if _, err := api.Get(t.Context(), "default", name); err == nil {
				return fmt.Errorf("event %s is still there", name)
			}
			return nil
		})
	}
	gone("old")
	// Another expired Event that goes proves a later pass ran.
	mk("sentinel", now.Add(-2*time.Hour))
	gone("sentinel")
	left, _, err := api.List(t.Context(), "", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ev := range left {
		names = append(names, ev.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"bumped", "recent"}) {
		t.Fatalf("events left: %v, want [bumped recent]", names)
	}

	offset.Store(int64(2 * time.Hour))
	gone("recent")
	gone("bumped")

	var deleted []string
	for len(deleted) < 4 {
		select {
		case ev := <-w.Events():
			if ev.Type == client.Deleted {
				deleted = append(deleted, ev.Object.Name)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watch saw %v deleted, want 4 deletions", deleted)
		}
	}
	slices.Sort(deleted)
	if want := []string{"bumped", "old", "recent", "sentinel"}; !slices.Equal(deleted, want) {
		t.Errorf("watch saw %v deleted, want %v", deleted, want)
	}
}
