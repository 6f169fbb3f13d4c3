package daemonset

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiffhq/skiff/core/controllers/history"
	"github.com/skiffhq/skiff/core/controllers/pods"
)

// Input is what the planner sees of one DaemonSet.
type Input struct {
	DaemonSet *appsv1.DaemonSet
	// Nodes are every node of the cluster.
	Nodes []*corev1.Node
	// Pods are the pods the DaemonSet controls.
	Pods []*corev1.Pod
	// Hash is the current template's revision hash (the
	// controller-revision-hash label of up-to-date pods).
	Hash string
	// Hold: the shell's expectations are not met: report status only.
	Hold bool
	// Backoff is, per node, the back-off of failed daemon pods there (the
	// shell keeps it, as Kubernetes keeps it in memory).
	Backoff map[string]Backoff
	Now     time.Time
}

// Backoff limits how fast a node's failed daemon pods are replaced, as
// Kubernetes' failedPodsBackoff: 1 s after the first, doubling to 15 min;
// it starts over once the node has been quiet for twice the maximum.
type Backoff struct {
	Delay time.Duration
	Last  time.Time
}

// Back-off bounds for failed daemon pods (Kubernetes': 1 s to 15 min).
const (
	BackoffInitial = time.Second
	BackoffMax     = 15 * time.Minute
)

// wait is how long until b allows the next replacement (0: now).
func (b Backoff) wait(now time.Time) time.Duration {
	if b.Last.IsZero() {
		return 0
	}
	return max(b.Last.Add(b.Delay).Sub(now), 0)
}

// Next is b after a failed pod was deleted at now.
func (b Backoff) Next(now time.Time) Backoff {
	if b.Last.IsZero() || now.Sub(b.Last) > 2*BackoffMax {
		return Backoff{Delay: BackoffInitial, Last: now}
	}
	return Backoff{Delay: min(2*b.Delay, BackoffMax), Last: now}
}

// Plan is what one sync does: delete Delete, create a pod on each node of
// Create, write Status if not nil, record Events.
type Plan struct {
	Create []string
	Delete []*corev1.Pod
	Status *appsv1.DaemonSetStatus
	Events []Event
	// BackedOff are the nodes whose failed pod this plan deletes: their
	// Backoff moves on (Backoff.Next).
	BackedOff []string
	// RequeueAfter, if positive: look again then (minReadySeconds, or a
	// failed pod's back-off).
	RequeueAfter time.Duration
}

// Event is an event to record on the DaemonSet.
type Event struct{ Type, Reason, Message string }

// DefaultTolerations are the tolerations every DaemonSet pod gets, as
// Kubernetes adds them: a daemon keeps running on a node that is not
// ready, unreachable, under pressure or cordoned.
func DefaultTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	out := slices.Clone(spec.Tolerations)
	add := func(key string, effect corev1.TaintEffect) {
		t := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
		for _, have := range out {
			if have.MatchToleration(&t) {
				return
			}
		}
		out = append(out, t)
	}
	add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
	return out
}

// ShouldRun is Kubernetes' NodeShouldRunDaemonPod: whether a daemon pod
// should be started on node (its nodeName, nodeSelector and required
// node affinity match, and it tolerates the node's NoSchedule and
// NoExecute taints, with the default tolerations), and whether one
// already there may keep running (only an untolerated NoExecute taint or
// a mismatch evicts it; a new NoSchedule taint does not).
func ShouldRun(node *corev1.Node, ds *appsv1.DaemonSet) (run, keep bool) {
	return shouldRun(node, ds, DefaultTolerations(&ds.Spec.Template.Spec))
}

func shouldRun(node *corev1.Node, ds *appsv1.DaemonSet, tols []corev1.Toleration) (run, keep bool) {
	spec := &ds.Spec.Template.Spec
	if spec.NodeName != "" && spec.NodeName != node.Name {
		return false, false
	}
	if !matchesNode(spec, node) {
		return false, false
	}
	run, keep = true, true
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect != corev1.TaintEffectNoSchedule && taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if slices.ContainsFunc(tols, func(t corev1.Toleration) bool { return tolerates(&t, taint) }) {
			continue
		}
		run = false
		if taint.Effect == corev1.TaintEffectNoExecute {
			keep = false
		}
	}
	return run, keep
}

// tolerates is Toleration.ToleratesTaint for the Exists and Equal
// operators.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	}
	return false
}

// matchesNode: the pod's nodeSelector and required node affinity.
func matchesNode(spec *corev1.PodSpec, node *corev1.Node) bool {
	if len(spec.NodeSelector) > 0 && !labels.SelectorFromSet(spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false
	}
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if matchTerm(&term, node) {
			return true
		}
	}
	return false
}

// matchTerm: every expression and field requirement of the term holds;
// an empty term matches nothing, as in Kubernetes.
func matchTerm(term *corev1.NodeSelectorTerm, node *corev1.Node) bool {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false
	}
	for _, r := range term.MatchExpressions {
		v, ok := node.Labels[r.Key]
		if !matchRequirement(r, v, ok) {
			return false
		}
	}
	for _, r := range term.MatchFields {
		if r.Key != metav1.ObjectNameField || !matchRequirement(r, node.Name, true) {
			return false
		}
	}
	return true
}

func matchRequirement(r corev1.NodeSelectorRequirement, v string, ok bool) bool {
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return ok && slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpNotIn:
		return !ok || !slices.Contains(r.Values, v)
	case corev1.NodeSelectorOpExists:
		return ok
	case corev1.NodeSelectorOpDoesNotExist:
		return !ok
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !ok || len(r.Values) != 1 {
			return false
		}
		have, err1 := strconv.ParseInt(v, 10, 64)
		want, err2 := strconv.ParseInt(r.Values[0], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		if r.Operator == corev1.NodeSelectorOpGt {
			return have > want
		}
		return have < want
	}
	return false
}

// TargetNode is the node a daemon pod is for: its spec.nodeName once
// bound, else the node its affinity pins it to (matchFields
// metadata.name In [node]); "" if neither.
func TargetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return ""
	}
	for _, f := range terms[0].MatchFields {
		if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
			return f.Values[0]
		}
	}
	return ""
}

// PinToNode returns affinity with its required node affinity replaced by
// "metadata.name In [node]", as Kubernetes' DaemonSet controller does
// since 1.12: the scheduler then binds the pod to that node and no other
// (the node's labels were already checked by ShouldRun).
func PinToNode(affinity *corev1.Affinity, node string) *corev1.Affinity {
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
		{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}
	out := affinity.DeepCopy()
	if out == nil {
		out = &corev1.Affinity{}
	}
	if out.NodeAffinity == nil {
		out.NodeAffinity = &corev1.NodeAffinity{}
	}
	out.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
	return out
}

// updated reports whether p runs the current template.
func updated(p *corev1.Pod, hash string) bool { return p.Labels[history.HashLabel] == hash }

// byAge orders pods as Kubernetes' podByCreationTimestampAndPhase:
// running before pending, then oldest first, then by name.
func byAge(ps []*corev1.Pod) {
	slices.SortStableFunc(ps, func(a, b *corev1.Pod) int {
		ar, br := a.Status.Phase == corev1.PodRunning, b.Status.Phase == corev1.PodRunning
		if ar != br {
			if ar {
				return -1
			}
			return 1
		}
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// Decide plans one sync of a DaemonSet, as Kubernetes' DaemonSet
// controller: a daemon pod on every node that should run one (failed
// pods replaced, duplicates removed, pods on nodes that no longer match
// deleted), then, when nothing of that is left to do, one step of the
// RollingUpdate (maxUnavailable without surge, or maxSurge: a new pod
// beside each old one until it is available), and the status.
func Decide(in Input) Plan {
	ds := in.DaemonSet
	var plan Plan
	byNode := map[string][]*corev1.Pod{}
	for _, p := range in.Pods {
		n := TargetNode(p)
		if n == "" {
			// Not ours to place (created by hand?): Kubernetes ignores
			// it too; it counts nowhere.
			continue
		}
		byNode[n] = append(byNode[n], p)
	}
	nodes := slices.Clone(in.Nodes)
	slices.SortFunc(nodes, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	tols := DefaultTolerations(&ds.Spec.Template.Spec)
	fit := make(map[string]fitness, len(nodes))
	for _, n := range nodes {
		run, keep := shouldRun(n, ds, tols)
		fit[n.Name] = fitness{run: run, keep: keep, known: true}
	}
	surge := allowsSurge(ds)
	var backoffWait time.Duration

	if !in.Hold && ds.DeletionTimestamp == nil {
		for _, node := range nodes {
			run, keep := fit[node.Name].run, fit[node.Name].keep
			ps := byNode[node.Name]
			switch {
			case run && len(ps) == 0:
				plan.Create = append(plan.Create, node.Name)
			case keep:
				var running []*corev1.Pod
				for _, p := range ps {
					switch {
					case p.DeletionTimestamp != nil:
					case p.Status.Phase == corev1.PodFailed:
						// Where a node keeps rejecting the pod, replacing
						// it at once would loop hot: back off.
						if d := in.Backoff[node.Name].wait(in.Now); d > 0 {
							backoffWait = minPositive(backoffWait, d)
							continue
						}
						plan.BackedOff = append(plan.BackedOff, node.Name)
						plan.Delete = append(plan.Delete, p)
						plan.event(corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
					case p.Status.Phase == corev1.PodSucceeded:
						plan.Delete = append(plan.Delete, p)
					default:
						running = append(running, p)
					}
				}
				plan.Delete = append(plan.Delete, extras(running, surge, in.Hash, ds.Spec.MinReadySeconds, in.Now)...)
			case len(ps) > 0:
				for _, p := range ps {
					if p.DeletionTimestamp == nil {
						plan.Delete = append(plan.Delete, p)
					}
				}
			}
		}
		// Pods for nodes that are gone.
		var gone []string
		for n := range byNode {
			if !fit[n].known {
				gone = append(gone, n)
			}
		}
		slices.Sort(gone)
		for _, n := range gone {
			for _, p := range byNode[n] {
				if p.DeletionTimestamp == nil {
					plan.Delete = append(plan.Delete, p)
				}
			}
		}
		if len(plan.Create) == 0 && len(plan.Delete) == 0 && ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType {
			plan.rollingUpdate(in, nodes, byNode, fit)
		}
	}
	st := status(in, nodes, byNode, fit)
	if !statusEqual(&st, &ds.Status) {
		plan.Status = &st
	}
	plan.RequeueAfter = minPositive(availableIn(in, nodes, byNode), backoffWait)
	return plan
}

func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// fitness is ShouldRun's verdict on one node; known: the node exists.
type fitness struct{ run, keep, known bool }

func (p *Plan) event(typ, reason, format string, args ...any) {
	p.Events = append(p.Events, Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// extras are the running daemon pods of one node beyond the one it needs:
// without surge all but the oldest; with surge all but the oldest old and
// the oldest new, and the old one too once it is unready or the new one
// available.
func extras(running []*corev1.Pod, surge bool, hash string, minReady int32, now time.Time) []*corev1.Pod {
	if len(running) <= 1 {
		return nil
	}
	byAge(running)
	if !surge {
		return slices.Clone(running[1:])
	}
	var out []*corev1.Pod
	var oldestNew, oldestOld *corev1.Pod
	for _, p := range running {
		switch {
		case updated(p, hash) && oldestNew == nil:
			oldestNew = p
		case !updated(p, hash) && oldestOld == nil:
			oldestOld = p
		default:
			out = append(out, p)
		}
	}
	if oldestNew != nil && oldestOld != nil && (!pods.Ready(oldestOld) || pods.Available(oldestNew, minReady, now)) {
		out = append(out, oldestOld)
	}
	return out
}

func allowsSurge(ds *appsv1.DaemonSet) bool {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return false
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, 100, true)
	return err == nil && n > 0
}

// desired counts the nodes that should run a daemon pod.
func desired(fit map[string]fitness) int {
	n := 0
	for _, f := range fit {
		if f.run {
			n++
		}
	}
	return n
}

// Budgets returns maxSurge and maxUnavailable for desired nodes, both
// rounded up; both zero makes maxUnavailable 1.
func Budgets(ds *appsv1.DaemonSet, desired int) (surge, unavailable int) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru != nil {
		if ru.MaxSurge != nil {
			surge, _ = intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
		}
		if ru.MaxUnavailable != nil {
			unavailable, _ = intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true)
		} else {
			unavailable = 1
		}
	}
	if desired > 0 && surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// onNode splits a node's live daemon pods into the up-to-date one and the
// old one; ok is false when there are more than one of either (the
// manage step deals with that first).
func onNode(ps []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range ps {
		if p.DeletionTimestamp != nil {
			continue
		}
		if updated(p, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// rollingUpdate is one step of Kubernetes' rollingUpdate, nodes in name
// order.
func (plan *Plan) rollingUpdate(in Input, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, fit map[string]fitness) {
	ds := in.DaemonSet
	want := desired(fit)
	maxSurge, maxUnavailable := Budgets(ds, want)
	minReady := ds.Spec.MinReadySeconds
	avail := func(p *corev1.Pod) bool { return pods.Available(p, minReady, in.Now) }
	// The nodes to consider: those with daemon pods and those that should
	// run one.
	var names []string
	for _, n := range nodes {
		if fit[n.Name].run || len(byNode[n.Name]) > 0 {
			names = append(names, n.Name)
		}
	}
	if maxSurge == 0 {
		unavailable := 0
		var replace, candidates []*corev1.Pod
		for _, name := range names {
			newPod, oldPod, ok := onNode(byNode[name], in.Hash)
			switch {
			case !ok, oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				unavailable++
			case newPod != nil:
				if !avail(newPod) {
					unavailable++
				}
			case !avail(oldPod):
				replace = append(replace, oldPod)
			case unavailable >= maxUnavailable:
			default:
				candidates = append(candidates, oldPod)
			}
		}
		room := min(max(maxUnavailable-unavailable, 0), len(candidates))
		plan.Delete = append(append(plan.Delete, replace...), candidates[:room]...)
		return
	}
	var (
		surged, available   int
		oldDelete, mustGo   []*corev1.Pod
		candidates, allowed []string
	)
	for _, name := range names {
		newPod, oldPod, ok := onNode(byNode[name], in.Hash)
		if !ok {
			surged++
			continue
		}
		if (oldPod != nil && avail(oldPod)) || (newPod != nil && avail(newPod)) {
			available++
		}
		switch {
		case oldPod == nil:
		case newPod == nil:
			switch {
			case !avail(oldPod):
				if !fit[name].run {
					mustGo = append(mustGo, oldPod)
					continue
				}
				allowed = append(allowed, name)
			case surged >= maxSurge:
			default:
				candidates = append(candidates, name)
			}
		default:
			if !avail(newPod) {
				surged++
				continue
			}
			oldDelete = append(oldDelete, oldPod)
		}
	}
	if n := min(available-want, len(mustGo)); n > 0 {
		oldDelete = append(oldDelete, mustGo[:n]...)
	}
	room := min(max(maxSurge-surged, 0), len(candidates))
	plan.Delete = append(plan.Delete, oldDelete...)
	plan.Create = append(append(plan.Create, allowed...), candidates[:room]...)
}

// status is Kubernetes' updateDaemonSetStatus: per node that should run a
// daemon pod, its oldest pod counts scheduled, ready, available and
// updated; pods on other nodes are misscheduled.
func status(in Input, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, fit map[string]fitness) appsv1.DaemonSetStatus {
	ds := in.DaemonSet
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: ds.Status.CollisionCount,
		Conditions: ds.Status.Conditions}
	for _, node := range nodes {
		run := fit[node.Name].run
		ps := live(byNode[node.Name])
		if !run {
			if len(ps) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(ps) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		byAge(ps)
		p := ps[0]
		if pods.Ready(p) {
			st.NumberReady++
			if pods.Available(p, ds.Spec.MinReadySeconds, in.Now) {
				st.NumberAvailable++
			}
		}
		if updated(p, in.Hash) {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st
}

// live drops pods that are both terminating and finished.
func live(ps []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range ps {
		if p.DeletionTimestamp != nil && pods.Terminal(p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// availableIn is how long until a ready pod becomes available.
func availableIn(in Input, nodes []*corev1.Node, byNode map[string][]*corev1.Pod) time.Duration {
	var next time.Duration
	if in.DaemonSet.Spec.MinReadySeconds == 0 {
		return 0
	}
	for _, n := range nodes {
		for _, p := range byNode[n.Name] {
			if d := pods.AvailableIn(p, in.DaemonSet.Spec.MinReadySeconds, in.Now); d > 0 && (next == 0 || d < next) {
				next = d
			}
		}
	}
	if next > 0 {
		next += time.Second
	}
	return next
}

func statusEqual(a, b *appsv1.DaemonSetStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.DesiredNumberScheduled == b.DesiredNumberScheduled &&
		a.CurrentNumberScheduled == b.CurrentNumberScheduled && a.NumberMisscheduled == b.NumberMisscheduled &&
		a.NumberReady == b.NumberReady && a.NumberAvailable == b.NumberAvailable &&
		a.NumberUnavailable == b.NumberUnavailable && a.UpdatedNumberScheduled == b.UpdatedNumberScheduled &&
		ptrEqual(a.CollisionCount, b.CollisionCount)
}

func ptrEqual(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
