// Package job is the Job controller: it runs a Job's pods to completion,
// as Kubernetes' Job controller does for the NonIndexed completion mode:
// min(parallelism, remaining completions) pods at a time, failed pods
// replaced after an exponential back-off (10 s doubling to 6 min by
// default), the Job failed past backoffLimit (container restarts count for
// restartPolicy OnFailure) or activeDeadlineSeconds, suspend and resume,
// and the Job deleted ttlSecondsAfterFinished after it finished.
//
// Every pod is counted exactly once, through Kubernetes' protocol: pods
// carry the batch.kubernetes.io/job-tracking finalizer; a pod seen
// finished is first recorded in status.uncountedTerminatedPods, then its
// finalizer is removed, then (next sync) it moves to status.succeeded or
// status.failed. A crash between any two steps loses or doubles nothing.
// Conditions: SuccessCriteriaMet then Complete (CompletionsReached);
// FailureTarget then Failed (BackoffLimitExceeded, DeadlineExceeded), the
// final condition once no pod runs or waits to be counted; Suspended.
//
// Decide is the pure core, Controller the shell (claims pods, applies the
// Plan, keeps each Job's back-off record in memory as Kubernetes does,
// and untracks the pods of Jobs that are gone). Indexed Jobs are not
// supported yet: such Jobs get a Warning event and are left alone.
//
// Concurrency: handlers only queue keys; Run's workers sync distinct Jobs
// in parallel.
package job
