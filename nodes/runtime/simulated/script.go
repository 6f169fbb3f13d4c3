package simulated

import (
	"fmt"
	"strconv"
	"time"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Pod annotations that script simulated containers. Each applies to every
// container of the pod; the same key followed by "." and a container name
// (sim.skiff.dev/exit-code.web) applies to that container only and wins.
// Durations are Go durations ("1.5s", "2m"); "never" means never.
const (
	// AnnotationExitAfter: the container exits this long after it starts.
	// Default: app containers run until killed; init containers exit at
	// once (0s).
	AnnotationExitAfter = "sim.skiff.dev/exit-after"
	// AnnotationExitCode: the exit code of a scripted exit (default 0).
	AnnotationExitCode = "sim.skiff.dev/exit-code"
	// AnnotationExitAttempts: the exit script applies to the first N runs
	// of the container only; later runs run until killed (default: all).
	AnnotationExitAttempts = "sim.skiff.dev/exit-attempts"
	// AnnotationOOMAfter: the container is OOM-killed (exit 137,
	// OOMKilled) this long after it starts.
	AnnotationOOMAfter = "sim.skiff.dev/oom-after"
	// AnnotationTermAfter: the container exits this long after SIGTERM
	// (default 0s); "never" ignores SIGTERM, so only SIGKILL stops it.
	AnnotationTermAfter = "sim.skiff.dev/term-after"
	// AnnotationReadyAfter: readiness probes fail until this long after
	// the start, then succeed (default 0s).
	AnnotationReadyAfter = "sim.skiff.dev/ready-after"
	// AnnotationStartupAfter: startup probes fail until this long after
	// the start (default 0s).
	AnnotationStartupAfter = "sim.skiff.dev/startup-after"
	// AnnotationLivenessFailAfter: liveness probes succeed until this long
	// after the start, then fail (default never).
	AnnotationLivenessFailAfter = "sim.skiff.dev/liveness-fail-after"
	// AnnotationPullError: every image pull for the pod fails with this
	// message (pod-wide only: a pull is not for one container).
	AnnotationPullError = "sim.skiff.dev/pull-error"
	// AnnotationPullDelay: every image pull for the pod takes this long.
	AnnotationPullDelay = "sim.skiff.dev/pull-delay"
)

// never is a duration that does not elapse.
const never = time.Duration(1<<63 - 1)

// script is how one container behaves.
type script struct {
	ExitAfter    time.Duration `json:"exitAfter"`
	ExitCode     int           `json:"exitCode"`
	ExitAttempts int           `json:"exitAttempts"` // <= 0: every attempt
	OOMAfter     time.Duration `json:"oomAfter"`
	TermAfter    time.Duration `json:"termAfter"`
	ReadyAfter   time.Duration `json:"readyAfter"`
	StartupAfter time.Duration `json:"startupAfter"`
	LiveFail     time.Duration `json:"livenessFailAfter"`
}

// parseScript reads the script of container name (of the given kind) from
// the pod's annotations.
func parseScript(ann map[string]string, name, kind string) (script, error) {
	s := script{ExitAfter: never, OOMAfter: never, LiveFail: never}
	if kind == runtime.KindInit {
		s.ExitAfter = 0
	}
	var err error
	dur := func(key string, dst *time.Duration) {
		v, ok := lookup(ann, key, name)
		if !ok || err != nil {
			return
		}
		if v == "never" {
			*dst = never
			return
		}
		d, perr := time.ParseDuration(v)
		if perr != nil || d < 0 {
			err = fmt.Errorf("simulated: annotation %s=%q: not a duration", key, v)
			return
		}
		*dst = d
	}
	num := func(key string, dst *int) {
		v, ok := lookup(ann, key, name)
		if !ok || err != nil {
			return
		}
		n, perr := strconv.Atoi(v)
		if perr != nil {
			err = fmt.Errorf("simulated: annotation %s=%q: not an integer", key, v)
			return
		}
		*dst = n
	}
	dur(AnnotationExitAfter, &s.ExitAfter)
	num(AnnotationExitCode, &s.ExitCode)
	num(AnnotationExitAttempts, &s.ExitAttempts)
	dur(AnnotationOOMAfter, &s.OOMAfter)
	dur(AnnotationTermAfter, &s.TermAfter)
	dur(AnnotationReadyAfter, &s.ReadyAfter)
	dur(AnnotationStartupAfter, &s.StartupAfter)
	dur(AnnotationLivenessFailAfter, &s.LiveFail)
	return s, err
}

func lookup(ann map[string]string, key, container string) (string, bool) {
	if v, ok := ann[key+"."+container]; ok {
		return v, true
	}
	v, ok := ann[key]
	return v, ok
}

// exit returns when, after its start, a run of the given attempt ends by
// itself, with which exit code and reason; ok is false if it does not.
func (s script) exit(attempt int) (after time.Duration, code int, reason string, ok bool) {
	scripted := s.ExitAttempts <= 0 || attempt < s.ExitAttempts
	exitAfter := never
	if scripted {
		exitAfter = s.ExitAfter
	}
	switch {
	case s.OOMAfter != never && s.OOMAfter <= exitAfter:
		return s.OOMAfter, 137, runtime.OOMKilled, true
	case exitAfter != never:
		return exitAfter, s.ExitCode, "", true
	}
	return 0, 0, "", false
}
