package plan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPods(t *testing.T) {
	for _, tc := range []struct {
		name     string
		manifest string
		pods     []string // namespace/name schedulerName
		skipped  []string
		err      string
	}{
		{name: "pod and deployment", manifest: `
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {schedulerName: teams, containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
`, pods: []string{"default/a default-scheduler", "shop/web-0 teams", "shop/web-1 teams"}, skipped: []string{"ConfigMap"}},
		{name: "job parallelism capped by completions", manifest: `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},
"spec":{"parallelism":5,"completions":3,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}`,
			pods: []string{"default/j-0 default-scheduler", "default/j-1 default-scheduler", "default/j-2 default-scheduler"}},
		{name: "list", manifest: `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs"},
"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}]}`,
			pods: []string{"default/rs-0 default-scheduler"}},
		{name: "unknown kind", manifest: "apiVersion: x/v1\nkind: Widget\nmetadata: {name: w}\n", skipped: []string{"Widget"},
			err: "the manifest has no Pod"},
		{name: "garbage", manifest: "{{{{", err: "document 1"},
		{name: "unknown field", manifest: "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {colour: blue}\n", err: "document 1"},
		{name: "too many", manifest: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":20000,
"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`,
			err: "more than 10000 pods"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods, skipped, err := Pods([]byte(tc.manifest))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range pods {
				got = append(got, p.Namespace+"/"+p.Name+" "+p.Spec.SchedulerName)
			}
			if diff := cmp.Diff(tc.pods, got); diff != "" {
				t.Errorf("pods (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.skipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrint(t *testing.T) {
	r := &Response{Replica: "s1", Nodes: 3, Pods: []PodPlan{
		{Namespace: "default", Name: "a", Node: "n1", Evaluated: 3, Feasible: 2,
			Scores:   []NodeScore{{Node: "n1", Total: 300, Plugins: []PluginScore{{"binpack", 60, 5}}}, {Node: "n2", Total: 100, Plugins: []PluginScore{{"binpack", 20, 5}}}},
			Rejected: []Rejection{{Node: "n3", Plugin: "team", Reason: "node(s) didn't match the pod's team"}}},
		{Namespace: "default", Name: "b", Evaluated: 3, Reason: "0/3 nodes are available: 3 Insufficient cpu."},
	}}
	var b bytes.Buffer
	if err := Print(&b, r, PrintOptions{}); err != nil {
		t.Fatal(err)
	}
	want := `default/a: n1 (2/3 nodes feasible, score 300)
    n1    300  = binpack 60×5
    n2    100  = binpack 20×5
    n3  rejected by team: node(s) didn't match the pod's team
default/b: not scheduled (0/3 nodes feasible)
    why: 0/3 nodes are available: 3 Insufficient cpu.
1/2 pods would be scheduled (3 nodes, scheduler s1); nothing was created
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Print (-want +got):\n%s", diff)
	}
}

// FuzzPods feeds Pods arbitrary manifests: it returns pods or an error,
// never panics, and never more than MaxPods.
func FuzzPods(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"kind":"List","items":[]}]}`))
	f.Add([]byte("---\n---\nnull\n"))
	f.Fuzz(func(t *testing.T, m []byte) {
		pods, _, err := Pods(m)
		if err == nil && (len(pods) == 0 || len(pods) > MaxPods) {
			t.Fatalf("%d pods without an error", len(pods))
		}
	})
}
