package validation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Every create and update goes through Default and Validate, so they sit
// on the API server's hot path.

func BenchmarkDefaultPod(b *testing.B) {
	base := &corev1.Pod{ObjectMeta: meta("web-0"), Spec: richPodSpec()}
	b.ReportAllocs()
	for b.Loop() {
		Default(base.DeepCopy())
	}
}

func BenchmarkValidatePod(b *testing.B) {
	p := &corev1.Pod{ObjectMeta: meta("web-0"), Spec: richPodSpec()}
	Default(p)
	b.ReportAllocs()
	for b.Loop() {
		if errs := Validate(p); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkValidateUpdatePod(b *testing.B) {
	old := &corev1.Pod{ObjectMeta: meta("web-0"), Spec: richPodSpec()}
	Default(old)
	n := old.DeepCopy()
	n.Spec.Containers[0].Image = "registry.example/app:2"
	b.ReportAllocs()
	for b.Loop() {
		if errs := ValidateUpdate(n, old); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkValidateDeployment(b *testing.B) {
	d := validDeployment()
	b.ReportAllocs()
	for b.Loop() {
		if errs := Validate(d); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	// The API server validates objects it goes on to store; validation must
	// leave them exactly as they were.
	richPod := &corev1.Pod{ObjectMeta: meta("web-0"), Spec: richPodSpec()}
	Default(richPod)
	tests := []struct {
		name     string
		obj, old runtime.Object
	}{
		{"pod", richPod, nil},
		{"undefaulted pod", &corev1.Pod{ObjectMeta: meta("raw"), Spec: richPodSpec()}, nil},
		{"pod update", richPod, func() runtime.Object {
			o := richPod.DeepCopy()
			o.Spec.RestartPolicy = corev1.RestartPolicyNever
			return o
		}()},
		{"statefulset update", validStatefulSet(), func() runtime.Object { o := validStatefulSet(); o.Spec.ServiceName = "x"; return o }()},
		{"job update", validJob(), func() runtime.Object { o := validJob(); o.Spec.Suspend = ptrTo(true); return o }()},
		{"secret with stringData", &corev1.Secret{ObjectMeta: meta("s"), StringData: map[string]string{"a": "b"}}, nil},
		{"service", validService(), validService()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.obj.DeepCopyObject()
			var beforeOld runtime.Object
			Validate(tt.obj)
			if tt.old != nil {
				beforeOld = tt.old.DeepCopyObject()
				ValidateUpdate(tt.obj, tt.old)
				ValidateStatusUpdate(tt.obj, tt.old)
				if diff := cmp.Diff(beforeOld, tt.old); diff != "" {
					t.Errorf("old object modified (-before +after):\n%s", diff)
				}
			}
			if diff := cmp.Diff(before, tt.obj); diff != "" {
				t.Errorf("object modified (-before +after):\n%s", diff)
			}
		})
	}
}
