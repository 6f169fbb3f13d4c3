package apiservertest

import (
	"context"
	"sync"
	"testing"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/bustest"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/sdk/client"
)

// IPsBucket is the bucket Start opens for ClusterIP allocations when
// Config.IPs is set.
const IPsBucket = "ipalloc"

// Config says what Start varies; its zero value is an API server on the
// objects bucket with default store settings.
type Config struct {
	// Store configures the objects store; its Bucket is always
	// subjects.ObjectsBucket.
	Store store.Config
	// NodePods opens the per-node pod index (subjects.NodePodsBucket) and
	// gives it to the API server as Server.NodePods.
	NodePods bool
	// IPs opens IPsBucket and gives it to the API server as Server.IPs,
	// so Services get ClusterIPs.
	IPs bool
	// Server is the API server's configuration; Start fills in Store,
	// NodePods and IPs.
	Server apiserver.Config
}

// Env is a running environment. Its fields are set by Start and must not
// be changed.
type Env struct {
	// NATS is the in-process NATS server.
	NATS *bustest.Server
	// Conn is the API server's connection.
	Conn *bus.Conn
	// Store is the objects store the API server writes.
	Store *store.Store
	// NodePods is the node pod index, nil unless Config.NodePods.
	NodePods *store.Store
	// Server is the API server, bootstrapped and serving over NATS.
	Server *apiserver.Server
	// Client is a client on ClientConn, a connection of its own.
	Client *client.Client
	// ClientConn is Client's connection.
	ClientConn *bus.Conn
}

// Start starts NATS, the stores, the API server (ServeNATS and Run) and a
// client, returns once the server answers requests, and stops all of it
// in t.Cleanup. It fails t on any error.
func Start(t testing.TB, cfg Config) *Env {
	t.Helper()
	ns := bustest.Start(t)
	conn := ns.Connect(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Registered after the connection's cleanup, so it runs first: the
	// server stops before its connection closes.
	t.Cleanup(func() { cancel(); wg.Wait() })
	open := func(c store.Config) *store.Store {
		t.Helper()
		st, err := store.Open(ctx, conn, c)
		if err != nil {
			t.Fatalf("open %s: %v", c.Bucket, err)
		}
		return st
	}
	e := &Env{NATS: ns, Conn: conn}
	sc := cfg.Store
	sc.Bucket = subjects.ObjectsBucket
	e.Store = open(sc)
	acfg := cfg.Server
	acfg.Store = e.Store
	if cfg.NodePods {
		e.NodePods = open(store.Config{Bucket: subjects.NodePodsBucket})
		acfg.NodePods = e.NodePods
	}
	if cfg.IPs {
		acfg.IPs = open(store.Config{Bucket: IPsBucket})
	}
	srv, err := apiserver.New(acfg)
	if err != nil {
		t.Fatalf("new api server: %v", err)
	}
	if err := srv.Bootstrap(ctx); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	e.Server = srv
	ready := make(chan struct{})
	served := make(chan error, 1)
	wg.Go(func() { served <- srv.ServeNATS(ctx, conn, apiserver.NATSConfig{Ready: func() { close(ready) }}) })
	wg.Go(func() { _ = srv.Run(ctx) })
	select {
	case <-ready:
	case err := <-served:
		t.Fatalf("serve nats: %v", err)
	}
	e.Client, e.ClientConn = e.Connect(t)
	return e
}

// Connect returns a client on a new connection; both close in t.Cleanup.
func (e *Env) Connect(t testing.TB) (*client.Client, *bus.Conn) {
	t.Helper()
	conn := e.NATS.Connect(t)
	c, err := client.New(t.Context(), conn)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return c, conn
}
