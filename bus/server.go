package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// MaxPayload is the largest NATS message the embedded server accepts. It is
// above the API server's object size limit so that a too-large object gets
// a Kubernetes error from Skiff rather than a transport error from NATS.
const MaxPayload = 8 << 20

// ServerConfig configures an embedded NATS server. The zero value is not
// usable: DataDir is required.
type ServerConfig struct {
	// DataDir holds JetStream's file store (nats-server keeps it in
	// DataDir/jetstream).
	DataDir string
	// Listen is host:port for NATS clients; port 0 or -1 picks a free port.
	// Empty means 127.0.0.1:4222.
	Listen string
	// Logger receives the server's notices; nil discards them.
	Logger *slog.Logger
}

// Embedded is a running in-process nats-server with JetStream enabled.
type Embedded struct {
	srv      *server.Server
	stopOnce sync.Once
}

// ErrNotReady is returned when the embedded server did not accept
// connections within its start-up time.
var ErrNotReady = errors.New("bus: embedded nats-server did not become ready")

// Start starts an embedded nats-server with JetStream and a file store
// under cfg.DataDir and waits until it accepts connections.
func Start(cfg ServerConfig) (*Embedded, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("bus: ServerConfig.DataDir is required")
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:4222"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("bus: nats listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("bus: nats listen port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if port < -1 || port > 65535 {
		return nil, fmt.Errorf("bus: nats listen port %d is out of range", port)
	}
	// nats-server puts its file store in StoreDir/jetstream.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("bus: create data dir: %w", err)
	}
	opts := &server.Options{
		ServerName:            "skiff",
		Host:                  host,
		Port:                  port,
		JetStream:             true,
		StoreDir:              cfg.DataDir,
		MaxPayload:            MaxPayload,
		NoSigs:                true,
		DisableShortFirstPing: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: new nats-server: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nl := &natsLogger{l: log, fatal: make(chan error, 1)}
	srv.SetLoggerV2(nl, false, false, false)
	go srv.Start()
	// A fatal start-up error (port in use, bad address) reaches us only
	// through the logger: watch for it while waiting for readiness.
	for deadline := time.Now().Add(30 * time.Second); !srv.ReadyForConnections(50 * time.Millisecond); {
		select {
		case err := <-nl.fatal:
			srv.Shutdown()
			return nil, fmt.Errorf("bus: start nats-server on %s: %w", listen, err)
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			return nil, ErrNotReady
		}
	}
	return &Embedded{srv: srv}, nil
}

// ClientURL is the nats:// URL clients use to reach the server.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it to finish. It is idempotent.
func (e *Embedded) Shutdown() {
	e.stopOnce.Do(func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	})
}

// natsLogger adapts slog to nats-server's logger interface and reports
// the first fatal error on fatal.
type natsLogger struct {
	l     *slog.Logger
	fatal chan error
}

func (n *natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Warnf(format string, v ...any)   { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	n.l.Error(msg)
	select {
	case n.fatal <- errors.New(msg):
	default:
	}
}
func (n *natsLogger) Errorf(format string, v ...any) { n.l.Error(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Debugf(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n *natsLogger) Tracef(format string, v ...any) {}
