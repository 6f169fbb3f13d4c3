package queue_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/skiffhq/skiff/core/controllers/queue"
)

// drain takes every queued key without blocking.
func drain(q *queue.Queue[string]) []string {
	var out []string
	for q.Len() > 0 {
		k, _ := q.Get()
		out = append(out, k)
		q.Done(k)
	}
	return out
}

func TestDedupAndOrder(t *testing.T) {
	q := queue.New[string](queue.Config{})
	for _, k := range []string{"a", "b", "a", "c", "b"} {
		q.Add(k)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, drain(q)); diff != "" {
		t.Fatalf("keys (-want +got):\n%s", diff)
	}
}

func TestAddWhileActiveRequeuesOnDone(t *testing.T) {
	q := queue.New[string](queue.Config{})
	q.Add("a")
	k, _ := q.Get()
	q.Add("a") // while a is being processed
	q.Add("a")
	if q.Len() != 0 {
		t.Fatalf("an active key was queued a second time: len %d", q.Len())
	}
	q.Done(k)
	if diff := cmp.Diff([]string{"a"}, drain(q)); diff != "" {
		t.Fatalf("after Done (-want +got):\n%s", diff)
	}
	if q.Len() != 0 {
		t.Fatal("key queued twice")
	}
}

func TestOneWorkerPerKey(t *testing.T) {
	q := queue.New[int](queue.Config{})
	var (
		mu      sync.Mutex
		running = map[int]bool{}
		wg      sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for {
				k, down := q.Get()
				if down {
					return
				}
				mu.Lock()
				if running[k] {
					t.Errorf("key %d handed to two workers", k)
				}
				running[k] = true
				mu.Unlock()
				q.Add(k % 3) // keep re-adding keys that may be active
				mu.Lock()
				running[k] = false
				mu.Unlock()
				q.Done(k)
			}
		})
	}
	for i := range 1000 {
		q.Add(i % 5)
	}
	q.ShutDown()
	wg.Wait()
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New[string](queue.Config{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond})
		var got []time.Duration
		for range 5 {
			start := time.Now()
			q.AddRateLimited("k")
			k, _ := q.Get() // blocks until the back-off passes
			got = append(got, time.Since(start))
			q.Done(k)
		}
		want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("back-offs (-want +got):\n%s", diff)
		}
		if q.Failures("k") != 5 {
			t.Fatalf("failures = %d", q.Failures("k"))
		}
		q.Forget("k")
		start := time.Now()
		q.AddRateLimited("k")
		q.Get()
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Fatalf("after Forget the back-off is %v, want the base delay", d)
		}
	})
}

func TestAddAfterKeepsEarliest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New[string](queue.Config{})
		start := time.Now()
		q.AddAfter("k", time.Second)
		q.AddAfter("k", 5*time.Second) // later: ignored
		q.AddAfter("j", 3*time.Second)
		q.AddAfter("j", 2*time.Second) // earlier: brought forward
		k, _ := q.Get()
		if k != "k" || time.Since(start) != time.Second {
			t.Fatalf("got %q after %v", k, time.Since(start))
		}
		q.Done(k)
		k, _ = q.Get()
		if k != "j" || time.Since(start) != 2*time.Second {
			t.Fatalf("got %q after %v", k, time.Since(start))
		}
		q.Done(k)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if q.Len() != 0 {
			t.Fatalf("a replaced timer fired: %d keys queued", q.Len())
		}
	})
}

func TestAddCancelsDelayedAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New[string](queue.Config{})
		q.AddAfter("k", time.Second)
		q.Add("k")
		k, _ := q.Get()
		q.Done(k)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if q.Len() != 0 {
			t.Fatal("the delayed add fired after an immediate add")
		}
	})
}

func TestShutDownUnblocksAndStopsTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := queue.New[string](queue.Config{})
		q.AddAfter("later", time.Hour)
		done := make(chan bool)
		go func() {
			_, down := q.Get()
			done <- down
		}()
		synctest.Wait() // the getter is blocked
		q.ShutDown()
		q.ShutDown() // idempotent
		if !<-done {
			t.Fatal("Get did not report shutdown")
		}
		q.Add("x")
		if _, down := q.Get(); !down || q.Len() != 0 {
			t.Fatal("add after shutdown was queued")
		}
		// No timer is left: the bubble ends without waiting an hour.
	})
}
