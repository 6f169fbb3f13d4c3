package framework

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// MaxNodeScore is the highest score a Score plugin gives a node once its
// scores are normalized; MinNodeScore the lowest.
const (
	MaxNodeScore int64 = 100
	MinNodeScore int64 = 0
)

// Plugin is what every scheduler plugin is. A plugin implements any of
// the extension point interfaces below; a profile enables it at every
// point it implements. Plugins are built once per profile (see Factory)
// and called for many pods, concurrently across cycles (see the package
// documentation), so per-pod data belongs in the CycleState.
//
// Errors: a plugin that fails (as opposed to rejecting a node or a pod)
// returns an Error status; the framework turns it into a *PluginError and
// the pod is retried after a back-off.
type Plugin interface {
	Name() string
}

// PreEnqueuePlugin decides whether a pod may enter the active queue at
// all (scheduling gates). A non-success status keeps it waiting among the
// unschedulable pods until it is updated.
type PreEnqueuePlugin interface {
	Plugin
	PreEnqueue(ctx context.Context, pod *PodInfo) *Status
}

// PreFilterPlugin runs once per pod before Filter, over every node of the
// snapshot. It may narrow the candidates (a non-nil PreFilterResult), skip
// its own Filter for this pod (Skip), or reject the pod on every node
// (Unschedulable, UnschedulableAndUnresolvable).
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo) (*PreFilterResult, *Status)
}

// PreFilterResult restricts the nodes worth filtering. NodeNames nil
// means all nodes.
type PreFilterResult struct {
	NodeNames map[string]struct{}
}

// FilterPlugin judges every candidate node of a pod in one call. statuses
// has one entry per node, all nil on entry; the plugin sets the entry of
// each node it rejects (Unschedulable or UnschedulableAndUnresolvable)
// and leaves the others nil. The returned status is nil or Error: an
// Error means the plugin could not judge and aborts the pod's cycle.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, statuses []*Status) *Status
}

// PostFilterPlugin runs when no node passed Filter (preemption). It
// receives the rejection of every node; a Success status with a nominated
// node makes the pod retry there later. The plugins run in order until
// one succeeds; a rejection (Unschedulable, UnschedulableAndUnresolvable)
// passes the pod to the next, and may still carry a result that clears
// the pod's nomination (see PostFilterResult).
type PostFilterPlugin interface {
	Plugin
	PostFilter(ctx context.Context, state *CycleState, pod *PodInfo, rejected *Diagnosis) (*PostFilterResult, *Status)
}

// PostFilterResult is what a PostFilter plugin decided about the pod's
// nomination; the plugin decides, the scheduler does the effects.
//
// With NominatedNodeName (and a Success status), the plugin made room on
// that node once Victims are gone: the scheduler nominates the pod there
// (status.nominatedNodeName), evicts the victims (graceful deletion), and
// takes the nominations to that node away from pods of lower priority
// than the pod, whose room the pod now claims (kube-scheduler's
// prepareCandidate).
//
// ClearNomination, without a node, says the pod's nomination, if it has
// one, no longer holds: the room it waits for is gone and the plugin
// found no other (kube-scheduler's NominatingInfo with ModeOverride and
// no node). The scheduler drops it and clears status.nominatedNodeName.
// It may come with a Success or a rejection. A nil result, or one with
// neither field, leaves the nomination as it is (kube-scheduler's
// ModeNoop): for instance while the pod waits for its victims to go.
type PostFilterResult struct {
	NominatedNodeName string
	Victims           []*corev1.Pod
	ClearNomination   bool
}

// PreScorePlugin runs once per pod over the feasible nodes, before Score;
// it may prepare state or return Skip to skip its Score for this pod.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo) *Status
}

// ScorePlugin scores every feasible node of a pod in one call: scores has
// one zeroed entry per node. Scores are raw; a plugin that does not also
// implement ScoreNormalizer must produce them in [MinNodeScore,
// MaxNodeScore]. The framework multiplies them by the plugin's weight.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, scores []int64) *Status
}

// ScoreNormalizer is a ScorePlugin that maps its raw scores into
// [MinNodeScore, MaxNodeScore] once every node is scored.
type ScoreNormalizer interface {
	ScorePlugin
	NormalizeScore(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, scores []int64) *Status
}

// ReservePlugin is told when a node is chosen for a pod (Reserve, before
// the binding starts) and when that choice is undone (Unreserve, after a
// later step failed). Unreserve must be idempotent and must not fail.
type ReservePlugin interface {
	Plugin
	Reserve(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) *Status
	Unreserve(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string)
}

// PermitPlugin approves (Success), denies (Unschedulable) or delays (Wait,
// with a timeout) the binding of a pod to its node. A waiting pod is
// allowed or rejected later through the Framework's WaitingPod; it is
// rejected when the timeout passes.
type PermitPlugin interface {
	Plugin
	Permit(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) (*Status, time.Duration)
}

// PreBindPlugin prepares a binding (volumes, devices); a failure undoes
// the reservation and retries the pod.
type PreBindPlugin interface {
	Plugin
	PreBind(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) *Status
}

// BindPlugin binds the pod to the node; Skip passes the pod to the next
// binder. The first binder that does not skip decides.
type BindPlugin interface {
	Plugin
	Bind(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) *Status
}

// PostBindPlugin is told that a binding succeeded.
type PostBindPlugin interface {
	Plugin
	PostBind(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string)
}

// EnqueueExtensions is implemented by plugins that can reject pods: it
// names the cluster events after which a pod the plugin rejected may fit.
// A rejected pod waits among the unschedulable pods until one of the
// events registered by a plugin that rejected it happens (or until the
// queue's periodic flush). A plugin that rejects pods without
// implementing it makes them retry on every event.
type EnqueueExtensions interface {
	Plugin
	EventsToRegister() []ClusterEvent
}

// Lister is the cluster a cycle sees: a snapshot of every node with its
// pods, taken when the cycle starts. It is valid until the next cycle
// starts; plugins that keep data past their cycle must copy it.
type Lister interface {
	// List returns every node, in the order the scheduler samples them.
	List() []*NodeInfo
	// Get returns one node, nil if unknown.
	Get(name string) *NodeInfo
	// WithAffinity and WithRequiredAntiAffinity return the nodes that
	// have pods with pod (anti-)affinity terms, and with required
	// anti-affinity terms.
	WithAffinity() []*NodeInfo
	WithRequiredAntiAffinity() []*NodeInfo
	// NamespaceLabels returns the labels of a namespace (nil if unknown).
	NamespaceLabels(ns string) labels.Set
	// ImageNodes returns how many nodes report an image under name.
	ImageNodes(name string) int
}

// NominatedLister is a Lister that also holds the nominated pods: pods
// not bound yet that preemption nominated to a node
// (status.nominatedNodeName) and that wait for the room its evictions
// make there. While filtering, the framework counts a node's nominated
// pods of equal or higher priority than the incoming pod on that node
// (see Handle.RunFilters). The framework finds the interface with a type
// assertion; a Lister without it has no nominated pods.
type NominatedLister interface {
	Lister
	// HasNominatedPods reports whether any node has nominated pods.
	HasNominatedPods() bool
	// NominatedPods returns the pods nominated to node, nil if none. The
	// slice belongs to the lister: callers must not modify it.
	NominatedPods(node string) []*PodInfo
}

// Binder binds a pod to a node through the API server.
type Binder interface {
	Bind(ctx context.Context, namespace, name, node string) error
}

// Handle is what a plugin gets from its framework when it is built.
type Handle interface {
	// Binder binds pods (nil in simulations, which do not bind).
	Binder() Binder
	// WaitingPods lets Permit plugins allow or reject pods that wait.
	WaitingPods() *WaitingPods
	// RunFilters runs the profile's Filter plugins (those PreFilter did
	// not skip) for pod on node alone, which may be a modified copy of a
	// snapshot's NodeInfo (with Generation 0, so that no plugin caches
	// it); it returns the first rejection, nil if the node fits.
	// PostFilter plugins use it to try what evictions would change.
	//
	// When the cycle's Lister has pods nominated to the node (see
	// NominatedLister) with a priority at least pod's, the node fits
	// only if the filters pass both on node and on a copy of it with
	// those pods added, as kube-scheduler's
	// RunFilterPluginsWithNominatedPods. Filters that judge from state
	// computed at PreFilter over the whole cluster (InterPodAffinity,
	// PodTopologySpread) do not see the nominated pods.
	RunFilters(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) *Status
}
