package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// clusterFlags find the control plane a client command talks to.
type clusterFlags struct {
	server, dataDir string
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.server, "server", "", "NATS URL of the control plane (default: the connection file in --data-dir)")
	cmd.PersistentFlags().StringVar(&f.dataDir, "data-dir", ".skiff", "data directory of a local control plane, to find --server")
}

func (f *clusterFlags) connect(ctx context.Context) (*bus.Conn, error) {
	server := f.server
	if server == "" {
		in, err := controlplane.ReadInfo(f.dataDir)
		if err != nil {
			return nil, fmt.Errorf("no --server given: %w", err)
		}
		server = in.NATSURL
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return bus.Connect(cctx, bus.ConnConfig{URL: server, Name: "skiff-cli", Logger: slog.New(slog.DiscardHandler)})
}

func pluginCmd() *cobra.Command {
	var cf clusterFlags
	cmd := &cobra.Command{Use: "plugin", Short: "Upload, list and roll back WebAssembly scheduler plugins"}
	cf.register(cmd)
	cmd.AddCommand(pluginPushCmd(&cf), pluginLsCmd(&cf), pluginRollbackCmd(&cf))
	return cmd
}

func withRegistry(cmd *cobra.Command, cf *clusterFlags, f func(*registry.Registry) error) error {
	conn, err := cf.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer conn.Close()
	r, err := registry.Open(cmd.Context(), conn)
	if err != nil {
		return err
	}
	return f(r)
}

func pluginPushCmd(cf *clusterFlags) *cobra.Command {
	var (
		p        registry.Push
		kind     string
		settings string
		policy   string
		wait     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "push --name NAME [--kind scheduler] [--settings JSON|@file] FILE.wasm",
		Short: "Upload a module as the plugin's new version; every scheduler swaps to it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			p.Wasm, p.Kind, p.FailurePolicy = wasm, skiffv1alpha1.PluginKind(kind), skiffv1alpha1.FailurePolicy(policy)
			if p.Settings, err = readSettings(settings); err != nil {
				return err
			}
			return withRegistry(cmd, cf, func(r *registry.Registry) error {
				out, err := r.Push(cmd.Context(), p)
				if err != nil {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				what := fmt.Sprintf("plugin %s %s (%s, %d bytes)", out.Name, out.Spec.Version, registry.ShortDigest(out.Spec.Digest), out.Spec.Size)
				return waitServing(cmd, r, out.Name, out.Spec.Version, what, "pushed", wait)
			})
		},
	}
	cmd.Flags().StringVar(&p.Name, "name", "", "plugin name (required)")
	cmd.Flags().StringVar(&kind, "kind", string(skiffv1alpha1.KindScheduler), "plugin kind: scheduler")
	cmd.Flags().StringVar(&settings, "settings", "", "the module's settings: JSON, or @file")
	cmd.Flags().StringVar(&policy, "failure-policy", "", "Fail (default) or Ignore: what a failed call means")
	cmd.Flags().StringVar(&p.Version, "version", "", `version name (default "v" and the next number)`)
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "wait this long for the leading scheduler to serve the version (0: do not wait)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func pluginLsCmd(cf *clusterFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List plugins: version, digest, state, calls, errors, latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRegistry(cmd, cf, func(r *registry.Registry) error {
				ps, err := r.List(cmd.Context())
				if err != nil {
					return err
				}
				return registry.PrintList(cmd.OutOrStdout(), ps)
			})
		},
	}
}

func pluginRollbackCmd(cf *clusterFlags) *cobra.Command {
	var (
		name, to string
		wait     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rollback --name NAME [--to-version V]",
		Short: "Go back to the previous version of a plugin (or to --to-version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRegistry(cmd, cf, func(r *registry.Registry) error {
				out, err := r.Rollback(cmd.Context(), name, to)
				if err != nil {
					return err
				}
				what := fmt.Sprintf("plugin %s %s (%s)", out.Name, out.Spec.Version, registry.ShortDigest(out.Spec.Digest))
				return waitServing(cmd, r, out.Name, out.Spec.Version, what, "rolled back to", wait)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "plugin name (required)")
	cmd.Flags().StringVar(&to, "to-version", "", "version to go back to (default: the one before the current)")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "wait this long for the leading scheduler to serve the version (0: do not wait)")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// waitServing prints the one line a push or rollback ends with.
func waitServing(cmd *cobra.Command, r *registry.Registry, name, version, what, verb string, wait time.Duration) error {
	out := cmd.OutOrStdout()
	if wait <= 0 {
		fmt.Fprintf(out, "skiff: %s %s\n", verb, what)
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), wait)
	defer cancel()
	err := r.WaitServing(ctx, name, version)
	switch {
	case err == nil:
		fmt.Fprintf(out, "skiff: %s %s; the scheduler serves it\n", verb, what)
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(out, "skiff: %s %s; no scheduler reported serving it within %s\n", verb, what, wait)
		return nil
	}
	return err
}

func readSettings(s string) ([]byte, error) {
	if file, ok := strings.CutPrefix(s, "@"); ok {
		return os.ReadFile(file)
	}
	if s == "" {
		return nil, nil
	}
	return []byte(s), nil
}
