package cache

import (
	"cmp"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// Snapshot is a copy of the cache that a scheduling cycle reads without
// locks. It implements framework.NominatedLister. The zero value is not
// usable; call NewSnapshot.
type Snapshot struct {
	nodes        map[string]*framework.NodeInfo
	list         []*framework.NodeInfo
	withAffinity []*framework.NodeInfo
	withAnti     []*framework.NodeInfo
	ns           map[string]labels.Set
	images       map[string]int
	nominated    map[string][]*framework.PodInfo // by node; nil without nominations

	generation, layout, affinity, nsVersion, imgVersion, nomVersion int64
}

var _ framework.NominatedLister = (*Snapshot)(nil)

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{nodes: map[string]*framework.NodeInfo{}, layout: -1, affinity: -1, nsVersion: -1, imgVersion: -1, nomVersion: -1}
}

// List implements framework.Lister.
func (s *Snapshot) List() []*framework.NodeInfo { return s.list }

// Get implements framework.Lister.
func (s *Snapshot) Get(name string) *framework.NodeInfo {
	ni := s.nodes[name]
	if ni == nil || ni.Node() == nil {
		return nil
	}
	return ni
}

// WithAffinity implements framework.Lister.
func (s *Snapshot) WithAffinity() []*framework.NodeInfo { return s.withAffinity }

// WithRequiredAntiAffinity implements framework.Lister.
func (s *Snapshot) WithRequiredAntiAffinity() []*framework.NodeInfo { return s.withAnti }

// NamespaceLabels implements framework.Lister.
func (s *Snapshot) NamespaceLabels(ns string) labels.Set { return s.ns[ns] }

// ImageNodes implements framework.Lister.
func (s *Snapshot) ImageNodes(name string) int { return s.images[name] }

// HasNominatedPods implements framework.NominatedLister.
func (s *Snapshot) HasNominatedPods() bool { return len(s.nominated) > 0 }

// NominatedPods implements framework.NominatedLister: the pods nominated
// to node, ordered by UID.
func (s *Snapshot) NominatedPods(node string) []*framework.PodInfo { return s.nominated[node] }

// UpdateSnapshot brings s up to date with the cache, copying only the
// nodes that changed since s was last updated.
func (c *Cache) UpdateSnapshot(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for it := c.head; it != nil && it.info.Generation > s.generation; it = it.next {
		name := it.info.Name()
		if name == "" {
			continue // a node without object is not listed
		}
		dst := s.nodes[name]
		if dst == nil {
			dst = &framework.NodeInfo{}
			s.nodes[name] = dst
		}
		it.info.CopyTo(dst)
	}
	relist := s.layout != c.layout
	if relist {
		s.relist(c)
	}
	if relist || s.affinity != c.affinity {
		s.withAffinity, s.withAnti = s.withAffinity[:0], s.withAnti[:0]
		for _, ni := range s.list {
			if len(ni.PodsWithAffinity) > 0 {
				s.withAffinity = append(s.withAffinity, ni)
			}
			if len(ni.PodsWithRequiredAntiAffinity) > 0 {
				s.withAnti = append(s.withAnti, ni)
			}
		}
	}
	if s.nsVersion != c.nsVersion {
		s.ns = maps.Clone(c.ns)
	}
	if s.imgVersion != c.imgVersion {
		s.images = maps.Clone(c.images)
	}
	if s.nomVersion != c.nomVersion {
		s.nominated = nil
		if len(c.nominated) > 0 {
			s.nominated = make(map[string][]*framework.PodInfo, len(c.nominated))
			for _, n := range c.nominated {
				s.nominated[n.node] = append(s.nominated[n.node], n.pi)
			}
			for _, pods := range s.nominated {
				slices.SortFunc(pods, func(a, b *framework.PodInfo) int { return cmp.Compare(a.Pod.UID, b.Pod.UID) })
			}
		}
	}
	s.generation, s.layout, s.affinity, s.nsVersion, s.imgVersion, s.nomVersion = c.generation, c.layout, c.affinity, c.nsVersion, c.imgVersion, c.nomVersion
}

// relist rebuilds the node list: zones in order, nodes by name within a
// zone, taken round robin.
func (s *Snapshot) relist(c *Cache) {
	for name := range s.nodes {
		if it, ok := c.nodes[name]; !ok || it.info.Node() == nil {
			delete(s.nodes, name)
		}
	}
	byZone := map[string][]*framework.NodeInfo{}
	for name, ni := range s.nodes {
		z := c.nodes[name].zone
		byZone[z] = append(byZone[z], ni)
	}
	zones := slices.Sorted(maps.Keys(byZone))
	for _, z := range zones {
		slices.SortFunc(byZone[z], func(a, b *framework.NodeInfo) int { return cmp.Compare(a.Name(), b.Name()) })
	}
	s.list = s.list[:0]
	for i := 0; len(s.list) < len(s.nodes); i++ {
		for _, z := range zones {
			if i < len(byZone[z]) {
				s.list = append(s.list, byZone[z][i])
			}
		}
	}
}
