package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Header carries message metadata; it has the same shape as NATS headers.
type Header map[string][]string

// Get returns the first value of key, or "".
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of key with v.
func (h Header) Set(key, v string) { h[key] = []string{v} }

// Msg is a message received or sent on the bus.
type Msg struct {
	Subject string
	Header  Header
	Data    []byte
}

// ConnConfig configures a connection. The zero value connects to
// nats://127.0.0.1:4222 with a generated name.
type ConnConfig struct {
	// URL is the NATS server URL (comma-separated for a cluster).
	URL string
	// Name identifies the client in the server's monitoring.
	Name string
	// Logger receives disconnect and reconnect notices; nil discards them.
	Logger *slog.Logger
}

// Conn is a process's connection to NATS. It reconnects forever on its own;
// requests made while disconnected are buffered by the client or fail with
// their context.
type Conn struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	closeOnce sync.Once
}

// Connect dials NATS and sets up JetStream.
func Connect(ctx context.Context, cfg ConnConfig) (*Conn, error) {
	url := cfg.URL
	if url == "" {
		url = nats.DefaultURL
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectBufSize(32 << 20),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrl())
		}),
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1024))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	return &Conn{nc: nc, js: js}, nil
}

// JetStream exposes the JetStream context to the bus subpackages (store).
// Code outside bus must not use it.
func (c *Conn) JetStream() jetstream.JetStream { return c.js }

// ConnectedURL is the server URL the connection currently uses.
func (c *Conn) ConnectedURL() string { return c.nc.ConnectedUrl() }

// Close drains nothing and closes the connection. It is idempotent.
func (c *Conn) Close() { c.closeOnce.Do(c.nc.Close) }

// ErrNoResponders is returned by Request when no server listens on the subject.
var ErrNoResponders = errors.New("bus: no responders")

// Request sends m and waits for one reply until ctx ends.
func (c *Conn) Request(ctx context.Context, m *Msg) (*Msg, error) {
	out := &nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data}
	resp, err := c.nc.RequestMsgWithContext(ctx, out)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("%w on %s", ErrNoResponders, m.Subject)
		}
		return nil, fmt.Errorf("bus: request %s: %w", m.Subject, err)
	}
	return &Msg{Subject: resp.Subject, Header: Header(resp.Header), Data: resp.Data}, nil
}

// Publish sends m without waiting for anything.
func (c *Conn) Publish(m *Msg) error {
	return c.nc.PublishMsg(&nats.Msg{Subject: m.Subject, Header: nats.Header(m.Header), Data: m.Data})
}

// Handler answers one request. The returned message's Subject is ignored;
// a nil reply sends nothing. It must be safe to call concurrently.
type Handler func(ctx context.Context, req *Msg) *Msg

// ServeConfig says where Serve listens.
type ServeConfig struct {
	// Subject may contain wildcards.
	Subject string
	// Queue is the queue group: each request goes to one member.
	Queue string
	// Workers bounds the handlers running at once; <= 0 means 256.
	Workers int
	// Timeout bounds each handler's context; <= 0 means 30s.
	Timeout time.Duration
	// Ready, if set, is called once the subscription is in place.
	Ready func()
}

// Serve subscribes to cfg.Subject in the queue group cfg.Queue (so that
// several replicas share the load) and runs h for each request on a bounded
// pool of goroutines. It blocks until ctx ends, then stops taking requests,
// waits for the running handlers (whose contexts are not cancelled by ctx,
// so that a write in flight completes) and returns.
func (c *Conn) Serve(ctx context.Context, cfg ServeConfig, h Handler) error {
	workers := cfg.Workers
	if workers <= 0 {
		workers = 256
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	base := context.WithoutCancel(ctx)
	// A fixed pool of long-lived workers: their stacks have grown to what
	// handlers need, where a goroutine per request would grow a new stack
	// every time (measured: stack copying was 3-4 % of API server CPU).
	work := make(chan *nats.Msg)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				var m *nats.Msg
				select {
				case m = <-work:
				case <-quit:
					return
				}
				hctx, cancel := context.WithTimeout(base, timeout)
				resp := h(hctx, &Msg{Subject: m.Subject, Header: Header(m.Header), Data: m.Data})
				cancel()
				if resp == nil || m.Reply == "" {
					continue
				}
				_ = c.nc.PublishMsg(&nats.Msg{Subject: m.Reply, Header: nats.Header(resp.Header), Data: resp.Data})
			}
		})
	}
	defer func() {
		close(quit)
		wg.Wait()
	}()
	sub, err := c.nc.QueueSubscribe(cfg.Subject, cfg.Queue, func(m *nats.Msg) {
		// Back-pressure: blocks the subscription's dispatcher while all
		// workers are busy. A request that arrives after shutdown began is
		// dropped unanswered (the client's request times out; nothing was
		// acknowledged).
		select {
		case work <- m:
		case <-quit:
		}
	})
	if err != nil {
		return fmt.Errorf("bus: subscribe %s: %w", cfg.Subject, err)
	}
	// Let requests queue in the client rather than be dropped as a slow consumer.
	_ = sub.SetPendingLimits(-1, -1)
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = c.nc.FlushWithContext(fctx)
	cancel()
	if err != nil && ctx.Err() == nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("bus: subscribe %s: %w", cfg.Subject, err)
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	<-ctx.Done()
	_ = sub.Drain()
	// nats.go has no "drained" signal for a subscription; poll, bounded.
	for deadline := time.Now().Add(5 * time.Second); sub.IsValid() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Flush waits until the server has processed everything sent so far.
func (c *Conn) Flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return c.nc.FlushWithContext(ctx)
}
