package bustest

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/skiffhq/skiff/bus"
)

// Server is a test NATS server.
type Server struct {
	t   testing.TB
	dir string
	URL string
	emb *bus.Embedded
}

// Start starts a server whose data lives in a fresh temporary directory.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, dir: t.TempDir()}
	emb, err := bus.Start(bus.ServerConfig{DataDir: s.dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	s.emb, s.URL = emb, emb.ClientURL()
	t.Cleanup(s.Shutdown)
	return s
}

// Dir is the server's data directory.
func (s *Server) Dir() string { return s.dir }

// Shutdown stops the server; it is idempotent.
func (s *Server) Shutdown() {
	if s.emb != nil {
		s.emb.Shutdown()
	}
}

// Restart stops the server and starts it again on the same port and data
// directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	u, err := url.Parse(s.URL)
	if err != nil {
		s.t.Fatalf("parse %s: %v", s.URL, err)
	}
	var lastErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		emb, err := bus.Start(bus.ServerConfig{DataDir: s.dir, Listen: u.Host})
		if err == nil {
			s.emb = emb
			return
		}
		lastErr = err // the port can take a moment to free
	}
	s.t.Fatalf("restart nats: %v", lastErr)
}

// Connect opens a connection that is closed in t.Cleanup.
func (s *Server) Connect(t testing.TB) *bus.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := bus.Connect(ctx, bus.ConnConfig{URL: s.URL, Name: t.Name()})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
