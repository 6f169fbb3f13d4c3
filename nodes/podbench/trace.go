package podbench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Phases of a pod start, in the order the agent goes through them, each
// timed from just before the pod's create call. The tracer stamps the
// runtime ones, the bench's watch running.
const (
	phaseSeen        = iota // the agent's worker first asked the runtime about the pod
	phaseSandbox            // RunSandbox called (netns, record, CNI ADD)
	phaseSandboxDone        // RunSandbox returned
	phaseCreate             // CreateContainer called (image checked, config built)
	phaseCreateDone         // CreateContainer returned
	phaseStart              // StartContainer called
	phaseStartDone          // StartContainer returned (shim, runc create, start)
	phaseRunning            // the bench's watch showed phase Running
	numPhases
)

var phaseNames = [numPhases]string{"seen", "sandbox", "sandbox-done", "create", "create-done", "start", "start-done", "running"}

// tracer is the bench node's runtime with the time of each pod's phases
// recorded, by pod UID. It is safe for concurrent use.
type tracer struct {
	runtime.Runtime

	mu   sync.Mutex
	pods map[types.UID]*[numPhases]time.Time
	ctrs map[string]types.UID // container ID -> pod UID
}

func newTracer(rt runtime.Runtime) *tracer {
	return &tracer{Runtime: rt, pods: map[types.UID]*[numPhases]time.Time{}, ctrs: map[string]types.UID{}}
}

// stamp records phase p of pod uid at now, unless already recorded.
func (t *tracer) stamp(uid types.UID, p int, now time.Time) {
	if uid == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := t.pods[uid]
	if ts == nil {
		ts = new([numPhases]time.Time)
		t.pods[uid] = ts
	}
	if ts[p].IsZero() {
		ts[p] = now
	}
}

// times are the phases of pod uid (zero: not reached).
func (t *tracer) times(uid types.UID) [numPhases]time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ts := t.pods[uid]; ts != nil {
		return *ts
	}
	return [numPhases]time.Time{}
}

func (t *tracer) ListSandboxes(ctx context.Context, match map[string]string) ([]runtime.Sandbox, error) {
	t.stamp(types.UID(match[runtime.LabelPodUID]), phaseSeen, time.Now())
	return t.Runtime.ListSandboxes(ctx, match)
}

func (t *tracer) RunSandbox(ctx context.Context, cfg runtime.SandboxConfig) (runtime.Sandbox, error) {
	uid := types.UID(cfg.Labels[runtime.LabelPodUID])
	t.stamp(uid, phaseSandbox, time.Now())
	sb, err := t.Runtime.RunSandbox(ctx, cfg)
	t.stamp(uid, phaseSandboxDone, time.Now())
	return sb, err
}

func (t *tracer) CreateContainer(ctx context.Context, sandboxID string, cfg runtime.ContainerConfig) (runtime.Container, error) {
	uid := types.UID(cfg.Labels[runtime.LabelPodUID])
	t.stamp(uid, phaseCreate, time.Now())
	c, err := t.Runtime.CreateContainer(ctx, sandboxID, cfg)
	t.stamp(uid, phaseCreateDone, time.Now())
	if err == nil {
		t.mu.Lock()
		t.ctrs[c.ID] = uid
		t.mu.Unlock()
	}
	return c, err
}

func (t *tracer) StartContainer(ctx context.Context, id string) error {
	t.mu.Lock()
	uid := t.ctrs[id]
	t.mu.Unlock()
	t.stamp(uid, phaseStart, time.Now())
	err := t.Runtime.StartContainer(ctx, id)
	t.stamp(uid, phaseStartDone, time.Now())
	return err
}

// printPhases writes, for pods whose create calls began at t0s (those
// with every phase known), each phase's median and maximum time since
// then and the median and maximum time of the step that ended with it
// (for the first phase, since the create call).
func printPhases(w io.Writer, what string, t0s []time.Time, all [][numPhases]time.Time) {
	var at, step [numPhases][]time.Duration
	for i, ts := range all {
		if slices.ContainsFunc(ts[:], time.Time.IsZero) {
			continue
		}
		for p := range numPhases {
			at[p] = append(at[p], ts[p].Sub(t0s[i]))
			prev := t0s[i]
			if p > 0 {
				prev = ts[p-1]
			}
			step[p] = append(step[p], ts[p].Sub(prev))
		}
	}
	if len(at[0]) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s phases of %d pods, ms since the create call and of the step ending there (median/max):\n", what, len(at[0]))
	for p := range numPhases {
		slices.Sort(at[p])
		slices.Sort(step[p])
		fmt.Fprintf(&b, "  %-12s at %7.1f/%7.1f  step %6.1f/%6.1f\n", phaseNames[p], ms(at[p][len(at[p])/2]), ms(at[p][len(at[p])-1]),
			ms(step[p][len(step[p])/2]), ms(step[p][len(step[p])-1]))
	}
	_, _ = io.WriteString(w, b.String())
}

// cpuTimes is the CPU time used so far by the bench's processes, by
// kind: this process (the agent, the runtime's client and an in-process
// control plane), the private containerd daemon and the shims of its
// tasks, each by itself and by its reaped children (this process's are
// the CNI plugins, the daemon's the shims' start commands, the shims'
// runc). Processes are found by their command line naming stateDir.
type cpuTimes map[string][2]time.Duration // kind -> own, children's

// processCPU reads /proc; what it cannot read it leaves out.
func processCPU(stateDir string) cpuTimes {
	out := cpuTimes{}
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	ents, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range ents {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		cl, err := os.ReadFile("/proc/" + pid + "/cmdline")
		if err != nil {
			continue
		}
		argv0, _, _ := strings.Cut(string(cl), "\x00")
		var kind string
		switch {
		case pid == self:
			kind = "bench"
		case !strings.Contains(string(cl), stateDir):
			continue
		case filepath.Base(argv0) == "containerd":
			kind = "containerd"
		case strings.HasPrefix(filepath.Base(argv0), "containerd-shim"):
			kind = "shims"
		default:
			continue
		}
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		i := strings.LastIndexByte(string(st), ')')
		if err != nil || i < 0 {
			continue
		}
		// Fields after the command: state is 3rd, utime 14th ... cstime 17th.
		f := strings.Fields(string(st[i+1:]))
		if len(f) < 15 {
			continue
		}
		var ticks [4]int64
		for j := range ticks {
			ticks[j], _ = strconv.ParseInt(f[11+j], 10, 64)
		}
		v := out[kind]
		v[0] += time.Duration(ticks[0]+ticks[1]) * time.Second / clockTicks
		v[1] += time.Duration(ticks[2]+ticks[3]) * time.Second / clockTicks
		out[kind] = v
	}
	return out
}

// clockTicks is USER_HZ, 100 on every Linux the bench runs on.
const clockTicks = 100

// printCPU writes the CPU time each kind used between before and after,
// and the wall time.
func printCPU(w io.Writer, what string, before, after cpuTimes, wall time.Duration) {
	var b strings.Builder
	n := goruntime.NumCPU()
	fmt.Fprintf(&b, "%s CPU over %.0f ms (%d cores: %.0f ms of CPU):", what, ms(wall), n, float64(n)*ms(wall))
	var total time.Duration
	for _, k := range []string{"containerd", "shims", "bench"} {
		own, kids := after[k][0]-before[k][0], after[k][1]-before[k][1]
		total += own + kids
		fmt.Fprintf(&b, " %s %.0f+%.0f ms", k, ms(own), ms(kids))
	}
	fmt.Fprintf(&b, ", total %.0f ms (own+children: containerd+shim start, shims+runc, bench+CNI plugins)\n", ms(total))
	_, _ = io.WriteString(w, b.String())
}
