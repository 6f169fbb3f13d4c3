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
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/core/gcpolicy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// GOGC=400 and a soft memory limit that follows the live heap, unless
	// GOGC or GOMEMLIMIT say otherwise (docs/rationale.md).
	go gcpolicy.Run(ctx, gcpolicy.Config{}) //nolint:errcheck // ends with ctx
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
