package cache

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// ErrAssumed is returned by AssumePod for a pod the cache already has.
var ErrAssumed = errors.New("cache: pod is already in the cache")

// ErrNotAssumed is returned by ForgetPod for a pod that is not assumed.
var ErrNotAssumed = errors.New("cache: pod is not assumed")

// Cache holds every node and the pods assigned to it. The zero value is
// not usable; call New.
type Cache struct {
	mu    sync.Mutex
	nodes map[string]*item
	head  *item // the most recently changed node; the list runs oldest last
	pods  map[types.UID]*podState
	ns    map[string]labels.Set
	// images counts, per image name, the nodes that report it.
	images map[string]int
	// nominated holds the nominations of pods the cache does not have
	// (pending pods); an assumed pod's is kept in its podState.
	nominated map[types.UID]*nomination

	generation int64 // the last generation handed to a node
	layout     int64 // changes when nodes come, go or change zone
	affinity   int64 // changes when a node gains its first or loses its last pod with affinity
	nsVersion  int64 // changes with the namespaces
	imgVersion int64 // changes with images
	nomVersion int64 // changes with nominated
}

type item struct {
	info       *framework.NodeInfo
	zone       string
	prev, next *item
}

type podState struct {
	pi      *framework.PodInfo
	node    string
	assumed bool
	// nominated, for an assumed pod, is the nomination it had, restored
	// if it is forgotten.
	nominated *nomination
}

// nomination is a pending pod nominated to a node.
type nomination struct {
	pi   *framework.PodInfo
	node string
}

// New returns an empty cache.
func New() *Cache {
	return &Cache{nodes: map[string]*item{}, pods: map[types.UID]*podState{}, ns: map[string]labels.Set{}, images: map[string]int{},
		nominated: map[types.UID]*nomination{}}
}

// zoneKey is the zone a node is listed under.
func zoneKey(n *corev1.Node) string {
	if n == nil {
		return ""
	}
	region, zone := n.Labels[corev1.LabelTopologyRegion], n.Labels[corev1.LabelTopologyZone]
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// touch gives it a new generation and moves it to the head of the list.
func (c *Cache) touch(it *item) {
	c.generation++
	it.info.Generation = c.generation
	if c.head == it {
		return
	}
	if it.prev != nil {
		it.prev.next = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	}
	it.prev, it.next = nil, c.head
	if c.head != nil {
		c.head.prev = it
	}
	c.head = it
}

func (c *Cache) unlink(it *item) {
	if it.prev != nil {
		it.prev.next = it.next
	} else if c.head == it {
		c.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	}
	it.prev, it.next = nil, nil
}

// nodeItem returns the item of name, creating one without a node.
func (c *Cache) nodeItem(name string) *item {
	it, ok := c.nodes[name]
	if !ok {
		it = &item{info: framework.NewNodeInfo(nil)}
		c.nodes[name] = it
	}
	return it
}

// AddNode adds or updates a node.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it := c.nodeItem(node.Name)
	zone := zoneKey(node)
	if it.info.Node() == nil || it.zone != zone {
		c.layout++
	}
	it.zone = zone
	old := it.info.ImageSizes
	it.info.SetNode(node)
	c.countImages(old, it.info.ImageSizes)
	c.touch(it)
}

// countImages moves a node's image counts from old to cur.
func (c *Cache) countImages(old, cur map[string]int64) {
	if len(old) == 0 && len(cur) == 0 {
		return
	}
	for name := range old {
		if _, ok := cur[name]; !ok {
			if c.images[name]--; c.images[name] <= 0 {
				delete(c.images, name)
			}
		}
	}
	for name := range cur {
		if _, ok := old[name]; !ok {
			c.images[name]++
		}
	}
	c.imgVersion++
}

// UpdateNode is AddNode.
func (c *Cache) UpdateNode(node *corev1.Node) { c.AddNode(node) }

// RemoveNode removes a node. Its pods stay accounted (under a node
// without object, which no snapshot lists) until they are removed.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.nodes[name]
	if !ok {
		return
	}
	if it.info.Node() != nil {
		c.layout++
	}
	c.countImages(it.info.ImageSizes, nil)
	it.info.SetNode(nil)
	c.touch(it)
	c.dropIfEmpty(name, it)
}

func (c *Cache) dropIfEmpty(name string, it *item) {
	if it.info.Node() == nil && len(it.info.Pods) == 0 {
		c.unlink(it)
		delete(c.nodes, name)
	}
}

func (c *Cache) addToNode(pi *framework.PodInfo, node string) {
	it := c.nodeItem(node)
	hadAff, hadAnti := len(it.info.PodsWithAffinity) > 0, len(it.info.PodsWithRequiredAntiAffinity) > 0
	it.info.AddPod(pi)
	if hadAff != (len(it.info.PodsWithAffinity) > 0) || hadAnti != (len(it.info.PodsWithRequiredAntiAffinity) > 0) {
		c.affinity++
	}
	c.touch(it)
}

func (c *Cache) removeFromNode(pi *framework.PodInfo, node string) {
	it, ok := c.nodes[node]
	if !ok {
		return
	}
	hadAff, hadAnti := len(it.info.PodsWithAffinity) > 0, len(it.info.PodsWithRequiredAntiAffinity) > 0
	if !it.info.RemovePod(pi) {
		return
	}
	if hadAff != (len(it.info.PodsWithAffinity) > 0) || hadAnti != (len(it.info.PodsWithRequiredAntiAffinity) > 0) {
		c.affinity++
	}
	c.touch(it)
	c.dropIfEmpty(node, it)
}

// AssumePod accounts pi on node before its binding is confirmed. pi.Pod
// should carry node as its spec.nodeName. The pod's nomination, if any,
// is set aside: snapshots no longer list it. It fails with ErrAssumed if
// the cache already has the pod.
func (c *Cache) AssumePod(pi *framework.PodInfo, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pi.Pod.UID]; ok {
		return fmt.Errorf("assume %s/%s: %w", pi.Pod.Namespace, pi.Pod.Name, ErrAssumed)
	}
	c.addToNode(pi, node)
	c.pods[pi.Pod.UID] = &podState{pi: pi, node: node, assumed: true, nominated: c.unnominate(pi.Pod.UID)}
	return nil
}

// ForgetPod undoes AssumePod (the binding failed), restoring the pod's
// nomination if it had one. It fails with ErrNotAssumed if the pod is not
// assumed any more (the informer confirmed or removed it meanwhile),
// which leaves the cache as it is.
func (c *Cache) ForgetPod(pod *corev1.Pod) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.pods[pod.UID]
	if !ok || !st.assumed {
		return fmt.Errorf("forget %s/%s: %w", pod.Namespace, pod.Name, ErrNotAssumed)
	}
	c.removeFromNode(st.pi, st.node)
	delete(c.pods, pod.UID)
	if st.nominated != nil {
		c.nominated[pod.UID] = st.nominated
		c.nomVersion++
	}
	return nil
}

// IsAssumed reports whether the pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.pods[uid]
	return ok && st.assumed
}

// AddPod records a pod bound to pod.Spec.NodeName, confirming it if it
// was assumed (on whichever node: the informer is right). A bound pod is
// nominated nowhere.
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setPod(pod)
}

// UpdatePod is AddPod for the pod's new state.
func (c *Cache) UpdatePod(pod *corev1.Pod) { c.AddPod(pod) }

func (c *Cache) setPod(pod *corev1.Pod) {
	if st, ok := c.pods[pod.UID]; ok {
		c.removeFromNode(st.pi, st.node)
	}
	pi := framework.NewPodInfo(pod)
	c.addToNode(pi, pod.Spec.NodeName)
	c.pods[pod.UID] = &podState{pi: pi, node: pod.Spec.NodeName}
	c.unnominate(pod.UID)
}

// RemovePod removes a pod (deleted, or finished), and its nomination.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unnominate(pod.UID)
	st, ok := c.pods[pod.UID]
	if !ok {
		return
	}
	c.removeFromNode(st.pi, st.node)
	delete(c.pods, pod.UID)
}

// NominatePod records that pi, a pod not bound yet, waits on node for
// the room preemption makes there (its status.nominatedNodeName),
// replacing any earlier nomination of the pod. Snapshots then list it
// among node's nominated pods (framework.NominatedLister). For a pod the
// cache has assumed, the nomination is kept for ForgetPod to restore; a
// pod the cache has bound is ignored.
func (c *Cache) NominatePod(pi *framework.PodInfo, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := &nomination{pi: pi, node: node}
	if st, ok := c.pods[pi.Pod.UID]; ok {
		if st.assumed {
			st.nominated = n
		}
		return
	}
	c.nominated[pi.Pod.UID] = n
	c.nomVersion++
}

// RemoveNominatedPod drops the pod's nomination, if it has one (its
// nomination was cleared, or it was deleted, or it finished), and reports
// whether it had one (kept aside while assumed included).
func (c *Cache) RemoveNominatedPod(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	had := false
	if st, ok := c.pods[uid]; ok {
		had, st.nominated = st.nominated != nil, nil
	}
	return c.unnominate(uid) != nil || had
}

// RemoveNominatedBelow drops the nominations to node of the pods whose
// priority is lower than priority, and returns those pods, ordered by
// UID (nil if none): a pod of that priority was just nominated there and
// claims the room they waited for (kube-scheduler's prepareCandidate).
// Assumed pods keep the nomination they set aside (see AssumePod); it
// comes back only if their binding fails. It costs one pass over the
// nominated pods.
func (c *Cache) RemoveNominatedBelow(node string, priority int32) []*framework.PodInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*framework.PodInfo
	for uid, n := range c.nominated {
		if n.node == node && framework.PodPriority(n.pi.Pod) < priority {
			delete(c.nominated, uid)
			out = append(out, n.pi)
		}
	}
	if len(out) == 0 {
		return nil
	}
	c.nomVersion++
	slices.SortFunc(out, func(a, b *framework.PodInfo) int { return cmp.Compare(a.Pod.UID, b.Pod.UID) })
	return out
}

// unnominate drops a pending pod's nomination and returns it.
func (c *Cache) unnominate(uid types.UID) *nomination {
	if len(c.nominated) == 0 {
		return nil
	}
	n, ok := c.nominated[uid]
	if ok {
		delete(c.nominated, uid)
		c.nomVersion++
	}
	return n
}

// PodNode returns the node the cache has the pod on.
func (c *Cache) PodNode(uid types.UID) (node string, assumed, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.pods[uid]
	if !ok {
		return "", false, false
	}
	return st.node, st.assumed, true
}

// SetNamespace records a namespace's labels.
func (c *Cache) SetNamespace(ns *corev1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ns[ns.Name] = labels.Set(maps.Clone(ns.Labels))
	c.nsVersion++
}

// RemoveNamespace forgets a namespace.
func (c *Cache) RemoveNamespace(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ns, name)
	c.nsVersion++
}

// Counts returns how many nodes (with an object) and pods (and of them
// assumed) the cache has.
func (c *Cache) Counts() (nodes, pods, assumed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range c.nodes {
		if it.info.Node() != nil {
			nodes++
		}
	}
	for _, st := range c.pods {
		if st.assumed {
			assumed++
		}
	}
	return nodes, len(c.pods), assumed
}
