package kubeapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// TestSkiffGroup serves Skiff's own group the way kubectl and client-go
// meet it: in discovery, created and read as JSON (it has no protobuf
// encoding: a protobuf-or-JSON Accept gets JSON, protobuf alone a 406),
// and printed as a table.
func TestSkiffGroup(t *testing.T) {
	p := startPlane(t)
	tr, err := rest.TransportFor(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: tr}
	do := func(method, path, accept, body string) (int, string, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, p.cfg.Host+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, _, body := do("GET", "/apis/skiff.dev/v1alpha1", "", "")
	if code != 200 || !strings.Contains(body, `"name":"plugins"`) || !strings.Contains(body, `"name":"schedulerprofiles/status"`) {
		t.Fatalf("discovery: %d %s", code, body)
	}
	plugin := `{"apiVersion":"skiff.dev/v1alpha1","kind":"Plugin","metadata":{"name":"team"},"spec":{"kind":"scheduler","version":"v1",` +
		`"digest":"sha256:00cc8693e1a2c1d60b6d28e8c7da8f661a1a75fdca16e7337aa9efcb6fc25910","size":3,"settings":{"label":"team"}}}`
	if code, _, body := do("POST", "/apis/skiff.dev/v1alpha1/plugins", "", plugin); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _, body := do("POST", "/apis/skiff.dev/v1alpha1/plugins", "", strings.Replace(plugin, `"name":"team"`, `"name":"Bad"`, 1)); code != 422 || !strings.Contains(body, `"kind":"Status"`) {
		t.Fatalf("create of an invalid name: %d %s", code, body)
	}
	code, ct, body := do("GET", "/apis/skiff.dev/v1alpha1/plugins/team", "application/vnd.kubernetes.protobuf, application/json", "")
	var got struct {
		Spec struct {
			Settings map[string]string `json:"settings"`
		} `json:"spec"`
	}
	if code != 200 || ct != "application/json" || json.Unmarshal([]byte(body), &got) != nil || got.Spec.Settings["label"] != "team" {
		t.Fatalf("get with protobuf or JSON: %d %s %s", code, ct, body)
	}
	if code, _, body := do("GET", "/apis/skiff.dev/v1alpha1/plugins", "application/vnd.kubernetes.protobuf", ""); code != 406 {
		t.Fatalf("list as protobuf only: %d %s", code, body)
	}
	code, _, body = do("GET", "/apis/skiff.dev/v1alpha1/plugins", "application/json;as=Table;v=v1;g=meta.k8s.io", "")
	if code != 200 || !strings.Contains(body, `"name":"Serving"`) || !strings.Contains(body, `"team","scheduler","v1"`) {
		t.Fatalf("table: %d %s", code, body)
	}
	code, _, body = do("GET", "/openapi/v3/apis/skiff.dev/v1alpha1", "", "")
	if code != 200 || !strings.Contains(body, `"kind":"SchedulerProfile"`) {
		t.Fatalf("openapi v3: %d %.300s", code, body)
	}
}
