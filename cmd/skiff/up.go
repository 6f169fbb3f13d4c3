package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controllers"
	"github.com/skiffhq/skiff/core/controllers/eventttl"
	"github.com/skiffhq/skiff/core/controllers/modulegc"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/core/scheduler"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	"github.com/skiffhq/skiff/nodes"
	"github.com/skiffhq/skiff/plugins"
)

// planeFlags are the flags shared by up and server.
type planeFlags struct {
	dataDir    string
	natsListen string
	natsURL    string
	apiListen  string
	apiCert    string
	apiKey     string
	apiCA      string
	eventTTL   time.Duration
	verbose    bool
}

func (f *planeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", ".skiff", "directory for cluster state and connection files")
	cmd.Flags().StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "address of the embedded NATS server")
	cmd.Flags().StringVar(&f.natsURL, "nats-url", "", "use this external NATS server instead of embedding one")
	cmd.Flags().StringVar(&f.apiListen, "api-listen", "127.0.0.1:6443", `HTTPS address of the Kubernetes API ("" disables it, port 0 picks one)`)
	cmd.Flags().StringVar(&f.apiCert, "api-cert-file", "", "serving certificate of the Kubernetes API (default: generated into <data-dir>/pki)")
	cmd.Flags().StringVar(&f.apiKey, "api-key-file", "", "key of --api-cert-file")
	cmd.Flags().StringVar(&f.apiCA, "api-ca-file", "", "CA bundle clients should trust with --api-cert-file (default: the certificate itself)")
	cmd.Flags().DurationVar(&f.eventTTL, "event-ttl", eventttl.DefaultTiming.TTL, "how long an Event is kept after its last activity, as kube-apiserver's --event-ttl")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "debug logging")
}

func (f *planeFlags) config(cmd *cobra.Command, components []controlplane.Component) controlplane.Config {
	return controlplane.Config{
		DataDir:     f.dataDir,
		NATSListen:  f.natsListen,
		NATSURL:     f.natsURL,
		APIListen:   f.apiListen,
		APICertFile: f.apiCert,
		APIKeyFile:  f.apiKey,
		APICAFile:   f.apiCA,
		Components:  components,
		Logger:      logger(f.verbose),
		Ready: func(in controlplane.Info) {
			abs, _ := filepath.Abs(in.DataDir)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "skiff: control plane ready\n")
			fmt.Fprintf(out, "  NATS:         %s\n", in.NATSURL)
			fmt.Fprintf(out, "  connection:   %s\n", filepath.Join(abs, controlplane.InfoFile))
			if in.APIURL != "" {
				kc, _ := filepath.Abs(in.Kubeconfig)
				fmt.Fprintf(out, "  HTTPS API:    %s\n", in.APIURL)
				fmt.Fprintf(out, "  kubeconfig:   %s\n", kc)
				fmt.Fprintf(out, "  try:          KUBECONFIG=%s kubectl get namespaces\n", kc)
			} else {
				fmt.Fprintf(out, "  HTTPS API:    off (--api-listen is empty)\n")
			}
			for _, c := range components {
				fmt.Fprintf(out, "  component:    %s\n", c.Name)
			}
			fmt.Fprintf(out, "Press Ctrl-C to stop.\n")
		},
	}
}

// leaderComponents are the control plane's leader-elected loops: every
// replica runs them and one at a time is active. The scheduler keeps
// uploaded modules and wazero's compiled code under <data-dir>/wasm-cache;
// wasm-cache-gc, not elected, removes from this replica's copy the
// modules no Plugin references.
func leaderComponents(log *slog.Logger, dataDir string, eventTTL time.Duration) []controlplane.Component {
	cache := filepath.Join(dataDir, "wasm-cache")
	modules := filepath.Join(cache, "modules")
	return []controlplane.Component{
		{Name: "scheduler", Run: func(ctx context.Context, conn *bus.Conn) error {
			blobs, err := registry.OpenBucket(ctx, conn)
			if err != nil {
				return err
			}
			return scheduler.Serve(ctx, conn, scheduler.Config{
				Logger:  log.With("component", "scheduler"),
				Modules: &registry.Modules{Blobs: blobs, Dir: modules},
				Host:    plugins.Config{CacheDir: filepath.Join(cache, "compiled")},
			})
		}},
		{Name: "controllers", Run: func(ctx context.Context, conn *bus.Conn) error {
			return controllers.RunOn(ctx, conn, controllers.Config{Logger: log.With("component", "controllers"),
				EventTTL: eventttl.Timing{TTL: eventTTL}})
		}},
		{Name: "wasm-cache-gc", Run: func(ctx context.Context, conn *bus.Conn) error {
			return modulegc.ServeDir(ctx, conn, modulegc.DirConfig{Dir: modules, Logger: log.With("component", "wasm-cache-gc")})
		}},
	}
}

func upCmd() *cobra.Command {
	var (
		f               planeFlags
		runtime         string
		podCIDR, bridge string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring up a whole cluster on this machine: control plane, scheduler, controllers and a local node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := logger(f.verbose)
			out := cmd.OutOrStdout()
			components := append(leaderComponents(log, f.dataDir, f.eventTTL),
				controlplane.Component{Name: "node", Run: nodes.Local(nodes.Config{
					Runtime:  runtime,
					StateDir: filepath.Join(f.dataDir, "node"),
					PodCIDR:  podCIDR,
					Bridge:   bridge,
					Logger:   log.With("component", "node"),
					Ready: func(names []string, rt string) {
						fmt.Fprintf(out, "  local node:   %s (runtime %s)\n", strings.Join(names, ", "), rt)
					},
				})})
			return controlplane.Run(cmd.Context(), f.config(cmd, components))
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&runtime, "runtime", "", "runtime of the local node: containerd or simulated (default: containerd when it can run, else simulated)")
	cmd.Flags().StringVar(&podCIDR, "pod-cidr", "", "containerd: the local node's pod range (default 10.88.0.0/16)")
	cmd.Flags().StringVar(&bridge, "bridge", "", "containerd: the local node's pod bridge (default skiff0; one node per bridge on a host)")
	return cmd
}

func serverCmd() *cobra.Command {
	var f planeFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane without a node (API servers, scheduler and controllers; embedded NATS unless --nats-url)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return controlplane.Run(cmd.Context(), f.config(cmd, leaderComponents(logger(f.verbose), f.dataDir, f.eventTTL)))
		},
	}
	f.register(cmd)
	return cmd
}
