package podio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/api"
)

// Runtime is what the server asks of the node's runtime (a
// runtime.Runtime): which instances of a container exist and in which
// state, and running commands in them.
type Runtime interface {
	ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error)
	Exec(ctx context.Context, containerID string, req runtime.ExecRequest) (exitCode int, err error)
}

// Config configures a Server. Node, Runtime and LogDir are required.
type Config struct {
	// Node is the node's name: the server answers on
	// subjects.PodLogs(Node).
	Node string
	// Runtime is the node's runtime.
	Runtime Runtime
	// LogDir is the agent's Config.LogDir.
	LogDir string
	// Format is the layout of the runtime's log files.
	Format Format
	// Workers bounds the requests served at once on each subject (logs,
	// exec; default 64); a following log request or an exec read holds a
	// worker for up to its wait.
	Workers int
	// Poll is how often a following request looks for new output
	// (default 25 ms) and StatePoll how often it asks the runtime whether
	// the container still runs (default 250 ms).
	Poll, StatePoll time.Duration
	// StdinWait bounds how long an exec write waits for a command that
	// does not read its stdin before it answers with what was taken
	// (default and at most api.MaxExecWait).
	StdinWait time.Duration
	// Ready, if set, is called once the server takes requests.
	Ready func()
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
}

// Server answers log requests for one node. Create it with New, run it
// with Run.
type Server struct {
	cfg   Config
	log   *slog.Logger
	execs execs
}

// New checks cfg and returns a server; it starts nothing.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Node == "" {
		errs = append(errs, errors.New("podio: Config.Node is required"))
	}
	if cfg.Runtime == nil {
		errs = append(errs, errors.New("podio: Config.Runtime is required"))
	}
	if cfg.LogDir == "" {
		errs = append(errs, errors.New("podio: Config.LogDir is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 25 * time.Millisecond
	}
	if cfg.StatePoll <= 0 {
		cfg.StatePoll = 250 * time.Millisecond
	}
	if cfg.StdinWait <= 0 || cfg.StdinWait > api.MaxExecWait {
		cfg.StdinWait = api.MaxExecWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), execs: execs{sessions: map[string]*session{}}}, nil
}

// Run answers log and exec requests on conn until ctx ends; then it kills
// the commands exec started and returns once they have ended.
func (s *Server) Run(ctx context.Context, conn *bus.Conn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var ready sync.WaitGroup
	ready.Add(2)
	errs := make([]error, 2)
	for i, sc := range []struct {
		subject string
		h       bus.Handler
	}{{subjects.PodLogs(s.cfg.Node), s.handle}, {subjects.PodExec(s.cfg.Node), s.handleExec}} {
		wg.Go(func() {
			errs[i] = conn.Serve(ctx, bus.ServeConfig{Subject: sc.subject, Workers: s.cfg.Workers,
				Timeout: api.MaxLogWait + 5*time.Second, Ready: ready.Done}, sc.h)
			if errs[i] != nil {
				ready.Done()
				cancel()
			}
		})
	}
	wg.Go(func() {
		ready.Wait()
		if ctx.Err() == nil && s.cfg.Ready != nil {
			s.cfg.Ready()
		}
	})
	wg.Go(func() {
		t := time.NewTicker(api.ExecIdle / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.execs.reap(api.ExecIdle)
			}
		}
	})
	wg.Wait()
	s.execs.dropAll()
	return errors.Join(errs...)
}

// reqError is a failure answered with an HTTP code and a message (the API
// server turns it into a Status).
type reqError struct {
	code int
	msg  string
}

func (e *reqError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &reqError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) handle(ctx context.Context, m *bus.Msg) *bus.Msg {
	var req api.LogRequest
	var rep api.LogReply
	var data []byte
	err := json.Unmarshal(m.Data, &req)
	if err != nil {
		err = badRequest("log request: %v", err)
	} else {
		rep, data, err = s.Serve(ctx, req)
	}
	h := bus.Header{}
	if err != nil {
		code := http.StatusInternalServerError
		if re, ok := errors.AsType[*reqError](err); ok {
			code = re.code
		} else {
			s.log.Warn("log request", "pod", req.Namespace+"/"+req.Pod, "container", req.Container, "err", err)
		}
		h.Set(api.HdrCode, strconv.Itoa(code))
		return &bus.Msg{Header: h, Data: []byte(err.Error())}
	}
	h.Set(api.HdrCode, "200")
	h.Set(api.HdrLog, api.EncodeLogReply(rep))
	return &bus.Msg{Header: h, Data: data}
}

// cursor is where a stream is: which container instance, and how far into
// its log file.
type cursor struct {
	id      string
	attempt int
	off     int64
}

func (c cursor) String() string {
	return c.id + "/" + strconv.Itoa(c.attempt) + "/" + strconv.FormatInt(c.off, 10)
}

func parseCursor(s string) (cursor, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" {
		return cursor{}, badRequest("log cursor %q: malformed", s)
	}
	a, err1 := strconv.Atoi(parts[1])
	off, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || a < 0 || off < 0 {
		return cursor{}, badRequest("log cursor %q: malformed", s)
	}
	return cursor{id: parts[0], attempt: a, off: off}, nil
}

// Serve answers one request: the next chunk of the stream it continues
// (or starts). It is Run's handler, exported for tests and for callers in
// the same process.
func (s *Server) Serve(ctx context.Context, req api.LogRequest) (api.LogReply, []byte, error) {
	if err := checkNames(req); err != nil {
		return api.LogReply{}, nil, err
	}
	o := lineOpts{format: s.cfg.Format, timestamps: req.Timestamps}
	if req.SinceTime != nil {
		o.since = *req.SinceTime
	}
	var cur cursor
	var path string
	if req.Cursor == "" {
		var err error
		if cur, path, err = s.open(ctx, req, o); err != nil {
			return api.LogReply{}, nil, err
		}
	} else {
		var err error
		if cur, err = parseCursor(req.Cursor); err != nil {
			return api.LogReply{}, nil, err
		}
		path = agent.LogPath(s.cfg.LogDir, req.Namespace, req.Pod, req.UID, req.Container, cur.attempt)
	}
	max := req.MaxBytes
	if max <= 0 || max > api.MaxLogChunk {
		max = api.MaxLogChunk
	}
	wait := min(req.Wait, api.MaxLogWait)
	if !req.Follow {
		wait = 0
	}
	return s.next(ctx, req, o, cur, path, max, wait)
}

// checkNames refuses names that could lead out of the pod's log directory.
func checkNames(req api.LogRequest) error {
	for _, n := range []struct{ what, v string }{{"namespace", req.Namespace}, {"pod", req.Pod}} {
		if msgs := validation.IsDNS1123Subdomain(n.v); len(msgs) > 0 {
			return badRequest("log request: %s %q: %s", n.what, n.v, msgs[0])
		}
	}
	if msgs := validation.IsDNS1123Label(req.Container); len(msgs) > 0 {
		return badRequest("log request: container %q: %s", req.Container, msgs[0])
	}
	if req.UID == "" || strings.ContainsAny(req.UID, "/\\") || req.UID == "." || req.UID == ".." {
		return badRequest("log request: pod uid %q is not valid", req.UID)
	}
	return nil
}

// instances lists the instances of the request's container, oldest
// first.
func (s *Server) instances(ctx context.Context, req api.LogRequest) ([]runtime.Container, error) {
	cs, err := s.cfg.Runtime.ListContainers(ctx, map[string]string{
		runtime.LabelPodUID: req.UID, runtime.LabelContainerName: req.Container,
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	slices.SortFunc(cs, func(a, b runtime.Container) int { return a.Attempt - b.Attempt })
	return cs, nil
}

// choose picks the instance a stream reads: the newest, or with previous
// the one before it, as the kubelet does.
func choose(cs []runtime.Container, req api.LogRequest) (runtime.Container, error) {
	if req.Previous {
		if len(cs) < 2 {
			return runtime.Container{}, badRequest("previous terminated container %q in pod %q not found", req.Container, req.Pod)
		}
		return cs[len(cs)-2], nil
	}
	if len(cs) == 0 || cs[len(cs)-1].State == runtime.StateCreated {
		reason := req.Waiting
		if reason == "" {
			reason = "ContainerCreating"
		}
		return runtime.Container{}, badRequest("container %q in pod %q is waiting to start: %s", req.Container, req.Pod, reason)
	}
	return cs[len(cs)-1], nil
}

// open starts a stream: it chooses the instance and where to start.
func (s *Server) open(ctx context.Context, req api.LogRequest, o lineOpts) (cursor, string, error) {
	cs, err := s.instances(ctx, req)
	if err != nil {
		return cursor{}, "", err
	}
	c, err := choose(cs, req)
	if err != nil {
		return cursor{}, "", err
	}
	cur := cursor{id: c.ID, attempt: c.Attempt}
	path := agent.LogPath(s.cfg.LogDir, req.Namespace, req.Pod, req.UID, req.Container, c.Attempt)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return cur, path, nil // nothing written yet
	}
	if err != nil {
		return cursor{}, "", fmt.Errorf("open log: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	st, err := f.Stat()
	if err != nil {
		return cursor{}, "", fmt.Errorf("open log: %w", err)
	}
	if !o.since.IsZero() && o.format == Raw && st.ModTime().Before(o.since) {
		cur.off = st.Size() // nothing written since then
		return cur, path, nil
	}
	if req.TailLines != nil {
		if cur.off, err = tailStart(f, st.Size(), *req.TailLines); err != nil {
			return cursor{}, "", fmt.Errorf("read log: %w", err)
		}
	}
	return cur, path, nil
}

// next reads the chunk at cur, waiting up to wait for output when there is
// none yet and the instance still runs.
func (s *Server) next(ctx context.Context, req api.LogRequest, o lineOpts, cur cursor, path string, max int, wait time.Duration) (api.LogReply, []byte, error) {
	buf := make([]byte, max)
	deadline := time.Now().Add(wait)
	var lastState time.Time
	running := true
	for {
		n, err := readAt(path, buf, cur.off)
		if err != nil {
			return api.LogReply{}, nil, err
		}
		final := false
		if n < max && !req.Follow {
			final = true // the end of the log as of now
		}
		if n < max && req.Follow && !running {
			final = true
		}
		out, used := cut(buf[:n], o, final, n == max)
		if used > 0 || final {
			next := cur
			next.off += int64(used)
			end := final && used == n
			return api.LogReply{Cursor: next.String(), End: end}, out, nil
		}
		// Nothing to send. A following reader waits while the instance
		// runs; once it has stopped, one more read takes what it wrote
		// last and ends the stream.
		now := time.Now()
		if running && now.Sub(lastState) >= s.cfg.StatePoll {
			lastState = now
			if running, err = s.stillRunning(ctx, req, cur); err != nil {
				return api.LogReply{}, nil, err
			}
			if !running {
				continue
			}
		}
		if !now.Before(deadline) {
			return api.LogReply{Cursor: cur.String()}, nil, nil
		}
		t := time.NewTimer(min(s.cfg.Poll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return api.LogReply{}, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// stillRunning reports whether the instance cur reads may still write:
// it exists, has not exited, and no newer instance has replaced it.
func (s *Server) stillRunning(ctx context.Context, req api.LogRequest, cur cursor) (bool, error) {
	cs, err := s.instances(ctx, req)
	if err != nil {
		return false, err
	}
	for _, c := range cs {
		if c.Attempt > cur.attempt {
			return false, nil
		}
		if c.ID == cur.id {
			return c.State == runtime.StateRunning || c.State == runtime.StateCreated || c.State == runtime.StateUnknown, nil
		}
	}
	return false, nil
}

// readAt reads from path at off into buf; a missing file reads as empty.
func readAt(path string, buf []byte, off int64) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read log: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	n, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("read log: %w", err)
	}
	return n, nil
}
