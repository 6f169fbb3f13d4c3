package gc_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/controllers/gc"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

var states = map[string]gc.Ownership{"solid": gc.Solid, "dangling": gc.Dangling, "waiting": gc.Waiting, "unknown": gc.Unknown}

func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/gc.txt", *update, func(t *testing.T, c *scenario.Case) string {
		switch c.Cmd {
		case "judge":
			var o gc.Object
			state := map[types.UID]gc.Ownership{}
			for _, l := range c.Input {
				w := strings.Fields(l)
				a := scenario.ParseAttrs(w[1:])
				switch w[0] {
				case "object":
					if f := a.Str("finalizers", ""); f != "" {
						o.Finalizers = strings.Split(f, ",")
					}
					o.HasDependents = a.Has("dependents")
					o.DependentDeletingDependents = a.Has("dependent-deleting")
				case "ref":
					uid := types.UID(a.Str("uid", ""))
					s, ok := states[a.Str("state", "")]
					if !ok {
						t.Fatalf("%s: bad state in %q", c.Pos, l)
					}
					block := a.Has("block")
					o.Refs = append(o.Refs, metav1.OwnerReference{UID: uid, BlockOwnerDeletion: &block})
					state[uid] = s
				default:
					t.Fatalf("%s: unknown input %q", c.Pos, w[0])
				}
				if u := a.Unused(); len(u) > 0 {
					t.Fatalf("%s: unknown attributes %v", c.Pos, u)
				}
			}
			v := gc.Judge(o, state)
			out := v.Op.String()
			switch v.Op {
			case gc.RemoveRefs:
				out += fmt.Sprintf(" %v", v.Remove)
			case gc.Delete:
				out += " propagation=" + string(v.Policy)
				if v.Unblock {
					out += " unblocking first"
				}
			}
			return out
		case "drain":
			var deps []gc.Dependent
			for _, l := range c.Input {
				w := strings.Fields(l)
				a := scenario.ParseAttrs(w[2:])
				deps = append(deps, gc.Dependent{Key: w[1], Blocking: a.Has("blocking"), DeletingDependents: a.Has("deleting-dependents")})
			}
			done, judge := gc.Drain(deps)
			if done {
				return "remove finalizer"
			}
			return "wait; judge: " + strings.Join(judge, " ")
		}
		t.Fatalf("%s: unknown command %q", c.Pos, c.Cmd)
		return ""
	})
}
