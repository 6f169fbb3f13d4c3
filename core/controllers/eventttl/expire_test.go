package eventttl_test

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/core/controllers/eventttl"
	"github.com/skiffhq/skiff/core/controllers/internal/scenario"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt with the actual outputs")

// event NAME [ns=NS] [last=AGO] [time=AGO] [series=AGO] [created=AGO]:
// lastTimestamp, eventTime, series.lastObservedTime and
// creationTimestamp, each that long before scenario.Now (negative: after).
func parseEvent(t *testing.T, pos string, words []string) *corev1.Event {
	t.Helper()
	a := scenario.ParseAttrs(words[1:])
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: a.Str("ns", "default"), Name: words[0], UID: scenario.UID(words[0]),
		ResourceVersion: "1"}}
	at := func(key string) (time.Time, bool) {
		if !a.Has(key) {
			return time.Time{}, false
		}
		return scenario.Now.Add(-a.Dur(key, 0)), true
	}
	if ts, ok := at("last"); ok {
		ev.LastTimestamp = metav1.NewTime(ts)
	}
	if ts, ok := at("time"); ok {
		ev.EventTime = metav1.NewMicroTime(ts)
	}
	if ts, ok := at("series"); ok {
		ev.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(ts)}
	}
	if ts, ok := at("created"); ok {
		ev.CreationTimestamp = metav1.NewTime(ts)
	}
	if u := a.Unused(); len(u) > 0 {
		t.Fatalf("%s: event: unknown attributes %v", pos, u)
	}
	return ev
}

func ago(ts time.Time) string {
	if ts.IsZero() {
		return "never"
	}
	return scenario.Now.Sub(ts).String() + " ago"
}

func TestScenarios(t *testing.T) {
	scenario.Run(t, "testdata/expire.txt", *update, func(t *testing.T, c *scenario.Case) string {
		var entries []eventttl.Entry
		var b strings.Builder
		for _, l := range c.Input {
			w := strings.Fields(l)
			if w[0] != "event" || len(w) < 2 {
				t.Fatalf("%s: unknown input %q", c.Pos, l)
			}
			ev := parseEvent(t, c.Pos, w[1:])
			e := eventttl.EntryOf(ev)
			entries = append(entries, e)
			if c.Cmd == "activity" {
				fmt.Fprintf(&b, "%s/%s active %s\n", e.Namespace, e.Name, ago(e.Active))
			}
		}
		switch c.Cmd {
		case "activity":
		case "due":
			ttl, err := time.ParseDuration(c.Arg("ttl", "1h"))
			if err != nil {
				t.Fatal(err)
			}
			batch, err := strconv.Atoi(c.Arg("batch", "0"))
			if err != nil {
				t.Fatal(err)
			}
			due, left := eventttl.Due(entries, scenario.Now, ttl, batch)
			for _, e := range due {
				fmt.Fprintf(&b, "delete %s/%s (active %s)\n", e.Namespace, e.Name, ago(e.Active))
			}
			if left > 0 {
				fmt.Fprintf(&b, "left %d\n", left)
			}
		default:
			t.Fatalf("%s: unknown command %q", c.Pos, c.Cmd)
		}
		if b.Len() == 0 {
			return "nothing"
		}
		return b.String()
	})
}
