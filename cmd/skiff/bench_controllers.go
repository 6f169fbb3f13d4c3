package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/core/bench"
)

// withControllersBench adds `skiff bench controllers` to the bench command.
func withControllersBench(cmd *cobra.Command) *cobra.Command {
	var (
		cfg     bench.ControllersConfig
		verbose bool
	)
	c := &cobra.Command{
		Use:   "controllers",
		Short: "A Deployment of 10,000 replicas on 1,000 simulated nodes: time to all available and the control plane's peak RSS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			cfg.NodeCommand = []string{exe, "node"}
			cfg.Out = cmd.OutOrStdout()
			if verbose {
				cfg.Logger = logger(true)
			}
			_, err = bench.RunControllers(cmd.Context(), cfg)
			return err
		},
	}
	c.Flags().IntVar(&cfg.Nodes, "nodes", 1000, "simulated nodes (run by a child `skiff node --simulate` process)")
	c.Flags().IntVar(&cfg.Replicas, "replicas", 10000, "replicas of the Deployment")
	c.Flags().DurationVar(&cfg.Timeout, "timeout", 10*time.Minute, "give up after this long")
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "log the control plane")
	cmd.AddCommand(c)
	return cmd
}
