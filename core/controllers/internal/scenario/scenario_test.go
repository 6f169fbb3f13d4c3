package scenario_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

const file = `# header comment
upper a=1 flag
hello
# an input comment
world
----
stale output

# the second case has no output yet
upper
x
----
`

func TestUpdateRewritesOnlyOutputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.txt")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	f := func(t *testing.T, c *scenario.Case) string {
		if c.Cmd != "upper" {
			t.Fatalf("cmd %q", c.Cmd)
		}
		return strings.ToUpper(strings.Join(c.Input, "\n")) + "\n"
	}
	var seen []*scenario.Case
	scenario.Run(t, path, true, func(t *testing.T, c *scenario.Case) string { seen = append(seen, c); return f(t, c) })
	if len(seen) != 2 || seen[0].Arg("a", "") != "1" || !seen[0].Has("flag") || len(seen[0].Input) != 2 {
		t.Fatalf("cases %+v", seen)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(file, "stale output\n", "HELLO\nWORLD\n", 1) + "X\n"
	if string(got) != want {
		t.Fatalf("rewritten file:\n%s\nwant:\n%s", got, want)
	}
	// And now it passes without -update.
	scenario.Run(t, path, false, f)
}

func TestPodParser(t *testing.T) {
	p, err := scenario.Pod(strings.Fields("a node=n1 ready=10s age=1m restarts=2 cost=5 deleting labels=app:x,tier:y owner=rs ip=1.2.3.4 ports=http:80,dns:53/UDP"), "ReplicaSet", "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "n1" || p.Status.Phase != "Running" || p.DeletionTimestamp == nil || p.Labels["tier"] != "y" ||
		p.OwnerReferences[0].UID != scenario.UID("rs") || p.Status.PodIP != "1.2.3.4" || len(p.Spec.Containers[0].Ports) != 2 ||
		p.Spec.Containers[0].Ports[1].Protocol != "UDP" || p.Status.ContainerStatuses[0].RestartCount != 2 {
		t.Fatalf("pod %+v", p)
	}
	if _, err := scenario.Pod([]string{"b", "nodee=n1"}, "ReplicaSet", ""); err == nil {
		t.Fatal("a misspelt attribute is accepted")
	}
}
