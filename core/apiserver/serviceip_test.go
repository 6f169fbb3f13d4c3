package apiserver_test

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/sdk/client"
)

func svc(name, ip string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Port: 80}}}}
}

func TestClusterIPAllocation(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	svcs := client.For[*corev1.Service](e.c)
	k, err := svcs.Get(ctx, "default", "kubernetes")
	if err != nil || k.Spec.ClusterIP != "10.96.0.1" {
		t.Fatalf("kubernetes service: %v, %v", k, err)
	}
	eps, err := client.For[*corev1.Endpoints](e.c).Get(ctx, "default", "kubernetes")
	if err != nil || eps.Subsets[0].Addresses[0].IP != "10.0.0.5" || eps.Subsets[0].Ports[0].Port != 6443 {
		t.Fatalf("kubernetes endpoints: %+v, %v", eps, err)
	}
	rng := netip.MustParsePrefix("10.96.0.0/12")
	seen := map[string]bool{"10.96.0.1": true}
	for _, n := range []string{"a", "b", "c"} {
		s, err := svcs.Create(ctx, svc(n, ""), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ip := netip.MustParseAddr(s.Spec.ClusterIP)
		if !rng.Contains(ip) || seen[s.Spec.ClusterIP] || len(s.Spec.ClusterIPs) != 1 || s.Spec.ClusterIPs[0] != s.Spec.ClusterIP {
			t.Fatalf("service %s got %q %v", n, s.Spec.ClusterIP, s.Spec.ClusterIPs)
		}
		seen[s.Spec.ClusterIP] = true
	}
	want, err := svcs.Create(ctx, svc("fixed", "10.100.0.10"), metav1.CreateOptions{})
	if err != nil || want.Spec.ClusterIP != "10.100.0.10" {
		t.Fatalf("requested IP: %v, %v", want, err)
	}
	if _, err := svcs.Create(ctx, svc("dup", "10.100.0.10"), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("taken IP: %v", err)
	}
	if _, err := svcs.Create(ctx, svc("far", "192.168.0.1"), metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("IP out of range: %v", err)
	}
	headless, err := svcs.Create(ctx, svc("headless", "None"), metav1.CreateOptions{})
	if err != nil || headless.Spec.ClusterIP != "None" {
		t.Fatalf("headless: %v, %v", headless, err)
	}
	// An update that leaves the IP out keeps it.
	upd := want.DeepCopy()
	upd.Spec.ClusterIP, upd.Spec.ClusterIPs = "", nil
	upd.Labels = map[string]string{"x": "y"}
	got, err := svcs.Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil || got.Spec.ClusterIP != "10.100.0.10" {
		t.Fatalf("update without clusterIP: %v, %v", got, err)
	}
	// Deleting frees the address.
	if _, _, err := svcs.Delete(ctx, "default", "fixed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svcs.Create(ctx, svc("again", "10.100.0.10"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("reuse a released IP: %v", err)
	}
}
