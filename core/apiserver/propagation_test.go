package apiserver_test

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/sdk/client"
)

func TestDeletePropagationFinalizers(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := client.For[*corev1.ConfigMap](e.c)
	policy := func(p metav1.DeletionPropagation) *metav1.DeletionPropagation { return &p }
	yes := true
	tests := []struct {
		name    string
		opts    metav1.DeleteOptions
		gone    bool
		want    []string
		invalid bool
	}{
		{"background is immediate", metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationBackground)}, true, nil, false},
		{"default is background", metav1.DeleteOptions{}, true, nil, false},
		{"orphan", metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationOrphan)}, false, []string{metav1.FinalizerOrphanDependents}, false},
		{"orphanDependents", metav1.DeleteOptions{OrphanDependents: &yes}, false, []string{metav1.FinalizerOrphanDependents}, false},
		{"foreground", metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationForeground)}, false, []string{metav1.FinalizerDeleteDependents}, false},
		{"both set", metav1.DeleteOptions{OrphanDependents: &yes, PropagationPolicy: policy(metav1.DeletePropagationOrphan)}, false, nil, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "cm-" + string(rune('a'+i))
			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			last, gone, err := cms.Delete(ctx, "default", name, tt.opts)
			if tt.invalid {
				if !apierrors.IsInvalid(err) {
					t.Fatalf("got %v, want Invalid", err)
				}
				return
			}
			if err != nil || gone != tt.gone {
				t.Fatalf("gone=%v err=%v, want gone=%v", gone, err, tt.gone)
			}
			if !tt.gone && (last.DeletionTimestamp == nil || !slices.Equal(last.Finalizers, tt.want)) {
				t.Fatalf("finalizers %v deletionTimestamp %v, want %v", last.Finalizers, last.DeletionTimestamp, tt.want)
			}
		})
	}
	// Switching policy on a second delete replaces the finalizer.
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "switch", Namespace: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms.Delete(ctx, "default", "switch", metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationOrphan)})
	last, _, err := cms.Delete(ctx, "default", "switch", metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationForeground)})
	if err != nil || !slices.Equal(last.Finalizers, []string{metav1.FinalizerDeleteDependents}) {
		t.Fatalf("after switch: %v, %v", last.Finalizers, err)
	}
}
