package kubeapi

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/apiserver"
)

// DefaultListen is where the HTTPS door listens unless told otherwise.
const DefaultListen = "127.0.0.1:6443"

// Config configures the HTTPS door. Server is required; the zero value of
// the rest works.
type Config struct {
	// Server implements the operations.
	Server *apiserver.Server
	// Conn reaches the node agents, for the pods/log subresource; nil
	// answers it with a 503.
	Conn *bus.Conn
	// Listen is host:port (default DefaultListen); port 0 picks a free one.
	Listen string
	// DataDir holds pki/, the token and the kubeconfig (default ".skiff").
	DataDir string
	// CertFile, KeyFile and CAFile replace the generated serving
	// certificate (see PKIConfig).
	CertFile, KeyFile, CAFile string
	// PKI, if set, is used as is instead of being loaded from DataDir.
	PKI *PKI
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
	// Ready, if set, is called once the door takes requests.
	Ready func(Endpoint)
}

// Endpoint is what a client needs to reach the door.
type Endpoint struct {
	// URL is https://host:port.
	URL string
	// Kubeconfig is the path of the kubeconfig written for it.
	Kubeconfig string
}

// Server is the HTTPS door.
type Server struct {
	cfg  Config
	api  *apiserver.Server
	conn *bus.Conn
	log  *slog.Logger
	pki  *PKI
	info version.Info

	docsOnce sync.Once
	docs     *openAPIDocs
}

// New checks cfg, loads (or creates) the key material and returns a
// Server. It starts nothing: call Run.
func New(cfg Config) (*Server, error) {
	if cfg.Server == nil {
		return nil, errors.New("kubeapi: Config.Server is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.DataDir == "" {
		cfg.DataDir = ".skiff"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("kubeapi: listen address %q: %w", cfg.Listen, err)
	}
	p := cfg.PKI
	if p == nil {
		var err error
		p, err = LoadPKI(PKIConfig{DataDir: cfg.DataDir, Listen: cfg.Listen, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CAFile: cfg.CAFile})
		if err != nil {
			return nil, err
		}
	}
	return &Server{cfg: cfg, api: cfg.Server, conn: cfg.Conn, log: cfg.Logger, pki: p, info: versionInfo()}, nil
}

// Run listens, writes <DataDir>/kubeconfig for the address it got, and
// serves until ctx ends; then it stops taking requests, ends the open ones
// (watches included) and returns once they are gone.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("kubeapi: listen: %w", err)
	}
	ep := Endpoint{URL: "https://" + clientAddr(ln.Addr().String()), Kubeconfig: filepath.Join(s.cfg.DataDir, KubeconfigFile)}
	if err := writeFileAtomic(ep.Kubeconfig, Kubeconfig(ep.URL, s.pki), 0o600); err != nil {
		_ = ln.Close()
		return fmt.Errorf("kubeapi: write kubeconfig: %w", err)
	}
	reqCtx, cancelRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRequests()
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		// client-go multiplexes every watch of a process over one HTTP/2
		// connection; Go's default of 250 streams would stall the 251st.
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1000},
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{s.pki.Cert},
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	done := make(chan error, 1)
	go func() { done <- hs.ServeTLS(ln, "", "") }()
	s.log.Info("serving the Kubernetes API", "url", ep.URL, "kubeconfig", ep.Kubeconfig)
	if s.cfg.Ready != nil {
		s.cfg.Ready(ep)
	}
	select {
	case err := <-done:
		return fmt.Errorf("kubeapi: serve: %w", err)
	case <-ctx.Done():
	}
	// Watches never end on their own: cancel every request, then wait.
	cancelRequests()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kubeapi: serve: %w", err)
	}
	return nil
}

// clientAddr turns a listen address into one clients can dial.
func clientAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// versionInfo is what /version says: the Kubernetes version whose API
// types Skiff serves.
func versionInfo() version.Info {
	v := "v1.0.0"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" && strings.HasPrefix(d.Version, "v0.") {
				v = "v1." + strings.TrimPrefix(d.Version, "v0.")
			}
		}
	}
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	minor := "0"
	if len(parts) > 1 {
		minor = parts[1]
	}
	return version.Info{
		Major: "1", Minor: minor, GitVersion: v + "-skiff", GitTreeState: "clean",
		GoVersion: runtime.Version(), Compiler: runtime.Compiler, Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "method", req.Method, "path", req.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if rw.code == 0 {
				s.writeError(rw, req, apierrors.NewInternalError(fmt.Errorf("internal error serving %s %s", req.Method, req.URL.Path)))
			}
		}
		s.log.Debug("request", "method", req.Method, "uri", req.URL.RequestURI(), "code", rw.code, "took", time.Since(start))
	}()
	switch p := strings.TrimSuffix(req.URL.Path, "/"); {
	case p == "/healthz" || p == "/livez" || p == "/readyz" ||
		strings.HasPrefix(p, "/healthz/") || strings.HasPrefix(p, "/livez/") || strings.HasPrefix(p, "/readyz/"):
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = rw.Write([]byte("ok"))
		return
	case p == "/version":
		b, _ := json.MarshalIndent(s.info, "", "  ")
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(b)
		return
	}
	if !s.authorized(req) {
		s.writeError(rw, req, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	if err := s.route(rw, req); err != nil {
		s.writeError(rw, req, err)
	}
}

// authorized reports whether req carries the bearer token.
func (s *Server) authorized(req *http.Request) bool {
	h := req.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := strings.TrimSpace(h[len(prefix):])
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.pki.Token)) == 1
}

// statusWriter remembers the status code; Unwrap lets
// http.ResponseController reach the Flusher underneath.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
