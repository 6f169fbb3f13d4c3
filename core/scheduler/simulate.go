package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// Cluster is the input of a simulation: nodes, namespaces, pods already
// placed (with spec.nodeName), and Nominated: pods that wait for the room
// preemption made for them on a node (status.nominatedNodeName, no
// spec.nodeName) and that the simulation does not place, whose room the
// pods it places leave to them as in the scheduler.
type Cluster struct {
	Nodes      []*corev1.Node
	Namespaces []*corev1.Namespace
	Pods       []*corev1.Pod
	Nominated  []*corev1.Pod
}

// SimulateConfig configures Simulate. The zero value runs the default
// profile.
type SimulateConfig struct {
	// Profiles and Registry as in Config.
	Profiles []framework.Profile
	Registry framework.Registry
	// PercentageOfNodesToScore as in Config.
	PercentageOfNodesToScore int32
	// Seed seeds the tie breaks between nodes of equal score.
	Seed uint64
	// Explain keeps each placed pod's node scores.
	Explain bool
}

// Placement is what the scheduler would do with one pod.
type Placement struct {
	Pod *corev1.Pod
	// Node is where it would be bound, "" when it would not be.
	Node string
	// Err says why it would not be bound: a *framework.FitError (no node
	// fits), a *framework.Rejection, or a *framework.PluginError.
	Err error
	// WaitingOn lists the Permit plugins that would hold it back.
	WaitingOn []string
	// Scores, with Explain, are the scored nodes, best first.
	Scores []framework.NodeScore
	// Rejected, with Explain, are the nodes Filter plugins rejected (for
	// a pod that found no node, also in Err's Diagnosis).
	Rejected []framework.NodeRejection
	// Evaluated and Feasible count the nodes filtered and passed.
	Evaluated, Feasible int
}

// Simulate schedules pending on c as the scheduler would, one pod after
// another in queue order (priority, then the order given), each seeing
// the earlier ones placed, and changes nothing: no binding, no event, no
// API call. Pending pods with a status.nominatedNodeName, and those that
// preemption nominates along the way, count as nominated to their node
// (see framework.NominatedLister) until they are placed or, as in the
// scheduler, their nomination is cleared: preemption found no node for
// them, or a pod of higher priority was nominated to their node (a
// pending pod that loses its nomination so is tried without it). It is the
// scheduler's decision core without its effects, for tests, dry runs and
// explanations.
func Simulate(ctx context.Context, cfg SimulateConfig, c Cluster, pending []*corev1.Pod) ([]Placement, error) {
	if cfg.Registry == nil {
		cfg.Registry = builtin.Registry()
	}
	if len(cfg.Profiles) == 0 {
		cfg.Profiles = []framework.Profile{builtin.DefaultProfile()}
	}
	profiles, err := buildProfiles(cfg.Profiles, cfg.Registry, framework.Options{PercentageOfNodesToScore: cfg.PercentageOfNodesToScore})
	if err != nil {
		return nil, err
	}
	return simulate(ctx, profiles, cfg.Seed, cfg.Explain, c, pending)
}

// simulate is Simulate over built profiles. The frameworks may be live
// ones: simulate runs their scheduling cycles (PreFilter to Permit) but
// never a binding cycle.
func simulate(ctx context.Context, profiles map[string]*framework.Framework, seed uint64, explain bool, c Cluster, pending []*corev1.Pod) ([]Placement, error) {
	e := newEngine(profiles, seed)
	for _, n := range c.Nodes {
		e.cache.AddNode(n)
	}
	for _, ns := range c.Namespaces {
		e.cache.SetNamespace(ns)
	}
	for _, p := range c.Pods {
		if p.Spec.NodeName == "" {
			return nil, fmt.Errorf("scheduler: simulate: existing pod %s/%s has no node", p.Namespace, p.Name)
		}
		if !terminal(p) {
			e.cache.AddPod(withUID(p))
		}
	}
	for _, p := range c.Nominated {
		if p.Spec.NodeName != "" || p.Status.NominatedNodeName == "" {
			return nil, fmt.Errorf("scheduler: simulate: nominated pod %s/%s has a node or no nominated node", p.Namespace, p.Name)
		}
		p = withUID(p)
		e.cache.NominatePod(framework.NewPodInfo(p), p.Status.NominatedNodeName)
	}
	order := slices.Clone(pending)
	slices.SortStableFunc(order, func(a, b *corev1.Pod) int { return cmp.Compare(framework.PodPriority(b), framework.PodPriority(a)) })
	infos := make([]*framework.PodInfo, len(order))
	index := make(map[types.UID]int, len(order)) // in infos
	for i, p := range order {
		infos[i] = framework.NewPodInfo(withUID(p))
		index[infos[i].Pod.UID] = i
		_, ours := profiles[p.Spec.SchedulerName]
		if nn := p.Status.NominatedNodeName; nn != "" && ours && p.Spec.NodeName == "" && p.DeletionTimestamp == nil && !terminal(p) {
			e.cache.NominatePod(infos[i], nn) // as the informer's handler
		}
	}
	out := make([]Placement, 0, len(order))
	for _, pi := range infos { // reads infos[i] as the loop gets there: see below
		p := pi.Pod
		pl := Placement{Pod: p}
		fw, ok := profiles[p.Spec.SchedulerName]
		if !ok {
			pl.Err = fmt.Errorf("no profile for schedulerName %q", p.Spec.SchedulerName)
			out = append(out, pl)
			continue
		}
		if plugin, st := fw.RunPreEnqueue(ctx, pi); !st.IsSuccess() {
			pl.Err = &framework.Rejection{Plugin: plugin, Point: "PreEnqueue", Status: st}
			out = append(out, pl)
			continue
		}
		r, err := e.schedulingCycle(ctx, fw, pi, explain)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if err != nil {
			pl.Err = err
			var fe *framework.FitError
			if errors.As(err, &fe) {
				pl.Rejected = fe.Diagnosis.Rejected
				// As Scheduler.failed: a nomination, which takes the room
				// from pods of lower priority nominated there (their
				// status, which their attempt reads, loses it too), or a
				// nomination cleared.
				switch d := &fe.Diagnosis; {
				case d.NominatedNodeName != "":
					e.cache.NominatePod(pi, d.NominatedNodeName)
					for _, lost := range e.cache.RemoveNominatedBelow(d.NominatedNodeName, framework.PodPriority(p)) {
						if j, ok := index[lost.Pod.UID]; ok {
							infos[j] = framework.NewPodInfo(unnominated(infos[j].Pod))
						}
					}
				case d.ClearNomination:
					e.cache.RemoveNominatedPod(p.UID)
				}
			}
			out = append(out, pl)
			continue
		}
		pl.Node, pl.Scores, pl.Rejected = r.node, r.result.Scores, r.result.Rejected
		pl.Evaluated, pl.Feasible = r.result.Evaluated, r.result.Feasible
		if wp := fw.WaitingPods().Get(p.UID); wp != nil {
			pl.WaitingOn = wp.Pending()
			slices.Sort(pl.WaitingOn)
			// Nothing will allow it: take it out of the waiting pods.
			done, cancel := context.WithCancel(ctx)
			cancel()
			_ = fw.WaitOnPermit(done, r.pod)
		}
		out = append(out, pl)
	}
	return out, nil
}

// unnominated is a copy of p without status.nominatedNodeName.
func unnominated(p *corev1.Pod) *corev1.Pod {
	c := *p
	c.Status.NominatedNodeName = ""
	return &c
}

// withUID gives a pod without a UID one made of its namespace and name.
func withUID(p *corev1.Pod) *corev1.Pod {
	if p.UID != "" {
		return p
	}
	c := *p
	c.UID = types.UID("sim:" + p.Namespace + "/" + p.Name)
	return &c
}

// buildProfiles builds one framework per profile.
func buildProfiles(ps []framework.Profile, r framework.Registry, opts framework.Options) (map[string]*framework.Framework, error) {
	out := make(map[string]*framework.Framework, len(ps))
	for _, p := range ps {
		if _, dup := out[p.SchedulerName]; dup {
			return nil, fmt.Errorf("scheduler: two profiles named %q", p.SchedulerName)
		}
		fw, err := framework.New(p, r, opts)
		if err != nil {
			return nil, fmt.Errorf("scheduler: %w", err)
		}
		out[p.SchedulerName] = fw
	}
	if len(out) == 0 {
		return nil, errors.New("scheduler: no profiles")
	}
	return out, nil
}
