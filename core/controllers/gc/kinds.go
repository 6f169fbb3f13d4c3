package gc

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/cache"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// The indexes the collector adds to every kind's informer.
const (
	byOwner = "gc-owner" // every owner reference's UID
	byUID   = "gc-uid"
)

// kind is what the collector does with one resource, whatever its Go type.
type kind struct {
	r *api.Resource
	// cached returns the cached objects with the given index value.
	cached func(index, value string) []client.Object
	// get reads ns/name from the API server.
	get func(ctx context.Context, ns, name string) (client.Object, error)
	// update writes obj (metadata changes), conditional on its
	// resourceVersion.
	update func(ctx context.Context, obj client.Object) error
	// remove deletes ns/name.
	remove func(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error
}

// Ignored are the resources the collector does not watch, as
// kube-controller-manager's default --garbage-collector-ignored-resources:
// events churn and never own or depend on anything.
var Ignored = map[*api.Resource]bool{api.Events: true}

// watchAll registers the collector on the informer of every served kind
// but the ignored ones.
func (g *Collector) watchAll(set *cache.Set) {
	watch[*corev1.Namespace](g, set)
	watch[*corev1.Node](g, set)
	watch[*corev1.Pod](g, set)
	watch[*corev1.ConfigMap](g, set)
	watch[*corev1.Secret](g, set)
	watch[*corev1.Service](g, set)
	watch[*corev1.Endpoints](g, set) //nolint:staticcheck // Skiff serves core/v1 Endpoints.
	watch[*corev1.ServiceAccount](g, set)
	watch[*coordinationv1.Lease](g, set)
	watch[*appsv1.Deployment](g, set)
	watch[*appsv1.ReplicaSet](g, set)
	watch[*appsv1.DaemonSet](g, set)
	watch[*appsv1.StatefulSet](g, set)
	watch[*appsv1.ControllerRevision](g, set)
	watch[*batchv1.Job](g, set)
	watch[*batchv1.CronJob](g, set)
}

func watch[T client.Object](g *Collector, set *cache.Set) {
	typed := client.For[T](set.Client())
	r := typed.Resource()
	inf := cache.Of[T](set)
	inf.AddIndex(byOwner, func(obj T) []string {
		refs := obj.GetOwnerReferences()
		out := make([]string, len(refs))
		for i, ref := range refs {
			out[i] = string(ref.UID)
		}
		return out
	})
	inf.AddIndex(byUID, func(obj T) []string { return []string{string(obj.GetUID())} })
	k := &kind{
		r: r,
		cached: func(index, value string) []client.Object {
			objs := inf.ByIndex(index, value)
			out := make([]client.Object, len(objs))
			for i, o := range objs {
				out[i] = o
			}
			return out
		},
		get: func(ctx context.Context, ns, name string) (client.Object, error) {
			obj, err := typed.Get(ctx, ns, name)
			if err != nil {
				return nil, err
			}
			return obj, nil
		},
		update: func(ctx context.Context, obj client.Object) error {
			_, err := typed.Update(ctx, obj.(T), metav1.UpdateOptions{})
			return err
		},
		remove: func(ctx context.Context, ns, name string, opts metav1.DeleteOptions) error {
			_, _, err := typed.Delete(ctx, ns, name, opts)
			return err
		},
	}
	g.kinds[r] = k
	g.order = append(g.order, k)
	inf.AddHandlers(client.Handlers[T]{
		OnAdd:    func(obj T) { g.changed(k, nil, obj) },
		OnUpdate: func(old, cur T) { g.changed(k, old, cur) },
		OnDelete: func(obj T) { g.deleted(k, obj) },
	})
}

// item names one object: its kind, place and UID.
type item struct {
	k        *kind
	ns, name string
	uid      types.UID
}
