package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/sdk/client"
)

// writer writes what the scheduler tells users, off the scheduling path:
// PodScheduled conditions, nominations (status.nominatedNodeName) and
// events, and it evicts preemption victims. Writes queue up in bounded
// channels; when one is full the write is dropped and counted (a pod's
// condition is written again at its next failed attempt). A pod's status
// writes go through one channel and one goroutine (by UID), in the order
// the scheduler asked for them, so that a nomination and its clearing
// never land the wrong way round.
type writer struct {
	pods     *client.Typed[*corev1.Pod]
	events   *client.Typed[*corev1.Event]
	log      *slog.Logger
	instance string

	conds   [writers]chan condJob // by pod UID (shard)
	evs     chan *corev1.Event
	evicts  chan evictJob
	dropped atomic.Int64
	seq     atomic.Uint64

	// recent remembers the last warning per pod, so that a pod that keeps
	// failing the same way gets one event a minute, not one per attempt
	// (Kubernetes' event recorder aggregates them likewise).
	mu     sync.Mutex
	recent map[types.UID]sent
	pruned time.Time
}

type sent struct {
	msg string
	at  time.Time
}

// repeatAfter is how long an identical warning about a pod is held back.
const repeatAfter = time.Minute

// podGetter reads pods from the informer's store.
type podGetter interface {
	Get(ns, name string) (*corev1.Pod, bool)
}

// condJob is a status write: a PodScheduled=False condition (unless
// reason is empty) and, with nominate, status.nominatedNodeName.
type condJob struct {
	inf    podGetter
	pod    *corev1.Pod
	reason string
	msg    string
	// nominate makes nominated the pod's status.nominatedNodeName; ""
	// clears it.
	nominate  bool
	nominated string
}

// evictJob is a preemption victim to delete.
type evictJob struct {
	victim, preemptor *corev1.Pod
	node, scheduler   string
}

const writers = 4

func newWriter(c *client.Client, log *slog.Logger, instance string) *writer {
	w := &writer{pods: client.For[*corev1.Pod](c), events: client.For[*corev1.Event](c), log: log, instance: instance,
		evs: make(chan *corev1.Event, 4096), evicts: make(chan evictJob, 1024), recent: map[types.UID]sent{}}
	for i := range w.conds {
		w.conds[i] = make(chan condJob, 4096/writers)
	}
	return w
}

// Run writes until ctx ends.
func (w *writer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range writers {
		conds := w.conds[i]
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-conds:
					w.writeCondition(ctx, j)
				case j := <-w.evicts:
					w.evict(ctx, j)
				case ev := <-w.evs:
					if _, err := w.events.Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
						w.log.Debug("write event", "reason", ev.Reason, "pod", ev.InvolvedObject.Name, "err", err)
					}
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// shard is the status channel of a pod: FNV-1a of its UID.
func shard(uid types.UID) int {
	h := uint32(2166136261)
	for i := 0; i < len(uid); i++ {
		h = (h ^ uint32(uid[i])) * 16777619
	}
	return int(h % writers)
}

func (w *writer) status(j condJob) {
	select {
	case w.conds[shard(j.pod.UID)] <- j:
	default:
		w.dropped.Add(1)
	}
}

// condition sets the pod's PodScheduled condition to False with reason
// and msg (unless it already says so).
func (w *writer) condition(inf podGetter, pod *corev1.Pod, reason, msg string) {
	w.status(condJob{inf: inf, pod: pod, reason: reason, msg: msg})
}

// unnominate clears the pod's status.nominatedNodeName and, with a
// reason, sets its condition as condition does, in one write. A dropped
// write leaves the nomination in the status; the informer then brings
// it back into the cache, and the pod's next attempt clears it again.
func (w *writer) unnominate(inf podGetter, pod *corev1.Pod, reason, msg string) {
	w.status(condJob{inf: inf, pod: pod, reason: reason, msg: msg, nominate: true})
}

// preempt records that pod is nominated to node and evicts the victims
// there (graceful deletion, with an event on each).
func (w *writer) preempt(inf podGetter, pod *corev1.Pod, reason, msg, node, scheduler string, victims []*corev1.Pod) {
	for _, v := range victims {
		select {
		case w.evicts <- evictJob{victim: v, preemptor: pod, node: node, scheduler: scheduler}:
		default:
			w.dropped.Add(1) // the next attempt preempts again
		}
	}
	w.status(condJob{inf: inf, pod: pod, reason: reason, msg: msg, nominate: true, nominated: node})
}

func (w *writer) evict(ctx context.Context, j evictJob) {
	uid := j.victim.UID
	_, _, err := w.pods.Delete(ctx, j.victim.Namespace, j.victim.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil {
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
			w.log.Warn("evict preemption victim", "pod", key(j.victim), "err", err)
		}
		return
	}
	w.event(j.victim, j.scheduler, corev1.EventTypeNormal, "Preempted", "Preempting",
		fmt.Sprintf("Preempted by pod %s on node %s", j.preemptor.UID, j.node))
}

func (w *writer) writeCondition(ctx context.Context, j condJob) {
	cur, ok := j.inf.Get(j.pod.Namespace, j.pod.Name)
	cached := true // cur comes from the informer, which may lag
	for attempt := 0; attempt < 3; attempt++ {
		if !ok || cur.UID != j.pod.UID || cur.Spec.NodeName != "" || cur.DeletionTimestamp != nil {
			return // gone, replaced, bound or going
		}
		next, changed := cur, false
		if j.reason != "" {
			next, changed = withCondition(cur, j.reason, j.msg)
		}
		if j.nominate && next.Status.NominatedNodeName != j.nominated {
			if !changed {
				next = cur.DeepCopy()
			}
			next.Status.NominatedNodeName, changed = j.nominated, true
		}
		if !changed && j.nominate && j.nominated == "" && cached {
			// Nothing to clear as the informer sees the pod, but the
			// nomination this clears may have been written a moment ago
			// and not have reached it: ask the API server. Clearing is
			// rare (a nomination that no longer holds), and so is this
			// read.
			var err error
			cur, err = w.pods.Get(ctx, j.pod.Namespace, j.pod.Name)
			ok, cached = err == nil, false
			continue
		}
		if !changed {
			return
		}
		_, err := w.pods.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil || ctx.Err() != nil {
			return
		}
		if !apierrors.IsConflict(err) {
			w.log.Debug("write pod condition", "pod", key(j.pod), "err", err)
			return
		}
		cur, err = w.pods.Get(ctx, j.pod.Namespace, j.pod.Name)
		ok = err == nil
	}
}

// withCondition returns a copy of p with PodScheduled=False, reason and
// msg, and whether that changes anything.
func withCondition(p *corev1.Pod, reason, msg string) (*corev1.Pod, bool) {
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	c := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg, LastTransitionTime: now}
	next := p.DeepCopy()
	for i, old := range next.Status.Conditions {
		if old.Type != corev1.PodScheduled {
			continue
		}
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			return p, false
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		c.LastProbeTime = old.LastProbeTime
		next.Status.Conditions[i] = c
		return next, true
	}
	next.Status.Conditions = append(next.Status.Conditions, c)
	return next, true
}

// event records an event about pod from the profile's scheduler. A
// warning that repeats the last one about the pod within repeatAfter is
// dropped.
func (w *writer) event(pod *corev1.Pod, scheduler, typ, reason, action, msg string) {
	now := time.Now()
	if !w.fresh(pod.UID, typ, msg, now) {
		return
	}
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace,
			Name: fmt.Sprintf("%s.%x%04x", pod.Name, now.UnixNano(), w.seq.Add(1)&0xffff)},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Reason: reason, Message: msg, Type: typ, Action: action,
		Source:              corev1.EventSource{Component: scheduler},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: scheduler, ReportingInstance: scheduler + "-" + w.instance,
	}
	if len(ev.ReportingInstance) > 128 {
		ev.ReportingInstance = ev.ReportingInstance[:128]
	}
	select {
	case w.evs <- ev:
	default:
		w.dropped.Add(1)
	}
}

// fresh reports whether an event is worth sending, and remembers
// warnings. A normal event (the pod was bound) forgets the pod.
func (w *writer) fresh(uid types.UID, typ, msg string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if typ != corev1.EventTypeWarning {
		delete(w.recent, uid)
		return true
	}
	if last, ok := w.recent[uid]; ok && last.msg == msg && now.Sub(last.at) < repeatAfter {
		return false
	}
	if len(w.recent) >= 10_000 && now.Sub(w.pruned) >= repeatAfter {
		w.pruned = now
		for k, v := range w.recent {
			if now.Sub(v.at) >= repeatAfter {
				delete(w.recent, k)
			}
		}
	}
	w.recent[uid] = sent{msg: msg, at: now}
	return true
}
