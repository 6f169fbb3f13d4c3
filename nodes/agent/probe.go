package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/nodes/lifecycle"
	"github.com/skiffhq/skiff/nodes/runtime"
)

// probe runs the probes that are due on the pod's running app containers
// and records their results in the memory. It returns when the next
// attempt is due (zero: none).
func (w *worker) probe(ctx context.Context, in *lifecycle.Input) time.Time {
	if in.Gone || in.Pod.DeletionTimestamp != nil {
		return time.Time{}
	}
	_, podIP := currentSandbox(in)
	if in.Pod.Spec.HostNetwork {
		podIP = in.HostIP // a host-network pod answers on the node's address
	}
	specs := map[string]*corev1.Container{}
	for i := range in.Pod.Spec.Containers {
		specs[in.Pod.Spec.Containers[i].Name] = &in.Pod.Spec.Containers[i]
	}
	var next time.Time
	for _, c := range in.Containers {
		spec := specs[c.Name]
		if spec == nil || c.State != runtime.StateRunning || c.Labels[runtime.LabelContainerKind] != runtime.KindApp {
			continue
		}
		if spec.StartupProbe == nil && spec.ReadinessProbe == nil && spec.LivenessProbe == nil {
			continue
		}
		p := w.mem.Probes[c.ID]
		if p == nil {
			p = lifecycle.NewProbes()
			w.mem.Probes[c.ID] = p
		}
		for {
			due, at := lifecycle.DueProbes(spec, p, c.StartedAt, time.Now())
			if len(due) == 0 {
				next = earliest(next, at)
				break
			}
			for _, kind := range due {
				pr := lifecycle.ProbeSpec(spec, kind)
				ok := w.probeOnce(ctx, c.ID, podIP, kind, pr, spec)
				r := p.Of(kind)
				*r = lifecycle.ProbeObserve(pr, *r, ok, time.Now())
			}
			// A startup probe that just succeeded lets the others run now.
		}
	}
	return next
}

// probeOnce makes one attempt; errors count as failures.
func (w *worker) probeOnce(ctx context.Context, containerID, podIP string, kind runtime.ProbeKind, p *corev1.Probe, c *corev1.Container) bool {
	ctx, cancel := context.WithTimeout(ctx, lifecycle.ProbeTimeout(p))
	defer cancel()
	rt := w.a.cfg.Runtime
	if pr, ok := rt.(runtime.Prober); ok {
		ok, err := pr.Probe(ctx, containerID, kind)
		return err == nil && ok
	}
	err := handlerProbe(ctx, rt, containerID, podIP, &p.ProbeHandler, c)
	return err == nil
}

// errProbeFailed is a probe attempt's negative answer.
var errProbeFailed = errors.New("probe failed")

// handlerProbe runs an exec, HTTP GET or TCP probe against a container
// whose pod has address podIP.
func handlerProbe(ctx context.Context, rt runtime.Runtime, containerID, podIP string, h *corev1.ProbeHandler, c *corev1.Container) error {
	switch {
	case h.Exec != nil:
		code, err := rt.Exec(ctx, containerID, runtime.ExecRequest{Cmd: h.Exec.Command})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("%w: exit code %d", errProbeFailed, code)
		}
		return nil
	case h.HTTPGet != nil:
		g := h.HTTPGet
		host := g.Host
		if host == "" {
			host = podIP
		}
		port, err := probePort(g.Port, c)
		if err != nil {
			return err
		}
		scheme := "http"
		if g.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: g.Path}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		for _, hd := range g.HTTPHeaders {
			req.Header.Add(hd.Name, hd.Value)
		}
		req.Header.Set("User-Agent", "kube-probe/skiff")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("%w: HTTP %d", errProbeFailed, resp.StatusCode)
		}
		return nil
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, err := probePort(h.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return fmt.Errorf("%w: unsupported probe handler", runtime.ErrUnsupported)
}

// probePort resolves a probe's port, by number or by the name of one of
// the container's ports.
func probePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal > 0 && p.IntVal < 65536 {
			return int(p.IntVal), nil
		}
		return 0, fmt.Errorf("probe port %d is out of range", p.IntVal)
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil && n > 0 && n < 65536 {
		return n, nil
	}
	return 0, fmt.Errorf("probe port %q: the container has no port of that name", p.StrVal)
}
