package kubeapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiffhq/skiff/core/controlplane"
)

// plane is a control plane running in-process for one test, with its
// HTTPS door on a free loopback port.
type plane struct {
	dir  string
	info controlplane.Info
	cfg  *rest.Config
}

// startPlane runs a control plane (embedded NATS, API server, HTTPS door)
// in a temporary directory until the test ends.
func startPlane(t *testing.T) *plane {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan controlplane.Info, 1)
	done := make(chan error, 1)
	go func() {
		done <- controlplane.Run(ctx, controlplane.Config{
			DataDir: dir, NATSListen: "127.0.0.1:0", APIListen: "127.0.0.1:0",
			Ready: func(in controlplane.Info) { ready <- in },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("control plane: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("control plane did not stop")
		}
	})
	var in controlplane.Info
	select {
	case in = <-ready:
	case err := <-done:
		t.Fatalf("control plane: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("control plane not ready after 30s")
	}
	kc, err := os.ReadFile(in.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cfg.Timeout = 20 * time.Second
	cfg.QPS, cfg.Burst = 1000, 1000 // client-go throttles at 5 per second by default
	return &plane{dir: dir, info: in, cfg: cfg}
}

func (p *plane) clientset(t *testing.T, mutate func(*rest.Config)) *kubernetes.Clientset {
	t.Helper()
	cfg := rest.CopyConfig(p.cfg)
	if mutate != nil {
		mutate(cfg)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
}

func TestClientGoTyped(t *testing.T) {
	p := startPlane(t)
	ctx := testContext(t)
	for _, c := range []struct {
		name   string
		mutate func(*rest.Config)
	}{
		{"json", nil},
		{"protobuf", func(c *rest.Config) {
			c.ContentType = "application/vnd.kubernetes.protobuf"
			c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs := p.clientset(t, c.mutate)
			ns := "typed-" + c.name
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create namespace: %v", err)
			}
			// Every namespace gets its default ServiceAccount and the CA.
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
				t.Fatalf("kube-root-ca.crt: %v", err)
			}

			// create / get
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Labels: map[string]string{"tier": "web"}}, Data: map[string]string{"mode": "a"}}
			created, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.UID == "" || created.ResourceVersion == "" || created.Namespace != ns {
				t.Fatalf("create returned %+v", created.ObjectMeta)
			}
			got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if d := cmp.Diff(created.Data, got.Data); d != "" {
				t.Fatalf("get (-created +got):\n%s", d)
			}
			_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			if !apierrors.IsAlreadyExists(err) {
				t.Fatalf("second create: want AlreadyExists, got %v", err)
			}

			// update, and a stale update
			got.Data["mode"] = "b"
			updated, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, got, metav1.UpdateOptions{})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if updated.Data["mode"] != "b" || updated.ResourceVersion == got.ResourceVersion {
				t.Fatalf("update returned %v rv %s", updated.Data, updated.ResourceVersion)
			}
			if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
				t.Fatalf("stale update: want Conflict, got %v", err)
			}

			// patches of the three kinds
			for _, pc := range []struct {
				pt   types.PatchType
				body string
				want string
			}{
				{types.MergePatchType, `{"data":{"mode":"merge"}}`, "merge"},
				{types.StrategicMergePatchType, `{"data":{"mode":"strategic"}}`, "strategic"},
				{types.JSONPatchType, `[{"op":"replace","path":"/data/mode","value":"json"}]`, "json"},
			} {
				res, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "settings", pc.pt, []byte(pc.body), metav1.PatchOptions{})
				if err != nil {
					t.Fatalf("%s patch: %v", pc.pt, err)
				}
				if res.Data["mode"] != pc.want {
					t.Fatalf("%s patch: mode = %q", pc.pt, res.Data["mode"])
				}
			}
			_, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx, "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
			if !apierrors.IsNotFound(err) {
				t.Fatalf("patch of a missing object: want NotFound, got %v", err)
			}

			// list with a label selector, and paging
			for _, n := range []string{"a", "b", "c"} {
				o := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "page-" + n, Labels: map[string]string{"tier": "page"}}}
				if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, o, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "tier=web"})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if len(l.Items) != 1 || l.Items[0].Name != "settings" {
				t.Fatalf("list tier=web: %d items", len(l.Items))
			}
			var names []string
			opts := metav1.ListOptions{LabelSelector: "tier=page", Limit: 2}
			for pages := 0; ; pages++ {
				l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, opts)
				if err != nil {
					t.Fatalf("list page %d: %v", pages, err)
				}
				for _, it := range l.Items {
					names = append(names, it.Name)
				}
				if l.Continue == "" {
					break
				}
				opts.Continue = l.Continue
			}
			if d := cmp.Diff([]string{"page-a", "page-b", "page-c"}, names); d != "" {
				t.Fatalf("paged list (-want +got):\n%s", d)
			}
			l, err = cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=page-b"})
			if err != nil || len(l.Items) != 1 {
				t.Fatalf("list by field selector: %v, %d items", err, len(l.Items))
			}

			// deployments: status and scale subresources
			d, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", 2), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create deployment: %v", err)
			}
			d.Status.Replicas, d.Status.ReadyReplicas = 2, 1
			if d, err = cs.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("update status: %v", err)
			}
			if d.Status.ReadyReplicas != 1 {
				t.Fatalf("status not written: %+v", d.Status)
			}
			sc, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get scale: %v", err)
			}
			if sc.Spec.Replicas != 2 || sc.Status.Replicas != 2 || sc.Status.Selector != "app=web" {
				t.Fatalf("scale: %+v", sc)
			}
			sc.Spec.Replicas = 4
			if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("update scale: %v", err)
			}
			if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
				t.Fatalf("stale scale update: want Conflict, got %v", err)
			}
			d, err = cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil || *d.Spec.Replicas != 4 || d.Generation != 2 {
				t.Fatalf("after scale: %v replicas=%d generation=%d", err, *d.Spec.Replicas, d.Generation)
			}

			// watch sees a change
			w, err := cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: updated.ResourceVersion, FieldSelector: "metadata.name=settings"})
			if err != nil {
				t.Fatalf("watch: %v", err)
			}
			defer w.Stop()
			if _, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "settings", types.MergePatchType, []byte(`{"data":{"mode":"watched"}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, w, func(ev watch.Event) bool {
				cm, ok := ev.Object.(*corev1.ConfigMap)
				return ok && ev.Type == watch.Modified && cm.Data["mode"] == "watched"
			})

			// delete, dry run first
			if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "settings", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Fatalf("dry-run delete: %v", err)
			}
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{}); err != nil {
				t.Fatalf("dry-run delete deleted: %v", err)
			}
			if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "settings", metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			waitEvent(t, w, func(ev watch.Event) bool { return ev.Type == watch.Deleted })
			if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("get after delete: want NotFound, got %v", err)
			}
			if err := cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "tier=page"}); err != nil {
				t.Fatalf("delete collection: %v", err)
			}
			l, err = cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "tier=page"})
			if err != nil || len(l.Items) != 0 {
				t.Fatalf("after delete collection: %v, %d items", err, len(l.Items))
			}
		})
	}
}

func waitEvent(t *testing.T, w watch.Interface, ok func(watch.Event) bool) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				t.Fatal("watch closed")
			}
			if ev.Type == watch.Error {
				t.Fatalf("watch error: %v", apierrors.FromObject(ev.Object))
			}
			if ok(ev) {
				return
			}
		case <-timeout:
			t.Fatal("no matching watch event in 20s")
		}
	}
}

func TestClientGoInformer(t *testing.T) {
	p := startPlane(t)
	ctx := testContext(t)
	cs := p.clientset(t, nil)
	const ns = "informed"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"one", "two"} {
		if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(n, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	inf := factory.Apps().V1().Deployments()
	var mu sync.Mutex
	seen := map[string]int32{}
	changed := make(chan struct{}, 16)
	record := func(obj any) {
		if d, ok := obj.(*appsv1.Deployment); ok {
			mu.Lock()
			seen[d.Name] = *d.Spec.Replicas
			mu.Unlock()
			changed <- struct{}{}
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	syncCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for typ, ok := range factory.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			t.Fatalf("informer for %v did not sync", typ)
		}
	}
	cached, err := inf.Lister().Deployments(ns).List(labels.Everything())
	if err != nil || len(cached) != 2 {
		t.Fatalf("lister after sync: %v, %d deployments", err, len(cached))
	}

	if _, err := cs.AppsV1().Deployments(ns).Patch(ctx, "two", types.StrategicMergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		mu.Lock()
		r := seen["two"]
		mu.Unlock()
		if r == 3 {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the informer did not see the update (replicas %d)", r)
		}
	}
	d, err := inf.Lister().Deployments(ns).Get("two")
	if err != nil || *d.Spec.Replicas != 3 {
		t.Fatalf("lister after update: %v", err)
	}
}

func TestHTTPSDoor(t *testing.T) {
	p := startPlane(t)
	ctx := testContext(t)

	t.Run("unauthorized", func(t *testing.T) {
		cs := p.clientset(t, func(c *rest.Config) { c.BearerToken = "wrong" })
		_, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			t.Fatalf("want Unauthorized, got %v", err)
		}
		// Health and version need no token.
		hc, err := rest.HTTPClientFor(&rest.Config{Host: p.cfg.Host, TLSClientConfig: p.cfg.TLSClientConfig})
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/healthz", "/readyz", "/livez", "/version"} {
			resp, err := hc.Get(p.cfg.Host + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s", path, resp.Status)
			}
		}
	})

	cs := p.clientset(t, nil)
	t.Run("discovery", func(t *testing.T) {
		groups, resources, err := cs.Discovery().ServerGroupsAndResources()
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		var gvs []string
		for _, g := range groups {
			for _, v := range g.Versions {
				gvs = append(gvs, v.GroupVersion)
			}
		}
		for _, want := range []string{"v1", "apps/v1", "batch/v1", "coordination.k8s.io/v1"} {
			if !strings.Contains(strings.Join(gvs, " "), want) {
				t.Fatalf("discovery lacks %s: %v", want, gvs)
			}
		}
		found := map[string]metav1.APIResource{}
		for _, l := range resources {
			for _, r := range l.APIResources {
				found[l.GroupVersion+" "+r.Name] = r
			}
		}
		for _, want := range []string{"v1 pods", "v1 pods/status", "v1 pods/binding", "v1 pods/log", "apps/v1 deployments/scale", "batch/v1 cronjobs"} {
			if _, ok := found[want]; !ok {
				t.Fatalf("discovery lacks %s", want)
			}
		}
		if r := found["apps/v1 deployments/scale"]; r.Group != "autoscaling" || r.Kind != "Scale" {
			t.Fatalf("deployments/scale: %+v", r)
		}
		if r := found["apps/v1 deployments"]; !cmp.Equal(r.ShortNames, []string{"deploy"}) || !r.Namespaced {
			t.Fatalf("deployments: %+v", r)
		}
		paths, err := cs.Discovery().OpenAPIV3().Paths()
		if err != nil {
			t.Fatalf("openapi v3: %v", err)
		}
		if _, ok := paths["apis/apps/v1"]; !ok {
			t.Fatalf("openapi v3 paths: %v", paths)
		}
		if _, err := cs.Discovery().OpenAPISchema(); err != nil {
			t.Fatalf("openapi v2: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := cs.CoreV1().Pods("default").Get(ctx, "nope", metav1.GetOptions{})
		var se *apierrors.StatusError
		if !errors.As(err, &se) || se.ErrStatus.Code != http.StatusNotFound || se.ErrStatus.Message != `pods "nope" not found` {
			t.Fatalf("want a 404 Status, got %v", err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
			t.Fatalf("want Invalid, got %v", err)
		}
		// Strict field validation rejects unknown fields; Warn answers with a warning.
		body := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"data":{"a":"b"},"bogus":1}`)
		res := cs.CoreV1().RESTClient().Post().Namespace("default").Resource("configmaps").
			Param("fieldValidation", "Strict").Body(body).SetHeader("Content-Type", "application/json").Do(ctx)
		if err := res.Error(); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), `unknown field "bogus"`) {
			t.Fatalf("strict: want 400 unknown field, got %v", err)
		}
		res = cs.CoreV1().RESTClient().Post().Namespace("default").Resource("configmaps").
			Param("fieldValidation", "Warn").Body(body).SetHeader("Content-Type", "application/json").Do(ctx)
		if err := res.Error(); err != nil {
			t.Fatalf("warn: %v", err)
		}
		if w := res.Warnings(); len(w) != 1 || w[0].Text != `unknown field "bogus"` {
			t.Fatalf("warn: warnings %+v", w)
		}
		// Server-side apply is refused clearly.
		err = cs.CoreV1().RESTClient().Patch(types.ApplyYAMLPatchType).Namespace("default").Resource("configmaps").Name("strict").
			Param("fieldManager", "test").Body([]byte("apiVersion: v1\nkind: ConfigMap\n")).Do(ctx).Error()
		if st := apierrors.APIStatus(nil); !errors.As(err, &st) || st.Status().Code != http.StatusUnsupportedMediaType {
			t.Fatalf("apply patch: want 415, got %v", err)
		}
		// pods/log of a pod no node runs yet is a clear 400 (logs_test.go
		// covers the rest).
		if _, err := cs.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err = cs.CoreV1().Pods("default").GetLogs("p", &corev1.PodLogOptions{}).Do(ctx).Error()
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "not scheduled to a node yet") {
			t.Fatalf("logs: want 400, got %v", err)
		}
	})

	t.Run("binding", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "to-bind"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "to-bind"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
		if err := cs.CoreV1().Pods("default").Bind(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatalf("bind: %v", err)
		}
		got, err := cs.CoreV1().Pods("default").Get(ctx, "to-bind", metav1.GetOptions{})
		if err != nil || got.Spec.NodeName != "n1" {
			t.Fatalf("after bind: %v node %q", err, got.Spec.NodeName)
		}
		if err := cs.CoreV1().Pods("default").Bind(ctx, b, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("second bind: want Conflict, got %v", err)
		}
	})

	t.Run("table", func(t *testing.T) {
		raw, err := cs.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var tbl metav1.Table
		if err := json.Unmarshal(raw, &tbl); err != nil {
			t.Fatal(err)
		}
		var cols []string
		for _, c := range tbl.ColumnDefinitions {
			cols = append(cols, c.Name)
		}
		want := []string{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"}
		if d := cmp.Diff(want, cols); d != "" {
			t.Fatalf("pod columns (-want +got):\n%s", d)
		}
		if tbl.Kind != "Table" || len(tbl.Rows) == 0 {
			t.Fatalf("table: kind %q, %d rows", tbl.Kind, len(tbl.Rows))
		}
		var pm metav1.PartialObjectMetadata
		if err := json.Unmarshal(tbl.Rows[0].Object.Raw, &pm); err != nil || pm.Kind != "PartialObjectMetadata" || pm.Name == "" {
			t.Fatalf("row object: %v %+v", err, pm.TypeMeta)
		}
	})

	t.Run("scale patch", func(t *testing.T) {
		if _, err := cs.AppsV1().StatefulSets("default").Create(ctx, &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db"},
			Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "postgres"}}}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		raw, err := cs.AppsV1().RESTClient().Patch(types.MergePatchType).Namespace("default").Resource("statefulsets").Name("db").
			SubResource("scale").Body([]byte(`{"spec":{"replicas":5}}`)).DoRaw(ctx)
		if err != nil {
			t.Fatalf("patch scale: %v", err)
		}
		var sc autoscalingv1.Scale
		if err := json.Unmarshal(raw, &sc); err != nil || sc.Spec.Replicas != 5 || sc.Kind != "Scale" {
			t.Fatalf("patched scale: %v %+v", err, sc)
		}
		ss, err := cs.AppsV1().StatefulSets("default").Get(ctx, "db", metav1.GetOptions{})
		if err != nil || *ss.Spec.Replicas != 5 {
			t.Fatalf("statefulset after scale patch: %v", err)
		}
	})

	t.Run("watch list", func(t *testing.T) {
		yes := true
		w, err := cs.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{SendInitialEvents: &yes,
			ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		var added []string
		waitEvent(t, w, func(ev watch.Event) bool {
			ns := ev.Object.(*corev1.Namespace)
			if ev.Type == watch.Added {
				added = append(added, ns.Name)
			}
			return ev.Type == watch.Bookmark && ns.Annotations[metav1.InitialEventsAnnotationKey] == "true"
		})
		if !strings.Contains(strings.Join(added, ","), "kube-system") {
			t.Fatalf("initial events: %v", added)
		}
	})

	t.Run("metadata client", func(t *testing.T) {
		mc, err := metadata.NewForConfig(p.cfg)
		if err != nil {
			t.Fatal(err)
		}
		l, err := mc.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) < 4 || l.Items[0].Name == "" {
			t.Fatalf("metadata list: %d items", len(l.Items))
		}
	})

	t.Run("concurrent patches", func(t *testing.T) {
		// Each patch reads, applies and writes conditionally, retrying lost
		// races: no label may be lost.
		if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "contended"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		const n = 24
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				body := fmt.Sprintf(`{"metadata":{"labels":{"l%d":"x"}}}`, i)
				if _, err := cs.CoreV1().ConfigMaps("default").Patch(ctx, "contended", types.StrategicMergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("patch: %v", err)
		}
		cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "contended", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cm.Labels) != n {
			t.Fatalf("%d labels after %d concurrent patches: %v", len(cm.Labels), n, cm.Labels)
		}
	})

	t.Run("kubeconfig", func(t *testing.T) {
		if filepath.Dir(p.info.Kubeconfig) != p.dir || !strings.HasPrefix(p.info.APIURL, "https://127.0.0.1:") {
			t.Fatalf("info: %+v", p.info)
		}
		b, err := os.ReadFile(p.info.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.Load(b)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.CurrentContext != "skiff" || cfg.Contexts["skiff"].Namespace != "default" {
			t.Fatalf("kubeconfig context: %q %+v", cfg.CurrentContext, cfg.Contexts["skiff"])
		}
	})
}
