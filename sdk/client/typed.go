package client

import (
	"context"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/sdk/api"
)

// Object is what typed clients handle: a pointer to a Kubernetes object
// type that Skiff serves.
type Object interface {
	runtime.Object
	metav1.Object
}

// Typed is a client for one resource, with objects of type T.
type Typed[T Object] struct {
	c *Client
	r *api.Resource
}

// For returns the typed client for T's resource. It panics if T is not a
// served kind: that is a programming error, caught by any test.
func For[T Object](c *Client) *Typed[T] {
	r, err := resourceOf[T]()
	if err != nil {
		panic("bug: client.For: " + err.Error())
	}
	return &Typed[T]{c: c, r: r}
}

func resourceOf[T Object]() (*api.Resource, error) {
	var zero T
	obj := reflect.New(reflect.TypeOf(zero).Elem()).Interface().(runtime.Object)
	gvks, _, err := api.Scheme().ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return nil, fmt.Errorf("%T is not a served kind", zero)
	}
	r, ok := api.LookupKind(gvks[0])
	if !ok {
		return nil, fmt.Errorf("%s is not served", gvks[0])
	}
	return r, nil
}

func newT[T Object](r *api.Resource) T { return r.New().(T) }

func mustAccessor(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic("bug: object without metadata: " + err.Error())
	}
	return m
}

// Resource is the resource this client serves.
func (t *Typed[T]) Resource() *api.Resource { return t.r }

// Get reads one object.
func (t *Typed[T]) Get(ctx context.Context, ns, name string) (T, error) {
	var zero T
	resp, err := t.c.do(ctx, request{op: api.OpGet, r: t.r, ns: ns, name: name})
	if err != nil {
		return zero, err
	}
	out := newT[T](t.r)
	return out, decodeObject(resp.msg, out)
}

// List reads every object in ns ("" for all namespaces) that matches opts'
// selectors, following continue tokens, and returns them with the list's
// resourceVersion. With opts.Limit set it returns one page and its
// continue token.
func (t *Typed[T]) List(ctx context.Context, ns string, opts metav1.ListOptions) (items []T, meta metav1.ListMeta, err error) {
	for {
		resp, err := t.c.do(ctx, request{op: api.OpList, r: t.r, ns: ns, options: opts})
		if err != nil {
			return nil, meta, err
		}
		if meta.ResourceVersion == "" {
			meta.ResourceVersion = resp.msg.Header.Get(api.HdrRevision)
		}
		err = api.ForEachListItem(resp.msg.Data, func(rev uint64, raw []byte) error {
			obj := newT[T](t.r)
			if _, err := api.Decode(raw, obj); err != nil {
				return fmt.Errorf("client: decode list item: %w", err)
			}
			obj.SetResourceVersion(api.FormatRevision(rev))
			items = append(items, obj)
			return nil
		})
		if err != nil {
			return nil, meta, err
		}
		next := resp.msg.Header.Get(api.HdrContinue)
		if next == "" || opts.Limit > 0 {
			meta.Continue = next
			return items, meta, nil
		}
		opts.Continue = next
	}
}

// Create creates obj in its namespace (ns "" for cluster-scoped kinds and
// for "the object's namespace, or default").
func (t *Typed[T]) Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error) {
	return t.write(ctx, api.OpCreate, obj, "", opts)
}

// Update replaces obj (conditional on its resourceVersion when set).
func (t *Typed[T]) Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error) {
	return t.write(ctx, api.OpUpdate, obj, "", opts)
}

// UpdateStatus replaces obj's status.
func (t *Typed[T]) UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error) {
	return t.write(ctx, api.OpUpdate, obj, "status", opts)
}

func (t *Typed[T]) write(ctx context.Context, op api.Op, obj T, sub string, opts any) (T, error) {
	var zero T
	body, err := api.Encode(obj)
	if err != nil {
		return zero, err
	}
	q := request{op: op, r: t.r, ns: obj.GetNamespace(), subresource: sub, options: opts, body: body}
	if op != api.OpCreate {
		q.name = obj.GetName()
	}
	resp, err := t.c.do(ctx, q)
	if err != nil {
		return zero, err
	}
	out := newT[T](t.r)
	return out, decodeObject(resp.msg, out)
}

// Patch applies a patch of patchType (types.MergePatchType,
// types.StrategicMergePatchType or types.JSONPatchType) to ns/name, or to
// its status when subresource is "status", and returns the result.
func (t *Typed[T]) Patch(ctx context.Context, ns, name string, patchType types.PatchType, data []byte, opts metav1.PatchOptions, subresource ...string) (T, error) {
	var zero T
	q := request{op: api.OpPatch, r: t.r, ns: ns, name: name, options: opts, body: data, patchType: string(patchType)}
	if len(subresource) > 0 {
		q.subresource = subresource[0]
	}
	resp, err := t.c.do(ctx, q)
	if err != nil {
		return zero, err
	}
	out := newT[T](t.r)
	return out, decodeObject(resp.msg, out)
}

// Delete deletes ns/name. The returned object is its last state, or its
// state now while it is being deleted (gone is false then).
func (t *Typed[T]) Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (last T, gone bool, err error) {
	resp, err := t.c.do(ctx, request{op: api.OpDelete, r: t.r, ns: ns, name: name, options: opts})
	if err != nil {
		return last, false, err
	}
	out := newT[T](t.r)
	if err := decodeObject(resp.msg, out); err != nil {
		return last, false, err
	}
	return out, resp.code == 200, nil
}

// DeleteCollection deletes every object in ns matching lopts' selectors.
func (t *Typed[T]) DeleteCollection(ctx context.Context, ns string, lopts metav1.ListOptions, dopts metav1.DeleteOptions) error {
	opts := struct {
		List   metav1.ListOptions   `json:"list"`
		Delete metav1.DeleteOptions `json:"delete"`
	}{lopts, dopts}
	_, err := t.c.do(ctx, request{op: api.OpDeleteCollection, r: t.r, ns: ns, options: opts})
	return err
}
