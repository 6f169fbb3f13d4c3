package podio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/nodes/podio"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/api"
)

// shell is a runtime with one running container, "c" of pod uid "u",
// whose Exec runs a few commands in Go: "echo ARGS", "cat" (stdin to
// stdout), "yes N" (N bytes), "size" (waits for a resize and prints it),
// "fail N" (exit N).
type shell struct {
	mu      sync.Mutex
	running int // commands running now
}

func (*shell) ListContainers(_ context.Context, match map[string]string) ([]runtime.Container, error) {
	if match[runtime.LabelPodUID] != "u" || match[runtime.LabelContainerName] != "c" {
		return nil, nil
	}
	return []runtime.Container{{ID: "c1", Name: "c", State: runtime.StateRunning}}, nil
}

func (s *shell) Exec(ctx context.Context, _ string, req runtime.ExecRequest) (int, error) {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	arg := strings.Join(req.Cmd[1:], " ")
	switch req.Cmd[0] {
	case "echo":
		io.WriteString(req.Stdout, arg+"\n")
		if req.Stderr != nil {
			io.WriteString(req.Stderr, "to stderr\n")
		}
	case "cat":
		if _, err := io.Copy(req.Stdout, req.Stdin); err != nil {
			return 0, err
		}
	case "yes":
		n, _ := strconv.Atoi(arg)
		if _, err := req.Stdout.Write(bytes.Repeat([]byte("y"), n)); err != nil {
			return 0, err
		}
	case "size":
		select {
		case sz := <-req.Resize:
			io.WriteString(req.Stdout, strconv.Itoa(int(sz.Height))+" "+strconv.Itoa(int(sz.Width))+"\n")
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	case "lazycat":
		// Reads nothing until told to (a line on its stdin would be read
		// by then anyway: it waits for a resize).
		select {
		case <-req.Resize:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if _, err := io.Copy(req.Stdout, req.Stdin); err != nil {
			return 0, err
		}
	case "fail":
		n, _ := strconv.Atoi(arg)
		return n, nil
	case "hang":
		<-ctx.Done()
		return 137, nil
	}
	return 0, nil
}

func (s *shell) commands() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

type execClient struct {
	t    *testing.T
	conn *bus.Conn
}

func (c execClient) do(op, session string, body []byte, extra ...string) *bus.Msg {
	c.t.Helper()
	h := bus.Header{}
	h.Set(api.HdrExecOp, op)
	h.Set(api.HdrExecSession, session)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	m, err := c.conn.Request(ctx, &bus.Msg{Subject: subjects.PodExec("n1"), Header: h, Data: body})
	if err != nil {
		c.t.Fatalf("%s: %v", op, err)
	}
	return m
}

func (c execClient) start(req api.ExecStart) (string, *bus.Msg) {
	c.t.Helper()
	req.Namespace, req.Pod, req.UID = "default", "p", "u"
	if req.Container == "" {
		req.Container = "c"
	}
	b, _ := json.Marshal(req)
	m := c.do(api.ExecOpStart, "", b)
	return m.Header.Get(api.HdrExecSession), m
}

// drain reads a session to its end: stdout, stderr, exit code.
func (c execClient) drain(session string) (string, string, string) {
	c.t.Helper()
	var out, errb strings.Builder
	for {
		m := c.do(api.ExecOpRead, session, nil, api.HdrExecWait, "2s")
		if code := m.Header.Get(api.HdrCode); code != "200" {
			c.t.Fatalf("read: %s %s", code, m.Data)
		}
		if exit := m.Header.Get(api.HdrExecExit); exit != "" {
			return out.String(), errb.String(), exit
		}
		n, _ := strconv.Atoi(m.Header.Get(api.HdrExecStdout))
		out.Write(m.Data[:n])
		errb.Write(m.Data[n:])
	}
}

func TestExec(t *testing.T) {
	srv := bustest.Start(t)
	conn, err := bus.Connect(t.Context(), bus.ConnConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rt := &shell{}
	ready := make(chan struct{})
	s, err := podio.New(podio.Config{Node: "n1", Runtime: rt, LogDir: t.TempDir(),
		StdinWait: 50 * time.Millisecond, Ready: func() { close(ready) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, conn) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("podio: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("podio not ready after 30s")
	}
	c := execClient{t, conn}

	t.Run("output and exit code", func(t *testing.T) {
		id, _ := c.start(api.ExecStart{Command: []string{"echo", "hello"}})
		out, errb, code := c.drain(id)
		if out != "hello\n" || errb != "to stderr\n" || code != "0" {
			t.Fatalf("echo: %q %q %q", out, errb, code)
		}
		id, _ = c.start(api.ExecStart{Command: []string{"fail", "7"}})
		if _, _, code := c.drain(id); code != "7" {
			t.Fatalf("fail 7: exit %s", code)
		}
		// The session is gone once its exit was read.
		if m := c.do(api.ExecOpRead, id, nil); m.Header.Get(api.HdrCode) != "404" {
			t.Fatalf("read after the end: %s", m.Header.Get(api.HdrCode))
		}
	})
	t.Run("stdin", func(t *testing.T) {
		id, _ := c.start(api.ExecStart{Command: []string{"cat"}, Stdin: true})
		c.do(api.ExecOpWrite, id, []byte("one "))
		c.do(api.ExecOpWrite, id, []byte("two"), api.HdrExecEOF, "true")
		if out, _, code := c.drain(id); out != "one two" || code != "0" {
			t.Fatalf("cat: %q %s", out, code)
		}
	})
	t.Run("stdin not read", func(t *testing.T) {
		// 1 MiB for a command that reads nothing yet: the pipe takes what
		// fits, and the write answers with that count instead of blocking.
		id, _ := c.start(api.ExecStart{Command: []string{"lazycat"}, Stdin: true})
		in := bytes.Repeat([]byte("i"), 1<<20)
		m := c.do(api.ExecOpWrite, id, in)
		n, _ := strconv.Atoi(m.Header.Get(api.HdrExecWritten))
		if m.Header.Get(api.HdrCode) != "200" || n <= 0 || n >= len(in) {
			t.Fatalf("write to a command that reads nothing: %s, took %d of %d", m.Header.Get(api.HdrCode), n, len(in))
		}
		b, _ := json.Marshal(api.ExecResize{Width: 1, Height: 1})
		c.do(api.ExecOpResize, id, b) // now it reads
		// The rest goes in while the output comes out, as the API server
		// does it (the command's output would fill its pipe otherwise).
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			for rest := in[n:]; ; {
				h := bus.Header{}
				h.Set(api.HdrExecOp, api.ExecOpWrite)
				h.Set(api.HdrExecSession, id)
				h.Set(api.HdrExecEOF, "true")
				m, err := conn.Request(t.Context(), &bus.Msg{Subject: subjects.PodExec("n1"), Header: h, Data: rest})
				if err != nil {
					t.Errorf("write: %v", err) // not Fatal: another goroutine
					return
				}
				k, _ := strconv.Atoi(m.Header.Get(api.HdrExecWritten))
				if k >= len(rest) || m.Header.Get(api.HdrCode) != "200" {
					return
				}
				rest = rest[k:]
			}
		}()
		out, _, code := c.drain(id)
		<-wrote
		if len(out) != len(in) || code != "0" {
			t.Fatalf("lazycat: %d bytes, exit %s", len(out), code)
		}
	})
	t.Run("tty resize", func(t *testing.T) {
		id, _ := c.start(api.ExecStart{Command: []string{"size"}, TTY: true})
		b, _ := json.Marshal(api.ExecResize{Width: 100, Height: 30})
		c.do(api.ExecOpResize, id, b)
		if out, _, _ := c.drain(id); out != "30 100\n" {
			t.Fatalf("size: %q", out)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		// 3 MiB that nobody reads: the command is held back, not buffered.
		id, _ := c.start(api.ExecStart{Command: []string{"yes", strconv.Itoa(3 << 20)}})
		for deadline := time.Now().Add(30 * time.Second); rt.commands() == 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the command did not start")
			}
		}
		// It cannot finish while nobody reads (an unbounded buffer would
		// take its 3 MiB at once).
		time.Sleep(200 * time.Millisecond)
		if rt.commands() != 1 {
			t.Fatal("the command finished with nobody reading its output")
		}
		out, _, code := c.drain(id)
		if len(out) != 3<<20 || code != "0" {
			t.Fatalf("yes: %d bytes, exit %s", len(out), code)
		}
	})
	t.Run("close kills", func(t *testing.T) {
		id, _ := c.start(api.ExecStart{Command: []string{"hang"}})
		c.do(api.ExecOpClose, id, nil)
		for deadline := time.Now().Add(30 * time.Second); rt.commands() != 0; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the command still runs after close")
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			req  api.ExecStart
			want string
		}{
			{"no command", api.ExecStart{}, "you must specify at least 1 command"},
			{"not running", api.ExecStart{Container: "other", Command: []string{"true"}}, `container "other" in pod "p" is not running`},
		} {
			_, m := c.start(tc.req)
			if m.Header.Get(api.HdrCode) != "400" || !strings.Contains(string(m.Data), tc.want) {
				t.Errorf("%s: %s %s", tc.name, m.Header.Get(api.HdrCode), m.Data)
			}
		}
		if m := c.do(api.ExecOpWrite, "nope", []byte("x")); m.Header.Get(api.HdrCode) != "404" {
			t.Errorf("write to no session: %s", m.Header.Get(api.HdrCode))
		}
		if _, m := c.start(api.ExecStart{Command: []string{"true"}, DryRun: true}); m.Header.Get(api.HdrCode) != "200" || m.Header.Get(api.HdrExecSession) != "" {
			t.Errorf("dry run: %s session %q", m.Header.Get(api.HdrCode), m.Header.Get(api.HdrExecSession))
		}
	})
	// Stopping the server ends the commands it started.
	_, _ = c.start(api.ExecStart{Command: []string{"hang"}})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := rt.commands(); n != 0 {
		t.Fatalf("%d commands still run after Run returned", n)
	}
}
