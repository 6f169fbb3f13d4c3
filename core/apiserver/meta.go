package apiserver

import (
	"bytes"
	"crypto/rand"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// nameAlphabet is the alphabet Kubernetes draws generateName suffixes from
// (no vowels, no confusable characters).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = nameAlphabet[int(b[i])%len(nameAlphabet)]
	}
	return string(b)
}

// structField returns the struct field name of obj (a pointer to a struct), or
// an invalid value.
func structField(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

func hasSpec(obj runtime.Object) bool { return structField(obj, "Spec").IsValid() }

// specChanged reports whether the spec of two objects of one kind differs.
// It compares the specs' protobuf encodings (deterministic: map keys are
// sorted), which is several times cheaper than a reflective deep equal.
func specChanged(a, b runtime.Object) bool {
	fa, fb := structField(a, "Spec"), structField(b, "Spec")
	if !fa.IsValid() || !fb.IsValid() {
		return false
	}
	ma, okA := fa.Addr().Interface().(interface{ Marshal() ([]byte, error) })
	mb, okB := fb.Addr().Interface().(interface{ Marshal() ([]byte, error) })
	if okA && okB {
		ba, errA := ma.Marshal()
		bb, errB := mb.Marshal()
		if errA == nil && errB == nil {
			return !bytes.Equal(ba, bb)
		}
	}
	return !equality.Semantic.DeepEqual(fa.Interface(), fb.Interface())
}

// copyField sets dst.name = src.name (same kind).
func copyField(dst, src runtime.Object, name string) {
	fd, fs := structField(dst, name), structField(src, name)
	if fd.IsValid() && fs.IsValid() && fd.CanSet() {
		fd.Set(fs)
	}
}

// resetStatus empties the status of a new object the way Kubernetes does on
// create: workloads start with no status, pods as Pending, namespaces as
// Active. Nodes keep what their agent sent.
func resetStatus(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Node:
		return
	case *corev1.Pod:
		o.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(&o.Spec)}
		return
	case *corev1.Namespace:
		o.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
		return
	}
	st := structField(obj, "Status")
	if st.IsValid() && st.CanSet() {
		st.Set(reflect.Zero(st.Type()))
	}
}

// qosClass computes a pod's quality-of-service class as the kubelet does.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for name, q := range c.Resources.Requests {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory || q.IsZero() {
				continue
			}
			requests[name] = q
		}
		got := 0
		for name, q := range c.Resources.Limits {
			if name != corev1.ResourceCPU && name != corev1.ResourceMemory || q.IsZero() {
				continue
			}
			got++
			limits[name] = q
			if r, ok := c.Resources.Requests[name]; ok && r.Cmp(q) != 0 {
				guaranteed = false
			}
		}
		if got < 2 {
			guaranteed = false
		}
	}
	switch {
	case len(requests) == 0 && len(limits) == 0:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// accessor returns obj's metadata; every served kind has it.
func accessor(obj runtime.Object) metav1Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic("bug: served object without metadata: " + err.Error())
	}
	return m
}
