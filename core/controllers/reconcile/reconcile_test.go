package reconcile_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/skiffhq/skiff/core/controllers/queue"
	"github.com/skiffhq/skiff/core/controllers/reconcile"
)

func TestRetriesWithBackoffThenSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls []time.Duration
		start := time.Now()
		c := reconcile.New(reconcile.Config{Name: "t", Queue: queue.Config{BaseDelay: 100 * time.Millisecond},
			Reconcile: func(ctx context.Context, key string) (reconcile.Result, error) {
				calls = append(calls, time.Since(start))
				if len(calls) < 4 {
					return reconcile.Result{}, errors.New("not yet")
				}
				return reconcile.Result{}, nil
			}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		c.Enqueue("ns/a")
		time.Sleep(time.Second)
		synctest.Wait()
		cancel()
		<-done
		want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond}
		if len(calls) != len(want) {
			t.Fatalf("calls at %v, want %v", calls, want)
		}
		for i := range want {
			if calls[i] != want[i] {
				t.Fatalf("calls at %v, want %v", calls, want)
			}
		}
	})
}

func TestRequeueAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int32
		c := reconcile.New(reconcile.Config{Name: "t", Reconcile: func(ctx context.Context, key string) (reconcile.Result, error) {
			if n.Add(1) == 1 {
				return reconcile.Result{RequeueAfter: 5 * time.Second}, nil
			}
			return reconcile.Result{}, nil
		}})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go c.Run(ctx)
		c.Enqueue("k")
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if n.Load() != 1 {
			t.Fatalf("%d calls before the requeue time", n.Load())
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n.Load() != 2 {
			t.Fatalf("%d calls after the requeue time", n.Load())
		}
	})
}

func TestWorkersShareKeysButNeverOneKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu       sync.Mutex
			inFlight = map[string]bool{}
			maxPar   int
			cur      int
		)
		c := reconcile.New(reconcile.Config{Name: "t", Workers: 4, Reconcile: func(ctx context.Context, key string) (reconcile.Result, error) {
			mu.Lock()
			if inFlight[key] {
				t.Errorf("key %s reconciled twice at once", key)
			}
			inFlight[key] = true
			cur++
			maxPar = max(maxPar, cur)
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			inFlight[key] = false
			cur--
			mu.Unlock()
			return reconcile.Result{}, nil
		}})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		for range 20 {
			for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
				c.Enqueue(k)
			}
			time.Sleep(3 * time.Millisecond)
		}
		time.Sleep(time.Second)
		cancel()
		<-done
		if maxPar != 4 {
			t.Fatalf("at most %d keys at once, want 4 workers busy", maxPar)
		}
	})
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct{ ns, name, key string }{{"default", "web", "default/web"}, {"", "node-1", "node-1"}} {
		if got := reconcile.Key(tc.ns, tc.name); got != tc.key {
			t.Errorf("Key(%q, %q) = %q", tc.ns, tc.name, got)
		}
		if ns, name := reconcile.SplitKey(tc.key); ns != tc.ns || name != tc.name {
			t.Errorf("SplitKey(%q) = %q, %q", tc.key, ns, name)
		}
	}
}
