package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

type metav1Object = metav1.Object

// NodeIndexRepairInterval is how often Run reconciles the node index.
const NodeIndexRepairInterval = time.Minute

// MaxObjectSize is the largest encoded object the server stores, as
// etcd's default request limit in Kubernetes (1.5 MiB).
const MaxObjectSize = 3 << 19

// Config configures a Server. Store is required; the rest may be zero.
type Config struct {
	// Store holds the cluster's objects.
	Store *store.Store
	// NodePods, if set, is the per-node index of bound pods that node
	// agents watch (bucket subjects.NodePodsBucket); see NodePodKey.
	NodePods *store.Store
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// RootCA, if set, is published in every namespace as the
	// kube-root-ca.crt ConfigMap (key ca.crt).
	RootCA []byte
	// CompactInterval is how often Run compacts tombstones (default 5m).
	CompactInterval time.Duration
	// Now returns the current time (default time.Now); tests may fix it.
	Now func() time.Time
}

// Server implements the API operations over the store.
type Server struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	// nsWake nudges the namespace finalizer after a namespace deletion.
	nsWake   chan struct{}
	ns       nsCache
	nodePods *store.Store
}

// New checks cfg and returns a Server. It starts nothing: call Run and the
// doors' Serve methods.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("apiserver: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CompactInterval == 0 {
		cfg.CompactInterval = 5 * time.Minute
	}
	return &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now, nsWake: make(chan struct{}, 1), nodePods: cfg.NodePods}, nil
}

// SystemNamespaces exist from the start, as in Kubernetes.
var SystemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// Bootstrap creates what clients take for granted: the system namespaces
// (each with its default ServiceAccount). It is idempotent and safe to run
// from several replicas at once.
func (s *Server) Bootstrap(ctx context.Context) error {
	for _, name := range SystemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := s.Create(ctx, api.Namespaces, "", ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("apiserver: bootstrap namespace %s: %w", name, err)
		}
		if err := s.ensureNamespaceContent(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// ensureNamespaceContent creates the objects every namespace has.
func (s *Server) ensureNamespaceContent(ctx context.Context, ns string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if _, err := s.Create(ctx, api.ServiceAccounts, ns, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("apiserver: default service account in %s: %w", ns, err)
	}
	if len(s.cfg.RootCA) > 0 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: ns},
			Data: map[string]string{"ca.crt": string(s.cfg.RootCA)}}
		if _, err := s.Create(ctx, api.ConfigMaps, ns, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("apiserver: kube-root-ca.crt in %s: %w", ns, err)
		}
	}
	return nil
}

// Run runs the server's background loops until ctx ends: the namespace
// cache, emptying and removing namespaces that are being deleted, and
// compacting tombstones.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.watchNamespaces(ctx) })
	compact := time.NewTicker(s.cfg.CompactInterval)
	defer compact.Stop()
	sweep := time.NewTicker(2 * time.Second)
	defer sweep.Stop()
	repair := time.NewTicker(NodeIndexRepairInterval)
	defer repair.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-compact.C:
			if n, err := s.store.Compact(ctx); err != nil {
				s.log.Warn("compact tombstones", "err", err)
			} else if n > 0 {
				s.log.Info("compacted tombstones", "removed", n)
			}
		case <-repair.C:
			if n, err := s.RepairNodeIndex(ctx); err != nil {
				s.log.Warn("repair node index", "err", err)
			} else if n > 0 {
				s.log.Info("repaired node index", "entries", n)
			}
		case <-s.nsWake:
			s.finalizeNamespaces(ctx)
		case <-sweep.C:
			s.finalizeNamespaces(ctx)
		}
	}
}
