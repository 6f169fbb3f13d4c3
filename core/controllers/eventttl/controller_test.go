package eventttl_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/eventttl"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/sdk/client"
)

// clock is a settable clock, safe for concurrent use.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// event is a recorder-style Event (lastTimestamp) about pod web, last
// active at last; a zero last leaves every timestamp unset.
func event(name string, last time.Time) *corev1.Event {
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "default", Name: "web"},
		Reason:         "Tested", Message: "a test event", Type: corev1.EventTypeNormal, Count: 1,
		Source: corev1.EventSource{Component: "test"}}
	if !last.IsZero() {
		ev.FirstTimestamp, ev.LastTimestamp = metav1.NewTime(last), metav1.NewTime(last)
	}
	return ev
}

// seriesEvent is a scheduler-style Event (eventTime, and a series when
// observed is set).
func seriesEvent(name string, at, observed time.Time) *corev1.Event {
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "default", Name: "web"},
		Reason:         "Scheduled", Message: "a test event", Type: corev1.EventTypeNormal, Action: "Binding",
		EventTime: metav1.NewMicroTime(at), ReportingController: "test-scheduler", ReportingInstance: "test-scheduler-1"}
	if !observed.IsZero() {
		ev.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(observed)}
	}
	return ev
}

func create(t *testing.T, c *client.Client, evs ...*corev1.Event) {
	t.Helper()
	api := client.For[*corev1.Event](c)
	for _, ev := range evs {
		if _, err := api.Create(t.Context(), ev, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create event %s: %v", ev.Name, err)
		}
	}
}

// createMany creates n recorder-style Events named prefix-0000... last
// active at last, eight at a time.
func createMany(t *testing.T, c *client.Client, prefix string, n int, last time.Time) {
	t.Helper()
	api := client.For[*corev1.Event](c)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				_, err := api.Create(t.Context(), event(fmt.Sprintf("%s-%04d", prefix, i), last), metav1.CreateOptions{})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func eventNames(t *testing.T, c *client.Client) []string {
	t.Helper()
	evs, _, err := client.For[*corev1.Event](c).List(t.Context(), "", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Name)
	}
	slices.Sort(out)
	return out
}

// start runs a controller until the test ends and waits until its index
// holds want Events (all the test created before it started).
func start(t *testing.T, cfg eventttl.Config, want int) *eventttl.Controller {
	t.Helper()
	ctl := eventttl.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	testenv.Eventually(t, 20*time.Second, func() error {
		if got := ctl.Tracked(); got != want {
			return fmt.Errorf("index holds %d events, want %d", got, want)
		}
		return nil
	})
	return ctl
}

// TestEventsExpireExactly runs passes on a real API server with
// a clock the test moves: Events last active over an hour ago go, and
// watchers see them DELETED with their final state; recent ones, one
// whose count was bumped recently and one only created stay, until the
// clock moves past their hour.
func TestEventsExpireExactly(t *testing.T) {
	e := testenv.Start(t)
	now := time.Now()
	create(t, e.Client,
		event("old", now.Add(-2*time.Hour)),
		event("recent", now.Add(-10*time.Minute)),
		event("bumped", now.Add(-3*time.Hour)),
		event("bare", time.Time{}),
		seriesEvent("scheduled-old", now.Add(-90*time.Minute), time.Time{}),
		seriesEvent("series-recent", now.Add(-3*time.Hour), now.Add(-time.Minute)),
	)
	// A repeat, as the recorder writes it: count and lastTimestamp.
	api := client.For[*corev1.Event](e.Client)
	bumped, err := api.Get(t.Context(), "default", "bumped")
	if err != nil {
		t.Fatal(err)
	}
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
	for range 6 { // the initial ADDED events
		<-w.Events()
	}

	var clk clock
	ctl := start(t, eventttl.Config{Client: e.Client, Timing: eventttl.Timing{TTL: time.Hour, Interval: time.Hour}, Now: clk.Now}, 6)
	res, err := ctl.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(eventttl.Result{Expired: 2, Deleted: 2, Tracked: 6}, res); diff != "" {
		t.Errorf("first pass (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bare", "bumped", "recent", "series-recent"}, eventNames(t, e.Client)); diff != "" {
		t.Errorf("left after the first pass (-want +got):\n%s", diff)
	}
	var deleted []string
	for range 2 {
		select {
		case ev := <-w.Events():
			if ev.Type != client.Deleted || ev.Object.Reason == "" {
				t.Errorf("watch: %s %s with reason %q, want DELETED with its final state", ev.Type, ev.Object.Name, ev.Object.Reason)
			}
			deleted = append(deleted, ev.Object.Name)
		case <-time.After(10 * time.Second):
			t.Fatal("watch: no DELETED event")
		}
	}
	slices.Sort(deleted)
	if diff := cmp.Diff([]string{"old", "scheduled-old"}, deleted); diff != "" {
		t.Errorf("watch saw deleted (-want +got):\n%s", diff)
	}
	if res, err := ctl.Pass(t.Context()); err != nil || res.Expired != 0 {
		t.Errorf("second pass at the same time: %+v, %v; want nothing expired", res, err)
	}

	// 50 minutes on: recent (last active 10 minutes before) has its hour.
	clk.Advance(50 * time.Minute)
	if res, err := ctl.Pass(t.Context()); err != nil || res.Deleted != 1 {
		t.Errorf("pass 50m later: %+v, %v; want one deleted", res, err)
	}
	if diff := cmp.Diff([]string{"bare", "bumped", "series-recent"}, eventNames(t, e.Client)); diff != "" {
		t.Errorf("left 50m later (-want +got):\n%s", diff)
	}
	// Two hours on: the bumped one, the series and the one judged by its
	// creationTimestamp go too.
	clk.Advance(70 * time.Minute)
	if res, err := ctl.Pass(t.Context()); err != nil || res.Deleted != 3 {
		t.Errorf("pass 2h later: %+v, %v; want three deleted", res, err)
	}
	if got := eventNames(t, e.Client); len(got) != 0 {
		t.Errorf("left 2h later: %v, want none", got)
	}
}

// TestEventBacklogDrainsInBatches: 1,200 expired Events among recent ones are
// deleted at most 500 per pass, oldest first, and the recent ones stay.
func TestEventBacklogDrainsInBatches(t *testing.T) {
	e := testenv.Start(t)
	now := time.Now()
	createMany(t, e.Client, "old", 1200, now.Add(-2*time.Hour))
	createMany(t, e.Client, "older", 10, now.Add(-5*time.Hour))
	createMany(t, e.Client, "recent", 20, now.Add(-time.Minute))
	ctl := start(t, eventttl.Config{Client: e.Client, Timing: eventttl.Timing{Interval: time.Hour}, Rate: 1e6}, 1230)

	var got []eventttl.Result
	for range 4 {
		res, err := ctl.Pass(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res)
		if res.Deleted == 0 {
			break
		}
		if len(got) == 1 {
			// The oldest went first.
			names := eventNames(t, e.Client)
			if slices.ContainsFunc(names, func(n string) bool { return len(n) > 6 && n[:6] == "older-" }) {
				t.Errorf("the first pass left some of the oldest events: %v", names[:20])
			}
		}
	}
	want := []eventttl.Result{
		{Expired: 1210, Deleted: 500, Left: 710, Tracked: 1230},
		{Expired: 710, Deleted: 500, Left: 210, Tracked: 730},
		{Expired: 210, Deleted: 210, Tracked: 230},
		{Tracked: 20},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("passes (-want +got):\n%s", diff)
	}
	names := eventNames(t, e.Client)
	if len(names) != 20 || names[0] != "recent-0000" || names[19] != "recent-0019" {
		t.Errorf("left %d events %v, want recent-0000..recent-0019", len(names), names)
	}
}

// passLog collects the counts of Run's pass log lines.
type passLog struct {
	mu     sync.Mutex
	passes []map[string]int64
}

func (p *passLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *passLog) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *passLog) WithGroup(string) slog.Handler            { return p }
func (p *passLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "event expiry pass" {
		return nil
	}
	counts := map[string]int64{}
	r.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindInt64 {
			counts[a.Key] = a.Value.Int64()
		}
		return true
	})
	p.mu.Lock()
	p.passes = append(p.passes, counts)
	p.mu.Unlock()
	return nil
}

func (p *passLog) snapshot() []map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.passes)
}

// TestEventBacklogDrainsPacedUnderRun lets Run alone expire 1,000 Events with a
// batch of 100 at 2,000 deletions per second: it takes one pass after
// another, none deleting more than the batch, logging each, and it takes
// at least the time the rate allows. (The first pass may find the index
// still filling, so there may be more than ten.)
func TestEventBacklogDrainsPacedUnderRun(t *testing.T) {
	e := testenv.Start(t)
	now := time.Now()
	createMany(t, e.Client, "old", 1000, now.Add(-2*time.Hour))
	createMany(t, e.Client, "recent", 5, now)
	log := &passLog{}
	begin := time.Now()
	start(t, eventttl.Config{Client: e.Client, Timing: eventttl.Timing{Interval: 100 * time.Millisecond},
		Batch: 100, Rate: 2000, Logger: slog.New(log)}, 1005)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := len(eventNames(t, e.Client)); n != 5 {
			return fmt.Errorf("%d events left, want 5", n)
		}
		return nil
	})
	if took, least := time.Since(begin), 999*time.Second/2000; took < least {
		t.Errorf("1,000 deletions at 2,000/s took %v, want at least %v", took, least)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		var deleted int64
		passes := 0
		for _, p := range log.snapshot() {
			if p["deleted"] > 100 {
				t.Fatalf("a pass deleted %d, more than the batch of 100", p["deleted"])
			}
			if p["deleted"] > 0 {
				passes++
			}
			deleted += p["deleted"]
		}
		if deleted != 1000 || passes < 10 {
			return fmt.Errorf("pass log lines count %d deletions in %d passes, want 1000 in 10 or more", deleted, passes)
		}
		return nil
	})
}
