package pods

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Terminal reports whether the pod has finished (Succeeded or Failed).
func Terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// Terminating reports whether the pod is being deleted.
func Terminating(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }

// Active reports whether the pod counts towards a controller's replicas:
// not finished and not being deleted.
func Active(p *corev1.Pod) bool { return !Terminal(p) && !Terminating(p) }

// Condition returns the pod's condition of type t, or nil.
func Condition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// Ready reports whether the pod's Ready condition is True.
func Ready(p *corev1.Pod) bool {
	c := Condition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// ReadySince is when the pod last became ready; zero if it is not ready.
func ReadySince(p *corev1.Pod) time.Time {
	c := Condition(p, corev1.PodReady)
	if c == nil || c.Status != corev1.ConditionTrue {
		return time.Time{}
	}
	return c.LastTransitionTime.Time
}

// Available reports whether the pod has been ready for at least
// minReadySeconds at now. With minReadySeconds 0 a ready pod is available.
func Available(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !Ready(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	since := ReadySince(p)
	return !since.IsZero() && since.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

// AvailableIn is how long until a ready pod becomes available (0 if it is
// already available, or not ready).
func AvailableIn(p *corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	if !Ready(p) || minReadySeconds == 0 {
		return 0
	}
	since := ReadySince(p)
	if since.IsZero() {
		return 0
	}
	d := since.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
	return max(d, 0)
}

// Restarts is the highest restart count of the pod's containers.
func Restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n = max(n, s.RestartCount)
	}
	return n
}
