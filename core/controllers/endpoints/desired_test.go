package endpoints_test

import (
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/core/controllers/endpoints"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

// parseService parses: svc [selector=k:v,..|noselector] [ports=name:port>target/PROTO,...]
// [headless] [publishNotReady] [labels=k:v] [externalName]
func parseService(t *testing.T, words []string) *corev1.Service {
	a := scenario.ParseAttrs(words)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: a.Map("labels", nil)},
		Spec: corev1.ServiceSpec{Selector: a.Map("selector", map[string]string{"app": "web"}), ClusterIP: "10.96.0.10",
			PublishNotReadyAddresses: a.Has("publishNotReady"), Type: corev1.ServiceTypeClusterIP}}
	if a.Has("noselector") {
		svc.Spec.Selector = nil
	}
	if a.Has("headless") {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	if a.Has("externalName") {
		svc.Spec.Type = corev1.ServiceTypeExternalName
	}
	if ports := a.Str("ports", "http:80>8080"); ports != "none" {
		for _, spec := range strings.Split(ports, ",") {
			name, rest, _ := strings.Cut(spec, ":")
			rest, proto, _ := strings.Cut(rest, "/")
			port, target, _ := strings.Cut(rest, ">")
			n, err := strconv.Atoi(port)
			if err != nil {
				t.Fatalf("port %q: %v", spec, err)
			}
			if proto == "" {
				proto = "TCP"
			}
			sp := corev1.ServicePort{Name: name, Port: int32(n), Protocol: corev1.Protocol(proto)}
			if target != "" {
				sp.TargetPort = intstr.Parse(target)
			}
			svc.Spec.Ports = append(svc.Spec.Ports, sp)
		}
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("svc: unknown attributes %v", u)
	}
	return svc
}

func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/endpoints.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var svc *corev1.Service
		var ps []*corev1.Pod
		for _, l := range c.Input {
			w := strings.Fields(l)
			switch w[0] {
			case "svc":
				svc = parseService(t, w[1:])
			case "pod":
				p, err := scenario.Pod(w[1:], "ReplicaSet", "none")
				if err != nil {
					t.Fatalf("%s: %v", c.Pos, err)
				}
				ps = append(ps, p)
			default:
				t.Fatalf("%s: unknown input %q", c.Pos, w[0])
			}
		}
		ep := endpoints.Desired(svc, ps)
		if ep == nil {
			return "not managed"
		}
		var b strings.Builder
		if len(ep.Labels) > 0 {
			keys := make([]string, 0, len(ep.Labels))
			for k, v := range ep.Labels {
				keys = append(keys, k+"="+v)
			}
			sort.Strings(keys)
			fmt.Fprintf(&b, "labels %s\n", strings.Join(keys, ","))
		}
		for k, v := range ep.Annotations {
			fmt.Fprintf(&b, "annotation %s=%s\n", k, v)
		}
		if len(ep.Subsets) == 0 {
			b.WriteString("no subsets\n")
		}
		addrs := func(as []corev1.EndpointAddress) string {
			var out []string
			for _, a := range as {
				s := a.IP + "(" + a.TargetRef.Name
				if a.NodeName != nil {
					s += "@" + *a.NodeName
				}
				if a.Hostname != "" {
					s += " hostname=" + a.Hostname
				}
				out = append(out, s+")")
			}
			return strings.Join(out, " ")
		}
		for _, ss := range ep.Subsets {
			var ports []string
			for _, p := range ss.Ports {
				ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
			}
			fmt.Fprintf(&b, "subset ports=[%s]\n", strings.Join(ports, " "))
			if len(ss.Addresses) > 0 {
				fmt.Fprintf(&b, "  ready: %s\n", addrs(ss.Addresses))
			}
			if len(ss.NotReadyAddresses) > 0 {
				fmt.Fprintf(&b, "  not ready: %s\n", addrs(ss.NotReadyAddresses))
			}
		}
		return b.String()
	})
}

func TestTruncation(t *testing.T) {
	svc := parseService(t, nil)
	var ps []*corev1.Pod
	for i := range endpoints.MaxAddresses + 5 {
		words := []string{fmt.Sprintf("p%04d", i), fmt.Sprintf("ip=10.1.%d.%d", i/256, i%256), "node=n1", "ports=http:8080"}
		if i%2 == 0 {
			words = append(words, "ready")
		}
		p, err := scenario.Pod(words, "ReplicaSet", "none")
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	ep := endpoints.Desired(svc, ps)
	n, ready := 0, 0
	for _, ss := range ep.Subsets {
		n += len(ss.Addresses) + len(ss.NotReadyAddresses)
		ready += len(ss.Addresses)
	}
	if n != endpoints.MaxAddresses || ep.Annotations[endpoints.OverCapacityAnnotation] != "truncated" {
		t.Fatalf("%d addresses, annotations %v", n, ep.Annotations)
	}
	if ready != (endpoints.MaxAddresses+5+1)/2 {
		t.Fatalf("%d ready addresses kept: ready ones must be kept first", ready)
	}
}
