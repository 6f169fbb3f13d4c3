package eventttl

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// index100k is an index of 100,000 Events last active over the past two
// hours, one every 72 ms.
func index100k() map[types.NamespacedName]Entry {
	now := time.Now()
	idx := make(map[types.NamespacedName]Entry, 100_000)
	for i := range 100_000 {
		e := Entry{Namespace: fmt.Sprintf("ns-%d", i%50), Name: fmt.Sprintf("pod-%d.%x", i, i), UID: types.UID(fmt.Sprint(i)),
			ResourceVersion: fmt.Sprint(i + 1), Active: now.Add(-time.Duration(i) * 72 * time.Millisecond)}
		idx[types.NamespacedName{Namespace: e.Namespace, Name: e.Name}] = e
	}
	return idx
}

// BenchmarkIdlePass is a pass over 100,000 Events none of which has
// expired: what the controller costs every Interval in a steady cluster.
func BenchmarkIdlePass(b *testing.B) {
	c := &Controller{cfg: Config{Timing: Timing{TTL: 3 * time.Hour}, Batch: DefaultBatch, Now: time.Now}, index: index100k()}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := c.Pass(b.Context()); err != nil || res.Expired != 0 {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkDue picks a batch of 500 among 100,000 Events of which half
// have expired: the most work a pass does before its deletions.
func BenchmarkDue(b *testing.B) {
	var entries []Entry
	for _, e := range index100k() {
		entries = append(entries, e)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if due, left := Due(entries, now, time.Hour, DefaultBatch); len(due) != DefaultBatch || left == 0 {
			b.Fatal(len(due), left)
		}
	}
}
