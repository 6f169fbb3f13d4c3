package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// BenchmarkCreatePod creates pods through the client, one at a time,
// against an in-process API server and NATS (whose allocations count too).
func BenchmarkCreatePod(b *testing.B) {
	e := start(b, store.Config{})
	pods := client.For[*corev1.Pod](e.c)
	ctx := b.Context()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pods.Create(ctx, pod("default", fmt.Sprint("p-", i)), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkInformerApply measures how fast a running informer takes in
// changes: b.N pods are written while its goroutine is held in a handler,
// then it is let go and timed until its cache has them all.
func BenchmarkInformerApply(b *testing.B) {
	e := start(b, store.Config{})
	pods := client.For[*corev1.Pod](e.c)
	ctx := b.Context()
	gate := make(chan struct{})
	inf := client.NewInformer(e.c, "default", client.Handlers[*corev1.Pod]{
		OnAdd: func(p *corev1.Pod) {
			if p.Name == "gate" {
				<-gate
			}
		},
	})
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(rctx) }()
	b.Cleanup(func() { cancel(); <-done })
	if err := inf.WaitForSync(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := pods.Create(ctx, pod("default", "gate"), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// Write straight to the store: the API server is not what is measured.
	raw, err := api.Encode(pod("default", "p"))
	if err != nil {
		b.Fatal(err)
	}
	const writers = 16
	revs := make([]uint64, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < b.N && errs[w] == nil; i += writers {
				revs[w], errs[w] = e.st.Create(ctx, api.Key(api.Pods, "default", fmt.Sprint("p-", i)), raw)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	last := slices.Max(revs)
	b.ReportAllocs()
	b.ResetTimer()
	close(gate)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := inf.WaitForRevision(wctx, last); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := len(inf.List()); got != b.N+1 {
		b.Fatalf("cache has %d pods, want %d", got, b.N+1)
	}
}
