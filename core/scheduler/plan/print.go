package plan

import (
	"fmt"
	"io"
	"strings"
)

// PrintOptions tune Print.
type PrintOptions struct {
	// MaxNodes bounds the scored and the rejected nodes shown per pod
	// (0: all).
	MaxNodes int
}

// Print writes r for people: a line per pod (where it lands, or why
// nowhere), then, indented, its scored nodes best first with each
// plugin's score×weight, and the nodes filtered out with the plugin and
// reason; a summary line last.
func Print(w io.Writer, r *Response, o PrintOptions) error {
	width := 0
	for _, p := range r.Pods {
		for _, s := range p.Scores {
			width = max(width, len(s.Node))
		}
		for _, rj := range p.Rejected {
			width = max(width, len(rj.Node))
		}
	}
	var b strings.Builder
	placed := 0
	for _, p := range r.Pods {
		if p.Node == "" {
			fmt.Fprintf(&b, "%s/%s: not scheduled (%d/%d nodes feasible)\n", p.Namespace, p.Name, p.Feasible, p.Evaluated)
		} else {
			placed++
			score := ""
			if len(p.Scores) > 0 && p.Scores[0].Node == p.Node {
				score = fmt.Sprintf(", score %d", p.Scores[0].Total)
			}
			fmt.Fprintf(&b, "%s/%s: %s (%d/%d nodes feasible%s)\n", p.Namespace, p.Name, p.Node, p.Feasible, p.Evaluated, score)
		}
		if p.Reason != "" {
			fmt.Fprintf(&b, "    why: %s\n", p.Reason)
		}
		if len(p.WaitingOn) > 0 {
			fmt.Fprintf(&b, "    would wait on Permit: %s\n", strings.Join(p.WaitingOn, ", "))
		}
		for i, s := range p.Scores {
			if o.MaxNodes > 0 && i == o.MaxNodes {
				fmt.Fprintf(&b, "    … %d more scored\n", len(p.Scores)-i)
				break
			}
			parts := make([]string, 0, len(s.Plugins))
			for _, ps := range s.Plugins {
				parts = append(parts, fmt.Sprintf("%s %d×%d", ps.Plugin, ps.Score, ps.Weight))
			}
			fmt.Fprintf(&b, "    %-*s  %5d  = %s\n", width, s.Node, s.Total, strings.Join(parts, " + "))
		}
		for i, rj := range p.Rejected {
			if o.MaxNodes > 0 && i == o.MaxNodes {
				fmt.Fprintf(&b, "    … %d more rejected\n", len(p.Rejected)-i)
				break
			}
			fmt.Fprintf(&b, "    %-*s  rejected by %s: %s\n", width, rj.Node, rj.Plugin, rj.Reason)
		}
	}
	fmt.Fprintf(&b, "%d/%d pods would be scheduled (%d nodes, scheduler %s); nothing was created\n", placed, len(r.Pods), r.Nodes, r.Replica)
	_, err := io.WriteString(w, b.String())
	return err
}
