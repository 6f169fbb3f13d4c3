package podio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/api"
)

// Bounds of an exec session.
const (
	execBuffer = 256 << 10 // per stream, on the node
	execChunk  = 64 << 10  // most output per read reply
)

// session is one command running through exec.
type session struct {
	id             string
	stdin          *pipe // nil without stdin
	stdout, stderr *pipe
	resize         chan runtime.TerminalSize
	cancel         context.CancelFunc

	mu       sync.Mutex
	lastSeen time.Time
	done     bool // the runtime's Exec returned
	code     int
	err      error
}

func (s *session) touch() {
	s.mu.Lock()
	s.lastSeen = time.Now()
	s.mu.Unlock()
}

// execs holds a server's sessions. Lock order: execs.mu, then session.mu.
type execs struct {
	mu       sync.Mutex
	closed   bool // Run is ending: no new sessions
	sessions map[string]*session
	wg       sync.WaitGroup // the commands' goroutines
}

func (e *execs) get(id string) (*session, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.sessions[id]
	if s == nil {
		return nil, &reqError{code: http.StatusNotFound, msg: fmt.Sprintf("exec session %q not found (it ended, or was idle for %v)", id, api.ExecIdle)}
	}
	s.touch()
	return s, nil
}

func (e *execs) drop(id string) {
	e.mu.Lock()
	s := e.sessions[id]
	delete(e.sessions, id)
	e.mu.Unlock()
	if s != nil {
		s.cancel()
		s.stdout.breakPipe()
		s.stderr.breakPipe()
	}
}

// reap drops the sessions nobody has asked about for idle.
func (e *execs) reap(idle time.Duration) {
	now := time.Now()
	var stale []string
	e.mu.Lock()
	for id, s := range e.sessions {
		s.mu.Lock()
		if now.Sub(s.lastSeen) > idle {
			stale = append(stale, id)
		}
		s.mu.Unlock()
	}
	e.mu.Unlock()
	for _, id := range stale {
		e.drop(id)
	}
}

// dropAll ends every session and waits for their commands.
func (e *execs) dropAll() {
	e.mu.Lock()
	e.closed = true
	ids := make([]string, 0, len(e.sessions))
	for id := range e.sessions {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.drop(id)
	}
	e.wg.Wait()
}

// handleExec answers one exec request.
func (s *Server) handleExec(ctx context.Context, m *bus.Msg) *bus.Msg {
	h := bus.Header{}
	var body []byte
	err := func() error {
		id := m.Header.Get(api.HdrExecSession)
		switch op := m.Header.Get(api.HdrExecOp); op {
		case api.ExecOpStart:
			var req api.ExecStart
			if err := json.Unmarshal(m.Data, &req); err != nil {
				return badRequest("exec request: %v", err)
			}
			id, err := s.startExec(ctx, req)
			if err != nil {
				return err
			}
			h.Set(api.HdrExecSession, id)
			return nil
		case api.ExecOpRead:
			ss, err := s.execs.get(id)
			if err != nil {
				return err
			}
			wait, _ := time.ParseDuration(m.Header.Get(api.HdrExecWait))
			body, err = s.readExec(ctx, ss, min(wait, api.MaxExecWait), h)
			return err
		case api.ExecOpWrite:
			ss, err := s.execs.get(id)
			if err != nil {
				return err
			}
			if ss.stdin == nil {
				return badRequest("exec session %q has no stdin", id)
			}
			wctx, cancel := context.WithTimeout(ctx, s.cfg.StdinWait)
			n, err := ss.stdin.write(wctx, m.Data)
			cancel()
			switch {
			case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
				// The command is not reading: the caller sends the rest later.
			case err != nil:
				return fmt.Errorf("stdin: %w", err)
			case m.Header.Get(api.HdrExecEOF) == "true":
				ss.stdin.closeWrite()
			}
			h.Set(api.HdrExecWritten, strconv.Itoa(n))
			return nil
		case api.ExecOpResize:
			ss, err := s.execs.get(id)
			if err != nil {
				return err
			}
			var sz api.ExecResize
			if err := json.Unmarshal(m.Data, &sz); err != nil {
				return badRequest("resize: %v", err)
			}
			select { // the newest size wins; one pending is enough
			case ss.resize <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}:
			default:
			}
			return nil
		case api.ExecOpClose:
			s.execs.drop(id)
			return nil
		default:
			return badRequest("exec: unknown operation %q", op)
		}
	}()
	if err != nil {
		code := http.StatusInternalServerError
		if re, ok := errors.AsType[*reqError](err); ok {
			code = re.code
		}
		h.Set(api.HdrCode, strconv.Itoa(code))
		return &bus.Msg{Header: h, Data: []byte(err.Error())}
	}
	h.Set(api.HdrCode, "200")
	return &bus.Msg{Header: h, Data: body}
}

// startExec starts the command in the newest instance of the container,
// which must be running.
func (s *Server) startExec(ctx context.Context, req api.ExecStart) (string, error) {
	if err := checkNames(api.LogRequest{Namespace: req.Namespace, Pod: req.Pod, UID: req.UID, Container: req.Container}); err != nil {
		return "", err
	}
	if len(req.Command) == 0 {
		return "", badRequest("you must specify at least 1 command")
	}
	cs, err := s.instances(ctx, api.LogRequest{UID: req.UID, Container: req.Container})
	if err != nil {
		return "", err
	}
	if len(cs) == 0 || cs[len(cs)-1].State != runtime.StateRunning {
		return "", badRequest("container %q in pod %q is not running", req.Container, req.Pod)
	}
	if req.DryRun {
		return "", nil
	}
	c := cs[len(cs)-1]
	var b [12]byte
	_, _ = rand.Read(b[:])
	cctx, cancel := context.WithCancel(context.Background())
	ss := &session{
		id: hex.EncodeToString(b[:]), stdout: newPipe(execBuffer), stderr: newPipe(execBuffer),
		resize: make(chan runtime.TerminalSize, 1), cancel: cancel, lastSeen: time.Now(),
	}
	er := runtime.ExecRequest{Cmd: req.Command, Stdout: writer{cctx, ss.stdout}, TTY: req.TTY, Resize: ss.resize}
	if req.Size != nil {
		er.Size = runtime.TerminalSize{Width: req.Size.Width, Height: req.Size.Height}
	}
	if !req.TTY {
		er.Stderr = writer{cctx, ss.stderr}
	}
	if req.Stdin {
		ss.stdin = newPipe(execBuffer)
		er.Stdin = reader{cctx, ss.stdin}
	}
	s.execs.mu.Lock()
	if s.execs.closed {
		s.execs.mu.Unlock()
		cancel()
		return "", &reqError{code: http.StatusServiceUnavailable, msg: "the node agent is stopping"}
	}
	s.execs.sessions[ss.id] = ss
	s.execs.wg.Go(func() {
		code, err := s.cfg.Runtime.Exec(cctx, c.ID, er)
		ss.stdout.closeWrite()
		ss.stderr.closeWrite()
		ss.mu.Lock()
		ss.done, ss.code, ss.err = true, code, err
		ss.mu.Unlock()
		s.log.Debug("exec ended", "pod", req.Namespace+"/"+req.Pod, "container", req.Container, "code", code, "err", err)
	})
	s.execs.mu.Unlock()
	return ss.id, nil
}

// readExec takes the output available, waiting up to wait for some; once
// the command has ended and its output is drained, the reply carries its
// exit code (and the session ends).
func (s *Server) readExec(ctx context.Context, ss *session, wait time.Duration, h bus.Header) ([]byte, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		out, outEOF, w1 := ss.stdout.take(execChunk)
		errb, errEOF, w2 := ss.stderr.take(execChunk - len(out))
		if len(out) > 0 || len(errb) > 0 {
			h.Set(api.HdrExecStdout, strconv.Itoa(len(out)))
			return append(out, errb...), nil
		}
		if outEOF && errEOF {
			ss.mu.Lock()
			code, err := ss.code, ss.err
			ss.mu.Unlock()
			s.execs.drop(ss.id)
			if err != nil {
				return nil, fmt.Errorf("exec: %w", err)
			}
			h.Set(api.HdrExecExit, strconv.Itoa(code))
			return nil, nil
		}
		select {
		case <-w1:
		case <-w2:
		case <-deadline.C:
			h.Set(api.HdrExecStdout, "0")
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
