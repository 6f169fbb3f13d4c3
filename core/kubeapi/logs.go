package kubeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/sdk/api"
)

// Log streaming: the pods/log subresource reaches the pod's node over NATS
// (subjects.PodLogs) one chunk at a time; the next chunk is asked for only
// once the previous one has been written to the HTTP client, so a slow
// client holds one chunk here and nothing on the node.
const (
	// logChunk is the most asked for at once.
	logChunk = 64 << 10
	// logWait is how long a following chunk request waits on the node for
	// new output; logSlack is added to it for the request's deadline.
	logWait  = 5 * time.Second
	logSlack = 10 * time.Second
)

// logOptions parses and validates the pods/log query as kube-apiserver
// does (ValidatePodLogOptions).
func logOptions(name string, q url.Values) (*corev1.PodLogOptions, error) {
	o := &corev1.PodLogOptions{Container: q.Get("container")}
	var errs field.ErrorList
	boolean := func(key string, dst *bool) {
		v := q.Get(key)
		if v == "" {
			return
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath(key), v, "must be a boolean"))
			return
		}
		*dst = b
	}
	integer := func(key string) *int64 {
		v := q.Get(key)
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath(key), v, "must be an integer"))
			return nil
		}
		return &n
	}
	boolean("follow", &o.Follow)
	boolean("previous", &o.Previous)
	boolean("timestamps", &o.Timestamps)
	boolean("insecureSkipTLSVerifyBackend", &o.InsecureSkipTLSVerifyBackend)
	o.TailLines = integer("tailLines")
	o.LimitBytes = integer("limitBytes")
	o.SinceSeconds = integer("sinceSeconds")
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath("sinceTime"), v, "must be an RFC 3339 time"))
		} else {
			o.SinceTime = &metav1.Time{Time: t}
		}
	}
	if o.TailLines != nil && *o.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *o.TailLines, "must be greater than or equal to 0"))
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *o.LimitBytes, "must be greater than 0"))
	}
	switch {
	case o.SinceSeconds != nil && o.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case o.SinceSeconds != nil && *o.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *o.SinceSeconds, "must be greater than 0"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("PodLogOptions").GroupKind(), name, errs)
	}
	return o, nil
}

// logContainer resolves the container a log request is for, as
// kube-apiserver does: the only one by default, else it must be named.
func logContainer(pod *corev1.Pod, name string) (string, error) {
	names := func(cs []corev1.Container) string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Name
		}
		return strings.Join(out, " ")
	}
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("pod %s has no containers", pod.Name))
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, names(pod.Spec.Containers))
		if len(pod.Spec.InitContainers) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", names(pod.Spec.InitContainers))
		}
		return "", apierrors.NewBadRequest(msg)
	}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name == name {
				return name, nil
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

// waitingReason is the container's waiting reason in the pod's status.
func waitingReason(pod *corev1.Pod, container string) string {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, cs := range list {
			if cs.Name == container && cs.State.Waiting != nil {
				return cs.State.Waiting.Reason
			}
		}
	}
	return ""
}

// serveLog streams a container's log from its node.
func (s *Server) serveLog(w http.ResponseWriter, req *http.Request, rq request) error {
	if req.Method != http.MethodGet {
		return apierrors.NewMethodNotSupported(rq.r.GroupResource(), strings.ToLower(req.Method))
	}
	obj, err := s.api.Get(req.Context(), rq.r, rq.namespace, rq.name)
	if err != nil {
		return err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return apierrors.NewInternalError(fmt.Errorf("pods/log: stored object is a %T", obj))
	}
	o, err := logOptions(pod.Name, req.URL.Query())
	if err != nil {
		return err
	}
	container, err := logContainer(pod, o.Container)
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: the pod is not scheduled to a node yet", container, pod.Name))
	}
	if s.conn == nil {
		return apierrors.NewServiceUnavailable("pods/log: this API server has no connection to the nodes")
	}
	lr := api.LogRequest{
		Namespace: pod.Namespace, Pod: pod.Name, UID: string(pod.UID), Container: container,
		Waiting: waitingReason(pod, container), Previous: o.Previous, Follow: o.Follow,
		Timestamps: o.Timestamps, TailLines: o.TailLines,
	}
	switch {
	case o.SinceTime != nil:
		t := o.SinceTime.Time
		lr.SinceTime = &t
	case o.SinceSeconds != nil:
		t := time.Now().Add(-time.Duration(*o.SinceSeconds) * time.Second)
		lr.SinceTime = &t
	}
	left := int64(-1)
	if o.LimitBytes != nil {
		left = *o.LimitBytes
	}
	ctx := req.Context()
	node := pod.Spec.NodeName
	// The first chunk decides between a Status and a stream: it does not
	// wait for output, so that the response starts at once.
	rep, data, err := s.logChunk(ctx, node, &lr, 0)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for {
		if left >= 0 && int64(len(data)) > left {
			data = data[:left]
		}
		if len(data) > 0 {
			if _, err := w.Write(data); err != nil {
				return nil // the client went away
			}
			if left >= 0 {
				left -= int64(len(data))
			}
		}
		_ = rc.Flush()
		if rep.End || left == 0 {
			return nil
		}
		lr.Cursor = rep.Cursor
		rep, data, err = s.logChunk(ctx, node, &lr, logWait)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Info("log stream ended early", "pod", pod.Namespace+"/"+pod.Name, "container", container, "err", err)
			}
			return nil // the status line is gone: end the stream
		}
	}
}

// logChunk asks node for the next chunk of lr's stream.
func (s *Server) logChunk(ctx context.Context, node string, lr *api.LogRequest, wait time.Duration) (api.LogReply, []byte, error) {
	// The chunk bounds what the node reads, and a line cut at the limit
	// would lose its timestamp: the limit is applied here, to what it sends.
	lr.MaxBytes = logChunk
	lr.Wait = wait
	body, err := json.Marshal(lr)
	if err != nil {
		return api.LogReply{}, nil, apierrors.NewInternalError(err)
	}
	rctx, cancel := context.WithTimeout(ctx, wait+logSlack)
	defer cancel()
	m, err := s.conn.Request(rctx, &bus.Msg{Subject: subjects.PodLogs(node), Data: body})
	switch {
	case errors.Is(err, bus.ErrNoResponders):
		return api.LogReply{}, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q does not answer log requests: is its agent running?", node))
	case err != nil && ctx.Err() != nil:
		return api.LogReply{}, nil, ctx.Err()
	case err != nil && rctx.Err() != nil:
		return api.LogReply{}, nil, apierrors.NewTimeoutError(fmt.Sprintf("node %q did not answer a log request within %v", node, wait+logSlack), 0)
	case err != nil:
		return api.LogReply{}, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q: %v", node, err))
	}
	code, _ := strconv.Atoi(m.Header.Get(api.HdrCode))
	if code != http.StatusOK {
		msg := string(m.Data)
		switch code {
		case http.StatusBadRequest:
			return api.LogReply{}, nil, apierrors.NewBadRequest(msg)
		case http.StatusNotFound:
			return api.LogReply{}, nil, apierrors.NewNotFound(api.Pods.GroupResource(), lr.Pod)
		}
		return api.LogReply{}, nil, apierrors.NewInternalError(fmt.Errorf("node %q: %s", node, msg))
	}
	rep, err := api.DecodeLogReply(m.Header.Get(api.HdrLog))
	if err != nil {
		return api.LogReply{}, nil, apierrors.NewInternalError(fmt.Errorf("node %q: %w", node, err))
	}
	return rep, m.Data, nil
}
