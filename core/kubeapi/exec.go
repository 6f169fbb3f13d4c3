package kubeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/api"
)

// pods/exec: kubectl's WebSocket remote command protocol
// (v5.channel.k8s.io, or v4 without the close signal) between the client
// and the API server; the exec protocol of sdk/api (ExecStart) over NATS
// between the API server and the node. Output is pulled from the node one
// chunk at a time, each chunk written to the client before the next is
// asked for, so a slow client holds the command back.

// Channels of the channel.k8s.io protocols.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanResize = 4
	chanClose  = 255 // v5: the client closed the stream named in the next byte
)

// execProtocols are the subprotocols served, preferred first.
var execProtocols = []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}

// execWait is how long one output request waits on the node.
const execWait = 5 * time.Second

func (s *Server) serveExec(w http.ResponseWriter, req *http.Request, rq request) error {
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		return apierrors.NewMethodNotSupported(rq.r.GroupResource(), strings.ToLower(req.Method))
	}
	obj, err := s.api.Get(req.Context(), rq.r, rq.namespace, rq.name)
	if err != nil {
		return err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return apierrors.NewInternalError(fmt.Errorf("pods/exec: stored object is a %T", obj))
	}
	q := req.URL.Query()
	container, err := logContainer(pod, q.Get("container"))
	if err != nil {
		return err
	}
	flag := func(k string) bool { b, _ := strconv.ParseBool(q.Get(k)); return b }
	start := api.ExecStart{Namespace: pod.Namespace, Pod: pod.Name, UID: string(pod.UID), Container: container,
		Command: q["command"], Stdin: flag("stdin"), TTY: flag("tty")}
	stdout, stderr := flag("stdout"), flag("stderr")
	switch {
	case len(start.Command) == 0:
		return apierrors.NewBadRequest("you must specify at least 1 command")
	case !start.Stdin && !stdout && !stderr:
		return apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	case start.TTY && stderr:
		return apierrors.NewBadRequest("stdout and stderr are merged on a tty: stderr must not be set with tty")
	case pod.Spec.NodeName == "":
		return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return apierrors.NewBadRequest(fmt.Sprintf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase))
	}
	proto := ""
	if isWebSocket(req) {
		offered := strings.Split(req.Header.Get("Sec-WebSocket-Protocol"), ",")
		for _, p := range execProtocols {
			if slices.ContainsFunc(offered, func(o string) bool { return strings.TrimSpace(o) == p }) {
				proto = p
				break
			}
		}
	}
	if s.conn == nil {
		return apierrors.NewServiceUnavailable("pods/exec: this API server has no connection to the nodes")
	}
	node := pod.Spec.NodeName
	if proto == "" || start.TTY {
		// kubectl tries WebSocket first and SPDY after any failed upgrade,
		// then prints the SPDY attempt's error: it must say what stopped
		// the first attempt, if anything did. A terminal session starts
		// once the client has said its size, after the upgrade: check now
		// what can be checked.
		dry := start
		dry.DryRun = true
		if _, err := s.startExecOn(req.Context(), node, dry); err != nil {
			return err
		}
		if proto == "" {
			return apierrors.NewBadRequest("Skiff serves pods/exec over WebSocket only (subprotocol " + strings.Join(execProtocols, " or ") + "); SPDY is not supported")
		}
	}
	sess := ""
	if !start.TTY {
		var err error
		if sess, err = s.startExecOn(req.Context(), node, start); err != nil {
			return err
		}
	}
	// The session is the node's until it reports the exit; if the client
	// goes first, it is closed.
	closed := false
	defer func() {
		if !closed && sess != "" {
			h := bus.Header{}
			h.Set(api.HdrExecOp, api.ExecOpClose)
			h.Set(api.HdrExecSession, sess)
			ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), 5*time.Second)
			_, _ = s.execRequest(ctx, node, h, nil, 0)
			cancel()
		}
	}()
	ws := websocket.Server{
		Handshake: func(c *websocket.Config, _ *http.Request) error {
			c.Protocol = []string{proto}
			return nil
		},
		Handler: func(conn *websocket.Conn) {
			conn.PayloadType = websocket.BinaryFrame
			var pending [][]byte
			if start.TTY {
				var err error
				start.Size, pending = firstSize(conn)
				if sess, err = s.startExecOn(req.Context(), node, start); err != nil {
					b, _ := json.Marshal(apiserver.Status(err))
					_ = websocket.Message.Send(conn, append([]byte{chanError}, b...))
					_ = conn.Close()
					return
				}
			}
			closed = s.streamExec(req.Context(), conn, node, sess, start, pending)
		},
	}
	// The WebSocket library needs the connection itself (http.Hijacker).
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	if _, ok := w.(http.Hijacker); !ok {
		return apierrors.NewBadRequest("pods/exec needs HTTP/1.1 (a WebSocket upgrade)")
	}
	ws.ServeHTTP(w, req)
	return nil
}

// startExecOn starts (or with DryRun, checks) a session on node.
func (s *Server) startExecOn(ctx context.Context, node string, start api.ExecStart) (string, error) {
	h := bus.Header{}
	h.Set(api.HdrExecOp, api.ExecOpStart)
	body, _ := json.Marshal(start)
	rep, err := s.execRequest(ctx, node, h, body, 0)
	if err != nil {
		return "", err
	}
	return rep.Header.Get(api.HdrExecSession), nil
}

// firstSize waits up to a second for the client's first terminal size
// (kubectl sends it as soon as the stream is up), so that the command
// starts on a terminal of the right size; the messages read meanwhile are
// returned for replay.
func firstSize(conn *websocket.Conn) (*api.ExecResize, [][]byte) {
	var pending [][]byte
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()
	for len(pending) < 64 {
		var msg []byte
		if err := websocket.Message.Receive(conn, &msg); err != nil {
			return nil, pending
		}
		if len(msg) > 0 && msg[0] == chanResize {
			var sz struct{ Width, Height uint16 }
			if json.Unmarshal(msg[1:], &sz) == nil {
				return &api.ExecResize{Width: sz.Width, Height: sz.Height}, pending
			}
		}
		pending = append(pending, msg)
	}
	return nil, pending
}

func isWebSocket(req *http.Request) bool {
	return strings.EqualFold(req.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(req.Header.Get("Connection")), "upgrade")
}

// streamExec relays one session between the WebSocket and the node until
// the command ends or either side goes; it reports whether the node
// ended the session itself.
func (s *Server) streamExec(ctx context.Context, conn *websocket.Conn, node, sess string, start api.ExecStart, pending [][]byte) (ended bool) {
	ctx, cancel := context.WithCancel(ctx)
	inDone := make(chan struct{})
	defer func() {
		cancel()
		_ = conn.Close()
		<-inDone
	}()
	// Input: the client's stdin and resizes, in order, to the node.
	go func() {
		defer close(inDone)
		defer cancel() // the client went away (or sent garbage)
		for {
			var msg []byte
			if len(pending) > 0 {
				msg, pending = pending[0], pending[1:]
			} else if err := websocket.Message.Receive(conn, &msg); err != nil {
				return
			}
			if len(msg) == 0 {
				continue
			}
			h := bus.Header{}
			h.Set(api.HdrExecSession, sess)
			var body []byte
			switch msg[0] {
			case chanStdin:
				if !start.Stdin {
					continue
				}
				h.Set(api.HdrExecOp, api.ExecOpWrite)
				body = msg[1:]
			case chanResize:
				var sz struct{ Width, Height uint16 }
				if json.Unmarshal(msg[1:], &sz) != nil {
					continue
				}
				h.Set(api.HdrExecOp, api.ExecOpResize)
				body, _ = json.Marshal(api.ExecResize{Width: sz.Width, Height: sz.Height})
			case chanClose:
				if len(msg) < 2 || msg[1] != chanStdin || !start.Stdin {
					continue
				}
				h.Set(api.HdrExecOp, api.ExecOpWrite)
				h.Set(api.HdrExecEOF, "true")
			default:
				continue
			}
			for {
				rep, err := s.execRequest(ctx, node, h, body, api.MaxExecWait)
				if err != nil {
					return
				}
				// A command that does not read its stdin takes part of
				// it; the rest waits here, and so does the client.
				n, err := strconv.Atoi(rep.Header.Get(api.HdrExecWritten))
				if err != nil || n >= len(body) || h.Get(api.HdrExecOp) != api.ExecOpWrite {
					break
				}
				body = body[n:]
			}
		}
	}()
	send := func(ch byte, data []byte) error {
		return websocket.Message.Send(conn, append([]byte{ch}, data...))
	}
	status := func(st *metav1.Status) {
		b, _ := json.Marshal(st)
		_ = send(chanError, b)
	}
	// Output: pulled from the node, written to the client, then the next.
	for {
		h := bus.Header{}
		h.Set(api.HdrExecOp, api.ExecOpRead)
		h.Set(api.HdrExecSession, sess)
		h.Set(api.HdrExecWait, execWait.String())
		rep, err := s.execRequest(ctx, node, h, nil, execWait)
		if err != nil {
			if ctx.Err() == nil {
				status(apiserver.Status(err))
			}
			return false
		}
		if code := rep.Header.Get(api.HdrExecExit); code != "" {
			n, _ := strconv.Atoi(code)
			status(exitStatus(start.Command, n))
			return true
		}
		n, _ := strconv.Atoi(rep.Header.Get(api.HdrExecStdout))
		n = min(max(n, 0), len(rep.Data))
		if n > 0 && send(chanStdout, rep.Data[:n]) != nil {
			return false
		}
		if n < len(rep.Data) && send(chanStderr, rep.Data[n:]) != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		default:
		}
	}
}

// exitStatus is what the error channel carries when the command ends, as
// the kubelet writes it; kubectl exits with the code.
func exitStatus(cmd []string, code int) *metav1.Status {
	if code == 0 {
		return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess}
	}
	return apiserver.Status(&apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Reason: "NonZeroExitCode",
		Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command [%s], exit code %d", strings.Join(cmd, " "), code),
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(code)}}},
	}})
}

// execRequest sends one exec operation to node; a reply of 400 or more
// is returned as the error it stands for.
func (s *Server) execRequest(ctx context.Context, node string, h bus.Header, body []byte, wait time.Duration) (*bus.Msg, error) {
	rctx, cancel := context.WithTimeout(ctx, wait+logSlack)
	defer cancel()
	m, err := s.conn.Request(rctx, &bus.Msg{Subject: subjects.PodExec(node), Header: h, Data: body})
	switch {
	case errors.Is(err, bus.ErrNoResponders):
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q does not answer exec requests: is its agent running?", node))
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil && rctx.Err() != nil:
		return nil, apierrors.NewTimeoutError(fmt.Sprintf("node %q did not answer an exec request within %v", node, wait+logSlack), 0)
	case err != nil:
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q: %v", node, err))
	}
	code, _ := strconv.Atoi(m.Header.Get(api.HdrCode))
	switch code {
	case http.StatusOK:
		return m, nil
	case http.StatusBadRequest:
		return nil, apierrors.NewBadRequest(string(m.Data))
	case http.StatusNotFound: // the session ended on the node
		return nil, apierrors.NewResourceExpired(string(m.Data))
	case http.StatusServiceUnavailable:
		return nil, apierrors.NewServiceUnavailable(string(m.Data))
	}
	return nil, apierrors.NewInternalError(fmt.Errorf("node %q: %s", node, m.Data))
}
