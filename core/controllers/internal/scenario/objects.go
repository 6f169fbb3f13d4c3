package scenario

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Now is the fixed "now" of every scenario.
var Now = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// Attrs are an input line's words after the first two: key=value pairs
// and bare flags.
type Attrs struct {
	kv    map[string]string
	flags map[string]bool
	used  map[string]bool
}

// ParseAttrs parses words of the form key=value or flag.
func ParseAttrs(words []string) *Attrs {
	a := &Attrs{kv: map[string]string{}, flags: map[string]bool{}, used: map[string]bool{}}
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			a.kv[k] = v
		} else {
			a.flags[w] = true
		}
	}
	return a
}

// Str returns key's value, or def.
func (a *Attrs) Str(key, def string) string {
	a.used[key] = true
	if v, ok := a.kv[key]; ok {
		return v
	}
	return def
}

// Has reports whether key is present, as a flag or with a value.
func (a *Attrs) Has(key string) bool {
	a.used[key] = true
	_, ok := a.kv[key]
	return ok || a.flags[key]
}

// Int returns key's integer value, or def.
func (a *Attrs) Int(key string, def int) int {
	v := a.Str(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		panic(fmt.Sprintf("scenario: %s=%q is not an integer", key, v))
	}
	return n
}

// Dur returns key's duration value, or def.
func (a *Attrs) Dur(key string, def time.Duration) time.Duration {
	v := a.Str(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		panic(fmt.Sprintf("scenario: %s=%q is not a duration", key, v))
	}
	return d
}

// Map parses key's value as k=v,k=v.
func (a *Attrs) Map(key string, def map[string]string) map[string]string {
	v := a.Str(key, "")
	if v == "" {
		return def
	}
	out := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, ":")
		out[k] = val
	}
	return out
}

// Unused returns the keys and flags no accessor asked for: typos.
func (a *Attrs) Unused() []string {
	var out []string
	for k := range a.kv {
		if !a.used[k] {
			out = append(out, k)
		}
	}
	for k := range a.flags {
		if !a.used[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// UID is the UID scenarios give the object called name.
func UID(name string) types.UID { return types.UID("uid-" + name) }

// Pod parses a pod description:
//
//	NAME [node=N] [phase=P] [ready | ready=AGO] [age=AGO] [restarts=N]
//	     [cost=N] [deleting] [labels=k:v,k:v] [owner=NAME|none] [ip=IP]
//	     [ports=name:port/PROTO,...]
//
// Defaults: age 1h, labels app:web, phase Running when ready or bound,
// else Pending; owner is the caller's default (ownerKind/defaultOwner).
func Pod(words []string, ownerKind, defaultOwner string) (*corev1.Pod, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("pod: no name")
	}
	a := ParseAttrs(words[1:])
	name := words[0]
	created := Now.Add(-a.Dur("age", time.Hour))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: UID(name),
			CreationTimestamp: metav1.NewTime(created), Labels: a.Map("labels", map[string]string{"app": "web"})},
		Spec: corev1.PodSpec{NodeName: a.Str("node", ""), Containers: []corev1.Container{{Name: "c", Image: "img"}}},
	}
	ready := a.Has("ready")
	phase := corev1.PodPending
	if ready || p.Spec.NodeName != "" {
		phase = corev1.PodRunning
	}
	p.Status.Phase = corev1.PodPhase(a.Str("phase", string(phase)))
	if ready {
		since := created
		if v := a.Str("ready", ""); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("pod %s: ready=%q: %v", name, v, err)
			}
			since = Now.Add(-d)
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since)}}
	} else if p.Status.Phase == corev1.PodRunning {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(created)}}
	}
	if n := a.Int("restarts", 0); n > 0 {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: int32(n)}}
	}
	if v := a.Str("cost", ""); v != "" {
		p.Annotations = map[string]string{"controller.kubernetes.io/pod-deletion-cost": v}
	}
	if a.Has("deleting") {
		at := metav1.NewTime(Now.Add(30 * time.Second))
		grace := int64(30)
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &at, &grace
	}
	if ip := a.Str("ip", ""); ip != "" {
		p.Status.PodIP = ip
		p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	if ports := a.Str("ports", ""); ports != "" {
		for _, spec := range strings.Split(ports, ",") {
			pname, rest, _ := strings.Cut(spec, ":")
			num, proto, _ := strings.Cut(rest, "/")
			n, err := strconv.Atoi(num)
			if err != nil {
				return nil, fmt.Errorf("pod %s: port %q: %v", name, spec, err)
			}
			if proto == "" {
				proto = "TCP"
			}
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: pname, ContainerPort: int32(n), Protocol: corev1.Protocol(proto)})
		}
	}
	p.Spec.Hostname = a.Str("hostname", "")
	p.Spec.Subdomain = a.Str("subdomain", "")
	if o := a.Str("owner", defaultOwner); o != "" && o != "none" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: ownerKind, Name: o, UID: UID(o), Controller: &yes}}
	}
	if u := a.Unused(); len(u) > 0 {
		return nil, fmt.Errorf("pod %s: unknown attributes %v", name, u)
	}
	return p, nil
}

// Names lists the objects' names, space separated.
func Names[T interface{ GetName() string }](objs []T) string {
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.GetName()
	}
	return strings.Join(names, " ")
}
