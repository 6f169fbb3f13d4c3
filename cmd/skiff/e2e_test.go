package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffhq/skiff/core/controlplane"
)

// TestUpPrintsAndStopsCleanly runs `skiff up`, checks that the ready
// banner names the NATS URL and the connection file, and that SIGINT stops
// it with exit code 0 and removes the connection file.
func TestUpPrintsAndStopsCleanly(t *testing.T) {
	bin := buildSkiff(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	port := freePort(t)
	p := startSkiff(t, bin, "", "up", "--runtime", "simulated", "--data-dir", dataDir,
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--api-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)))

	out, err := p.waitOutput(30*time.Second, "Press Ctrl-C to stop.")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "skiff: control plane ready\n") {
		t.Errorf("stdout does not start with the ready line:\n%s", out)
	}
	wantURL := fmt.Sprintf("nats://127.0.0.1:%d", port)
	infoFile := filepath.Join(dataDir, controlplane.InfoFile)
	for _, want := range []string{"NATS:", wantURL, "connection:", infoFile} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	info, err := controlplane.ReadInfo(dataDir)
	if err != nil {
		t.Fatalf("connection file after ready: %v", err)
	}
	if info.NATSURL != wantURL {
		t.Errorf("connection file natsURL = %q, want %q", info.NATSURL, wantURL)
	}

	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("SIGINT: %v", err)
	}
	start := time.Now()
	code, exited := p.wait(10 * time.Second)
	if !exited {
		t.Fatalf("still running 10s after SIGINT")
	}
	t.Logf("exited %d, %v after SIGINT", code, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0 (%v)", code, p.err)
	}
	if fileExists(t, infoFile) {
		t.Errorf("%s still exists after a clean stop", infoFile)
	}
	if s := p.stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Errorf("stderr has a panic or stack trace:\n%s", tail(s, 4<<10))
	}
}

// TestServerStopsOnSIGTERM checks that SIGTERM is a clean stop too.
func TestServerStopsOnSIGTERM(t *testing.T) {
	bin := buildSkiff(t)
	dataDir := t.TempDir()
	p := startSkiff(t, bin, "", "server", "--data-dir", dataDir,
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--api-listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if _, err := p.waitOutput(30*time.Second, "skiff: control plane ready"); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	code, exited := p.wait(10 * time.Second)
	if !exited {
		t.Fatalf("still running 10s after SIGTERM")
	}
	if code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0 (%v)", code, p.err)
	}
	if fileExists(t, filepath.Join(dataDir, controlplane.InfoFile)) {
		t.Errorf("connection file still exists after a clean stop")
	}
}

// TestServerRejectsBadFlags checks that bad command lines fail fast with
// one plain "skiff: …" line on stderr and no panic.
func TestServerRejectsBadFlags(t *testing.T) {
	bin := buildSkiff(t)
	tests := []struct {
		name string
		args []string
		want string // substring of the error line
	}{
		{name: "listen without port", args: []string{"--nats-listen", "notaport"}, want: "notaport"},
		{name: "listen port not a number", args: []string{"--nats-listen", "127.0.0.1:notaport"}, want: "notaport"},
		{name: "unknown flag", args: []string{"--no-such-flag"}, want: "unknown flag: --no-such-flag"},
		{name: "event TTL not a duration", args: []string{"--event-ttl", "soon"}, want: "soon"},
		{name: "stray argument", args: []string{"stray"}, want: "stray"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"server", "--data-dir", filepath.Join(dir, "data")}, tt.args...)
			p := startSkiff(t, bin, dir, args...)
			code, exited := p.wait(10 * time.Second)
			if !exited {
				t.Fatalf("skiff %s still running after 10s", strings.Join(args, " "))
			}
			if code == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
			stderr := p.stderr.String()
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "skiff: ") {
				t.Errorf("stderr is not one \"skiff: …\" line:\n%s", stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr has a panic or stack trace:\n%s", stderr)
			}
			if out := p.stdout.String(); out != "" {
				t.Errorf("stdout not empty:\n%s", out)
			}
		})
	}
}
