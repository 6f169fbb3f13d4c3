package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/bus/subjects"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/plan"
	"github.com/skiffhq/skiff/core/validation"
)

// Plan is a dry run through the live profiles (uploaded plugins
// included): where pods would go on the cluster as this replica's cache
// sees it, each pod seeing the earlier ones placed and the room nominated
// pods wait for taken, with every node's scores and every rejection. It changes nothing: the cycles run over a
// copy of the cache, bind nothing and write nothing.
func (s *Scheduler) Plan(ctx context.Context, pods []*corev1.Pod) ([]Placement, int, error) {
	g := s.acquire()
	defer g.release()
	var c Cluster
	c.Nodes = s.nodes.List()
	c.Namespaces = s.namespaces.List()
	for _, p := range s.pods.List() {
		switch {
		case assigned(p) && !terminal(p):
			c.Pods = append(c.Pods, p)
		case p.Status.NominatedNodeName != "" && s.pending(p):
			c.Nominated = append(c.Nominated, p)
		}
	}
	pending := make([]*corev1.Pod, len(pods))
	for i, p := range pods {
		p = p.DeepCopy()
		validation.Default(p) // as the API server would on create
		pending[i] = p
	}
	out, err := simulate(ctx, g.profiles, s.cfg.Seed, true, c, pending)
	return out, len(c.Nodes), err
}

// servePlan answers plan requests until ctx ends (while leading).
func (s *Scheduler) servePlan(ctx context.Context, conn *bus.Conn) {
	err := conn.Serve(ctx, bus.ServeConfig{Subject: subjects.SchedulerPlan(), Queue: subjects.SchedulerQueue, Workers: 2},
		func(ctx context.Context, req *bus.Msg) *bus.Msg {
			resp := s.answerPlan(ctx, req.Data)
			b, _ := json.Marshal(resp)
			if len(b) > bus.MaxPayload-64<<10 {
				b, _ = json.Marshal(&plan.Response{Replica: s.cfg.Identity,
					Error: fmt.Sprintf("the answer (%d bytes) is too large for one message: ask for fewer pods or nodes per pod", len(b))})
			}
			return &bus.Msg{Data: b}
		})
	if err != nil && ctx.Err() == nil {
		s.log.Warn("plan requests", "err", err)
	}
}

func (s *Scheduler) answerPlan(ctx context.Context, body []byte) *plan.Response {
	resp := &plan.Response{Replica: s.cfg.Identity}
	var req plan.Request
	if err := json.Unmarshal(body, &req); err != nil {
		resp.Error = "bad request: " + err.Error()
		return resp
	}
	if len(req.Pods) > plan.MaxPods {
		resp.Error = fmt.Sprintf("more than %d pods", plan.MaxPods)
		return resp
	}
	pods := make([]*corev1.Pod, len(req.Pods))
	for i := range req.Pods {
		pods[i] = &req.Pods[i]
	}
	placements, nodes, err := s.Plan(ctx, pods)
	if err != nil {
		resp.Error = err.Error()
		return resp
	}
	resp.Nodes = nodes
	for _, pl := range placements {
		pp := toPodPlan(pl)
		if n := req.MaxNodes; n > 0 {
			if len(pp.Scores) > n {
				pp.MoreScored, pp.Scores = len(pp.Scores)-n, pp.Scores[:n]
			}
			if len(pp.Rejected) > n {
				pp.MoreRejected, pp.Rejected = len(pp.Rejected)-n, pp.Rejected[:n]
			}
		}
		resp.Pods = append(resp.Pods, pp)
	}
	return resp
}

func toPodPlan(pl Placement) plan.PodPlan {
	pp := plan.PodPlan{Namespace: pl.Pod.Namespace, Name: pl.Pod.Name, Node: pl.Node, WaitingOn: pl.WaitingOn,
		Evaluated: pl.Evaluated, Feasible: pl.Feasible}
	if pl.Err != nil {
		pp.Reason = pl.Err.Error()
		var rj *framework.Rejection
		if errors.As(pl.Err, &rj) {
			pp.Reason = fmt.Sprintf("%s at %s: %s", rj.Plugin, rj.Point, rj.Status.Message())
		}
		var fe *framework.FitError
		if errors.As(pl.Err, &fe) {
			pp.Evaluated = fe.NumAllNodes
		}
	}
	for _, ns := range pl.Scores {
		sc := plan.NodeScore{Node: ns.Name, Total: ns.Total}
		for _, ps := range ns.Plugins {
			sc.Plugins = append(sc.Plugins, plan.PluginScore{Plugin: ps.Plugin, Score: ps.Score, Weight: ps.Weight})
		}
		pp.Scores = append(pp.Scores, sc)
	}
	for _, r := range pl.Rejected {
		pp.Rejected = append(pp.Rejected, plan.Rejection{Node: r.Node, Plugin: r.Plugin, Reason: r.Status.Message()})
	}
	slices.SortStableFunc(pp.Rejected, func(a, b plan.Rejection) int { return strings.Compare(a.Node, b.Node) })
	return pp
}
