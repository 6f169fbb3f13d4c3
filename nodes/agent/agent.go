package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/bus/store"
	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/sdk/api"
	"github.com/skiffhq/skiff/sdk/client"
)

// podAPI is what pod workers write through: the API server's pods
// (client.Typed[*corev1.Pod] in production).
type podAPI interface {
	Get(ctx context.Context, ns, name string) (*corev1.Pod, error)
	UpdateStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) (*corev1.Pod, error)
	Delete(ctx context.Context, ns, name string, opts metav1.DeleteOptions) (*corev1.Pod, bool, error)
}

// Agent is one node's agent. Create it with New and run it with Run.
type Agent struct {
	cfg    Config
	log    *slog.Logger
	pods   podAPI
	nodes  *client.Typed[*corev1.Node]
	leases *client.Typed[*coordinationv1.Lease]

	hostIP      string
	capacity    corev1.ResourceList
	allocatable corev1.ResourceList
	sysInfo     corev1.NodeSystemInfo
	runtimeName string // set by Run before any worker starts

	// mu guards workers and byKey. It is taken inside runtime event
	// callbacks (which run under the runtime's own locks), so nothing may
	// call the runtime while holding it.
	mu      sync.Mutex
	workers map[types.UID]*worker
	byKey   map[string]types.UID // node index key -> pod UID
	wg      sync.WaitGroup       // pod workers

	// Owned by Run's goroutines: nodeUID is set by register before the
	// others start; lease belongs to the heartbeat goroutine.
	nodeUID types.UID
	lease   *coordinationv1.Lease
}

// New checks cfg and returns an agent. It starts nothing.
func New(cfg Config) (*Agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	a := &Agent{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.Name),
		pods:    client.For[*corev1.Pod](cfg.Client),
		nodes:   client.For[*corev1.Node](cfg.Client),
		leases:  client.For[*coordinationv1.Lease](cfg.Client),
		hostIP:  cfg.NodeIP,
		workers: map[types.UID]*worker{},
		byKey:   map[string]types.UID{},
	}
	if a.hostIP == "" {
		a.hostIP = hostIP()
	}
	a.capacity = capacity(&cfg)
	a.allocatable = allocatable(a.capacity, cfg.Reserved)
	if cfg.SystemInfo != nil {
		a.sysInfo = *cfg.SystemInfo
	} else {
		a.sysInfo = machineInfo()
	}
	a.sysInfo.KubeletVersion = kubeletVersion()
	a.sysInfo.OperatingSystem = nodeLabels(&cfg)[LabelOS]
	a.sysInfo.Architecture = nodeLabels(&cfg)[LabelArch]
	return a, nil
}

// Name is the node's name.
func (a *Agent) Name() string { return a.cfg.Name }

// Run registers the node and runs it until ctx ends: heartbeats, node
// status, and the node's pods. It returns nil when ctx ends, leaving the
// pods' containers running (a restarted agent adopts them). Failures to
// reach the runtime or the API server are logged and retried, never
// returned.
func (a *Agent) Run(ctx context.Context) error {
	info, err := a.runtimeInfo(ctx)
	if err != nil {
		return nil // ctx ended: runtimeInfo retries until then
	}
	a.runtimeName = info.Name
	if err := retry(ctx, a.log, "register node", func() error { return a.register(ctx, info) }); err != nil {
		return nil // ctx ended
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		heartbeat(ctx, a.cfg.HeartbeatOffset, a.cfg.HeartbeatInterval, a.renewLease)
	})
	wg.Go(func() { a.reportStatus(ctx, info) })
	wg.Go(func() { a.routeEvents(ctx) })
	wg.Go(func() { a.watchPods(ctx) })
	wg.Wait()
	a.wg.Wait()
	return nil
}

// runtimeInfo asks the runtime who it is, retrying until ctx ends.
func (a *Agent) runtimeInfo(ctx context.Context) (runtime.Info, error) {
	var info runtime.Info
	err := retry(ctx, a.log, "runtime info", func() error {
		var err error
		info, err = a.cfg.Runtime.Info(ctx)
		return err
	})
	return info, err
}

// retry calls f until it succeeds, backing off from 200 ms to 10 s; it
// fails only when ctx ends.
func retry(ctx context.Context, log *slog.Logger, what string, f func() error) error {
	delay := 200 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn(what, "err", err, "retry", delay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// register creates the node, or brings an existing one's labels and
// status up to date.
func (a *Agent) register(ctx context.Context, info runtime.Info) error {
	now := time.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Labels: nodeLabels(&a.cfg)},
		Spec:       corev1.NodeSpec{Taints: a.cfg.Taints},
	}
	if a.cfg.PodCIDR != "" {
		node.Spec.PodCIDR = a.cfg.PodCIDR
		node.Spec.PodCIDRs = []string{a.cfg.PodCIDR}
	}
	node.Status = a.nodeStatus(now, info, nil, nil)
	created, err := a.nodes.Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		a.nodeUID = created.UID
		a.log.Info("node registered")
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node: %w", err)
	}
	cur, err := a.nodes.Get(ctx, "", a.cfg.Name)
	if err != nil {
		return fmt.Errorf("get node: %w", err)
	}
	a.nodeUID = cur.UID
	want := nodeLabels(&a.cfg)
	if !subset(want, cur.Labels) || cur.Spec.PodCIDR == "" && a.cfg.PodCIDR != "" {
		next := cur.DeepCopy()
		if next.Labels == nil {
			next.Labels = map[string]string{}
		}
		maps.Copy(next.Labels, want)
		if next.Spec.PodCIDR == "" && a.cfg.PodCIDR != "" {
			next.Spec.PodCIDR = a.cfg.PodCIDR
			next.Spec.PodCIDRs = []string{a.cfg.PodCIDR}
		}
		if cur, err = a.nodes.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update node: %w", err)
		}
	}
	next := cur.DeepCopy()
	next.Status = a.nodeStatus(now, info, nil, &cur.Status)
	if _, err := a.nodes.UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update node status: %w", err)
	}
	a.log.Info("node re-registered")
	return nil
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

// reportStatus checks the node's status every StatusInterval and writes it
// when it changed or StatusReportInterval has passed since the last write.
func (a *Agent) reportStatus(ctx context.Context, info runtime.Info) {
	var last *corev1.NodeStatus
	var lastWrite time.Time
	t := time.NewTicker(a.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		_, rerr := a.cfg.Runtime.Info(ctx)
		st := a.nodeStatus(now, info, rerr, last)
		if last != nil && sameNodeStatus(last, &st) && now.Sub(lastWrite) < a.cfg.StatusReportInterval {
			continue
		}
		if err := a.writeNodeStatus(ctx, &st); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("node status", "err", err)
			}
			continue
		}
		last, lastWrite = &st, now
	}
}

func (a *Agent) writeNodeStatus(ctx context.Context, st *corev1.NodeStatus) error {
	for attempt := 0; ; attempt++ {
		cur, err := a.nodes.Get(ctx, "", a.cfg.Name)
		if err != nil {
			return err
		}
		next := cur.DeepCopy()
		next.Status = *st.DeepCopy()
		_, err = a.nodes.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) || attempt >= 4 {
			return err
		}
	}
}

// heartbeat calls renew after offset and then every interval until ctx
// ends. A failed renewal is retried sooner: after interval/8, doubling
// back up to interval.
func heartbeat(ctx context.Context, offset, interval time.Duration, renew func(context.Context) error) {
	t := time.NewTimer(offset)
	defer t.Stop()
	retryIn := interval / 8
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := interval
		if err := renew(ctx); err != nil && ctx.Err() == nil {
			next = retryIn
			retryIn = min(2*retryIn, interval)
		} else {
			retryIn = interval / 8
		}
		t.Reset(next)
	}
}

// renewLease renews the node's Lease (creating it if needed), as the
// kubelet's node lease controller does.
func (a *Agent) renewLease(ctx context.Context) error {
	now := metav1.NewMicroTime(time.Now())
	if a.lease == nil {
		l, err := a.leases.Get(ctx, corev1.NamespaceNodeLease, a.cfg.Name)
		switch {
		case apierrors.IsNotFound(err):
			l = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: a.cfg.Name, Namespace: corev1.NamespaceNodeLease,
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: a.cfg.Name, UID: a.nodeUID}}},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: new(a.cfg.Name),
					LeaseDurationSeconds: new(int32(a.cfg.LeaseDuration / time.Second)), RenewTime: &now},
			}
			created, err := a.leases.Create(ctx, l, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create lease: %w", err)
			}
			a.lease = created
			return nil
		case err != nil:
			return fmt.Errorf("get lease: %w", err)
		}
		a.lease = l
	}
	next := a.lease.DeepCopy()
	next.Spec.HolderIdentity = new(a.cfg.Name)
	next.Spec.LeaseDurationSeconds = new(int32(a.cfg.LeaseDuration / time.Second))
	next.Spec.RenewTime = &now
	updated, err := a.leases.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		a.lease = nil // read it again next time
		return fmt.Errorf("renew lease: %w", err)
	}
	a.lease = updated
	return nil
}

// routeEvents wakes the worker of the pod each runtime event is about.
func (a *Agent) routeEvents(ctx context.Context) {
	for ctx.Err() == nil {
		err := a.cfg.Runtime.Events(ctx, func(ev runtime.Event) {
			uid := types.UID(ev.Labels[runtime.LabelPodUID])
			a.mu.Lock()
			w := a.workers[uid]
			a.mu.Unlock()
			if w != nil {
				w.poke()
			}
		})
		if err != nil && ctx.Err() == nil {
			a.log.Warn("runtime events", "err", err)
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
	}
}

// watchPods lists and watches the node's prefix of the node index, and
// hands every change to the pods' workers. It reads nothing else: a node
// never sees other nodes' pods.
func (a *Agent) watchPods(ctx context.Context) {
	prefix := api.NodePodPrefix(a.cfg.Name)
	first := true
	for ctx.Err() == nil {
		var w *store.Watcher
		err := retry(ctx, a.log, "list pods", func() error {
			res, err := a.cfg.NodePods.List(ctx, prefix)
			if err != nil {
				return err
			}
			w, err = a.cfg.NodePods.Watch(ctx, prefix, res.Revision)
			if err != nil {
				return err
			}
			a.resync(ctx, res.Entries, first)
			if first && a.cfg.Ready != nil {
				a.cfg.Ready()
			}
			first = false
			return nil
		})
		if err != nil {
			return
		}
		for ev := range w.Events() {
			switch ev.Type {
			case store.Put:
				a.put(ctx, ev.Key, ev.Value)
			case store.Deleted:
				a.gone(ev.Key)
			}
		}
		err = w.Err()
		w.Stop()
		if err != nil && !errors.Is(err, store.ErrTooOld) {
			a.log.Warn("pod watch", "err", err)
		}
	}
}

// resync makes the workers match a fresh list of the node's pods. On the
// first list it also adopts what the runtime runs for pods that no longer
// exist, so that their workers clean them up.
func (a *Agent) resync(ctx context.Context, entries []store.Entry, first bool) {
	listed := map[string]bool{}
	for _, e := range entries {
		listed[e.Key] = true
		a.put(ctx, e.Key, e.Value)
	}
	a.mu.Lock()
	var stale []string
	for key := range a.byKey {
		if !listed[key] {
			stale = append(stale, key)
		}
	}
	a.mu.Unlock()
	for _, key := range stale {
		a.gone(key)
	}
	if first {
		a.adoptOrphans(ctx)
	}
}

// adoptOrphans starts a worker, for a pod that is gone, for every sandbox
// the runtime holds of a pod that has no worker.
func (a *Agent) adoptOrphans(ctx context.Context) {
	sbs, err := a.cfg.Runtime.ListSandboxes(ctx, nil)
	if err != nil {
		a.log.Warn("list sandboxes", "err", err)
		return
	}
	for _, sb := range sbs {
		uid := types.UID(sb.Labels[runtime.LabelPodUID])
		if uid == "" {
			continue // not the agent's
		}
		a.mu.Lock()
		_, known := a.workers[uid]
		a.mu.Unlock()
		if known {
			continue
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid, Name: sb.Labels[runtime.LabelPodName],
			Namespace: sb.Labels[runtime.LabelPodNamespace]}}
		a.log.Info("cleaning up orphaned pod", "pod", pod.Namespace+"/"+pod.Name, "uid", uid)
		a.spawn(ctx, "", pod, true)
	}
	// Volumes of pods deleted while the agent was down, whose sandboxes
	// are already gone.
	for _, uid := range a.volumeUIDs() {
		a.mu.Lock()
		_, known := a.workers[uid]
		a.mu.Unlock()
		if !known {
			a.log.Info("cleaning up the volumes of an orphaned pod", "uid", uid)
			a.spawn(ctx, "", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid}}, true)
		}
	}
}

// put hands a node index value to its pod's worker, starting one if
// needed.
func (a *Agent) put(ctx context.Context, key string, value []byte) {
	pod, err := api.DecodeNodePod(value)
	if err != nil {
		a.log.Warn("undecodable node index entry", "key", key, "err", err)
		return
	}
	if pod.Spec.NodeName != a.cfg.Name {
		a.log.Warn("node index entry of another node", "key", key, "nodeName", pod.Spec.NodeName)
		return
	}
	a.spawn(ctx, key, pod, false)
}

// spawn updates the worker of pod (by UID), creating it if needed.
func (a *Agent) spawn(ctx context.Context, key string, pod *corev1.Pod, gone bool) {
	a.mu.Lock()
	if key != "" {
		if old, ok := a.byKey[key]; ok && old != pod.UID {
			if w := a.workers[old]; w != nil {
				w.markGone()
			}
		}
		a.byKey[key] = pod.UID
	}
	w := a.workers[pod.UID]
	if w == nil {
		w = newWorker(a, pod)
		a.workers[pod.UID] = w
		a.wg.Go(func() {
			w.run(ctx)
			a.finished(w)
		})
	}
	a.mu.Unlock()
	if gone {
		w.markGone()
	} else {
		w.update(pod)
	}
}

// gone tells the worker of the pod at key that the pod no longer exists.
func (a *Agent) gone(key string) {
	a.mu.Lock()
	uid, ok := a.byKey[key]
	delete(a.byKey, key)
	w := a.workers[uid]
	a.mu.Unlock()
	if ok && w != nil {
		w.markGone()
	}
}

// finished forgets a worker that has ended.
func (a *Agent) finished(w *worker) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.workers[w.uid] == w {
		delete(a.workers, w.uid)
	}
	for k, uid := range a.byKey {
		if uid == w.uid {
			delete(a.byKey, k)
		}
	}
}

// PodCount is how many pods the agent has workers for.
func (a *Agent) PodCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.workers)
}

func semanticEqual(a, b any) bool { return apiequality.Semantic.DeepEqual(a, b) }
