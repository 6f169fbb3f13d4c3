// Package cronjob is the CronJob controller: it starts a CronJob's Jobs
// on its schedule, as Kubernetes' CronJob controller (v2) does.
//
// Schedules are robfig/cron's standard five fields or the @ descriptors
// (@hourly, @daily, @every 5m, ...), evaluated in spec.timeZone
// (time.LoadLocation; an unknown zone is an UnknownTimeZone Warning event
// and nothing runs) or, without one, in the location of the controller's
// clock. Each sync starts at most one Job: the one of the most recent
// schedule time not yet started, named <cronjob>-<minutes since the
// epoch> so that a time never gets two Jobs. Missed times are counted
// from the interval of the first two, as Kubernetes does (more than 100
// gives a TooManyMissedTimes warning, yet only the latest runs);
// startingDeadlineSeconds skips a time that is too old (MissedSchedule)
// and bounds how far back the controller looks. concurrencyPolicy Allow
// runs Jobs side by side, Forbid skips a time while one runs
// (JobAlreadyActive; the time is kept and starts when the running Job
// ends, if still within the deadline), Replace deletes the running ones
// first. suspend stops new Jobs. Finished Jobs beyond
// successfulJobsHistoryLimit and failedJobsHistoryLimit are deleted,
// oldest first. Status: active, lastScheduleTime, lastSuccessfulTime.
//
// A Job the CronJob controls that is running but missing from
// status.active (a crash between creating it and writing status) is added
// back (UnexpectedJob), so that Forbid and Replace see it; an active Job
// that is gone leaves the list (MissingJob), after a read from the API
// server confirms it.
//
// Time is injectable: Config.Now is the clock; Decide takes now as input,
// and the shell requeues each CronJob for just after its next schedule
// time. Decide is the pure core; Controller is the shell.
//
// Concurrency: handlers only queue keys; Run's workers sync distinct
// CronJobs in parallel.
package cronjob
