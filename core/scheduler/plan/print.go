package plan

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
// reason.
func Print(w io.Writer, r *Response, o PrintOptions) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "POD\tNODE\tSCORE\tFEASIBLE\n")
	placed := 0
	for _, p := range r.Pods {
		node, score := p.Node, ""
		if node == "" {
			node = "<none>"
		} else {
			placed++
		}
		if len(p.Scores) > 0 && p.Scores[0].Node == p.Node {
			score = fmt.Sprint(p.Scores[0].Total)
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%d/%d\n", p.Namespace, p.Name, node, score, p.Feasible, p.Evaluated)
		if p.Reason != "" {
			fmt.Fprintf(tw, "  why not:\t%s\t\t\n", p.Reason)
		}
		if len(p.WaitingOn) > 0 {
			fmt.Fprintf(tw, "  waits on Permit:\t%s\t\t\n", strings.Join(p.WaitingOn, ", "))
		}
		for i, s := range p.Scores {
			if o.MaxNodes > 0 && i == o.MaxNodes {
				fmt.Fprintf(tw, "  … %d more scored\t\t\t\n", len(p.Scores)-i)
				break
			}
			parts := make([]string, 0, len(s.Plugins))
			for _, ps := range s.Plugins {
				parts = append(parts, fmt.Sprintf("%s %d×%d", ps.Plugin, ps.Score, ps.Weight))
			}
			fmt.Fprintf(tw, "  scored %s\t%d\t%s\t\n", s.Node, s.Total, strings.Join(parts, ", "))
		}
		for i, rj := range p.Rejected {
			if o.MaxNodes > 0 && i == o.MaxNodes {
				fmt.Fprintf(tw, "  … %d more rejected\t\t\t\n", len(p.Rejected)-i)
				break
			}
			fmt.Fprintf(tw, "  rejected %s\t%s: %s\t\t\n", rj.Node, rj.Plugin, rj.Reason)
		}
	}
	fmt.Fprintf(tw, "%d/%d pods would be scheduled (%d nodes, scheduler %s); nothing was created\n", placed, len(r.Pods), r.Nodes, r.Replica)
	return tw.Flush()
}
