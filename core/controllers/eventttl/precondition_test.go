package eventttl

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/sdk/client"
)

// TestEventChangedMeanwhileIsSpared gives a controller (without its
// watch) an index that lags the API server: an expired Event since bumped
// by a repeat, and one deleted and re-created under its name. Neither is
// deleted (their preconditions fail); once the index has caught up, the
// bumped one stays and the re-created expired one goes.
func TestEventChangedMeanwhileIsSpared(t *testing.T) {
	e := testenv.Start(t)
	api := client.For[*corev1.Event](e.Client)
	old := metav1.NewTime(time.Now().Add(-2 * time.Hour))
	mk := func(name string) *corev1.Event {
		ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
			Reason:         "Tested", Type: corev1.EventTypeNormal, Count: 1, FirstTimestamp: old, LastTimestamp: old}
		out, err := api.Create(t.Context(), ev, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	bumped, replaced := mk("bumped"), mk("replaced")
	c := New(Config{Client: e.Client, Rate: 1e6})
	c.observe(bumped)
	c.observe(replaced)

	bumped.Count++
	bumped.LastTimestamp = metav1.Now()
	bumped, err := api.Update(t.Context(), bumped, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.Delete(t.Context(), "default", "replaced", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	replaced = mk("replaced")

	res, err := c.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Expired: 2, Changed: 2, Tracked: 2}, res); diff != "" {
		t.Errorf("pass on the stale index (-want +got):\n%s", diff)
	}
	if got, err := api.Get(t.Context(), "default", "bumped"); err != nil || got.Count != 2 {
		t.Errorf("bumped after the pass: %v, %v; want it with count 2", got, err)
	}
	if got, err := api.Get(t.Context(), "default", "replaced"); err != nil || got.UID != replaced.UID {
		t.Errorf("replaced after the pass: %v, %v; want the new one", got, err)
	}

	c.observe(bumped)
	c.observe(replaced)
	res, err = c.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Expired: 1, Deleted: 1, Tracked: 2}, res); diff != "" {
		t.Errorf("pass on the current index (-want +got):\n%s", diff)
	}
	if _, err := api.Get(t.Context(), "default", "bumped"); err != nil {
		t.Errorf("bumped: %v", err)
	}
	// Deleted meanwhile by someone else: gone, not an error.
	c.observe(bumped)
	c.cfg.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, _, err := api.Delete(t.Context(), "default", "bumped", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = c.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Result{Expired: 1, Gone: 1, Tracked: 1}, res); diff != "" {
		t.Errorf("pass after someone else deleted it (-want +got):\n%s", diff)
	}
	if n := c.Tracked(); n != 0 {
		t.Errorf("index holds %d events, want 0", n)
	}
}

// TestEventDeletionsHoldTheRate: at 100 deletions per second, 100 deletions span
// 990 ms, a pause gives no credit for a burst, and a cancelled context
// ends the wait.
func TestEventDeletionsHoldTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Controller{limit: newLimiter(100)}
		start := time.Now()
		for range 100 {
			if err := c.pace(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if got := time.Since(start); got != 990*time.Millisecond {
			t.Errorf("100 deletions took %v, want 990ms", got)
		}
		time.Sleep(time.Minute) // a minute idle (the bubble's clock)
		start = time.Now()
		for range 3 {
			if err := c.pace(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if got := time.Since(start); got != 20*time.Millisecond {
			t.Errorf("3 deletions after a pause took %v, want 20ms", got)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := c.pace(ctx); err == nil {
			t.Error("pace with a cancelled context: no error")
		}
	})
}
