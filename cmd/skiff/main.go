// Command skiff is Skiff's one binary: it runs the control plane (up,
// server), and talks to one (bench, ...). It only wires flags to the
// packages that do the work.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

// defaultGCPercent is the GC target when GOGC is not set. Skiff's heap is
// mostly short-lived request garbage (cluster state lives in NATS), so the
// Go default of 100 spends a large share of CPU on collection; see "Why the
// skiff binary runs with GOGC=400" in docs/rationale.md.
const defaultGCPercent = 400

// defaultMemoryLimit is the soft heap limit when GOMEMLIMIT is not set: with
// GOGC=400 the heap may otherwise grow to five times the live data. Near
// the limit the collector runs more often instead; a cluster whose live
// state needs more memory should set GOMEMLIMIT.
const defaultMemoryLimit = 400 << 20

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "Skiff: the Kubernetes architecture on a NATS bus",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCmd(), serverCmd(), withControllersBench(benchCmd()), kubeconfigCmd(), nodeCmd(), pluginCmd(), planCmd(), imageCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "skiff:", err)
		os.Exit(1)
	}
}

func logger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
