package queue

import (
	"container/heap"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/core/scheduler/framework"
)

// ErrClosed is returned by Pop once the queue is closed.
var ErrClosed = errors.New("queue: closed")

// QueuedPod is a pod in the queue with its scheduling history. The
// scheduler owns a popped QueuedPod until it calls Requeue or Done.
type QueuedPod struct {
	Info *framework.PodInfo
	// Timestamp is when the pod last entered the queue or was last tried;
	// InitialAttempt when it was first tried.
	Timestamp, InitialAttempt time.Time
	// Attempts counts the scheduling attempts.
	Attempts int
	// RejectedBy names the plugins that rejected the pod in its last
	// attempt; empty after an error.
	RejectedBy map[string]struct{}
	// GatedBy is the PreEnqueue plugin holding the pod back, if any.
	GatedBy string

	cycle int64 // the scheduling cycle of its last Pop
	where place
	index int       // in the active or back-off heap
	since time.Time // when it entered the unschedulable pods
	group string    // its group among the unschedulable pods

	// While in flight the scheduler reads Info: updates wait here.
	deleted bool
	latest  *framework.PodInfo
	changed bool // the spec, labels or annotations changed in flight
	moved   bool // Move named it in flight
}

// Pod is the queued pod object.
func (qp *QueuedPod) Pod() *corev1.Pod { return qp.Info.Pod }

type place int

const (
	nowhere place = iota
	inActive
	inBackoff
	inUnschedulable
	inFlight
)

// Config configures a queue. The zero value backs off from 1 s to 10 s and
// retries unschedulable pods every 5 minutes, as kube-scheduler.
type Config struct {
	InitialBackoff, MaxBackoff time.Duration
	MaxInUnschedulable         time.Duration
	// PreEnqueue decides whether a pod may become active (scheduling
	// gates); nil lets every pod in. It returns the plugin that said no.
	// PreEnqueue and Interested are called with the queue's lock held:
	// they must be quick and must not call the queue.
	PreEnqueue func(pi *framework.PodInfo) (plugin string, st *framework.Status)
	// Interested reports whether an event may make an unschedulable pod
	// fit; nil means every event. Its answer must depend only on the
	// pod's schedulerName and RejectedBy: the queue asks once per group
	// of pods that share them, so that an event costs the number of
	// groups, not of pods.
	Interested func(qp *QueuedPod, ev framework.ClusterEvent) bool
}

// Queue is the scheduling queue.
type Queue struct {
	cfg Config

	mu            sync.Mutex
	cond          *sync.Cond
	pods          map[types.UID]*QueuedPod
	active        podHeap
	backoff       podHeap
	unschedulable map[string]map[types.UID]*QueuedPod // by group
	nUnsched      int
	cycle         int64 // counts Pops
	moveCycle     int64 // the cycle of the last move event
	closed        bool
	wake          chan struct{} // tells Run the back-off heap changed
}

// New returns an empty queue.
func New(cfg Config) *Queue {
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.InitialBackoff)
	if cfg.MaxInUnschedulable <= 0 {
		cfg.MaxInUnschedulable = 5 * time.Minute
	}
	q := &Queue{cfg: cfg, pods: map[types.UID]*QueuedPod{}, unschedulable: map[string]map[types.UID]*QueuedPod{},
		wake: make(chan struct{}, 1)}
	q.active.less = func(a, b *QueuedPod) bool {
		pa, pb := framework.PodPriority(a.Info.Pod), framework.PodPriority(b.Info.Pod)
		if pa != pb {
			return pa > pb
		}
		return a.Timestamp.Before(b.Timestamp)
	}
	q.backoff.less = func(a, b *QueuedPod) bool { return q.backoffExpiry(a).Before(q.backoffExpiry(b)) }
	q.cond = sync.NewCond(&q.mu)
	return q
}

// backoffDuration is initial×2^(attempts-1), capped.
func (q *Queue) backoffDuration(qp *QueuedPod) time.Duration {
	d := q.cfg.InitialBackoff
	for i := 1; i < qp.Attempts && d < q.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.cfg.MaxBackoff)
}

func (q *Queue) backoffExpiry(qp *QueuedPod) time.Time {
	return qp.Timestamp.Add(q.backoffDuration(qp))
}

func (q *Queue) backingOff(qp *QueuedPod, now time.Time) bool {
	return qp.Attempts > 0 && now.Before(q.backoffExpiry(qp))
}

// Add queues a new pod.
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pods[pod.UID]; ok {
		q.updateLocked(pod)
		return
	}
	qp := &QueuedPod{Info: framework.NewPodInfo(pod), Timestamp: time.Now()}
	q.pods[pod.UID] = qp
	q.enqueueLocked(qp)
}

// enqueueLocked makes a pod that is nowhere active, or gated.
func (q *Queue) enqueueLocked(qp *QueuedPod) {
	if q.cfg.PreEnqueue != nil {
		if plugin, st := q.cfg.PreEnqueue(qp.Info); !st.IsSuccess() {
			qp.GatedBy = plugin
			q.toUnschedulable(qp, time.Now())
			return
		}
	}
	qp.GatedBy = ""
	q.toActive(qp)
}

func (q *Queue) toActive(qp *QueuedPod) {
	q.remove(qp)
	qp.where = inActive
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

func (q *Queue) toBackoff(qp *QueuedPod) {
	q.remove(qp)
	qp.where = inBackoff
	heap.Push(&q.backoff, qp)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) toUnschedulable(qp *QueuedPod, now time.Time) {
	q.remove(qp)
	qp.where = inUnschedulable
	qp.since = now
	qp.group = groupOf(qp)
	g := q.unschedulable[qp.group]
	if g == nil {
		g = map[types.UID]*QueuedPod{}
		q.unschedulable[qp.group] = g
	}
	g[qp.Info.Pod.UID] = qp
	q.nUnsched++
}

// groupOf is the key of the pods an event affects alike: gated pods
// apart, then scheduler name and rejecting plugins.
func groupOf(qp *QueuedPod) string {
	if qp.GatedBy != "" {
		return "\x00gated"
	}
	names := slices.Sorted(maps.Keys(qp.RejectedBy))
	return qp.Info.Pod.Spec.SchedulerName + "\x00" + strings.Join(names, "\x00")
}

// remove takes qp out of wherever it is (not out of q.pods).
func (q *Queue) remove(qp *QueuedPod) {
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.index)
	case inBackoff:
		heap.Remove(&q.backoff, qp.index)
	case inUnschedulable:
		g := q.unschedulable[qp.group]
		delete(g, qp.Info.Pod.UID)
		if len(g) == 0 {
			delete(q.unschedulable, qp.group)
		}
		q.nUnsched--
	}
	qp.where = nowhere
}

// Update takes a newer version of a queued pod. A pod waiting as
// unschedulable (or gated) is retried if its spec, labels or annotations
// changed; a status change alone leaves it where it is.
func (q *Queue) Update(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.updateLocked(pod)
}

func (q *Queue) updateLocked(pod *corev1.Pod) {
	qp, ok := q.pods[pod.UID]
	if !ok {
		qp = &QueuedPod{Info: framework.NewPodInfo(pod), Timestamp: time.Now()}
		q.pods[pod.UID] = qp
		q.enqueueLocked(qp)
		return
	}
	old := qp.Info.Pod
	if qp.latest != nil {
		old = qp.latest.Pod
	}
	if old.ResourceVersion == pod.ResourceVersion && old.ResourceVersion != "" {
		return
	}
	pi := framework.NewPodInfo(pod)
	changed := old.Generation != pod.Generation || !maps.Equal(old.Labels, pod.Labels) || !maps.Equal(old.Annotations, pod.Annotations)
	if qp.where == inFlight {
		qp.latest = pi
		qp.changed = qp.changed || changed
		return
	}
	qp.Info = pi
	switch qp.where {
	case inActive:
		heap.Fix(&q.active, qp.index)
	case inBackoff:
		heap.Fix(&q.backoff, qp.index)
	case inUnschedulable:
		if !changed {
			return
		}
		if qp.GatedBy != "" {
			q.enqueueLocked(qp)
			return
		}
		if q.backingOff(qp, time.Now()) {
			q.toBackoff(qp)
		} else {
			q.toActive(qp)
		}
	}
}

// Delete drops a pod (deleted, bound by someone else, or no longer
// handled by this scheduler).
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[pod.UID]
	if !ok {
		return
	}
	if qp.where == inFlight {
		qp.deleted = true
		return
	}
	q.remove(qp)
	delete(q.pods, pod.UID)
}

// Pop returns the next active pod, waiting for one until ctx ends
// (ctx's error) or the queue closes (ErrClosed). The pod is in flight
// until Requeue or Done.
func (q *Queue) Pop(ctx context.Context) (*QueuedPod, error) {
	stop := context.AfterFunc(ctx, func() {
		// Under the lock: a waiter is either before its check of ctx or
		// inside Wait, so it cannot miss this.
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 {
		if q.closed {
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.cond.Wait()
	}
	qp := heap.Pop(&q.active).(*QueuedPod)
	qp.where = inFlight
	q.cycle++
	qp.cycle = q.cycle
	qp.Attempts++
	now := time.Now()
	if qp.InitialAttempt.IsZero() {
		qp.InitialAttempt = now
	}
	qp.Timestamp = now
	return qp, nil
}

// Done ends a popped pod's stay: it was bound (or is being bound), or
// dropped.
func (q *Queue) Done(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur, ok := q.pods[qp.Info.Pod.UID]; ok && cur == qp {
		delete(q.pods, qp.Info.Pod.UID)
	}
}

// Requeue puts back a popped pod whose attempt failed: to the
// unschedulable pods when plugins rejected it (qp.RejectedBy) and nothing
// happened meanwhile, otherwise to back-off. A pod deleted while in
// flight is dropped.
func (q *Queue) Requeue(qp *QueuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	cur, ok := q.pods[qp.Info.Pod.UID]
	if !ok || cur != qp || qp.where != inFlight {
		return
	}
	if qp.deleted {
		delete(q.pods, qp.Info.Pod.UID)
		qp.where = nowhere
		return
	}
	changed := qp.changed || qp.moved
	qp.moved = false
	if qp.latest != nil {
		qp.Info, qp.latest, qp.changed = qp.latest, nil, false
	}
	now := time.Now()
	qp.Timestamp = now
	if len(qp.RejectedBy) > 0 && q.moveCycle < qp.cycle && !changed {
		q.toUnschedulable(qp, now)
		return
	}
	q.toBackoff(qp)
}

// MoveAll moves the unschedulable pods that ev may help (per
// Config.Interested) to back-off, or to active if their back-off is over.
func (q *Queue) MoveAll(ev framework.ClusterEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle = q.cycle
	now := time.Now()
	for key, g := range q.unschedulable {
		if key == "\x00gated" {
			continue
		}
		if q.cfg.Interested != nil {
			var one *QueuedPod
			for _, qp := range g {
				one = qp
				break
			}
			if !q.cfg.Interested(one, ev) {
				continue
			}
		}
		for _, qp := range g {
			q.move(qp, now)
		}
	}
}

// Move retries the pods with the given UIDs, as MoveAll does for an
// event that may help them: those waiting among the unschedulable pods go
// to back-off, or to active if their back-off is over; one in flight goes
// to back-off if its attempt fails. Gated pods, pods already active or
// backing off, and unknown UIDs are left as they are. The scheduler uses
// it for pods whose situation changed without a cluster event (their
// nomination was taken away).
func (q *Queue) Move(uids []types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for _, uid := range uids {
		qp, ok := q.pods[uid]
		switch {
		case !ok:
		case qp.where == inFlight:
			qp.moved = true
		case qp.where == inUnschedulable && qp.GatedBy == "":
			q.move(qp, now)
		}
	}
}

func (q *Queue) move(qp *QueuedPod, now time.Time) {
	if q.backingOff(qp, now) {
		q.toBackoff(qp)
	} else {
		q.toActive(qp)
	}
}

// Run moves pods out of back-off when their time comes and retries pods
// that waited MaxInUnschedulable, until ctx ends; it returns nil then.
func (q *Queue) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sweep := time.NewTicker(min(30*time.Second, q.cfg.MaxInUnschedulable))
	defer sweep.Stop()
	for {
		next := q.flushBackoff(time.Now())
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-q.wake:
		case now := <-sweep.C:
			q.flushUnschedulable(now)
		}
	}
}

// flushBackoff moves every pod whose back-off is over to active and
// returns how long until the next one's is.
func (q *Queue) flushBackoff(now time.Time) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.backoff.Len() > 0 {
		qp := q.backoff.items[0]
		if exp := q.backoffExpiry(qp); exp.After(now) {
			return exp.Sub(now)
		}
		q.toActive(qp)
	}
	return time.Hour
}

func (q *Queue) flushUnschedulable(now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, g := range q.unschedulable {
		for _, qp := range g {
			if qp.GatedBy == "" && now.Sub(qp.since) >= q.cfg.MaxInUnschedulable {
				q.move(qp, now)
			}
		}
	}
}

// Close makes Pop return ErrClosed once the active pods are gone. It is
// idempotent.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// Counts returns how many pods are active, backing off, unschedulable
// (gated included) and in flight.
func (q *Queue) Counts() (active, backoff, unschedulable, inflight int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, qp := range q.pods {
		if qp.where == inFlight {
			inflight++
		}
	}
	return q.active.Len(), q.backoff.Len(), q.nUnsched, inflight
}

// Where reports where the pod with uid is: "active", "backoff",
// "unschedulable", "inflight" or "" (not queued).
func (q *Queue) Where(uid types.UID) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	qp, ok := q.pods[uid]
	if !ok {
		return ""
	}
	return [...]string{"", "active", "backoff", "unschedulable", "inflight"}[qp.where]
}

// podHeap is a heap of queued pods ordered by less.
type podHeap struct {
	items []*QueuedPod
	less  func(a, b *QueuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*QueuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	last := len(h.items) - 1
	qp := h.items[last]
	h.items[last] = nil
	h.items = h.items[:last]
	qp.index = -1
	return qp
}
