package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/core/bench"
)

func benchSchedulerCmd() *cobra.Command {
	var (
		cfg     bench.SchedulerConfig
		profile string
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Pods created through the API by concurrent clients, scheduled and bound onto simulated nodes (--wasm: the policy as WASM plugins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			stop, err := startCPUProfile(profile)
			if err != nil {
				return err
			}
			defer stop()
			_, err = bench.RunScheduler(cmd.Context(), cfg)
			return err
		},
	}
	cmd.Flags().IntVar(&cfg.Nodes, "nodes", 500, "simulated nodes")
	cmd.Flags().IntVar(&cfg.Pods, "pods", 5000, "pods to create, schedule and bind")
	cmd.Flags().IntVar(&cfg.Clients, "clients", 16, "concurrent clients creating pods")
	cmd.Flags().BoolVar(&cfg.WASM, "wasm", false, "run the team filter and bin-packing score as the example WASM plugins")
	cmd.Flags().StringVar(&cfg.CacheDir, "cache-dir", "", "where built plugins and compiled modules are kept (default: the user cache directory)")
	cmd.Flags().DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "bound on the measured phase")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	cmd.Flags().StringVar(&cfg.MemProfile, "memprofile", "", "write a heap profile, taken after the measured phase, to this file")
	return cmd
}
