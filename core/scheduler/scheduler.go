package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/bus"
	"github.com/skiffhq/skiff/core/scheduler/builtin"
	"github.com/skiffhq/skiff/core/scheduler/framework"
	"github.com/skiffhq/skiff/core/scheduler/leader"
	"github.com/skiffhq/skiff/core/scheduler/queue"
	"github.com/skiffhq/skiff/plugins"
	"github.com/skiffhq/skiff/sdk/client"
)

// Config configures a scheduler. Only Client is required; the zero value
// of everything else runs kube-scheduler's defaults with one profile,
// "default-scheduler", and leader election on kube-system/skiff-scheduler.
type Config struct {
	Client *client.Client
	// Logger receives the log; nil discards it.
	Logger *slog.Logger
	// Profiles are the scheduling policies, one per schedulerName
	// (default: builtin.DefaultProfile()). Registry holds the plugins
	// they name (default: builtin.Registry()).
	Profiles []framework.Profile
	Registry framework.Registry
	// Identity names this replica in the lease and in events (default:
	// the host name and a random suffix).
	Identity string
	// PercentageOfNodesToScore applies to profiles that set none; 0 is
	// kube-scheduler's adaptive default.
	PercentageOfNodesToScore int32
	// PodInitialBackoff and PodMaxBackoff bound the retry delay of pods
	// whose attempt failed (default 1 s and 10 s).
	PodInitialBackoff, PodMaxBackoff time.Duration
	// BindConcurrency bounds the binding cycles in flight (default 256).
	BindConcurrency int
	// LeaderElection configures the election among replicas.
	LeaderElection LeaderElection
	// Seed seeds tie breaks between equal nodes; 0 picks one at random.
	Seed uint64

	// Modules turns uploaded plugins on: the scheduler then watches
	// Plugin and SchedulerProfile objects (skiff.dev/v1alpha1), loads
	// each Plugin's version from Modules into a wazero host configured by
	// Host (Host.CacheDir is wazero's compilation cache), and schedules
	// the pods of each SchedulerProfile through its plugins, swapping
	// versions and profiles without a restart. nil: only Profiles.
	Modules Modules
	Host    plugins.Config
	// StatusInterval is how often each replica reports its plugins'
	// counters onto their Plugin objects (default 10 s); loads and
	// refusals are reported at once.
	StatusInterval time.Duration
	// Conn, when set, makes the leading replica answer dry runs (skiff
	// plan) on subjects.SchedulerPlan. Serve sets it.
	Conn *bus.Conn
}

// LeaderElection configures the election. The zero value elects on
// kube-system/skiff-scheduler with kube-scheduler's timing and releases
// the lease on shutdown.
type LeaderElection struct {
	// Disabled makes this replica lead unconditionally (one replica only).
	Disabled        bool
	Namespace, Name string
	Timing          leader.Timing
	// KeepOnCancel keeps the lease when Run's context ends, so that the
	// next leader waits for it to lapse (as after a crash).
	KeepOnCancel bool
}

// Default lease of the scheduler's election.
const (
	DefaultLeaseNamespace = "kube-system"
	DefaultLeaseName      = "skiff-scheduler"
)

// Stats count what a scheduler did since it started.
type Stats struct {
	Attempts, Scheduled, Unschedulable, Errors, BindFailures int64
	// Preemptions counts attempts that nominated a node and evicted pods.
	Preemptions int64
}

// Scheduler schedules pods. Build it with New, run it with Run.
type Scheduler struct {
	cfg     Config
	log     *slog.Logger
	c       *client.Client
	static  map[string]*framework.Framework // Config.Profiles, built
	fwOpts  framework.Options
	gen     atomic.Pointer[generation]
	dyn     *dynamic // nil without Config.Modules
	eng     *engine
	queue   *queue.Queue
	writer  *writer
	elector *leader.Elector

	pods       *client.Informer[*corev1.Pod]
	nodes      *client.Informer[*corev1.Node]
	namespaces *client.Informer[*corev1.Namespace]

	bindSlots                                                           chan struct{}
	attempts, scheduled, unschedulable, errs, bindFailures, preemptions atomic.Int64
}

// New validates cfg and builds a scheduler; it starts nothing.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil {
		return nil, errors.New("scheduler: Config.Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registry == nil {
		cfg.Registry = builtin.Registry()
	}
	if len(cfg.Profiles) == 0 {
		cfg.Profiles = []framework.Profile{builtin.DefaultProfile()}
	}
	if cfg.Identity == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "scheduler"
		}
		cfg.Identity = host + "_" + uuid.NewString()[:8]
	}
	if cfg.BindConcurrency <= 0 {
		cfg.BindConcurrency = 256
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.StatusInterval <= 0 {
		cfg.StatusInterval = 10 * time.Second
	}
	le := &cfg.LeaderElection
	if le.Namespace == "" {
		le.Namespace = DefaultLeaseNamespace
	}
	if le.Name == "" {
		le.Name = DefaultLeaseName
	}
	fwOpts := framework.Options{Binder: cfg.Client, PercentageOfNodesToScore: cfg.PercentageOfNodesToScore}
	profiles, err := buildProfiles(cfg.Profiles, cfg.Registry, fwOpts)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{cfg: cfg, log: cfg.Logger, c: cfg.Client, static: profiles, fwOpts: fwOpts, eng: newEngine(profiles, cfg.Seed),
		bindSlots: make(chan struct{}, cfg.BindConcurrency)}
	s.gen.Store(newGeneration(profiles, nil, nil))
	for name, fw := range profiles {
		if !fw.HasBinder() {
			return nil, fmt.Errorf("scheduler: profile %s has no bind plugin", name)
		}
	}
	s.queue = queue.New(queue.Config{
		InitialBackoff: cfg.PodInitialBackoff,
		MaxBackoff:     cfg.PodMaxBackoff,
		PreEnqueue:     s.preEnqueue,
		Interested:     s.interested,
	})
	s.writer = newWriter(cfg.Client, s.log, cfg.Identity)
	if !le.Disabled {
		s.elector, err = leader.New(leader.Config{
			Leases: client.For[*coordinationv1.Lease](cfg.Client), Namespace: le.Namespace, Name: le.Name,
			Identity: cfg.Identity, Timing: le.Timing, ReleaseOnCancel: !le.KeepOnCancel, Logger: s.log,
		})
		if err != nil {
			return nil, fmt.Errorf("scheduler: %w", err)
		}
	}
	s.pods = client.NewInformer(cfg.Client, "", client.Handlers[*corev1.Pod]{OnAdd: s.addPod, OnUpdate: s.updatePod, OnDelete: s.deletePod})
	s.nodes = client.NewInformer(cfg.Client, "", client.Handlers[*corev1.Node]{OnAdd: s.addNode, OnUpdate: s.updateNode, OnDelete: s.deleteNode})
	s.namespaces = client.NewInformer(cfg.Client, "", client.Handlers[*corev1.Namespace]{
		OnAdd: s.setNamespace, OnUpdate: s.updateNamespace, OnDelete: s.deleteNamespace})
	if cfg.Modules != nil {
		s.dyn = newDynamic(s, cfg.Modules, cfg.Host, cfg.StatusInterval)
	}
	return s, nil
}

// Serve runs a scheduler on conn until ctx ends: it is the scheduler as
// a control-plane component (controlplane.Component's Run).
func Serve(ctx context.Context, conn *bus.Conn, cfg Config) error {
	c, err := client.New(ctx, conn)
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	cfg.Client = c
	if cfg.Conn == nil {
		cfg.Conn = conn
	}
	s, err := New(cfg)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Identity is the replica's name in the lease and in events.
func (s *Scheduler) Identity() string { return s.cfg.Identity }

// Leading reports whether this replica schedules now.
func (s *Scheduler) Leading() bool {
	if s.elector == nil {
		return true
	}
	return s.elector.Leading()
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() Stats {
	return Stats{Attempts: s.attempts.Load(), Scheduled: s.scheduled.Load(), Unschedulable: s.unschedulable.Load(),
		Errors: s.errs.Load(), BindFailures: s.bindFailures.Load(), Preemptions: s.preemptions.Load()}
}

// Run watches the cluster and, while this replica leads, schedules pods,
// until ctx ends. It returns nil then, once every goroutine it started
// has ended. Run must be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	runs := []func(context.Context) error{s.namespaces.Run, s.nodes.Run, s.pods.Run, s.queue.Run, s.writer.Run}
	synced := []<-chan struct{}{s.namespaces.Synced(), s.nodes.Synced(), s.pods.Synced()}
	if s.dyn != nil {
		runs, synced = append(runs, s.dyn.informers()...), append(synced, s.dyn.synced()...)
	}
	for _, run := range runs {
		wg.Go(func() { _ = run(ctx) })
	}
	defer wg.Wait()
	for _, ch := range synced {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil
		}
	}
	nodes, pods, _ := s.eng.cache.Counts()
	s.log.Info("scheduler caches synced", "nodes", nodes, "assignedPods", pods, "identity", s.cfg.Identity)
	if s.dyn != nil {
		// The uploaded profiles are in place before the first cycle, so
		// that a SchedulerProfile replacing default-scheduler is never
		// bypassed.
		if err := s.dyn.start(ctx); err != nil {
			cancel()
			return err
		}
		s.dyn.reconcile(ctx)
		wg.Go(func() { _ = s.dyn.Run(ctx) })
	}
	if s.elector == nil {
		s.lead(ctx)
		return nil
	}
	return s.elector.Run(ctx, s.lead)
}

// lead runs scheduling cycles until ctx ends, then waits for the binding
// cycles it started.
func (s *Scheduler) lead(ctx context.Context) {
	s.log.Info("scheduling")
	var binds sync.WaitGroup
	defer binds.Wait()
	if s.cfg.Conn != nil {
		binds.Go(func() { s.servePlan(ctx, s.cfg.Conn) })
	}
	if s.dyn != nil {
		signal(s.dyn.kick) // the leader writes the profiles' statuses
	}
	for {
		qp, err := s.queue.Pop(ctx)
		if err != nil {
			return
		}
		s.scheduleOne(ctx, qp, &binds)
	}
}

// responsible reports whether this scheduler handles pod.
func (s *Scheduler) responsible(p *corev1.Pod) bool {
	_, ok := s.profile(p.Spec.SchedulerName)
	return ok
}

func (s *Scheduler) preEnqueue(pi *framework.PodInfo) (string, *framework.Status) {
	fw, ok := s.profile(pi.Pod.Spec.SchedulerName)
	if !ok {
		return "", framework.NewStatus(framework.UnschedulableAndUnresolvable, "no profile")
	}
	return fw.RunPreEnqueue(context.Background(), pi)
}

func (s *Scheduler) interested(qp *queue.QueuedPod, ev framework.ClusterEvent) bool {
	fw, ok := s.profile(qp.Pod().Spec.SchedulerName)
	return ok && fw.Interested(qp.RejectedBy, ev)
}

// scheduleOne runs the scheduling cycle of one pod and starts its
// binding cycle. The cycle holds the current generation of profiles from
// start to end; the binding cycle runs only the profile's built-in points
// (uploaded plugins serve Filter and Score), so it needs none.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queue.QueuedPod, binds *sync.WaitGroup) {
	pod := qp.Pod()
	g := s.acquire()
	defer g.release()
	fw, ok := g.profiles[pod.Spec.SchedulerName]
	if !ok || pod.DeletionTimestamp != nil || pod.Spec.NodeName != "" {
		s.queue.Done(qp)
		return
	}
	if _, _, known := s.eng.cache.PodNode(pod.UID); known {
		s.queue.Done(qp) // assumed or bound already
		return
	}
	s.attempts.Add(1)
	r, err := s.eng.schedulingCycle(ctx, fw, qp.Info, false)
	if err != nil {
		s.failed(ctx, qp, fw, err)
		return
	}
	select {
	case s.bindSlots <- struct{}{}:
	case <-ctx.Done():
		s.eng.undo(context.WithoutCancel(ctx), r)
		s.queue.Requeue(qp)
		return
	}
	binds.Go(func() {
		defer func() { <-s.bindSlots }()
		s.bindingCycle(ctx, qp, r)
	})
}

// bindingCycle waits for Permit, then runs PreBind, Bind and PostBind.
func (s *Scheduler) bindingCycle(ctx context.Context, qp *queue.QueuedPod, r *reserved) {
	err := r.fw.WaitOnPermit(ctx, r.pod)
	if err == nil {
		err = r.fw.RunPreBind(ctx, r.state, r.pod, r.node)
	}
	if err == nil {
		err = r.fw.RunBind(ctx, r.state, r.pod, r.node)
	}
	if err != nil {
		s.eng.undo(context.WithoutCancel(ctx), r)
		s.bindFailures.Add(1)
		if gone := apierrors.IsNotFound(err) || apierrors.IsConflict(err); gone {
			// Deleted, or bound by someone else: nothing to retry; the
			// informer brings the truth.
			s.log.Debug("binding abandoned", "pod", key(r.pod.Pod), "node", r.node, "err", err)
			s.queue.Done(qp)
			return
		}
		s.failed(ctx, qp, r.fw, err)
		return
	}
	s.queue.Done(qp)
	s.scheduled.Add(1)
	r.fw.RunPostBind(ctx, r.state, r.pod, r.node)
	s.writer.event(r.pod.Pod, r.fw.SchedulerName(), corev1.EventTypeNormal, "Scheduled", "Binding",
		fmt.Sprintf("Successfully assigned %s to %s", key(r.pod.Pod), r.node))
}

// failed requeues a pod whose attempt failed and tells its owner why.
func (s *Scheduler) failed(ctx context.Context, qp *queue.QueuedPod, fw *framework.Framework, err error) {
	pod := qp.Pod()
	if errors.Is(err, errAssume) {
		s.queue.Done(qp)
		return
	}
	qp.RejectedBy = nil
	reason := "SchedulerError"
	var fe *framework.FitError
	var rj *framework.Rejection
	switch {
	case ctx.Err() != nil:
		// Stopped leading (or shutting down): retry later, say nothing.
		s.queue.Requeue(qp)
		return
	case errors.As(err, &fe):
		qp.RejectedBy = fe.Diagnosis.UnschedulablePlugins
		reason = corev1.PodReasonUnschedulable
		s.unschedulable.Add(1)
	case errors.As(err, &rj):
		qp.RejectedBy = map[string]struct{}{rj.Plugin: {}}
		reason = corev1.PodReasonUnschedulable
		s.unschedulable.Add(1)
	default:
		s.errs.Add(1)
		s.log.Warn("scheduling attempt failed", "pod", key(pod), "err", err)
	}
	msg := err.Error()
	if rj != nil {
		msg = rj.Status.Message()
	}
	var d framework.Diagnosis
	if fe != nil {
		d = fe.Diagnosis
	}
	switch {
	case d.NominatedNodeName != "":
		// Other pods' cycles leave the room from now on, not from when
		// the status write lands (as kube-scheduler). Pods of lower
		// priority nominated there lose the room to this one.
		s.eng.cache.NominatePod(qp.Info, d.NominatedNodeName)
		lost := s.eng.cache.RemoveNominatedBelow(d.NominatedNodeName, framework.PodPriority(pod))
		s.queue.Requeue(qp)
		s.preemptions.Add(1)
		s.writer.preempt(s.pods, pod, reason, msg, d.NominatedNodeName, fw.SchedulerName(), d.Victims)
		s.unnominated(lost)
	case d.ClearNomination && s.clearNomination(pod):
		s.queue.Requeue(qp)
		s.writer.unnominate(s.pods, pod, reason, msg)
	default:
		s.queue.Requeue(qp)
		s.writer.condition(s.pods, pod, reason, msg)
	}
	s.writer.event(pod, fw.SchedulerName(), corev1.EventTypeWarning, "FailedScheduling", "Scheduling", msg)
}

// clearNomination drops pod's nomination from the cache and reports
// whether its status needs clearing too: whether the cache had one or
// the pod's status shows one.
func (s *Scheduler) clearNomination(pod *corev1.Pod) bool {
	had := s.eng.cache.RemoveNominatedPod(pod.UID)
	return had || pod.Status.NominatedNodeName != ""
}

// unnominated follows pods whose nomination a preemptor took away: their
// status is cleared and they are retried, since the room they waited
// for is gone.
func (s *Scheduler) unnominated(pods []*framework.PodInfo) {
	if len(pods) == 0 {
		return
	}
	uids := make([]types.UID, len(pods))
	for i, pi := range pods {
		uids[i] = pi.Pod.UID
		s.writer.unnominate(s.pods, pi.Pod, "", "")
	}
	s.queue.Move(uids)
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }
