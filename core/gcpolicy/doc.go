// Package gcpolicy sets the Go garbage collector's policy for Skiff's
// processes: a high GOGC, which is cheap on CPU while the heap is small,
// and a soft memory limit that follows the live heap, so that the heap
// does not also grow to GOGC times the live data when that data grows.
//
// Run sets GOGC (unless the environment sets it) and then, after every
// collection, the soft memory limit (unless GOMEMLIMIT is set) to the
// larger of a floor and the live heap times a factor, plus the Go
// runtime's memory outside the heap. The floor is a budget for the whole
// process's anonymous memory: what the process holds outside the Go
// runtime (wazero's compiled code and guest memory, measured as RssAnon
// less Go's resident memory) is taken off it. Below the floor the heap grows as
// GOGC says; above it the collector runs when the heap reaches the limit;
// and because the limit follows the live heap it never comes so close to
// it that the collector runs without pause, the failure of a fixed limit
// that the live data outgrows. docs/rationale.md has the measurements.
//
// It changes process-wide runtime settings: one Run per process. Run's
// only goroutine is the caller's; the runtime signals each collection
// through a cleanup on a sentinel allocation, re-armed after every
// collection until Run returns.
package gcpolicy
