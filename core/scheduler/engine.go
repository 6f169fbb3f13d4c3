package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/core/scheduler/cache"
	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// engine is what Run and Simulate share: the profiles, the cache, the
// snapshot cycles read, and the scheduling cycle itself. Its snapshot and
// rotation belong to the goroutine running cycles.
type engine struct {
	profiles map[string]*framework.Framework
	cache    *cache.Cache
	snapshot *cache.Snapshot
	rand     *rand.Rand
	next     int // where the next cycle starts looking for nodes
}

func newEngine(profiles map[string]*framework.Framework, seed uint64) *engine {
	return &engine{profiles: profiles, cache: cache.New(), snapshot: cache.NewSnapshot(),
		rand: rand.New(rand.NewPCG(seed, seed^0x5deece66d))}
}

// reserved is a pod a scheduling cycle placed: assumed in the cache,
// reserved and permitted (or waiting on Permit).
type reserved struct {
	fw     *framework.Framework
	state  *framework.CycleState
	pod    *framework.PodInfo // the pod as assumed, with its node name
	node   string
	result framework.ScheduleResult
}

// errAssume wraps a failure to assume a pod the cache already has (the
// informer saw it bound meanwhile).
var errAssume = errors.New("scheduler: assume")

// schedulingCycle finds a node for pi, assumes the pod there and runs
// Reserve and Permit. Errors: *framework.FitError (no node fits),
// *framework.Rejection (Reserve or Permit said no), *framework.PluginError,
// errAssume. Nothing is left in the cache when it fails.
func (e *engine) schedulingCycle(ctx context.Context, fw *framework.Framework, pi *framework.PodInfo, record bool) (*reserved, error) {
	e.cache.UpdateSnapshot(e.snapshot)
	state := framework.NewCycleState(e.snapshot)
	res, err := fw.SchedulePod(ctx, state, pi, framework.ScheduleOptions{Start: e.next, Rand: e.rand, RecordScores: record})
	if n := len(e.snapshot.List()); n > 0 {
		e.next = (e.next + res.Evaluated) % n
	}
	if err != nil {
		return nil, err
	}
	apod := assumedPod(pi, res.Node)
	if err := e.cache.AssumePod(apod, res.Node); err != nil {
		return nil, fmt.Errorf("%w: %w", errAssume, err)
	}
	if err := fw.RunReserve(ctx, state, apod, res.Node); err != nil {
		_ = e.cache.ForgetPod(apod.Pod)
		return nil, err
	}
	if err := fw.RunPermit(ctx, state, apod, res.Node); err != nil {
		fw.RunUnreserve(ctx, state, apod, res.Node)
		_ = e.cache.ForgetPod(apod.Pod)
		return nil, err
	}
	return &reserved{fw: fw, state: state, pod: apod, node: res.Node, result: res}, nil
}

// assumedPod is pi placed on node: a shallow copy with spec.nodeName set
// (the informer's object is shared and never modified).
func assumedPod(pi *framework.PodInfo, node string) *framework.PodInfo {
	p := *pi.Pod
	p.Spec.NodeName = node
	a := *pi
	a.Pod = &p
	return &a
}

// undo reverses a reservation whose binding did not happen.
func (e *engine) undo(ctx context.Context, r *reserved) {
	r.fw.RunUnreserve(ctx, r.state, r.pod, r.node)
	_ = e.cache.ForgetPod(r.pod.Pod) // the informer may have removed it already
}

// terminal reports whether a pod has finished and no longer takes room.
func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}
