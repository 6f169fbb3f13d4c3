package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/nodes/podbench"
)

// benchPodsCmd is `skiff bench pods`: pod start latency on containerd
// through the node agent, against an in-process control plane or
// --nats-url.
func benchPodsCmd() *cobra.Command {
	var (
		cfg     podbench.Config
		natsURL string
		profile string
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "Pod start latency on containerd (create → Running, image present): sequential pods and a burst",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cfg.Out = out
			cfg.Logger = logger(verbose)
			stop, err := startCPUProfile(profile)
			if err != nil {
				return err
			}
			defer stop()
			ctx := cmd.Context()
			if natsURL == "" {
				dir, err := os.MkdirTemp("", "skiff-bench-cp-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				pctx, stop := context.WithCancel(ctx)
				ready := make(chan controlplane.Info, 1)
				done := make(chan error, 1)
				go func() {
					done <- controlplane.Run(pctx, controlplane.Config{DataDir: dir, NATSListen: "127.0.0.1:0",
						Ready: func(in controlplane.Info) { ready <- in }})
				}()
				defer func() {
					stop()
					if err := <-done; err != nil {
						fmt.Fprintf(out, "control plane: %v\n", err)
					}
				}()
				select {
				case in := <-ready:
					natsURL = in.NATSURL
				case err := <-done:
					return fmt.Errorf("control plane: %w", err)
				case <-ctx.Done():
					return ctx.Err()
				}
				fmt.Fprintf(out, "control plane started in-process on %s\n", natsURL)
			}
			conn, err := bus.Connect(ctx, bus.ConnConfig{URL: natsURL, Name: "skiff-bench-pods"})
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = podbench.Run(ctx, conn, cfg)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Sequential, "pods", podbench.DefaultSequential, "pods created one at a time")
	f.IntVar(&cfg.Burst, "burst", podbench.DefaultBurst, "pods created at once")
	f.StringVar(&natsURL, "nats-url", "", "use this control plane instead of starting one (the bench registers its own node)")
	f.StringVar(&cfg.StateDir, "state-dir", "", "state dir of the bench node (default: a temporary one)")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", podbench.DefaultPodCIDR, "pod range of the bench node")
	f.StringVar(&cfg.Bridge, "bridge", podbench.DefaultBridge, "pod bridge of the bench node")
	f.StringVar(&cfg.Node, "node", podbench.DefaultNode, "name of the bench node")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}
