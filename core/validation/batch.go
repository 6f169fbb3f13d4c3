package validation

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits Kubernetes puts on Jobs and CronJobs.
const (
	maxParallelismForIndexedJob = 100000
	// cronJobNameMax leaves room for the 11-character suffix the CronJob
	// controller appends to make a Job name (a 63-character label).
	cronJobNameMax = 63 - 11
)

func validateJob(job *batchv1.Job) field.ErrorList {
	errs := validateObjectMeta(&job.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateGeneratedSelector(job)...)
	return append(errs, validateJobSpecWithSelector(&job.Spec, field.NewPath("spec"), job.Spec.ManualSelector != nil && *job.Spec.ManualSelector)...)
}

// validateGeneratedSelector checks a selector Default generated: when the
// Job does not choose its own, the selector must be exactly the
// controller-uid one and the template must carry the generated labels. A
// Job without a uid and without a selector has not had its selector
// generated yet; it is accepted, and the selector rules apply once it has.
func validateGeneratedSelector(job *batchv1.Job) field.ErrorList {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return nil
	}
	if job.UID == "" && job.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	tmplMeta := field.NewPath("spec", "template", "metadata")
	for _, l := range []struct{ key, want string }{
		{legacyControllerUIDLabel, string(job.UID)},
		{legacyJobNameLabel, job.Name},
		{batchv1.ControllerUidLabel, string(job.UID)},
		{batchv1.JobNameLabel, job.Name},
	} {
		got, ok := job.Spec.Template.Labels[l.key]
		switch {
		case !ok:
			errs = append(errs, field.Required(tmplMeta.Child("labels").Key(l.key), fmt.Sprintf("must be '%s'", l.want)))
		case got != l.want:
			errs = append(errs, field.Invalid(tmplMeta.Child("labels").Key(l.key), job.Spec.Template.Labels, fmt.Sprintf("must be '%s'", l.want)))
		}
	}
	want := &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(job.UID)}}
	if !equality.Semantic.DeepEqual(job.Spec.Selector, want) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpecWithSelector is validateJobSpec plus the selector rules of
// a Job (not of a CronJob's template): required when manual, and matching
// the template's labels.
func validateJobSpecWithSelector(spec *batchv1.JobSpec, fldPath *field.Path, manual bool) field.ErrorList {
	errs := validateJobSpec(spec, fldPath)
	if spec.Selector == nil {
		if manual {
			errs = append(errs, field.Required(fldPath.Child("selector"), ""))
		}
		return errs
	}
	errs = append(errs, validateLabelSelector(spec.Selector, fldPath.Child("selector"))...)
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, selectorMismatchMsg))
	}
	return errs
}

func validateJobSpec(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegativePtr(spec.Parallelism, fldPath.Child("parallelism"))...)
	errs = append(errs, nonNegativePtr(spec.Completions, fldPath.Child("completions"))...)
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*spec.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	}
	errs = append(errs, nonNegativePtr(spec.BackoffLimit, fldPath.Child("backoffLimit"))...)
	errs = append(errs, nonNegativePtr(spec.TTLSecondsAfterFinished, fldPath.Child("ttlSecondsAfterFinished"))...)
	errs = append(errs, nonNegativePtr(spec.BackoffLimitPerIndex, fldPath.Child("backoffLimitPerIndex"))...)
	if spec.MaxFailedIndexes != nil {
		errs = append(errs, nonNegative(int64(*spec.MaxFailedIndexes), fldPath.Child("maxFailedIndexes"))...)
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(fldPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	indexed := false
	if spec.CompletionMode != nil {
		errs = append(errs, validateEnum(*spec.CompletionMode, fldPath.Child("completionMode"), batchv1.NonIndexedCompletion, batchv1.IndexedCompletion)...)
		indexed = *spec.CompletionMode == batchv1.IndexedCompletion
	}
	if indexed {
		if spec.Completions == nil {
			errs = append(errs, field.Required(fldPath.Child("completions"), "when completion mode is Indexed"))
		}
		if spec.Parallelism != nil && *spec.Parallelism > maxParallelismForIndexedJob {
			errs = append(errs, field.Invalid(fldPath.Child("parallelism"), *spec.Parallelism,
				fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxParallelismForIndexedJob)))
		}
		if spec.Completions != nil && spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > *spec.Completions {
			errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "must be less than or equal to completions"))
		}
	} else {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(fldPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if spec.PodReplacementPolicy != nil {
		errs = append(errs, validateEnum(*spec.PodReplacementPolicy, fldPath.Child("podReplacementPolicy"), batchv1.TerminatingOrFailed, batchv1.Failed)...)
		if spec.PodFailurePolicy != nil && *spec.PodReplacementPolicy != batchv1.Failed {
			errs = append(errs, field.NotSupported(fldPath.Child("podReplacementPolicy"), *spec.PodReplacementPolicy, []batchv1.PodReplacementPolicy{batchv1.Failed}))
		}
	}
	if spec.ManagedBy != nil {
		errs = append(errs, validateManagedBy(*spec.ManagedBy, fldPath.Child("managedBy"))...)
	}

	tmplPath := fldPath.Child("template")
	errs = append(errs, validatePodTemplateSpec(&spec.Template, tmplPath, podOpts{})...)
	rp := tmplPath.Child("spec", "restartPolicy")
	switch spec.Template.Spec.RestartPolicy {
	case corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		if spec.PodFailurePolicy != nil && spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			errs = append(errs, field.Invalid(rp, spec.Template.Spec.RestartPolicy, "only \"Never\" is supported when podFailurePolicy is specified"))
		}
	case corev1.RestartPolicyAlways, "":
		// Default sets Always when the user says nothing, so the message
		// names the values that would work.
		errs = append(errs, field.Required(rp, "valid values: \"OnFailure\", \"Never\""))
	default:
		errs = append(errs, field.NotSupported(rp, spec.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	}
	return errs
}

// validateManagedBy accepts the built-in controller or a domain-prefixed
// path of at most 63 characters.
func validateManagedBy(v string, fldPath *field.Path) field.ErrorList {
	if v == batchv1.JobControllerName {
		return nil
	}
	var errs field.ErrorList
	if len(v) > 63 {
		errs = append(errs, field.TooLong(fldPath, "", 63))
	}
	prefix, rest, ok := strings.Cut(v, "/")
	if !ok || prefix == "" || rest == "" {
		return append(errs, field.Invalid(fldPath, v, "must be a domain-prefixed path (such as \"acme.io/foo\")"))
	}
	for _, msg := range apivalidation.NameIsDNSSubdomain(prefix, false) {
		errs = append(errs, field.Invalid(fldPath, v, msg))
	}
	return errs
}

// validateJobUpdate applies Kubernetes' Job immutability: selector,
// completion mode, pod failure policy and the template (except, for a Job
// suspended before it ever started, its scheduling directives, labels and
// annotations); completions only for an Indexed Job scaled together with
// parallelism.
func validateJobUpdate(n, o *batchv1.Job) field.ErrorList {
	errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, validateJob(n)...)
	spec, old := &n.Spec, &o.Spec
	p := field.NewPath("spec")
	errs = append(errs, validateCompletionsUpdate(spec, old, p.Child("completions"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.Selector, old.Selector, p.Child("selector"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.CompletionMode, old.CompletionMode, p.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.PodFailurePolicy, old.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.BackoffLimitPerIndex, old.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.ManagedBy, old.ManagedBy, p.Child("managedBy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.SuccessPolicy, old.SuccessPolicy, p.Child("successPolicy"))...)

	oldTmpl := old.Template.DeepCopy()
	suspendedNeverStarted := old.Suspend != nil && *old.Suspend && o.Status.StartTime == nil
	if suspendedNeverStarted {
		newAff := spec.Template.Spec.Affinity
		switch {
		case newAff == nil && oldTmpl.Spec.Affinity != nil:
			oldTmpl.Spec.Affinity.NodeAffinity = nil
			if *oldTmpl.Spec.Affinity == (corev1.Affinity{}) {
				oldTmpl.Spec.Affinity = nil
			}
		case newAff != nil && oldTmpl.Spec.Affinity == nil:
			oldTmpl.Spec.Affinity = &corev1.Affinity{NodeAffinity: newAff.NodeAffinity}
		case newAff != nil && oldTmpl.Spec.Affinity != nil:
			oldTmpl.Spec.Affinity.NodeAffinity = newAff.NodeAffinity
		}
		oldTmpl.Spec.NodeSelector = spec.Template.Spec.NodeSelector
		oldTmpl.Spec.Tolerations = spec.Template.Spec.Tolerations
		oldTmpl.Spec.SchedulingGates = spec.Template.Spec.SchedulingGates
		oldTmpl.Annotations = spec.Template.Annotations
		oldTmpl.Labels = spec.Template.Labels
	}
	return append(errs, apivalidation.ValidateImmutableField(&spec.Template, oldTmpl, p.Child("template"))...)
}

func validateCompletionsUpdate(spec, old *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if !indexed {
		return apivalidation.ValidateImmutableField(spec.Completions, old.Completions, fldPath)
	}
	if equality.Semantic.DeepEqual(spec.Completions, old.Completions) || spec.Completions == nil {
		return nil
	}
	if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		return field.ErrorList{field.Invalid(fldPath, spec.Completions, "can only be modified in tandem with spec.parallelism")}
	}
	return nil
}

func validateJobStatusUpdate(n, o *batchv1.Job) field.ErrorList {
	errs := validateMetaStatusUpdate(&n.ObjectMeta, &o.ObjectMeta)
	p := field.NewPath("status")
	st := &n.Status
	errs = append(errs, nonNegative(int64(st.Active), p.Child("active"))...)
	errs = append(errs, nonNegative(int64(st.Succeeded), p.Child("succeeded"))...)
	errs = append(errs, nonNegative(int64(st.Failed), p.Child("failed"))...)
	errs = append(errs, nonNegativePtr(st.Ready, p.Child("ready"))...)
	errs = append(errs, nonNegativePtr(st.Terminating, p.Child("terminating"))...)
	if st.CompletionTime != nil && st.StartTime != nil && st.CompletionTime.Before(st.StartTime) {
		errs = append(errs, field.Invalid(p.Child("completionTime"), st.CompletionTime, "completionTime cannot be set before startTime"))
	}
	return errs
}

func validateCronJobCreate(cj *batchv1.CronJob) field.ErrorList {
	errs := validateObjectMeta(&cj.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateCronJobSpec(&cj.Spec, nil, field.NewPath("spec"))...)
	if len(cj.Name) > cronJobNameMax {
		errs = append(errs, field.Invalid(metaPath().Child("name"), cj.Name, fmt.Sprintf("must be no more than %d characters", cronJobNameMax)))
	}
	return errs
}

// validateCronJobUpdate skips the 52-character name limit, so CronJobs made
// before it existed can still be updated.
func validateCronJobUpdate(n, o *batchv1.CronJob) field.ErrorList {
	errs := validateMetaUpdate(&n.ObjectMeta, &o.ObjectMeta)
	errs = append(errs, validateObjectMeta(&n.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)...)
	return append(errs, validateCronJobSpec(&n.Spec, &o.Spec, field.NewPath("spec"))...)
}

func validateCronJobSpec(spec, old *batchv1.CronJobSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.Schedule == "" {
		errs = append(errs, field.Required(fldPath.Child("schedule"), ""))
	} else {
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		errs = append(errs, validateScheduleFormat(spec.Schedule, allowTZ, spec.TimeZone, fldPath.Child("schedule"))...)
	}
	if spec.StartingDeadlineSeconds != nil {
		errs = append(errs, nonNegative(*spec.StartingDeadlineSeconds, fldPath.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !equality.Semantic.DeepEqual(old.TimeZone, spec.TimeZone) {
		errs = append(errs, validateTimeZone(spec.TimeZone, fldPath.Child("timeZone"))...)
	}
	errs = append(errs, validateEnum(spec.ConcurrencyPolicy, fldPath.Child("concurrencyPolicy"),
		batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent)...)
	jt := fldPath.Child("jobTemplate")
	errs = append(errs, validateTemplateMeta(&spec.JobTemplate.ObjectMeta, jt.Child("metadata"))...)
	errs = append(errs, validateJobSpec(&spec.JobTemplate.Spec, jt.Child("spec"))...)
	if spec.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jt.Child("spec", "selector"), spec.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if m := spec.JobTemplate.Spec.ManualSelector; m != nil && *m {
		errs = append(errs, field.NotSupported(jt.Child("spec", "manualSelector"), m, []string{"nil", "false"}))
	}
	errs = append(errs, nonNegativePtr(spec.SuccessfulJobsHistoryLimit, fldPath.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, nonNegativePtr(spec.FailedJobsHistoryLimit, fldPath.Child("failedJobsHistoryLimit"))...)
	return errs
}

func validateScheduleFormat(schedule string, allowTZInSchedule bool, timeZone *string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := parseCronSchedule(schedule); err != nil {
		errs = append(errs, field.Invalid(fldPath, schedule, err.Error()))
	}
	switch {
	case allowTZInSchedule && strings.Contains(schedule, "TZ") && timeZone != nil:
		errs = append(errs, field.Invalid(fldPath, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	case !allowTZInSchedule && strings.Contains(schedule, "TZ"):
		errs = append(errs, field.Invalid(fldPath, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return errs
}

// validateTimeZone accepts an IANA time zone name that the system time zone
// database knows.
func validateTimeZone(tz *string, fldPath *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(fldPath, tz, "timeZone must be nil or non-empty string")}
	}
	var errs field.ErrorList
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZonePart(part) {
			errs = append(errs, field.Invalid(fldPath, tz, fmt.Sprintf("unknown time zone %s", *tz)))
			return errs
		}
	}
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(fldPath, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(fldPath, tz, err.Error()))
	}
	return errs
}

// validTimeZonePart matches ^[A-Za-z\.\-_0-9+]{1,14}$, Kubernetes' rule for
// each slash-separated part of a zone name.
func validTimeZonePart(s string) bool {
	if len(s) < 1 || len(s) > 14 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '-' || c == '_' || c == '+':
		default:
			return false
		}
	}
	return true
}

// validateTemplateMeta checks the metadata a template may
// carry (no name or namespace of its own).
func validateTemplateMeta(m *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	errs := metavalidation.ValidateLabels(m.Labels, fldPath.Child("labels"))
	return append(errs, apivalidation.ValidateAnnotations(m.Annotations, fldPath.Child("annotations"))...)
}
