package podio_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/skiffhq/skiff/nodes/agent"
	"github.com/skiffhq/skiff/nodes/podio"
	"github.com/skiffhq/skiff/sdk/api"
)

// A stream's position travels in its cursor, so a stream started on one
// server (agent) continues on another, as after an agent restart.
func TestLogStreamAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	path := agent.LogPath(dir, "default", "p", "u", "c", 0)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("2026-12-01T10:00:00Z one\n2026-12-01T10:00:01Z two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	newServer := func() *podio.Server {
		s, err := podio.New(podio.Config{Node: "n1", Runtime: &shell{}, LogDir: dir, Format: podio.Timestamped})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	req := api.LogRequest{Namespace: "default", Pod: "p", UID: "u", Container: "c", Follow: true, MaxBytes: 30}
	rep, data, err := newServer().Serve(t.Context(), req)
	if err != nil || string(data) != "one\n" || rep.End {
		t.Fatalf("first chunk: %q %+v %v", data, rep, err)
	}
	// The agent restarts; the container has written more meanwhile.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("2026-12-01T10:00:02Z three\n"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	req.Cursor, req.MaxBytes = rep.Cursor, 0
	rep, data, err = newServer().Serve(t.Context(), req)
	if err != nil || string(data) != "two\nthree\n" {
		t.Fatalf("after the restart: %q %+v %v", data, rep, err)
	}
}
