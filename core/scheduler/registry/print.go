package registry

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// PrintList writes skiff plugin ls: one line per plugin with the version
// wanted, the one the leading scheduler serves, its state, the calls,
// errors and p99 latency summed over the scheduler replicas, and the
// reason of a refusal.
func PrintList(w io.Writer, ps []*skiffv1alpha1.Plugin) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tSERVING\tSTATE\tDIGEST\tSIZE\tCALLS\tERRORS\tP99\tREPLICAS\tMESSAGE")
	for _, p := range ps {
		st := p.Status
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\n", p.Name, p.Spec.Kind, p.Spec.Version,
			orDash(st.Version), orDash(string(st.State)), ShortDigest(p.Spec.Digest), size(p.Spec.Size),
			st.Calls, st.Errors, latency(st.P99Micros), len(st.Replicas), orDash(oneLine(cmp.Or(st.Message, st.LastError))))
	}
	return tw.Flush()
}

// ShortDigest is a digest cut to 12 hex digits, as image tools show it.
func ShortDigest(d string) string {
	if h, ok := strings.CutPrefix(d, "sha256:"); ok && len(h) > 12 {
		return "sha256:" + h[:12]
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func latency(us int64) string {
	if us <= 0 {
		return "-"
	}
	if us < 1000 {
		return fmt.Sprintf("%dµs", us)
	}
	return (time.Duration(us) * time.Microsecond).Round(100 * time.Microsecond).String()
}
