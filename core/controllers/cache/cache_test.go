package cache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/core/controllers/internal/testenv"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// TestHammerIndexes writes, relabels and deletes objects from several
// goroutines while readers use the indexes, then checks that the cache
// and its index agree exactly with the API server.
func TestHammerIndexes(t *testing.T) {
	e := testenv.Start(t)
	c, _ := e.Connect(t)
	set := cache.New(c)
	inf := cache.Of[*corev1.ConfigMap](set)
	if cache.Of[*corev1.ConfigMap](set) != inf {
		t.Fatal("Of does not share the informer")
	}
	inf.AddIndex("color", func(cm *corev1.ConfigMap) []string {
		if v, ok := cm.Labels["color"]; ok {
			return []string{v}
		}
		return nil
	})
	var adds, dels atomic.Int64
	inf.AddHandlers(client.Handlers[*corev1.ConfigMap]{
		OnAdd: func(cm *corev1.ConfigMap) {
			// The index already shows what the handler is told.
			if _, ok := inf.Get(cm.Namespace, cm.Name); !ok {
				t.Errorf("handler for %s runs before the cache has it", cm.Name)
			}
			adds.Add(1)
		},
		OnDelete: func(*corev1.ConfigMap) { dels.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { _ = set.Run(ctx) })
	if err := set.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	cms := client.For[*corev1.ConfigMap](e.Client)
	colors := []string{"red", "green", "blue"}
	var lastRev atomic.Uint64
	note := func(rv string) {
		r, _ := api.ParseRevision(rv)
		for {
			cur := lastRev.Load()
			if r <= cur || lastRev.CompareAndSwap(cur, r) {
				return
			}
		}
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, col := range colors {
					for _, cm := range inf.ByIndex("color", col) {
						_ = cm.Labels["color"]
					}
				}
				_ = inf.List("default")
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 60 {
				name := fmt.Sprintf("cm-%d", r.IntN(12))
				switch i % 3 {
				case 0, 1:
					cm, err := cms.Get(t.Context(), "default", name)
					if apierrors.IsNotFound(err) {
						cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default",
							Labels: map[string]string{"color": colors[r.IntN(3)]}}}
						out, err := cms.Create(t.Context(), cm, metav1.CreateOptions{})
						if err == nil {
							note(out.ResourceVersion)
						}
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					if r.IntN(4) == 0 {
						cm.Labels = nil
					} else {
						cm.Labels = map[string]string{"color": colors[r.IntN(3)]}
					}
					if out, err := cms.Update(t.Context(), cm, metav1.UpdateOptions{}); err == nil {
						note(out.ResourceVersion)
					}
				case 2:
					if last, _, err := cms.Delete(t.Context(), "default", name, metav1.DeleteOptions{}); err == nil {
						note(last.ResourceVersion)
					}
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	if err := inf.WaitForRevision(wctx, lastRev.Load()); err != nil {
		t.Fatal(err)
	}
	truth, _, err := cms.List(t.Context(), "default", metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, cm := range truth {
		if cm.Name == "kube-root-ca.crt" {
			continue
		}
		want[cm.Name] = cm.Labels["color"]
	}
	got := map[string]string{}
	for _, cm := range inf.List("default") {
		if cm.Name != "kube-root-ca.crt" {
			got[cm.Name] = cm.Labels["color"]
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("cache %v, API server %v", got, want)
	}
	indexed := map[string]string{}
	for _, col := range colors {
		for _, cm := range inf.ByIndex("color", col) {
			if prev, dup := indexed[cm.Name]; dup {
				t.Fatalf("%s indexed under %s and %s", cm.Name, prev, col)
			}
			indexed[cm.Name] = col
		}
	}
	for name, col := range want {
		if indexed[name] != col {
			t.Fatalf("%s: index says %q, object says %q", name, indexed[name], col)
		}
	}
	if len(indexed) != countNonEmpty(want) {
		t.Fatalf("index holds %d objects, want %d: %v", len(indexed), countNonEmpty(want), indexed)
	}
	t.Logf("%d adds, %d deletes seen; %d objects at the end", adds.Load(), dels.Load(), len(want))
}

func countNonEmpty(m map[string]string) int {
	n := 0
	for _, v := range m {
		if v != "" {
			n++
		}
	}
	return n
}

func TestOfAfterRunPanics(t *testing.T) {
	e := testenv.Start(t)
	set := cache.New(e.Client)
	cache.Of[*corev1.Pod](set)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = set.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if err := set.WaitForSync(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Of after Run did not panic")
		}
	}()
	cache.Of[*corev1.Service](set)
}
