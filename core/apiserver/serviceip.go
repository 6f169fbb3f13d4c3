package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/sdk/api"
)

// DefaultServiceCIDR is the range ClusterIPs come from, as kube-apiserver's
// default. Its first address is the kubernetes Service's.
const DefaultServiceCIDR = "10.96.0.0/12"

// ipAllocator hands out ClusterIPs. An allocation is a key (the address)
// in its own bucket, created with compare-and-swap, so that replicas never
// give one address to two Services.
type ipAllocator struct {
	st     *store.Store
	prefix netip.Prefix
}

func newIPAllocator(st *store.Store, cidr string) (*ipAllocator, error) {
	if st == nil {
		return nil, nil
	}
	if cidr == "" {
		cidr = DefaultServiceCIDR
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return nil, fmt.Errorf("apiserver: service CIDR %q must be an IPv4 prefix of at least 4 addresses", cidr)
	}
	return &ipAllocator{st: st, prefix: p.Masked()}, nil
}

func ipKey(ip netip.Addr) string { return "ip." + strings.ReplaceAll(ip.String(), ".", "-") }

// first is the range's first usable address (reserved for the kubernetes
// Service).
func (a *ipAllocator) first() netip.Addr { return a.prefix.Addr().Next() }

// reserve claims ip for owner, failing with errIPTaken if it is in use.
func (a *ipAllocator) reserve(ctx context.Context, ip netip.Addr, owner string) error {
	if !a.prefix.Contains(ip) {
		return fmt.Errorf("%w: %s is not in the service range %s", errIPOutOfRange, ip, a.prefix)
	}
	_, err := a.st.Create(ctx, ipKey(ip), []byte(owner))
	if errors.Is(err, store.ErrExists) {
		e, gerr := a.st.Get(ctx, ipKey(ip))
		if gerr == nil && string(e.Value) == owner {
			return nil // already ours (a retried create)
		}
		return errIPTaken
	}
	return err
}

var (
	errIPTaken      = errors.New("provided IP is already allocated")
	errIPOutOfRange = errors.New("provided IP is not in the valid range")
)

// allocate picks a free address at random (not the first one).
func (a *ipAllocator) allocate(ctx context.Context, owner string) (netip.Addr, error) {
	base := binary.BigEndian.Uint32(a.prefix.Addr().AsSlice())
	size := uint32(1) << (32 - a.prefix.Bits())
	for range 64 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		off := 2 + binary.BigEndian.Uint32(b[:])%(size-3) // skip network, first, broadcast
		var ipb [4]byte
		binary.BigEndian.PutUint32(ipb[:], base+off)
		ip := netip.AddrFrom4(ipb)
		err := a.reserve(ctx, ip, owner)
		if err == nil {
			return ip, nil
		}
		if !errors.Is(err, errIPTaken) {
			return netip.Addr{}, err
		}
	}
	return netip.Addr{}, errors.New("no free ClusterIP found in 64 tries; the service range is nearly full")
}

func (a *ipAllocator) release(ctx context.Context, ip string, owner string) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return
	}
	e, err := a.st.Get(ctx, ipKey(addr))
	if err != nil || string(e.Value) != owner {
		return
	}
	_, _ = a.st.Delete(ctx, ipKey(addr), e.Revision, nil)
}

func needsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func svcOwner(svc *corev1.Service) string {
	return svc.Namespace + "/" + svc.Name + "/" + string(svc.UID)
}

// assignClusterIP reserves the Service's requested ClusterIP or allocates
// one. It returns a function that releases it again if the create fails.
func (s *Server) assignClusterIP(ctx context.Context, svc *corev1.Service) (undo func(), err error) {
	undo = func() {}
	if s.ips == nil || !needsClusterIP(svc) {
		return undo, nil
	}
	owner := svcOwner(svc)
	path := field.NewPath("spec", "clusterIPs").Index(0)
	if svc.Spec.ClusterIP != "" {
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if err != nil {
			return undo, nil // validation reports it
		}
		if err := s.ips.reserve(ctx, ip, owner); err != nil {
			if errors.Is(err, errIPTaken) || errors.Is(err, errIPOutOfRange) {
				return undo, invalid(api.Services, svc.Name, field.ErrorList{field.Invalid(path, svc.Spec.ClusterIP, err.Error())})
			}
			return undo, apierrors.NewInternalError(err)
		}
	} else {
		ip, err := s.ips.allocate(ctx, owner)
		if err != nil {
			return undo, apierrors.NewInternalError(err)
		}
		svc.Spec.ClusterIP = ip.String()
	}
	svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	ip := svc.Spec.ClusterIP
	return func() { s.ips.release(context.WithoutCancel(ctx), ip, owner) }, nil
}

// releaseClusterIP frees the address of a removed Service.
func (s *Server) releaseClusterIP(ctx context.Context, svc *corev1.Service) {
	if s.ips == nil || !needsClusterIP(svc) || svc.Spec.ClusterIP == "" {
		return
	}
	s.ips.release(ctx, svc.Spec.ClusterIP, svcOwner(svc))
}
