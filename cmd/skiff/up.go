package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/core/controlplane"
)

// planeFlags are the flags shared by up and server.
type planeFlags struct {
	dataDir    string
	natsListen string
	natsURL    string
	apiListen  string
	verbose    bool
}

func (f *planeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", ".skiff", "directory for cluster state and connection files")
	cmd.Flags().StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "address of the embedded NATS server")
	cmd.Flags().StringVar(&f.natsURL, "nats-url", "", "use this external NATS server instead of embedding one")
	cmd.Flags().StringVar(&f.apiListen, "api-listen", "127.0.0.1:6443", "HTTPS address of the Kubernetes API")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "debug logging")
}

func (f *planeFlags) config(cmd *cobra.Command, components []controlplane.Component) controlplane.Config {
	return controlplane.Config{
		DataDir:    f.dataDir,
		NATSListen: f.natsListen,
		NATSURL:    f.natsURL,
		Components: components,
		Logger:     logger(f.verbose),
		Ready: func(in controlplane.Info) {
			abs, _ := filepath.Abs(in.DataDir)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "skiff: control plane ready\n")
			fmt.Fprintf(out, "  NATS:         %s\n", in.NATSURL)
			fmt.Fprintf(out, "  connection:   %s\n", filepath.Join(abs, controlplane.InfoFile))
			fmt.Fprintf(out, "  HTTPS API:    %s (not served yet: the Kubernetes REST door is issue 4)\n", f.apiListen)
			for _, c := range components {
				fmt.Fprintf(out, "  component:    %s\n", c.Name)
			}
			fmt.Fprintf(out, "Press Ctrl-C to stop.\n")
		},
	}
}

func upCmd() *cobra.Command {
	var f planeFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring up a whole cluster on this machine (control plane and, as they land, scheduler, controllers and a local node)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The scheduler, controller manager and local node agent plug in
			// here as Components once they exist.
			var components []controlplane.Component
			return controlplane.Run(cmd.Context(), f.config(cmd, components))
		},
	}
	f.register(cmd)
	return cmd
}

func serverCmd() *cobra.Command {
	var f planeFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane alone (API server over NATS, embedded NATS unless --nats-url)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return controlplane.Run(cmd.Context(), f.config(cmd, nil))
		},
	}
	f.register(cmd)
	return cmd
}
