package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

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
	// IPs, if set, is where ClusterIP allocations are kept; without it
	// Services get no ClusterIP.
	IPs *store.Store
	// ServiceCIDR is the ClusterIP range (default DefaultServiceCIDR).
	ServiceCIDR string
	// APIEndpoint, if set (host:port, not a loopback address), is published
	// as the endpoint of the kubernetes Service in the default namespace.
	APIEndpoint string
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
	ips      *ipAllocator
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
	ips, err := newIPAllocator(cfg.IPs, cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, now: cfg.Now, nsWake: make(chan struct{}, 1), nodePods: cfg.NodePods, ips: ips}, nil
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
	return s.ensureKubernetesService(ctx)
}

// ensureKubernetesService creates default/kubernetes, the Service clients
// in pods use to reach the API server, on the first address of the service
// range, with the API server as its endpoint when that is known.
func (s *Server) ensureKubernetesService(ctx context.Context) error {
	if s.ips == nil {
		return nil
	}
	port := int32(443)
	var eps *corev1.Endpoints
	if s.cfg.APIEndpoint != "" {
		host, p, err := net.SplitHostPort(s.cfg.APIEndpoint)
		// Like kube-apiserver's advertise address, an endpoint cannot be a
		// loopback address (Endpoints validation forbids it): on a laptop
		// cluster the Service then has no endpoints.
		ip := net.ParseIP(host)
		if n, perr := strconv.Atoi(p); err == nil && perr == nil && ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
			eps = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault},
				Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: host}},
					Ports: []corev1.EndpointPort{{Name: "https", Port: int32(n), Protocol: corev1.ProtocolTCP}}}}}
		}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
		Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{ClusterIP: s.ips.first().String(),
			Ports: []corev1.ServicePort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}}}}
	if eps != nil {
		svc.Spec.Ports[0].TargetPort = intstr.FromInt32(eps.Subsets[0].Ports[0].Port)
	}
	if _, err := s.Create(ctx, api.Services, metav1.NamespaceDefault, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("apiserver: kubernetes service: %w", err)
	}
	if eps == nil {
		return nil
	}
	cur, err := s.Get(ctx, api.EndpointsRes, metav1.NamespaceDefault, "kubernetes")
	switch {
	case apierrors.IsNotFound(err):
		_, err = s.Create(ctx, api.EndpointsRes, metav1.NamespaceDefault, eps, metav1.CreateOptions{})
	case err == nil:
		eps.ResourceVersion = cur.(*corev1.Endpoints).ResourceVersion
		_, err = s.Update(ctx, api.EndpointsRes, metav1.NamespaceDefault, "kubernetes", "", eps, metav1.UpdateOptions{})
	}
	if err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("apiserver: kubernetes endpoints: %w", err)
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
