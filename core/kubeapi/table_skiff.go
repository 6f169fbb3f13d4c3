package kubeapi

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	skiffv1alpha1 "github.com/skiffhq/skiff/sdk/api/skiff/v1alpha1"
)

// Columns of Skiff's own kinds (skiff.dev), as kubectl get shows them.

var pluginPrinter = printer{[]metav1.TableColumnDefinition{nameCol,
	col("Kind", "string", "The component that loads the plugin.", 0),
	col("Version", "string", "The version that should run.", 0),
	col("Serving", "string", "The version the leading scheduler serves.", 0),
	col("State", "string", "Loaded, or Refused with the reason in status.message.", 0),
	col("Calls", "integer", "Calls across the scheduler replicas.", 0),
	col("Errors", "integer", "Failed calls across the scheduler replicas.", 0),
	col("P99", "string", "99th percentile call latency.", 0),
	ageCol,
	col("Digest", "string", "The module's digest.", 1),
	col("Message", "string", "Why the version was refused.", 1),
}, func(o runtime.Object, now time.Time) []any {
	p := o.(*skiffv1alpha1.Plugin)
	return []any{p.Name, string(p.Spec.Kind), p.Spec.Version, orNone(p.Status.Version), orNone(string(p.Status.State)),
		p.Status.Calls, p.Status.Errors, micros(p.Status.P99Micros), age(p.CreationTimestamp, now), p.Spec.Digest, orNone(p.Status.Message)}
}}

var schedulerProfilePrinter = printer{[]metav1.TableColumnDefinition{nameCol,
	col("Scheduler Name", "string", "The spec.schedulerName of the pods the profile schedules.", 0),
	col("Plugins", "string", "The profile's listed plugins.", 0),
	col("State", "string", "Active, or Refused with the reason in status.message.", 0),
	ageCol,
	col("Message", "string", "Why the profile was refused.", 1),
}, func(o runtime.Object, now time.Time) []any {
	p := o.(*skiffv1alpha1.SchedulerProfile)
	names := make([]string, len(p.Spec.Plugins))
	for i, pl := range p.Spec.Plugins {
		names[i] = pl.Name
	}
	return []any{p.Name, p.Spec.SchedulerName, orNone(strings.Join(names, ",")), orNone(p.Status.State),
		age(p.CreationTimestamp, now), orNone(p.Status.Message)}
}}

// micros formats a latency in microseconds as kubectl-style short text.
func micros(us int64) string {
	switch {
	case us <= 0:
		return "<none>"
	case us < 1000:
		return fmt.Sprintf("%dµs", us)
	default:
		return (time.Duration(us) * time.Microsecond).Round(100 * time.Microsecond).String()
	}
}
