package deployment_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/skiffhq/skiff/core/controllers/deployment"
)

func TestTemplateHash(t *testing.T) {
	a, b := template("v1"), template("v1")
	if deployment.TemplateHash(&a, nil) != deployment.TemplateHash(&b, nil) {
		t.Fatal("equal templates hash differently")
	}
	c := template("v2")
	if deployment.TemplateHash(&a, nil) == deployment.TemplateHash(&c, nil) {
		t.Fatal("different templates hash alike")
	}
	one, two := int32(1), int32(2)
	h0, h1, h2 := deployment.TemplateHash(&a, nil), deployment.TemplateHash(&a, &one), deployment.TemplateHash(&a, &two)
	if h0 == h1 || h1 == h2 {
		t.Fatalf("the collision count does not change the hash: %s %s %s", h0, h1, h2)
	}
	if strings.Trim(h0, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		t.Fatalf("hash %q is not a valid label value", h0)
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	a, b := template("v1"), template("v1")
	b.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "abc"
	if !deployment.EqualIgnoreHash(&a, &b) {
		t.Fatal("templates differing only by hash are not equal")
	}
	if _, ok := a.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; ok {
		t.Fatal("EqualIgnoreHash modified its argument")
	}
	b.Labels["other"] = "x"
	if deployment.EqualIgnoreHash(&a, &b) {
		t.Fatal("templates with different labels are equal")
	}
}
