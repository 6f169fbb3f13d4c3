package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/apiserver"
	"github.com/skiffhq/skiff/core/kubeapi"
)

// Component is something that runs beside the API server (scheduler,
// controller manager, node agent). Run must block until ctx ends and
// return nil then; an error stops the whole control plane.
type Component struct {
	Name string
	Run  func(ctx context.Context, conn *bus.Conn) error
}

// Config configures a control plane. The zero value runs one on
// ./.skiff with NATS on 127.0.0.1:4222.
type Config struct {
	// DataDir holds the embedded NATS store and the connection file.
	DataDir string
	// NATSListen is where the embedded NATS server listens.
	NATSListen string
	// NATSURL, if set, is an external NATS server to use instead of
	// embedding one.
	NATSURL string
	// APIListen is where the Kubernetes REST API (HTTPS) listens; "" does
	// not serve it. Port 0 picks a free port.
	APIListen string
	// APICertFile and APIKeyFile, if set, are the HTTPS serving certificate
	// and key; otherwise a CA and certificate are generated into
	// <DataDir>/pki. APICAFile is the bundle clients should trust then.
	APICertFile, APIKeyFile, APICAFile string
	// ObjectsHistory is the objects bucket's per-key history (default 1,
	// see docs/rationale.md).
	ObjectsHistory uint8
	// Components run beside the API server.
	Components []Component
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
	// Ready, if set, is called once the API answers, with what clients need.
	Ready func(Info)
}

// Info is what clients need to reach the control plane; Run writes it to
// <DataDir>/skiff.json.
type Info struct {
	NATSURL string `json:"natsURL"`
	DataDir string `json:"dataDir"`
	// APIURL is the Kubernetes REST API's https:// URL and Kubeconfig the
	// kubeconfig written for it; both empty when it is not served.
	APIURL     string `json:"apiURL,omitempty"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
}

// InfoFile is the connection file's name inside the data directory.
const InfoFile = "skiff.json"

// ReadInfo reads the connection file of a control plane's data directory.
func ReadInfo(dataDir string) (Info, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, InfoFile))
	if err != nil {
		return Info{}, fmt.Errorf("controlplane: %w (is a control plane running with --data-dir %s?)", err, dataDir)
	}
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return Info{}, fmt.Errorf("controlplane: %s: %w", InfoFile, err)
	}
	return in, nil
}

// Run brings the control plane up and keeps it running until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.DataDir == "" {
		cfg.DataDir = ".skiff"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("controlplane: data dir: %w", err)
	}
	url := cfg.NATSURL
	if url == "" {
		emb, err := bus.Start(bus.ServerConfig{DataDir: cfg.DataDir, Listen: cfg.NATSListen, Logger: log.With("component", "nats")})
		if err != nil {
			return err
		}
		defer emb.Shutdown()
		url = emb.ClientURL()
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	conn, err := bus.Connect(cctx, bus.ConnConfig{URL: url, Name: "skiff-apiserver", Logger: log.With("component", "bus")})
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close()
	st, err := store.Open(ctx, conn, store.Config{Bucket: subjects.ObjectsBucket, History: cfg.ObjectsHistory, MaxValueSize: 2 << 20})
	if err != nil {
		return err
	}
	// Every node agent watches the node index: one consumer per node.
	nodePods, err := store.Open(ctx, conn, store.Config{Bucket: subjects.NodePodsBucket, MaxValueSize: 2 << 20, MaxConsumers: 100_000})
	if err != nil {
		return err
	}
	ips, err := store.Open(ctx, conn, store.Config{Bucket: subjects.IPAllocBucket})
	if err != nil {
		return err
	}
	var pki *kubeapi.PKI
	var rootCA []byte
	if cfg.APIListen != "" {
		pki, err = kubeapi.LoadPKI(kubeapi.PKIConfig{DataDir: cfg.DataDir, Listen: cfg.APIListen,
			CertFile: cfg.APICertFile, KeyFile: cfg.APIKeyFile, CAFile: cfg.APICAFile})
		if err != nil {
			return err
		}
		rootCA = pki.CACert
	}
	srv, err := apiserver.New(apiserver.Config{Store: st, NodePods: nodePods, IPs: ips, APIEndpoint: cfg.APIListen,
		Logger: log.With("component", "apiserver"), RootCA: rootCA})
	if err != nil {
		return err
	}
	if err := srv.Bootstrap(ctx); err != nil {
		return err
	}
	// The Kubernetes REST door (HTTPS), when asked for.
	httpsReady := make(chan kubeapi.Endpoint, 1)
	var https *kubeapi.Server
	if cfg.APIListen != "" {
		https, err = kubeapi.New(kubeapi.Config{Server: srv, Conn: conn, Listen: cfg.APIListen, DataDir: cfg.DataDir, PKI: pki,
			Logger: log.With("component", "kubeapi"), Ready: func(ep kubeapi.Endpoint) { httpsReady <- ep }})
		if err != nil {
			return err
		}
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errMu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", name, err)
				}
				errMu.Unlock()
				log.Error("component failed", "component", name, "err", err)
				stop()
			}
		})
	}
	natsReady := make(chan struct{})
	run("apiserver-nats", func(ctx context.Context) error {
		return srv.ServeNATS(ctx, conn, apiserver.NATSConfig{Ready: func() { close(natsReady) }})
	})
	run("apiserver", srv.Run)
	if https != nil {
		run("apiserver-https", https.Run)
	} else {
		httpsReady <- kubeapi.Endpoint{}
	}
	for _, c := range cfg.Components {
		run(c.Name, func(ctx context.Context) error { return c.Run(ctx, conn) })
	}
	var ep kubeapi.Endpoint
	ready := false
	select {
	case <-natsReady:
		select {
		case ep = <-httpsReady:
			ready = true
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	if ready {
		info := Info{NATSURL: url, DataDir: cfg.DataDir, APIURL: ep.URL, Kubeconfig: ep.Kubeconfig}
		if err := writeInfo(cfg.DataDir, info); err != nil {
			log.Error("write connection file", "err", err)
			stop()
		} else if cfg.Ready != nil {
			cfg.Ready(info)
		}
	}
	<-ctx.Done()
	wg.Wait()
	_ = os.Remove(filepath.Join(cfg.DataDir, InfoFile))
	return firstErr
}

func writeInfo(dir string, in Info) error {
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, InfoFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, InfoFile))
}
