package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/simulated"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct{ name, in, want string }{
		{"plain", "x", "x"},
		{"ref", "$(A)-$(B)", "1-two"},
		{"unknown kept", "$(C)", "$(C)"},
		{"escaped", "$$(A)", "$(A)"},
		{"dollar", "a$b", "a$b"},
		{"unclosed", "$(A", "$(A"},
		{"trailing", "x$", "x$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expand(tt.in, lookup); got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestResources(t *testing.T) {
	c := &corev1.Container{Resources: corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}}
	want := runtime.Resources{CPUShares: 256, CPUQuota: 50000, CPUPeriod: 100000, MemoryLimit: 64 << 20}
	if diff := cmp.Diff(want, resources(c)); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if got := resources(&corev1.Container{}); got != (runtime.Resources{CPUShares: 2}) {
		t.Errorf("best effort: %+v", got)
	}
}

func TestFieldAndResourceValues(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: "sa"}}
	for path, want := range map[string]string{
		"metadata.name": "p", "metadata.namespace": "ns", "metadata.uid": "u", "metadata.labels['app']": "web",
		"spec.nodeName": "n1", "spec.serviceAccountName": "sa", "status.podIP": "10.1.0.2", "status.hostIP": "10.0.0.1",
	} {
		got, err := fieldValue(pod, "10.1.0.2", "10.0.0.1", path)
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := fieldValue(pod, "", "", "spec.nope"); err == nil {
		t.Error("unknown field path accepted")
	}
	c := &corev1.Container{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}}
	alloc := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}
	for ref, want := range map[string]string{"limits.cpu": "2", "limits.memory": strconv.Itoa(1 << 30)} {
		got, err := resourceValue(c, alloc, &corev1.ResourceFieldSelector{Resource: ref})
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", ref, got, err, want)
		}
	}
}

func TestHandlerProbes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	// An HTTPS server with a self-signed certificate on the same host.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	tu, _ := url.Parse(tlsSrv.URL)
	_, tlsPortStr, _ := net.SplitHostPort(tu.Host)
	tlsPort, _ := strconv.Atoi(tlsPortStr)

	rt, err := simulated.New(simulated.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	sb, _ := rt.RunSandbox(ctx, runtime.SandboxConfig{})
	_, _ = rt.PullImage(ctx, sb.ID, "img")
	ctr, _ := rt.CreateContainer(ctx, sb.ID, runtime.ContainerConfig{Name: "app", Image: "img"})
	_ = rt.StartContainer(ctx, ctr.ID)

	tests := []struct {
		name string
		h    corev1.ProbeHandler
		ok   bool
	}{
		{"http ok by name", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}, true},
		{"http 503", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/bad", Port: intstr.FromInt32(int32(port))}}, false},
		{"https, self-signed", corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Scheme: corev1.URISchemeHTTPS, Port: intstr.FromInt32(int32(tlsPort))}}, true},
		{"tcp ok", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, true},
		{"tcp refused", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}, false},
		{"unknown port name", corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("nope")}}, false},
		{"exec", corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, true},
		{"grpc unsupported", corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := handlerProbe(ctx, newProbeClient(), rt, ctr.ID, host, &tt.h, c)
			if (err == nil) != tt.ok {
				t.Errorf("probe: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
