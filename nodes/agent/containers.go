package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiffhq/skiff/nodes/lifecycle"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/client"
)

// podLabels are the labels the agent puts on a pod's sandbox.
func podLabels(pod *corev1.Pod) map[string]string {
	return map[string]string{
		runtime.LabelPodUID:       string(pod.UID),
		runtime.LabelPodName:      pod.Name,
		runtime.LabelPodNamespace: pod.Namespace,
	}
}

// podLogDir is the directory of a pod's logs, as the kubelet lays them
// out under /var/log/pods ("" when logs are not kept).
func (a *Agent) podLogDir(pod *corev1.Pod) string {
	if a.cfg.LogDir == "" {
		return ""
	}
	return PodLogDir(a.cfg.LogDir, pod.Namespace, pod.Name, string(pod.UID))
}

func (w *worker) sandboxConfig(pod *corev1.Pod, attempt int) runtime.SandboxConfig {
	host := pod.Spec.Hostname
	if host == "" {
		host = pod.Name
	}
	var ports []runtime.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			proto := string(p.Protocol)
			if proto == "" {
				proto = string(corev1.ProtocolTCP)
			}
			ports = append(ports, runtime.PortMapping{Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIP: p.HostIP})
		}
	}
	return runtime.SandboxConfig{
		Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID), Attempt: attempt,
		Hostname: host, HostNetwork: pod.Spec.HostNetwork, Ports: ports,
		LogDir: w.a.podLogDir(pod), Labels: podLabels(pod), Annotations: maps.Clone(pod.Annotations),
	}
}

func (w *worker) containerConfig(ctx context.Context, pod *corev1.Pod, podIP string, s lifecycle.Start) (runtime.ContainerConfig, error) {
	c := s.Container
	env, err := w.env(ctx, pod, podIP, c)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	mounts, err := w.mounts(ctx, pod, podIP, c, env)
	if err != nil {
		return runtime.ContainerConfig{}, err
	}
	hosts, err := w.etcHosts(pod, podIP)
	if err != nil {
		return runtime.ContainerConfig{}, fmt.Errorf("/etc/hosts: %w", err)
	}
	if hosts != "" && !slices.ContainsFunc(mounts, func(m runtime.Mount) bool { return m.ContainerPath == "/etc/hosts" }) {
		mounts = append(mounts, runtime.Mount{HostPath: hosts, ContainerPath: "/etc/hosts"})
	}
	termHost, termPath, err := w.terminationLog(pod, c, s.Attempt)
	if err != nil {
		return runtime.ContainerConfig{}, fmt.Errorf("termination message file: %w", err)
	}
	if termHost != "" && !slices.ContainsFunc(mounts, func(m runtime.Mount) bool { return m.ContainerPath == termPath }) {
		mounts = append(mounts, runtime.Mount{HostPath: termHost, ContainerPath: termPath})
	}
	labels := podLabels(pod)
	labels[runtime.LabelContainerName] = c.Name
	labels[runtime.LabelContainerKind] = s.Kind
	cfg := runtime.ContainerConfig{
		Name: c.Name, Attempt: s.Attempt, Image: c.Image,
		Command: c.Command, Args: c.Args, Env: env, WorkingDir: c.WorkingDir, Mounts: mounts,
		Resources: resources(c), TTY: c.TTY, Stdin: c.Stdin, Labels: labels,
	}
	if w.a.cfg.LogDir != "" {
		cfg.LogPath = LogPath(w.a.cfg.LogDir, pod.Namespace, pod.Name, string(pod.UID), c.Name, s.Attempt)
	}
	return cfg, nil
}

// resources turns a container's requests and limits into cgroup settings,
// as the kubelet does: CPU shares from the request (1024 per CPU, at
// least 2), a CFS quota from the limit, the memory limit in bytes.
func resources(c *corev1.Container) runtime.Resources {
	var r runtime.Resources
	req := c.Resources.Requests.Cpu().MilliValue()
	if req == 0 {
		req = c.Resources.Limits.Cpu().MilliValue()
	}
	r.CPUShares = 2
	if req > 0 {
		r.CPUShares = max(2, uint64(req)*1024/1000)
	}
	if lim := c.Resources.Limits.Cpu().MilliValue(); lim > 0 {
		r.CPUPeriod = 100000
		r.CPUQuota = max(1000, lim*100000/1000)
	}
	r.MemoryLimit = c.Resources.Limits.Memory().Value()
	return r
}

// env builds a container's environment: envFrom first, then env, with
// $(VAR) references to earlier variables expanded, as the kubelet does.
func (w *worker) env(ctx context.Context, pod *corev1.Pod, podIP string, c *corev1.Container) ([]runtime.EnvVar, error) {
	var out []runtime.EnvVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, runtime.EnvVar{Name: name, Value: value})
	}
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		return "", false
	}
	for _, src := range c.EnvFrom {
		var data map[string]string
		var err error
		switch {
		case src.ConfigMapRef != nil:
			data, err = w.configMap(ctx, pod.Namespace, src.ConfigMapRef.Name, src.ConfigMapRef.Optional)
		case src.SecretRef != nil:
			data, err = w.secret(ctx, pod.Namespace, src.SecretRef.Name, src.SecretRef.Optional)
		}
		if err != nil {
			return nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			set(src.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, ok, err := w.envValue(ctx, pod, podIP, c, e.ValueFrom)
		if err != nil {
			return nil, err // the kubelet's message, which names the source
		}
		if ok {
			set(e.Name, v)
		}
	}
	return out, nil
}

// envValue resolves a valueFrom; ok is false for an optional key that
// does not exist.
func (w *worker) envValue(ctx context.Context, pod *corev1.Pod, podIP string, c *corev1.Container, src *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case src.FieldRef != nil:
		v, err := fieldValue(pod, podIP, w.a.hostIP, src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := resourceValue(c, w.a.allocatable, src.ResourceFieldRef)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		data, err := w.configMap(ctx, pod.Namespace, r.Name, r.Optional)
		if err != nil {
			return "", false, err
		}
		return keyValue(data, "ConfigMap", pod.Namespace, r.Name, r.Key, r.Optional)
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		data, err := w.secret(ctx, pod.Namespace, r.Name, r.Optional)
		if err != nil {
			return "", false, err
		}
		return keyValue(data, "Secret", pod.Namespace, r.Name, r.Key, r.Optional)
	}
	return "", false, nil
}

func keyValue(data map[string]string, kind, ns, name, key string, optional *bool) (string, bool, error) {
	v, ok := data[key]
	if ok {
		return v, true, nil
	}
	if optional != nil && *optional {
		return "", false, nil
	}
	return "", false, fmt.Errorf("couldn't find key %s in %s %s/%s", key, kind, ns, name)
}

func (w *worker) configMap(ctx context.Context, ns, name string, optional *bool) (map[string]string, error) {
	cm, err := client.For[*corev1.ConfigMap](w.a.cfg.Client).Get(ctx, ns, name)
	if apierrors.IsNotFound(err) && optional != nil && *optional {
		return nil, nil
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("configmap %q not found", name) // the kubelet's words
		}
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	out := maps.Clone(cm.Data)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range cm.BinaryData {
		out[k] = string(v)
	}
	return out, nil
}

func (w *worker) secret(ctx context.Context, ns, name string, optional *bool) (map[string]string, error) {
	s, err := client.For[*corev1.Secret](w.a.cfg.Client).Get(ctx, ns, name)
	if apierrors.IsNotFound(err) && optional != nil && *optional {
		return nil, nil
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret %q not found", name) // the kubelet's words
		}
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out, nil
}

// fieldValue is the downward API's value of a pod field.
func fieldValue(pod *corev1.Pod, podIP, hostIP, path string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	case "status.podIP", "status.podIPs":
		if pod.Spec.HostNetwork {
			return hostIP, nil
		}
		return podIP, nil
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

// subscript parses prefix['key'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// resourceValue is the downward API's value of a container resource,
// rounded up to the divisor; an unset limit is the node's allocatable.
func resourceValue(c *corev1.Container, alloc corev1.ResourceList, ref *corev1.ResourceFieldSelector) (string, error) {
	var q resource.Quantity
	var name corev1.ResourceName
	switch ref.Resource {
	case "limits.cpu", "requests.cpu":
		name = corev1.ResourceCPU
	case "limits.memory", "requests.memory":
		name = corev1.ResourceMemory
	case "limits.ephemeral-storage", "requests.ephemeral-storage":
		name = corev1.ResourceEphemeralStorage
	default:
		return "", fmt.Errorf("unsupported resourceFieldRef %q", ref.Resource)
	}
	list := c.Resources.Limits
	if strings.HasPrefix(ref.Resource, "requests.") {
		list = c.Resources.Requests
	}
	q, ok := list[name]
	if !ok {
		q = alloc[name]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == corev1.ResourceCPU {
		m, d := q.MilliValue(), divisor.MilliValue()
		return strconv.FormatInt((m+d-1)/d, 10), nil
	}
	v, d := q.Value(), divisor.Value()
	return strconv.FormatInt((v+d-1)/d, 10), nil
}

// expand replaces $(NAME) with the value of an earlier variable; $$ is a
// literal $, and an unknown reference is left as it is.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteByte('$')
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
