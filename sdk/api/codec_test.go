package api

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func samplePod() *corev1.Pod {
	grace := int64(30)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d4f9b-x2k9q", Namespace: "default", UID: "0b7e4c1e-5a6f-4d1c-9a43-3f2b1c0d9e8f",
			Labels:      map[string]string{"app": "web", "pod-template-hash": "7d4f9b"},
			Annotations: map[string]string{"team": "payments"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d4f9b",
				UID: "5c2d7e1f-0a9b-4c3d-8e7f-6a5b4c3d2e1f"}}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "web", Image: "registry.local/web:1.4.2",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "PORT", Value: "8080"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}},
					PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3},
				TerminationMessagePath: "/dev/termination-log", ImagePullPolicy: corev1.PullIfNotPresent,
			}},
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
			TerminationGracePeriodSeconds: &grace, ServiceAccountName: "default", SchedulerName: "default-scheduler",
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.88.0.12", HostIP: "10.0.0.4", QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, enc := range []struct {
		name string
		fn   func(*corev1.Pod) ([]byte, error)
	}{
		{"protobuf", func(p *corev1.Pod) ([]byte, error) { return Encode(p) }},
		{"json", func(p *corev1.Pod) ([]byte, error) { return EncodeJSON(p) }},
	} {
		t.Run(enc.name, func(t *testing.T) {
			want := samplePod()
			data, err := enc.fn(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data, &corev1.Pod{})
			if err != nil {
				t.Fatal(err)
			}
			got.GetObjectKind().SetGroupVersionKind(want.GroupVersionKind())
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeStrictRejectsUnknownFields(t *testing.T) {
	_, err := DecodeStrict([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"bogus":1}}`), &corev1.Pod{})
	if err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := Decode([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"bogus":1}}`), &corev1.Pod{}); err != nil {
		t.Fatalf("lenient decode: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	pb, _ := Encode(samplePod())
	js, _ := EncodeJSON(samplePod())
	for _, s := range [][]byte{pb, js, []byte("apiVersion: v1\nkind: Pod\n"), []byte("{"), []byte("k8s\x00"), nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Decode(data, nil)
		_, _ = DecodeStrict(data, &corev1.Pod{})
	})
}

func BenchmarkEncodePod(b *testing.B) {
	p := samplePod()
	b.Run("protobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Encode(p); err != nil {
				b.Fatal(err)
			}
		}
		d, _ := Encode(p)
		b.ReportMetric(float64(len(d)), "bytes/obj")
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeJSON(p); err != nil {
				b.Fatal(err)
			}
		}
		d, _ := EncodeJSON(p)
		b.ReportMetric(float64(len(d)), "bytes/obj")
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecodePod(b *testing.B) {
	pb, _ := Encode(samplePod())
	js, _ := EncodeJSON(samplePod())
	for _, c := range []struct {
		name string
		data []byte
	}{{"protobuf", pb}, {"json", js}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(c.data, &corev1.Pod{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
