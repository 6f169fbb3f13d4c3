// Command webserver is the example workload of Skiff's examples: a small
// HTTP server that answers on :8080 (or $PORT) and exits 0 on SIGTERM
// after finishing the requests in flight. `go run ./examples/webserver/build`
// packs it into an image archive; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := ":8080"
	if p := os.Getenv("PORT"); p != "" {
		addr = ":" + p
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, addr); err != nil {
		log.Fatal(err)
	}
}

// handler answers / with a greeting naming the host and /healthz with ok.
func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintf(w, "hello from skiff webserver on %s (%s %s)\n", host, r.Method, r.URL.Path)
	})
	return mux
}

// serve serves on addr until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("webserver: listening on %s", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Printf("webserver: stopped")
	return nil
}
