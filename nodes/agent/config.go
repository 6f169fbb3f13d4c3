package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/nodes/lifecycle"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/client"
)

// Defaults for Config, as the kubelet's except the heartbeat: Skiff's node
// lifecycle controller marks a node lost 8 s after its last heartbeat (so
// that its pods are back elsewhere within 15 s, where Kubernetes takes
// minutes), so agents renew their Lease every 2 s, a quarter of that, as
// the kubelet renews every 10 s for a 40 s grace.
const (
	DefaultHeartbeatInterval    = 2 * time.Second
	DefaultLeaseDuration        = 8 * time.Second
	DefaultStatusInterval       = 10 * time.Second
	DefaultStatusReportInterval = 5 * time.Minute
	DefaultResyncInterval       = time.Minute
	DefaultMaxPods              = 110
)

// Config configures one node agent. Name, Runtime, Client and NodePods are
// required; every other zero field takes its default.
type Config struct {
	// Name is the node's name (a DNS subdomain).
	Name string
	// Runtime runs the node's pods. The agent does not close it.
	Runtime runtime.Runtime
	// Client reaches the API server; NodePods is the node index bucket
	// (store.Bind with subjects.NodePodsBucket). Both may be shared by
	// many agents.
	Client   *client.Client
	NodePods *store.Store

	// Labels are added to the node's well-known labels
	// (kubernetes.io/hostname, kubernetes.io/os, kubernetes.io/arch).
	Labels map[string]string
	// Taints are set when the node registers (an existing node keeps its
	// own, as with the kubelet's --register-with-taints).
	Taints []corev1.Taint
	// Capacity is the node's capacity; nil: this machine's CPUs, memory
	// and disk, and DefaultMaxPods pods. Missing resources are filled in
	// the same way.
	Capacity corev1.ResourceList
	// Reserved is subtracted from Capacity to give allocatable.
	Reserved corev1.ResourceList
	// NodeIP is the node's InternalIP; "" picks this machine's first
	// non-loopback IPv4 address (127.0.0.1 if it has none).
	NodeIP string
	// PodCIDR, if set, is recorded in the node's spec.podCIDR(s).
	PodCIDR string
	// SystemInfo, if set, replaces what the agent reads from the machine
	// (simulated nodes set their own).
	SystemInfo *corev1.NodeSystemInfo

	// HeartbeatInterval is how often the node's Lease is renewed;
	// LeaseDuration is the lease's leaseDurationSeconds.
	HeartbeatInterval, LeaseDuration time.Duration
	// HeartbeatOffset delays the first renewal after registration, so
	// that many agents started together do not renew in step (default 0).
	HeartbeatOffset time.Duration
	// StatusInterval is how often the node status is computed; it is
	// written when it changed or StatusReportInterval has passed.
	StatusInterval, StatusReportInterval time.Duration
	// ResyncInterval bounds the time between two syncs of a pod.
	ResyncInterval time.Duration
	// Backoff is the container restart back-off, PullBackoff the image
	// pull back-off (both default to 10 s doubling to 5 min).
	Backoff, PullBackoff lifecycle.Backoff

	// Ready, if set, is called once, when the node is registered and its
	// pod watch is in place.
	Ready func()

	// Images, if set, checks and pulls images in the runtime's place
	// (nodes/images: from the cluster's Object Store, else through the
	// runtime).
	Images ImagePuller

	// LogDir, if set, is where container logs go
	// (<LogDir>/<namespace>_<pod>_<uid>/<container>/<attempt>.log).
	LogDir string
	// VolumeDir, if set, holds the pods' volumes
	// (<VolumeDir>/<pod uid>/<empty-dir|configmap|secret>/<volume>), each
	// pod's removed with the pod. With "" the agent still checks that
	// configMaps and secrets exist, but gives containers no mounts.
	VolumeDir string
	// Logger receives the agent's log; nil discards it.
	Logger *slog.Logger
}

// ImagePuller answers for the runtime's ImageStatus and PullImage, with
// their contracts (nodes/images.Puller).
type ImagePuller interface {
	ImageStatus(ctx context.Context, image string) (runtime.Image, bool, error)
	PullImage(ctx context.Context, sandboxID, image string) (runtime.Image, error)
}

func (c *Config) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("agent: Config.Name is required"))
	} else if msgs := validation.IsDNS1123Subdomain(c.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("agent: node name %q: %s", c.Name, msgs[0]))
	}
	if c.Runtime == nil {
		errs = append(errs, errors.New("agent: Config.Runtime is required"))
	}
	if c.Client == nil {
		errs = append(errs, errors.New("agent: Config.Client is required"))
	}
	if c.NodePods == nil {
		errs = append(errs, errors.New("agent: Config.NodePods is required"))
	}
	if c.NodeIP != "" {
		if _, err := netip.ParseAddr(c.NodeIP); err != nil {
			errs = append(errs, fmt.Errorf("agent: node IP %q: %w", c.NodeIP, err))
		}
	}
	if c.PodCIDR != "" {
		if _, err := netip.ParsePrefix(c.PodCIDR); err != nil {
			errs = append(errs, fmt.Errorf("agent: pod CIDR %q: %w", c.PodCIDR, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.StatusReportInterval <= 0 {
		c.StatusReportInterval = DefaultStatusReportInterval
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = DefaultResyncInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
