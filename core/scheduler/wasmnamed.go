package scheduler

import (
	"context"
	"fmt"
	"slices"

	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/wasmplugin"
	"github.com/skiffhq/skiff/plugins"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// uploadedFactory is the framework factory of an uploaded plugin's loaded
// module p: the wasmplugin adapter, renamed to the Plugin's name (the
// host knows each loaded version under a name of its own) and narrowed
// to the points the profile enables.
func uploadedFactory(name string, p *plugins.Plugin, points []skiffv1alpha1.ExtensionPoint, policy skiffv1alpha1.FailurePolicy) framework.Factory {
	inner := wasmplugin.Factory(p)
	return func(_ any, h framework.Handle) (framework.Plugin, error) {
		if policy == "" {
			policy = skiffv1alpha1.FailurePolicyFail
		}
		pl, err := inner(wasmplugin.Args{FailurePolicy: wasmplugin.FailurePolicy(policy)}, h)
		if err != nil {
			return nil, err
		}
		n := named{name: name, inner: pl}
		want := func(pt skiffv1alpha1.ExtensionPoint) bool { return len(points) == 0 || slices.Contains(points, pt) }
		f, isFilter := pl.(framework.FilterPlugin)
		s, isScore := pl.(framework.ScorePlugin)
		isFilter, isScore = isFilter && want(skiffv1alpha1.PointFilter), isScore && want(skiffv1alpha1.PointScore)
		switch {
		case isFilter && isScore:
			return &namedFilterScore{n, f, s}, nil
		case isFilter:
			return &namedFilter{n, f}, nil
		case isScore:
			return &namedScore{n, s}, nil
		}
		info := p.Info()
		return nil, fmt.Errorf("plugin %s@%s implements none of the points %v (filter %t, score %t)", name, info.Version, points, info.Filter, info.Score)
	}
}

type named struct {
	name  string
	inner framework.Plugin
}

func (n named) Name() string { return n.name }

func (n named) EventsToRegister() []framework.ClusterEvent {
	if e, ok := n.inner.(framework.EnqueueExtensions); ok {
		return e.EventsToRegister()
	}
	return []framework.ClusterEvent{{Resource: framework.WildCard, Action: framework.All}}
}

type namedFilter struct {
	named
	f framework.FilterPlugin
}

type namedScore struct {
	named
	s framework.ScorePlugin
}

type namedFilterScore struct {
	named
	f framework.FilterPlugin
	s framework.ScorePlugin
}

var (
	_ framework.FilterPlugin      = (*namedFilter)(nil)
	_ framework.EnqueueExtensions = (*namedFilter)(nil)
	_ framework.ScorePlugin       = (*namedScore)(nil)
	_ framework.FilterPlugin      = (*namedFilterScore)(nil)
	_ framework.ScorePlugin       = (*namedFilterScore)(nil)
)

func (n *namedFilter) Filter(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, st []*framework.Status) *framework.Status {
	return n.f.Filter(ctx, s, pod, nodes, st)
}

func (n *namedScore) Score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	return n.s.Score(ctx, s, pod, nodes, scores)
}

func (n *namedFilterScore) Filter(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, st []*framework.Status) *framework.Status {
	return n.f.Filter(ctx, s, pod, nodes, st)
}

func (n *namedFilterScore) Score(ctx context.Context, s *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) *framework.Status {
	return n.s.Score(ctx, s, pod, nodes, scores)
}
