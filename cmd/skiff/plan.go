package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/core/scheduler/plan"
)

func planCmd() *cobra.Command {
	var (
		cf    clusterFlags
		file  string
		nodes int
	)
	cmd := &cobra.Command{
		Use:   "plan -f manifest.yaml",
		Short: "Show where the manifest's pods would be scheduled, and why, without creating anything",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return err
			}
			pods, skipped, err := plan.Pods(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			conn, err := cf.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer conn.Close()
			resp, err := plan.Ask(cmd.Context(), conn, pods)
			if err != nil {
				return err
			}
			if len(skipped) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "skipped (no pods to place): %s\n", strings.Join(skipped, ", "))
			}
			return plan.Print(cmd.OutOrStdout(), resp, plan.PrintOptions{MaxNodes: nodes})
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVarP(&file, "filename", "f", "", "manifest (YAML or JSON; - for standard input)")
	cmd.Flags().IntVar(&nodes, "nodes", 5, "scored and rejected nodes shown per pod (0: all)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
