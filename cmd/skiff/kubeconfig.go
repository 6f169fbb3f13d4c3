package main

import (
	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/core/kubeapi"
)

func kubeconfigCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the kubeconfig of the control plane in --data-dir (for kubectl and client-go)",
		Example: `  skiff kubeconfig --data-dir .skiff > ~/.kube/skiff.yaml
  KUBECONFIG=~/.kube/skiff.yaml kubectl get namespaces`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := kubeapi.ReadKubeconfig(dataDir)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", ".skiff", "data directory of the control plane")
	return cmd
}
