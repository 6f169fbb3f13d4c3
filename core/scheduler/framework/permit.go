package framework

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// WaitingPods are the pods a Permit plugin holds back. Permit plugins
// (gang scheduling, quotas) allow or reject them, typically from another
// pod's cycle. Safe for concurrent use.
type WaitingPods struct {
	mu   sync.Mutex
	pods map[types.UID]*WaitingPod
}

func newWaitingPods() *WaitingPods { return &WaitingPods{pods: map[types.UID]*WaitingPod{}} }

// WaitingPod is a pod waiting for Permit plugins.
type WaitingPod struct {
	Pod      *PodInfo
	NodeName string

	mu      sync.Mutex
	pending map[string]*time.Timer // plugin -> its timeout
	verdict chan *Rejection        // buffered 1; nil Rejection = allowed
	decided bool
}

func (w *WaitingPods) add(pod *PodInfo, node string, waits map[string]time.Duration) {
	wp := &WaitingPod{Pod: pod, NodeName: node, pending: map[string]*time.Timer{}, verdict: make(chan *Rejection, 1)}
	wp.mu.Lock()
	for name, d := range waits {
		wp.pending[name] = time.AfterFunc(d, func() {
			wp.Reject(name, "rejected due to timeout after waiting "+d.String()+" at plugin "+name)
		})
	}
	wp.mu.Unlock()
	w.mu.Lock()
	w.pods[pod.Pod.UID] = wp
	w.mu.Unlock()
}

// Get returns the waiting pod with uid, nil if none.
func (w *WaitingPods) Get(uid types.UID) *WaitingPod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pods[uid]
}

// Each calls f for every waiting pod (outside the lock).
func (w *WaitingPods) Each(f func(*WaitingPod)) {
	w.mu.Lock()
	all := make([]*WaitingPod, 0, len(w.pods))
	for _, wp := range w.pods {
		all = append(all, wp)
	}
	w.mu.Unlock()
	for _, wp := range all {
		f(wp)
	}
}

func (w *WaitingPods) wait(ctx context.Context, uid types.UID) error {
	wp := w.Get(uid)
	if wp == nil {
		return nil
	}
	defer func() {
		w.mu.Lock()
		if w.pods[uid] == wp {
			delete(w.pods, uid)
		}
		w.mu.Unlock()
	}()
	select {
	case r := <-wp.verdict:
		if r != nil {
			return r
		}
		return nil
	case <-ctx.Done():
		wp.Reject("", "scheduler stopped")
		return ctx.Err()
	}
}

// Allow records that plugin allows the pod; the pod goes on once every
// plugin that made it wait allowed it.
func (wp *WaitingPod) Allow(plugin string) {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	if t, ok := wp.pending[plugin]; ok {
		t.Stop()
		delete(wp.pending, plugin)
	}
	if len(wp.pending) == 0 && !wp.decided {
		wp.decided = true
		wp.verdict <- nil
	}
}

// Reject rejects the pod on behalf of plugin, with msg as the reason.
func (wp *WaitingPod) Reject(plugin, msg string) {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	for _, t := range wp.pending {
		t.Stop()
	}
	if !wp.decided {
		wp.decided = true
		wp.verdict <- &Rejection{Plugin: plugin, Point: "Permit", Status: NewStatus(Unschedulable, msg)}
	}
}

// Pending lists the plugins the pod still waits for.
func (wp *WaitingPod) Pending() []string {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	out := make([]string, 0, len(wp.pending))
	for name := range wp.pending {
		out = append(out, name)
	}
	return out
}
