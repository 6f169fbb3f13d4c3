package main

import (
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/core/bench"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Benchmarks that print figures (and a final RESULT line)"}
	var (
		cfg     bench.APIConfig
		profile string
	)
	api := &cobra.Command{
		Use:   "api",
		Short: "Create/update throughput over NATS at 1, 16, 64 clients and watch latency at 1, 10, 100 watchers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Out = cmd.OutOrStdout()
			stop, err := startCPUProfile(profile)
			if err != nil {
				return err
			}
			defer stop()
			_, err = bench.RunAPI(cmd.Context(), cfg)
			return err
		},
	}
	api.Flags().StringVar(&cfg.NATSURL, "nats-url", "", "benchmark this control plane instead of starting one")
	api.Flags().DurationVar(&cfg.Phase, "phase", 3*time.Second, "duration of each measured phase")
	api.Flags().IntSliceVar(&cfg.Clients, "clients", []int{1, 16, 64}, "concurrent clients of the create and update phases")
	api.Flags().IntSliceVar(&cfg.Watchers, "watchers", []int{1, 10, 100}, "watcher counts of the watch phase")
	api.Flags().IntVar(&cfg.WatchRate, "watch-rate", 500, "writes per second during the watch phase")
	api.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	cmd.AddCommand(api, benchSchedulerCmd(), benchPodsCmd())
	return cmd
}

// startCPUProfile starts a CPU profile written to path ("" : none) and
// returns the function that stops and flushes it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
