package scheduler

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/cache"
)

// NominatedTo returns the node the scheduler's cache has the pod
// nominated to, "" if none: what the cycles of other pods count, which
// the pod's status.nominatedNodeName only follows. For the scheduler's
// own tests.
func (s *Scheduler) NominatedTo(uid types.UID) string {
	snap := cache.NewSnapshot()
	s.eng.cache.UpdateSnapshot(snap)
	for _, ni := range snap.List() {
		for _, pi := range snap.NominatedPods(ni.Name()) {
			if pi.Pod.UID == uid {
				return ni.Name()
			}
		}
	}
	return ""
}
