package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildSkiff builds this package's binary into a fresh temporary directory
// and returns its path. The Go build cache makes every build after the
// first one a link step.
func buildSkiff(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "skiff")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// output is an io.Writer that keeps everything written to it and wakes
// waiters on each write. It is safe for concurrent use.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // closed and replaced on each write
}

func newOutput() *output { return &output{wrote: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.wrote)
	o.wrote = make(chan struct{})
	return n, err
}

// snapshot returns what was written so far and a channel closed on the
// next write.
func (o *output) snapshot() (string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String(), o.wrote
}

func (o *output) String() string {
	s, _ := o.snapshot()
	return s
}

// proc is a skiff process started by a test. t.Cleanup kills it if it is
// still running and logs its output when the test failed.
type proc struct {
	cmd    *exec.Cmd
	stdout *output
	stderr *output
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, set before done is closed
}

// startSkiff starts bin with args in dir (the test's temporary directory
// when dir is "", so that a default data directory never lands in the
// source tree).
func startSkiff(t *testing.T, bin, dir string, args ...string) *proc {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p := &proc{
		cmd:    exec.Command(bin, args...),
		stdout: newOutput(),
		stderr: newOutput(),
		done:   make(chan struct{}),
	}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s %s: %v", bin, strings.Join(args, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("skiff %s (pid %d): %v\nstdout:\n%s\nstderr (last 4 KiB):\n%s",
				strings.Join(args, " "), p.cmd.Process.Pid, p.err, p.stdout, tail(p.stderr.String(), 4<<10))
		}
	})
	return p
}

// waitOutput waits until the process's stdout contains want and returns
// stdout then. It fails if the process exits first or timeout passes.
func (p *proc) waitOutput(timeout time.Duration, want string) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s, wrote := p.stdout.snapshot()
		if strings.Contains(s, want) {
			return s, nil
		}
		select {
		case <-wrote:
		case <-p.done:
			if s := p.stdout.String(); strings.Contains(s, want) {
				return s, nil
			}
			return "", fmt.Errorf("exited (%v) before printing %q", p.err, want)
		case <-timer.C:
			return "", fmt.Errorf("no %q on stdout after %v", want, timeout)
		}
	}
}

// wait waits for the process to exit and returns its exit code, or false
// when it is still running after timeout.
func (p *proc) wait(timeout time.Duration) (code int, exited bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		return 0, false
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// fileExists reports whether path exists, failing on errors other than
// "does not exist".
func fileExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err == nil {
		return true
	}
	if !os.IsNotExist(err) {
		t.Fatalf("stat %s: %v", path, err)
	}
	return false
}
