package nodelifecycle_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
	"github.com/skiffhq/skiff/core/controllers/nodelifecycle"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

// node [ready=True|False|Unknown|none] [seen=AGO] [taint=KEY:EFFECT:AGO,...]
func parseNode(t *testing.T, words []string) (*corev1.Node, time.Time) {
	a := scenario.ParseAttrs(words)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	if r := a.Str("ready", "True"); r != "none" {
		others := corev1.ConditionFalse
		if r == "Unknown" {
			others = corev1.ConditionUnknown
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionStatus(r), Reason: "KubeletReady"}}
		for _, ct := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: ct, Status: others})
		}
	}
	if v := a.Str("taint", ""); v != "" {
		for _, spec := range strings.Split(v, ",") {
			parts := strings.Split(spec, ":")
			key := map[string]string{"unreachable": corev1.TaintNodeUnreachable, "not-ready": corev1.TaintNodeNotReady}[parts[0]]
			if key == "" {
				key = parts[0]
			}
			tt := corev1.Taint{Key: key, Effect: corev1.TaintEffect(parts[1])}
			if len(parts) > 2 {
				ago, err := time.ParseDuration(parts[2])
				if err != nil {
					t.Fatal(err)
				}
				at := metav1.NewTime(scenario.Now.Add(-ago))
				tt.TimeAdded = &at
			}
			n.Spec.Taints = append(n.Spec.Taints, tt)
		}
	}
	seen := scenario.Now.Add(-a.Dur("seen", 0))
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("node: unknown attributes %v", u)
	}
	return n, seen
}

// pod NAME [tolerate=KEY[:SECONDS]|all] and the usual pod attributes.
func parsePod(t *testing.T, words []string) *corev1.Pod {
	var rest []string
	var tols []corev1.Toleration
	for _, w := range words {
		if v, ok := strings.CutPrefix(w, "tolerate="); ok {
			if v == "all" {
				tols = append(tols, corev1.Toleration{Operator: corev1.TolerationOpExists})
				continue
			}
			key, secs, _ := strings.Cut(v, ":")
			key = map[string]string{"unreachable": corev1.TaintNodeUnreachable, "not-ready": corev1.TaintNodeNotReady}[key]
			tol := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
			if secs != "" {
				var n int64
				fmt.Sscan(secs, &n)
				tol.TolerationSeconds = &n
			}
			tols = append(tols, tol)
			continue
		}
		rest = append(rest, w)
	}
	p, err := scenario.Pod(append(rest, "node=n1"), "ReplicaSet", "none")
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.Tolerations = tols
	return p
}

func TestScenarios(t *testing.T) {
	timing := nodelifecycle.Timing{GracePeriod: 8 * time.Second, DefaultToleration: 2 * time.Second}
	scenario.Run(t, "testdata/nodelifecycle.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var node *corev1.Node
		var seen time.Time
		var ps []*corev1.Pod
		for _, l := range c.Input {
			w := strings.Fields(l)
			switch w[0] {
			case "node":
				node, seen = parseNode(t, w[1:])
			case "pod":
				ps = append(ps, parsePod(t, w[1:]))
			default:
				t.Fatalf("%s: unknown input %q", c.Pos, w[0])
			}
		}
		var b strings.Builder
		conds, changed, recheck := nodelifecycle.Health(node, seen, scenario.Now, timing.GracePeriod)
		if changed {
			node.Status.Conditions = conds
			for _, cd := range conds {
				fmt.Fprintf(&b, "condition %s=%s %s\n", cd.Type, cd.Status, cd.Reason)
			}
		} else if recheck > 0 {
			fmt.Fprintf(&b, "healthy; lost in %v\n", recheck.Round(time.Second))
		}
		if taints, changed := nodelifecycle.Taints(node, scenario.Now); changed {
			var ts []string
			for _, tt := range taints {
				s := tt.Key + ":" + string(tt.Effect)
				if tt.TimeAdded != nil {
					s += fmt.Sprintf("@-%v", scenario.Now.Sub(tt.TimeAdded.Time))
				}
				ts = append(ts, s)
			}
			node.Spec.Taints = taints
			fmt.Fprintf(&b, "taints [%s]\n", strings.Join(ts, " "))
		}
		if nr := nodelifecycle.NotReady(node, ps); len(nr) > 0 {
			fmt.Fprintf(&b, "mark not ready: %s\n", scenario.Names(nr))
		}
		evict, next := nodelifecycle.Evictions(node, ps, scenario.Now, timing.DefaultToleration)
		if len(evict) > 0 {
			fmt.Fprintf(&b, "evict %s\n", scenario.Names(evict))
		}
		if next > 0 {
			fmt.Fprintf(&b, "next eviction in %v\n", next.Round(time.Second))
		}
		if b.Len() == 0 {
			return "nothing"
		}
		return b.String()
	})
}
