package kubeapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	protomodels "k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"

	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/api"
)

func TestParseResourcePath(t *testing.T) {
	core := schema.GroupVersion{Version: "v1"}
	apps := schema.GroupVersion{Group: "apps", Version: "v1"}
	for _, c := range []struct {
		name string
		gv   schema.GroupVersion
		path string
		want request
		bad  bool
	}{
		{"cluster list", core, "nodes", request{r: api.Nodes}, false},
		{"all-namespaces list", core, "pods", request{r: api.Pods}, false},
		{"namespaced list", core, "namespaces/demo/pods", request{r: api.Pods, namespace: "demo"}, false},
		{"namespaced item", core, "namespaces/demo/pods/web", request{r: api.Pods, namespace: "demo", name: "web"}, false},
		{"subresource", core, "namespaces/demo/pods/web/status", request{r: api.Pods, namespace: "demo", name: "web", subresource: "status"}, false},
		{"namespace list", core, "namespaces", request{r: api.Namespaces}, false},
		{"namespace item", core, "namespaces/demo", request{r: api.Namespaces, name: "demo"}, false},
		{"namespace status", core, "namespaces/demo/status", request{r: api.Namespaces, name: "demo", subresource: "status"}, false},
		{"group item", apps, "namespaces/demo/deployments/web/scale", request{r: api.Deployments, namespace: "demo", name: "web", subresource: "scale"}, false},
		{"legacy watch path", core, "watch/namespaces/demo/pods", request{r: api.Pods, namespace: "demo", watchPath: true}, false},
		{"name with dots", core, "namespaces/demo/configmaps/a.b.c", request{r: api.ConfigMaps, namespace: "demo", name: "a.b.c"}, false},
		{"unknown resource", core, "widgets", request{}, true},
		{"wrong group", core, "deployments", request{}, true},
		{"cluster resource in a namespace", core, "namespaces/demo/nodes", request{}, true},
		{"too deep", core, "namespaces/demo/pods/web/status/x", request{}, true},
		{"empty segment", core, "namespaces/demo/pods//status", request{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseResourcePath(c.gv, strings.Split(c.path, "/"))
			if c.bad {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got, cmp.AllowUnexported(request{}), cmp.Comparer(func(a, b *api.Resource) bool { return a == b })); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	all := accepts{table: true, partial: true, discovery: true}
	for _, c := range []struct {
		name   string
		accept string
		can    accepts
		want   target
		bad    bool
	}{
		{"none", "", all, target{mime: api.ContentTypeJSON}, false},
		{"json", "application/json", all, target{mime: api.ContentTypeJSON}, false},
		{"any", "*/*", all, target{mime: api.ContentTypeJSON}, false},
		{"yaml", "application/yaml", all, target{mime: api.ContentTypeYAML}, false},
		{"protobuf first", "application/vnd.kubernetes.protobuf, */*", all, target{mime: api.ContentTypeProtobuf}, false},
		{"protobuf refused", "application/vnd.kubernetes.protobuf,application/json", accepts{noProtobuf: true}, target{mime: api.ContentTypeJSON}, false},
		{"kubectl get", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", all,
			target{mime: api.ContentTypeJSON, form: formTable, version: "v1"}, false},
		{"table where none is served", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", accepts{}, target{mime: api.ContentTypeJSON}, false},
		{"partial metadata", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", all,
			target{mime: api.ContentTypeJSON, form: formPartialList, version: "v1"}, false},
		{"aggregated discovery", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", all,
			target{mime: api.ContentTypeJSON, form: formDiscoveryAgg, version: "v2"}, false},
		{"old aggregated discovery only", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", all, target{mime: api.ContentTypeJSON}, false},
		{"quality", "application/yaml;q=0.5, application/json", all, target{mime: api.ContentTypeJSON}, false},
		{"unacceptable", "text/html", all, target{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/pods", nil)
			req.Header.Set("Accept", c.accept)
			got, err := negotiate(req, c.can)
			if c.bad {
				if err == nil {
					t.Fatalf("negotiated %+v, want 406", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got, cmp.AllowUnexported(target{})); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestPodStatusColumn(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-90 * time.Second))
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	for _, c := range []struct {
		name string
		pod  corev1.Pod
		want []any // Ready, Status, Restarts, Age
	}{
		{"pending", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			[]any{"0/2", "Pending", "0", "90s"}},
		{"running and ready", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Ready: true, State: running}}}},
			[]any{"1/1", "Running", "0", "90s"}},
		{"crash loop", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(now.Add(-30 * time.Second))}}}}}},
			[]any{"0/1", "CrashLoopBackOff", "4 (30s ago)", "90s"}},
		{"init", corev1.Pod{Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 2), Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
				{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}, {State: running}}}},
			[]any{"0/1", "Init:1/2", "0", "90s"}},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &created}, Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			[]any{"0/1", "Terminating", "0", "90s"}},
		{"completed", corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}}},
			[]any{"0/1", "Completed", "0", "90s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.pod.Name, c.pod.CreationTimestamp = "p", created
			got := podCells(&c.pod, now)
			if d := cmp.Diff(c.want, got[1:5]); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestOpenAPIv3 checks what kubectl reads from the v3 documents: kinds
// found by GVK, patch merge keys for strategic merge patches, and PATCH
// operations that declare fieldValidation and accept strategic merge
// patches.
func TestOpenAPIv3(t *testing.T) {
	d := buildOpenAPI("v1.0.0-test")
	if d.err != nil {
		t.Fatal(d.err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				GVK        []map[string]string        `json:"x-kubernetes-group-version-kind"`
				Properties map[string]json.RawMessage `json:"properties"`
				Required   []string                   `json:"required"`
				Type       string                     `json:"type"`
				Format     string                     `json:"format"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(d.v3["api/v1"], &doc); err != nil {
		t.Fatal(err)
	}
	pod := doc.Components.Schemas["io.k8s.api.core.v1.Pod"]
	if d := cmp.Diff([]map[string]string{{"group": "", "version": "v1", "kind": "Pod"}}, pod.GVK); d != "" {
		t.Fatalf("Pod GVK (-want +got):\n%s", d)
	}
	spec := doc.Components.Schemas["io.k8s.api.core.v1.PodSpec"]
	var containers map[string]any
	if err := json.Unmarshal(spec.Properties["containers"], &containers); err != nil {
		t.Fatal(err)
	}
	if containers["x-kubernetes-patch-merge-key"] != "name" || containers["x-kubernetes-patch-strategy"] != "merge" {
		t.Fatalf("containers extensions: %v", containers)
	}
	if !strings.Contains(strings.Join(spec.Required, ","), "containers") {
		t.Fatalf("PodSpec.required = %v", spec.Required)
	}
	if q := doc.Components.Schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]; q.Type != "string" {
		t.Fatalf("Quantity: %+v", q)
	}
	if q := doc.Components.Schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]; q.Format != "int-or-string" {
		t.Fatalf("IntOrString: %+v", q)
	}
	var patch struct {
		GVK        map[string]string `json:"x-kubernetes-group-version-kind"`
		Parameters []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		RequestBody struct {
			Content map[string]any `json:"content"`
		} `json:"requestBody"`
	}
	if err := json.Unmarshal(doc.Paths["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"], &patch); err != nil {
		t.Fatal(err)
	}
	if patch.GVK["kind"] != "Pod" {
		t.Fatalf("patch GVK %v", patch.GVK)
	}
	hasParam := false
	for _, p := range patch.Parameters {
		hasParam = hasParam || p.Name == "fieldValidation" && p.In == "query"
	}
	if _, smp := patch.RequestBody.Content["application/strategic-merge-patch+json"]; !hasParam || !smp {
		t.Fatalf("patch operation: fieldValidation %v, strategic merge %v", hasParam, smp)
	}
	if len(d.v2Proto) == 0 || len(d.v3Index) == 0 {
		t.Fatal("missing v2 protobuf or v3 index")
	}
}

// TestOpenAPIv2 checks the v2 document the way kubectl's client-side
// validation uses it (when a server does not validate fields itself):
// parsed from protobuf into models, then a manifest validated against its
// kind's model.
func TestOpenAPIv2(t *testing.T) {
	d := buildOpenAPI("v1.0.0-test")
	if d.err != nil {
		t.Fatal(d.err)
	}
	var doc openapiv2.Document
	if err := proto.Unmarshal(d.v2Proto, &doc); err != nil {
		t.Fatal(err)
	}
	models, err := protomodels.NewOpenAPIData(&doc)
	if err != nil {
		t.Fatalf("models: %v", err)
	}
	model := models.LookupModel("io.k8s.api.apps.v1.Deployment")
	if model == nil {
		t.Fatal("no Deployment model")
	}
	manifest := func(extra string) map[string]any {
		var m map[string]any
		js := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
			"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},
			"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx",` + extra + `
			"ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"500m","memory":"128Mi"}}}]}}}}`
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if errs := protovalidation.ValidateModel(manifest(""), model, "Deployment"); len(errs) > 0 {
		t.Fatalf("a valid Deployment: %v", errs)
	}
	errs := protovalidation.ValidateModel(manifest(`"imagePullPolice":"Always",`), model, "Deployment")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "imagePullPolice") {
		t.Fatalf("an unknown field: %v", errs)
	}
}

func TestApplyPatch(t *testing.T) {
	pod := `{"metadata":{"name":"p","labels":{"a":"1"}},"spec":{"containers":[{"name":"web","image":"nginx:1"},{"name":"side","image":"busybox"}]}}`
	for _, c := range []struct {
		name string
		pt   types.PatchType
		data string
		want string // a fragment of the result
		code int32  // of the error, 0 for success
	}{
		{"merge", types.MergePatchType, `{"metadata":{"labels":{"a":null,"b":"2"}}}`, `"labels":{"b":"2"}`, 0},
		{"merge replaces lists", types.MergePatchType, `{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}`, `"containers":[{"image":"nginx:2","name":"web"}]`, 0},
		{"strategic merges lists by key", types.StrategicMergePatchType, `{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}`,
			`"containers":[{"image":"nginx:2","name":"web"},{"image":"busybox","name":"side"}]`, 0},
		{"strategic delete directive", types.StrategicMergePatchType, `{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}`,
			`"containers":[{"image":"nginx:1","name":"web"}]`, 0},
		{"json patch", types.JSONPatchType, `[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:3"}]`, `"image":"nginx:3"`, 0},
		{"json patch test fails", types.JSONPatchType, `[{"op":"test","path":"/metadata/name","value":"q"}]`, "", http.StatusUnprocessableEntity},
		{"json patch malformed", types.JSONPatchType, `{"op":"add"}`, "", http.StatusBadRequest},
		{"merge malformed", types.MergePatchType, `[`, "", http.StatusBadRequest},
		{"server-side apply", types.ApplyYAMLPatchType, "metadata: {}", "", http.StatusUnsupportedMediaType},
		{"unknown type", types.PatchType("application/x-patch"), "{}", "", http.StatusUnsupportedMediaType},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := apiserver.ApplyPatch([]byte(pod), c.pt, []byte(c.data), &corev1.Pod{})
			if c.code != 0 {
				if st := apiserver.Status(err); err == nil || st.Code != c.code {
					t.Fatalf("want code %d, got %v", c.code, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("result lacks %s:\n%s", c.want, out)
			}
		})
	}
}
