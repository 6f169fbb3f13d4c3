package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/core/apiserver/apiservertest"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

type env struct {
	conn     *bus.Conn
	c        *client.Client
	srv      *apiserver.Server
	nodePods *store.Store
}

// start runs a real NATS server, an API server on it, and a client.
func start(t *testing.T) *env {
	t.Helper()
	e := apiservertest.Start(t, apiservertest.Config{NodePods: true, IPs: true, Server: apiserver.Config{APIEndpoint: "10.0.0.5:6443"}})
	return &env{conn: e.Conn, c: e.Client, srv: e.Server, nodePods: e.NodePods}
}

func pod(ns, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}}
}

func TestCreateSetsServerFields(t *testing.T) {
	e := start(t)
	pods := client.For[*corev1.Pod](e.c)
	p := pod("", "web-1") // namespace defaults to "default"
	got, err := pods.Create(t.Context(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "default" || got.UID == "" || got.ResourceVersion == "" || got.CreationTimestamp.IsZero() || got.Generation != 1 {
		t.Fatalf("server-owned fields not set: %+v", got.ObjectMeta)
	}
	if got.Status.Phase != corev1.PodPending {
		t.Fatalf("phase = %q, want Pending", got.Status.Phase)
	}
	again, err := pods.Get(t.Context(), "default", "web-1")
	if err != nil || again.UID != got.UID || again.ResourceVersion != got.ResourceVersion {
		t.Fatalf("get = %+v, %v", again.ObjectMeta, err)
	}
	_, err = pods.Create(t.Context(), pod("default", "web-1"), metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v", err)
	}
	gen := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: "default"}, Spec: p.Spec}
	g, err := pods.Create(t.Context(), gen, metav1.CreateOptions{})
	if err != nil || !strings.HasPrefix(g.Name, "web-") || len(g.Name) != len("web-")+5 {
		t.Fatalf("generateName: %q, %v", g.Name, err)
	}
}

func TestErrorsAreKubernetesStatuses(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	_, err := pods.Get(ctx, "default", "nope")
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `pods "nope" not found`) {
		t.Fatalf("get missing: %v", err)
	}
	_, err = pods.Create(ctx, pod("ghost", "p"), metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `namespaces "ghost" not found`) {
		t.Fatalf("create in missing namespace: %v", err)
	}
	bad := pod("default", "Not_A_Name")
	bad.Spec.Containers[0].Image = ""
	_, err = pods.Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("invalid pod: %v", err)
	}
	fields := map[string]bool{}
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		fields[c.Field] = true
	}
	if !fields["metadata.name"] || !fields["spec.containers[0].image"] {
		t.Fatalf("causes do not name the wrong fields: %v", err)
	}
	p, err := pods.Create(ctx, pod("default", "cas"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p1 := p.DeepCopy()
	p1.Labels["v"] = "1"
	if _, err := pods.Update(ctx, p1, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p2 := p.DeepCopy() // still at the old resourceVersion
	p2.Labels["v"] = "2"
	if _, err := pods.Update(ctx, p2, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v", err)
	}
}

// raw sends a hand-made request, as a client with bad input would.
func raw(t *testing.T, e *env, op api.Op, group, resource, ns, name string, body []byte) (int, metav1.Status) {
	t.Helper()
	h := bus.Header{}
	h.Set(api.HdrGroup, group)
	h.Set(api.HdrResource, resource)
	h.Set(api.HdrNamespace, ns)
	h.Set(api.HdrName, name)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := e.conn.Request(ctx, &bus.Msg{Subject: subjects.API(string(op)), Header: h, Data: body})
	if err != nil {
		t.Fatal(err)
	}
	var code int
	fmt.Sscan(m.Header.Get(api.HdrCode), &code)
	var st metav1.Status
	if code >= 400 {
		if err := json.Unmarshal(m.Data, &st); err != nil {
			t.Fatalf("error reply is not a Status: %q", m.Data)
		}
	}
	return code, st
}

func TestBadInputNeverPanics(t *testing.T) {
	e := start(t)
	hugePod := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big"},"spec":{"containers":[{"name":"c","image":"x","env":[{"name":"E","value":%q}]}]}}`, strings.Repeat("x", 2<<20))
	hugeBody := strings.Repeat(" ", 4<<20) + "{}"
	huge := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":%q}}`, strings.Repeat("x", 2<<20))
	tests := []struct {
		name     string
		op       api.Op
		group    string
		resource string
		body     string
		code     int
		contains string
	}{
		{"malformed json", api.OpCreate, "", "pods", `{"apiVersion":"v1","kind":"Pod","metadata":{`, 400, "could not be decoded"},
		{"malformed yaml", api.OpCreate, "", "pods", "apiVersion: v1\nkind: Pod\nmetadata: [\n", 400, "could not be decoded"},
		{"empty body", api.OpCreate, "", "pods", "", 400, "empty body"},
		{"wrong kind", api.OpCreate, "", "pods", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`, 400, "not a Pod"},
		{"unknown kind", api.OpCreate, "", "pods", `{"apiVersion":"v1","kind":"Gizmo","metadata":{"name":"x"}}`, 400, "could not be decoded"},
		{"unknown resource", api.OpCreate, "", "gizmos", `{}`, 404, "not found"},
		{"name not dns", api.OpCreate, "", "configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad Name!"}}`, 422, "metadata.name"},
		{"namespace not dns", api.OpCreate, "", "namespaces", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a.b"}}`, 422, "metadata.name"},
		{"configmap over 1MiB", api.OpCreate, "", "configmaps", huge, 422, "Too long"},
		{"huge object", api.OpCreate, "", "pods", hugePod, 413, "limit is"},
		{"huge body", api.OpCreate, "", "pods", hugeBody, 413, "limit is"},
		{"garbage bytes", api.OpCreate, "", "pods", "\x00\x01\x02k8s", 400, "could not be decoded"},
		{"protobuf garbage", api.OpCreate, "", "pods", "k8s\x00\xff\xff\xff", 400, "could not be decoded"},
		{"update without name", api.OpUpdate, "", "pods", `{}`, 400, "needs a name"},
		{"unknown op", api.Op("frobnicate"), "", "pods", `{}`, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, st := raw(t, e, tt.op, tt.group, tt.resource, "default", "", []byte(tt.body))
			if code != tt.code {
				t.Fatalf("code %d, want %d (%s)", code, tt.code, st.Message)
			}
			if st.Kind != "Status" || st.Status != metav1.StatusFailure || int(st.Code) != tt.code {
				t.Fatalf("not a failure Status: %+v", st)
			}
			text := st.Message
			if st.Details != nil {
				for _, c := range st.Details.Causes {
					text += " " + c.Field + ": " + c.Message
				}
			}
			if !strings.Contains(text, tt.contains) {
				t.Fatalf("message %q does not say %q", text, tt.contains)
			}
		})
	}
	// The server still works.
	if _, err := client.For[*corev1.Pod](e.c).Create(t.Context(), pod("default", "after"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestStatusAndSpecWritesAreApart(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	deps := client.For[*appsv1.Deployment](e.c)
	replicas := int32(2)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}}},
		Status: appsv1.DeploymentStatus{Replicas: 99}}
	got, err := deps.Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Replicas != 0 {
		t.Fatalf("create kept client status %+v", got.Status)
	}
	// A status write changes only the status.
	st := got.DeepCopy()
	st.Status.Replicas = 2
	*st.Spec.Replicas = 7
	st.Labels = map[string]string{"sneaky": "yes"}
	after, err := deps.UpdateStatus(ctx, st, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Status.Replicas != 2 || *after.Spec.Replicas != 2 || after.Labels["sneaky"] != "" || after.Generation != 1 {
		t.Fatalf("status write leaked: spec %d status %d labels %v gen %d", *after.Spec.Replicas, after.Status.Replicas, after.Labels, after.Generation)
	}
	// A spec write keeps the status and bumps the generation.
	sp := after.DeepCopy()
	*sp.Spec.Replicas = 3
	sp.Status.Replicas = 0
	final, err := deps.Update(ctx, sp, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if final.Status.Replicas != 2 || *final.Spec.Replicas != 3 || final.Generation != 2 {
		t.Fatalf("spec write: status %d spec %d gen %d", final.Status.Replicas, *final.Spec.Replicas, final.Generation)
	}
}

func TestBinding(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	if _, err := pods.Create(ctx, pod("default", "b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Bind(ctx, "default", "b", "node-1"); err != nil {
		t.Fatal(err)
	}
	p, _ := pods.Get(ctx, "default", "b")
	if p.Spec.NodeName != "node-1" || len(p.Status.Conditions) == 0 || p.Status.Conditions[0].Type != corev1.PodScheduled {
		t.Fatalf("bound pod: node %q conditions %+v", p.Spec.NodeName, p.Status.Conditions)
	}
	if err := e.c.Bind(ctx, "default", "b", "node-2"); !apierrors.IsConflict(err) {
		t.Fatalf("second bind: %v", err)
	}
	// A bound pod is deleted gracefully: marked, not removed.
	_, gone, err := pods.Delete(ctx, "default", "b", metav1.DeleteOptions{})
	if err != nil || gone {
		t.Fatalf("delete bound pod: gone=%v err=%v", gone, err)
	}
	p, err = pods.Get(ctx, "default", "b")
	if err != nil || p.DeletionTimestamp == nil || *p.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("graceful deletion not recorded: %+v, %v", p.ObjectMeta, err)
	}
	zero := int64(0)
	if _, gone, err := pods.Delete(ctx, "default", "b", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil || !gone {
		t.Fatalf("force delete: gone=%v err=%v", gone, err)
	}
}

func TestNamespaceDeletionRemovesContent(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	nss := client.For[*corev1.Namespace](e.c)
	if _, err := nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms := client.For[*corev1.ConfigMap](e.c)
	for i := range 5 {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("cm-", i), Namespace: "team"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.For[*corev1.Pod](e.c).Create(ctx, pod("team", "p"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := nss.Delete(ctx, "", "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// New content is refused while it terminates.
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "team"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsForbidden(err) && !apierrors.IsNotFound(err) {
		t.Fatalf("create in terminating namespace: %v", err)
	}
	if err == nil {
		t.Fatal("create in terminating namespace was accepted")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := nss.Get(ctx, "", "team")
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace still there: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	left, _, err := cms.List(ctx, "team", metav1.ListOptions{})
	if err != nil || len(left) != 0 {
		t.Fatalf("left behind: %d configmaps, %v", len(left), err)
	}
}

func TestListSelectorsAndPaging(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := client.For[*corev1.Pod](e.c)
	for i := range 10 {
		p := pod("default", fmt.Sprintf("p%02d", i))
		if i%2 == 0 {
			p.Labels["even"] = "true"
		}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	even, _, err := pods.List(ctx, "default", metav1.ListOptions{LabelSelector: "even=true"})
	if err != nil || len(even) != 5 {
		t.Fatalf("label selector: %d, %v", len(even), err)
	}
	one, _, err := pods.List(ctx, "", metav1.ListOptions{FieldSelector: "metadata.name=p03"})
	if err != nil || len(one) != 1 || one[0].Name != "p03" {
		t.Fatalf("field selector: %v, %v", one, err)
	}
	if _, _, err := pods.List(ctx, "", metav1.ListOptions{FieldSelector: "spec.bogus=x"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("unsupported field selector: %v", err)
	}
	page, meta, err := pods.List(ctx, "default", metav1.ListOptions{Limit: 4})
	if err != nil || len(page) != 4 || meta.Continue == "" {
		t.Fatalf("page 1: %d items, continue %q, %v", len(page), meta.Continue, err)
	}
	var names []string
	for _, p := range page {
		names = append(names, p.Name)
	}
	opts := metav1.ListOptions{Limit: 4, Continue: meta.Continue}
	for opts.Continue != "" {
		page, meta, err = pods.List(ctx, "default", opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			names = append(names, p.Name)
		}
		opts.Continue = meta.Continue
	}
	if len(names) != 10 || names[0] != "p00" || names[9] != "p09" {
		t.Fatalf("pages: %v", names)
	}
	// A change after the first page makes the continuation inconsistent: 410.
	page, meta, _ = pods.List(ctx, "default", metav1.ListOptions{Limit: 4})
	p9, _ := pods.Get(ctx, "default", "p09")
	p9.Labels["x"] = "y"
	if _, err := pods.Update(ctx, p9, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pods.List(ctx, "default", metav1.ListOptions{Limit: 4, Continue: meta.Continue}); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("stale continue: %v", err)
	}
	_ = page
}

func TestSystemNamespacesAndServiceAccounts(t *testing.T) {
	e := start(t)
	for _, ns := range apiserver.SystemNamespaces {
		if _, err := client.For[*corev1.Namespace](e.c).Get(t.Context(), "", ns); err != nil {
			t.Errorf("namespace %s: %v", ns, err)
		}
		if _, err := client.For[*corev1.ServiceAccount](e.c).Get(t.Context(), ns, "default"); err != nil {
			t.Errorf("default service account in %s: %v", ns, err)
		}
	}
}
