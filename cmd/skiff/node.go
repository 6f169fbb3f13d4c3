package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/controlplane"
	"github.com/skiffhq/skiff/nodes"
	"github.com/skiffhq/skiff/nodes/agent"
)

func nodeCmd() *cobra.Command {
	var (
		server, dataDir       string
		cfg                   nodes.Config
		taints                []string
		cpu, memory, pods     string
		backoffInit, backoffM time.Duration
		verbose               bool
	)
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run a node agent (or many simulated ones) against a control plane",
		Example: `  skiff node --server nats://127.0.0.1:4222 --name n1 --runtime simulated
  skiff node --server nats://127.0.0.1:4222 --simulate 2000 --name-prefix sim-`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = logger(verbose)
			for _, s := range taints {
				t, err := nodes.ParseTaint(s)
				if err != nil {
					return err
				}
				cfg.Taints = append(cfg.Taints, t)
			}
			for name, v := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory, corev1.ResourcePods: pods} {
				if v == "" {
					continue
				}
				q, err := resource.ParseQuantity(v)
				if err != nil {
					return fmt.Errorf("--%s: %w", name, err)
				}
				if cfg.Capacity == nil {
					cfg.Capacity = corev1.ResourceList{}
				}
				cfg.Capacity[name] = q
			}
			cfg.Backoff.Initial, cfg.Backoff.Max = backoffInit, backoffM
			if server == "" {
				in, err := controlplane.ReadInfo(dataDir)
				if err != nil {
					return fmt.Errorf("no --server given: %w", err)
				}
				server = in.NATSURL
			}
			out := cmd.OutOrStdout()
			cfg.Ready = func(names []string, rt string) {
				if len(names) == 1 {
					fmt.Fprintf(out, "skiff: node %s registered (runtime %s, server %s)\n", names[0], rt, server)
				} else {
					fmt.Fprintf(out, "skiff: %d nodes registered, %s … %s (runtime %s, server %s)\n", len(names), names[0], names[len(names)-1], rt, server)
				}
			}
			cctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			conn, err := bus.Connect(cctx, bus.ConnConfig{URL: server, Name: "skiff-node", Logger: cfg.Logger.With("component", "bus")})
			cancel()
			if err != nil {
				return err
			}
			defer conn.Close()
			return nodes.Run(cmd.Context(), conn, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "NATS URL of the control plane (default: the connection file in --data-dir)")
	f.StringVar(&dataDir, "data-dir", ".skiff", "data directory of a local control plane, to find --server")
	f.StringVar(&cfg.Name, "name", "", "node name (default: this machine's host name)")
	f.IntVar(&cfg.Count, "simulate", 0, "run this many simulated nodes in this process")
	f.StringVar(&cfg.NamePrefix, "name-prefix", "sim-", "name prefix of simulated nodes")
	f.StringVar(&cfg.Runtime, "runtime", "", "simulated or containerd (default: containerd when it can run, else simulated)")
	f.StringVar(&cfg.StateDir, "state-dir", "", "directory for node state (logs, containerd's private daemon, simulated runtime state); required for containerd")
	f.StringVar(&cfg.ContainerdAddress, "containerd-address", "", "socket of an existing containerd daemon (default: start a private one under --state-dir)")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", "", "containerd: this node's pod range on its bridge (default 10.88.0.0/16; must not overlap the 10.96.0.0/12 service range)")
	f.StringVar(&cfg.Bridge, "bridge", "", "containerd: name of the pod bridge (default skiff0)")
	f.StringSliceVar(&cfg.CNIPluginDirs, "cni-bin-dir", nil, "containerd: directories of the CNI plugins (default /usr/lib/cni,/opt/cni/bin)")
	f.StringVar(&cfg.CNIConfList, "cni-conf", "", "containerd: a CNI .conflist to attach pods to instead of the generated bridge network")
	f.StringToStringVar(&cfg.Labels, "labels", nil, "extra node labels (k=v,...)")
	f.StringSliceVar(&taints, "taints", nil, "taints to register with (key[=value]:Effect,...)")
	f.StringVar(&cpu, "cpu", "", "CPU capacity (default: this machine's; 8 for simulated nodes)")
	f.StringVar(&memory, "memory", "", "memory capacity (default: this machine's; 32Gi for simulated nodes)")
	f.StringVar(&pods, "pods", "", "pod capacity (default 110)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "node InternalIP (default: this machine's first IPv4 address)")
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", agent.DefaultHeartbeatInterval, "how often the node Lease is renewed (the node lifecycle controller marks a node lost after 8s without one)")
	f.DurationVar(&cfg.StatusReportInterval, "status-report-interval", 5*time.Minute, "how often an unchanged node status is written anyway")
	f.DurationVar(&backoffInit, "backoff-initial", 10*time.Second, "first restart back-off of crashing containers")
	f.DurationVar(&backoffM, "backoff-max", 5*time.Minute, "longest restart back-off")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}
