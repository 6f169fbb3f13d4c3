package apiserver_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

func benchPod(name string) *corev1.Pod {
	p := pod("default", name)
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	return p
}

// BenchmarkServerCreate is the API server's create path without the NATS
// door: validation, defaulting, encoding and the store write.
func BenchmarkServerCreate(b *testing.B) {
	ns := bustest.Start(b)
	st, err := store.Open(b.Context(), ns.Connect(b), store.Config{Bucket: "objects"})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := apiserver.New(apiserver.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Bootstrap(b.Context()); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := srv.Create(b.Context(), api.Pods, "default", benchPod(fmt.Sprint("p-", n.Add(1))), metav1.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkClientCreate is a create through the Go client and the NATS door.
func BenchmarkClientCreate(b *testing.B) {
	c := apiservertest.Start(b, apiservertest.Config{}).Client
	pods := client.For[*corev1.Pod](c)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := pods.Create(b.Context(), benchPod(fmt.Sprint("p-", n.Add(1))), metav1.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
