package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/nodes/runtime"
	"github.com/skiffhq/skiff/nodes/runtime/simulated"
	"github.com/skiffhq/skiff/sdk/api"
)

// These tests run pod workers and heartbeats under testing/synctest, so
// that minutes of back-off pass in an instant. A NATS connection cannot
// live in a synctest bubble (its reads are not durably blocking), so the
// pod's API object is kept by onePod, which does what the API server does
// to one pod's status: compare-and-swap on resourceVersion. Everything
// else (worker, lifecycle, simulated runtime) is the real code; the
// behaviour against the real API server is covered by agent_test.go.

type onePod struct {
	mu      sync.Mutex
	pod     *corev1.Pod
	rev     uint64
	writes  []corev1.PodStatus
	deleted bool
}

var podsGR = schema.GroupResource{Resource: "pods"}

func (o *onePod) Get(_ context.Context, _, name string) (*corev1.Pod, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.deleted {
		return nil, apierrors.NewNotFound(podsGR, name)
	}
	return o.pod.DeepCopy(), nil
}

func (o *onePod) UpdateStatus(_ context.Context, p *corev1.Pod, _ metav1.UpdateOptions) (*corev1.Pod, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.deleted {
		return nil, apierrors.NewNotFound(podsGR, p.Name)
	}
	if p.ResourceVersion != o.pod.ResourceVersion {
		return nil, apierrors.NewConflict(podsGR, p.Name, errors.New("stale"))
	}
	o.rev++
	o.pod.Status = *p.Status.DeepCopy()
	o.pod.ResourceVersion = api.FormatRevision(o.rev)
	o.writes = append(o.writes, *p.Status.DeepCopy())
	return o.pod.DeepCopy(), nil
}

func (o *onePod) Delete(_ context.Context, _, name string, _ metav1.DeleteOptions) (*corev1.Pod, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deleted = true
	return o.pod.DeepCopy(), true, nil
}

func (o *onePod) statuses() []corev1.PodStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]corev1.PodStatus(nil), o.writes...)
}

// pulls counts image pulls through a simulated runtime.
type pulls struct {
	*simulated.Runtime
	mu sync.Mutex
	at []time.Time
}

func (p *pulls) PullImage(ctx context.Context, sandboxID, image string) (runtime.Image, error) {
	p.mu.Lock()
	p.at = append(p.at, time.Now())
	p.mu.Unlock()
	return p.Runtime.PullImage(ctx, sandboxID, image)
}

// runWorker runs one pod's worker on rt, as the agent would, until ctx
// ends.
func runWorker(ctx context.Context, rt runtime.Runtime, pod *corev1.Pod) (*onePod, *worker, func()) {
	o := &onePod{pod: pod.DeepCopy(), rev: 1}
	o.pod.ResourceVersion = "1"
	cfg := Config{Name: "n1", Runtime: rt}
	cfg.defaults()
	a := &Agent{cfg: cfg, log: slog.New(slog.DiscardHandler), pods: o, runtimeName: simulated.Name, hostIP: "10.0.0.1",
		workers: map[types.UID]*worker{}, byKey: map[string]types.UID{}}
	w := newWorker(a, o.pod.DeepCopy())
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.run(ctx) })
	wg.Go(func() { _ = rt.Events(ctx, func(runtime.Event) { w.poke() }) })
	return o, w, func() { cancel(); wg.Wait() }
}

func crashingPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crash", Namespace: "default", UID: "uid-1",
			Annotations: map[string]string{simulated.AnnotationExitAfter: "0s", simulated.AnnotationExitCode: "1"}},
		Spec: corev1.PodSpec{NodeName: "n1", RestartPolicy: corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func TestCrashLoopBackOffTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := simulated.New(simulated.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		o, _, stop := runWorker(t.Context(), rt, crashingPod())
		starts := map[int]time.Time{}
		for begin := time.Now(); time.Since(begin) < 25*time.Minute; {
			time.Sleep(time.Second)
			cs, err := rt.ListContainers(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				starts[c.Attempt] = c.StartedAt
			}
		}
		stop()
		// The kubelet's back-off: the first restart at once, then 10 s,
		// doubling, up to 5 min.
		want := []time.Duration{0, 10, 20, 40, 80, 160, 300, 300, 300}
		for k, w := range want {
			a, b := starts[k], starts[k+1]
			if a.IsZero() || b.IsZero() {
				t.Fatalf("attempt %d or %d never started (starts %v)", k, k+1, starts)
			}
			if got := b.Sub(a); got != w*time.Second {
				t.Errorf("attempt %d started %s after attempt %d, want %s", k+1, got, k, w*time.Second)
			}
		}
		var msgs []string
		for _, st := range o.statuses() {
			if len(st.ContainerStatuses) == 1 {
				if w := st.ContainerStatuses[0].State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
					msgs = append(msgs, w.Message)
				}
			}
		}
		joined := strings.Join(msgs, "\n")
		for _, d := range []string{"10s", "20s", "40s", "1m20s", "2m40s", "5m0s"} {
			if !strings.Contains(joined, "back-off "+d+" restarting failed container=app pod=crash_default(uid-1)") {
				t.Errorf("no CrashLoopBackOff status with a %s back-off in:\n%s", d, joined)
			}
		}
	})
}

func TestImagePullBackOffTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulated.New(simulated.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		rt := &pulls{Runtime: sim}
		pod := crashingPod()
		pod.Annotations = map[string]string{simulated.AnnotationPullError: "no such image"}
		o, _, stop := runWorker(t.Context(), rt, pod)
		time.Sleep(3 * time.Minute)
		stop()
		rt.mu.Lock()
		at := rt.at
		rt.mu.Unlock()
		var gaps []string
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i].Sub(at[i-1]).String())
		}
		if got, want := strings.Join(gaps, " "), "10s 20s 40s 1m20s"; !strings.HasPrefix(got, want) {
			t.Errorf("pulls retried after %s, want %s…", got, want)
		}
		reasons := map[string]bool{}
		for _, st := range o.statuses() {
			if w := st.ContainerStatuses[0].State.Waiting; w != nil {
				reasons[w.Reason] = true
			}
		}
		if !reasons["ErrImagePull"] || !reasons["ImagePullBackOff"] {
			t.Errorf("waiting reasons %v, want ErrImagePull and ImagePullBackOff", reasons)
		}
	})
}

func TestGracePeriodTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, err := simulated.New(simulated.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		pod := crashingPod()
		pod.Annotations = map[string]string{simulated.AnnotationTermAfter: "never"}
		pod.Spec.TerminationGracePeriodSeconds = new(int64(45))
		o, w, stop := runWorker(t.Context(), rt, pod)
		defer stop()
		time.Sleep(time.Second)
		if st := o.statuses(); len(st) == 0 || st[len(st)-1].Phase != corev1.PodRunning {
			t.Fatalf("not running: %v", st)
		}
		// What the API server does on delete: deletionTimestamp and grace.
		o.mu.Lock()
		o.rev++
		o.pod.ResourceVersion = api.FormatRevision(o.rev)
		o.pod.DeletionTimestamp = &metav1.Time{Time: time.Now().Add(45 * time.Second)}
		o.pod.DeletionGracePeriodSeconds = new(int64(45))
		deleting := o.pod.DeepCopy()
		o.mu.Unlock()
		begin := time.Now()
		// The agent hands the worker the new state, as the watch does.
		w.update(deleting)
		for !o.isDeleted() && time.Since(begin) < time.Minute {
			time.Sleep(100 * time.Millisecond)
		}
		if took := time.Since(begin); took < 45*time.Second || took > 46*time.Second {
			t.Errorf("pod deleted %s after the deletion began, want the 45s grace period", took)
		}
		cs, _ := rt.ListContainers(t.Context(), nil)
		if len(cs) != 1 || cs[0].State != runtime.StateExited || cs[0].ExitCode != 137 {
			t.Errorf("containers after the grace period: %+v", cs)
		}
	})
}

func (o *onePod) isDeleted() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deleted
}

func TestHeartbeatTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		begin := time.Now()
		var at []string
		calls := 0
		done := make(chan struct{})
		go func() {
			heartbeat(ctx, 3*time.Second, 10*time.Second, func(context.Context) error {
				calls++
				at = append(at, time.Since(begin).String())
				if calls == 3 || calls == 4 {
					return fmt.Errorf("API server unreachable")
				}
				return nil
			})
			close(done)
		}()
		time.Sleep(60 * time.Second)
		cancel()
		<-done
		// Renewals every 10 s after a 3 s offset; failures retried after
		// 1.25 s, then 2.5 s, then back to the interval.
		want := "3s 13s 23s 24.25s 26.75s 36.75s 46.75s 56.75s"
		if got := strings.Join(at, " "); got != want {
			t.Errorf("renewals at %s, want %s", got, want)
		}
	})
}

// calls records a simulated runtime's pod lifecycle calls in order.
type calls struct {
	*simulated.Runtime
	mu  sync.Mutex
	seq []string
}

func (c *calls) add(s string) {
	c.mu.Lock()
	c.seq = append(c.seq, s)
	c.mu.Unlock()
}

func (c *calls) ListSandboxes(ctx context.Context, match map[string]string) ([]runtime.Sandbox, error) {
	c.add("list")
	return c.Runtime.ListSandboxes(ctx, match)
}

func (c *calls) RunSandbox(ctx context.Context, cfg runtime.SandboxConfig) (runtime.Sandbox, error) {
	c.add("sandbox")
	return c.Runtime.RunSandbox(ctx, cfg)
}

func (c *calls) StartContainer(ctx context.Context, id string) error {
	c.add("start")
	return c.Runtime.StartContainer(ctx, id)
}

// TestNewPodSkipsObservingItsSandbox checks that a new pod's worker
// starts its container on RunSandbox's answer, without listing the
// runtime in between, and lists it once the container started.
func TestNewPodSkipsObservingItsSandbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulated.New(simulated.Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer sim.Close()
		rt := &calls{Runtime: sim}
		pod := crashingPod()
		pod.Annotations = nil
		o, _, stop := runWorker(t.Context(), rt, pod)
		time.Sleep(time.Second)
		synctest.Wait()
		stop()
		running := false
		for _, st := range o.statuses() {
			running = running || st.Phase == corev1.PodRunning
		}
		if !running {
			t.Fatalf("pod never reported Running: %v", o.statuses())
		}
		rt.mu.Lock()
		defer rt.mu.Unlock()
		want := []string{"list", "sandbox", "start", "list"}
		if len(rt.seq) < len(want) || !slices.Equal(rt.seq[:len(want)], want) {
			t.Errorf("runtime calls %v, want them to begin with %v", rt.seq, want)
		}
	})
}
