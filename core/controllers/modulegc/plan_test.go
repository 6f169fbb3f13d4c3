package modulegc_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
	"github.com/skiffhq/skiff/core/controllers/modulegc"
	"github.com/skiffhq/skiff/core/scheduler/registry"
	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/modulegc.txt", *update, func(t *testing.T, c *scenario.Case) string {
		if c.Cmd != "plan" {
			t.Fatalf("%s: unknown command %q", c.Pos, c.Cmd)
		}
		grace, err := time.ParseDuration(c.Arg("grace", "10m"))
		if err != nil {
			t.Fatalf("%s: %v", c.Pos, err)
		}
		var (
			ps     []*skiffv1alpha1.Plugin
			stored []registry.Stored
		)
		for _, l := range c.Input {
			w := strings.Fields(l)
			if len(w) < 2 {
				t.Fatalf("%s: short input %q", c.Pos, l)
			}
			a := scenario.ParseAttrs(w[2:])
			switch w[0] {
			case "plugin":
				p := &skiffv1alpha1.Plugin{ObjectMeta: metav1.ObjectMeta{Name: w[1]}}
				p.Spec.Digest = a.Str("current", "")
				for _, d := range strings.Split(a.Str("history", ""), ",") {
					if d != "" {
						p.Spec.History = append(p.Spec.History, skiffv1alpha1.PluginVersion{Digest: d})
					}
				}
				ps = append(ps, p)
			case "stored":
				age, err := time.ParseDuration(a.Str("age", "0s"))
				if err != nil {
					t.Fatalf("%s: %v", c.Pos, err)
				}
				stored = append(stored, registry.Stored{Digest: w[1], ModTime: scenario.Now.Add(-age)})
			default:
				t.Fatalf("%s: unknown input %q", c.Pos, w[0])
			}
			if u := a.Unused(); len(u) > 0 {
				t.Fatalf("%s: unknown attributes %v", c.Pos, u)
			}
		}
		remove, wait := modulegc.Plan(stored, ps, scenario.Now, grace)
		var b strings.Builder
		for _, d := range remove {
			fmt.Fprintf(&b, "delete %s\n", d)
		}
		if wait > 0 {
			fmt.Fprintf(&b, "wait %s\n", wait)
		}
		if b.Len() == 0 {
			return "nothing"
		}
		return b.String()
	})
}
