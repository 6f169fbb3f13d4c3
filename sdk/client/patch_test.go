package client_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/client"
)

func TestPatchOverNATS(t *testing.T) {
	e := start(t, store.Config{})
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		typ   types.PatchType
		patch string
		want  map[string]string
	}{
		{"merge", types.MergePatchType, `{"data":{"b":"2"}}`, map[string]string{"a": "1", "b": "2"}},
		{"strategic", types.StrategicMergePatchType, `{"data":{"a":null}}`, map[string]string{"b": "2"}},
		{"json", types.JSONPatchType, `[{"op":"add","path":"/data/c","value":"3"}]`, map[string]string{"b": "2", "c": "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cms.Patch(ctx, "default", "p", tt.typ, []byte(tt.patch), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Data) != len(tt.want) {
				t.Fatalf("data = %v, want %v", got.Data, tt.want)
			}
			for k, v := range tt.want {
				if got.Data[k] != v {
					t.Fatalf("data = %v, want %v", got.Data, tt.want)
				}
			}
		})
	}
	if _, err := cms.Patch(ctx, "default", "p", types.JSONPatchType, []byte(`not json`), metav1.PatchOptions{}); !apierrors.IsBadRequest(err) && !apierrors.IsInvalid(err) && !apierrors.IsUnsupportedMediaType(err) {
		t.Fatalf("bad patch: %v", err)
	}
	if _, err := cms.Patch(ctx, "default", "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("patch missing: %v", err)
	}
}
