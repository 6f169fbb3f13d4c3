// Package modulegc deletes the uploaded plugin modules that no Plugin
// object (skiff.dev/v1alpha1) references any more, neither as its current
// version nor in its history: from the Object Store (Controller, one of
// the controller manager's leader-elected controllers) and from a
// scheduler replica's module cache directory (Dir, which every replica
// runs on its own directory).
//
// Plan is the pure core: given the stored copies with their modification
// times, the Plugins and the time, it names the copies to delete. A copy
// is deleted only when no Plugin references it and it was written more
// than Timing.Grace ago. The grace period is what makes collection safe
// against pushes: a push stores its module before it writes the Plugin
// that names it, and writes it again when the stored copy is older than
// registry.RefreshAge, so a module about to be named is always younger
// than the grace period (10 minutes, against RefreshAge's minute and a
// push's seconds). A marker or lease per push would say the same with more
// writes, and a Plugin finalizer would not cover modules a failed push
// left behind. Each deletion checks again, just before it, that the copy
// is still old and still unreferenced, and Push stores its module again
// if it is missing once the Plugin is written; what remains is a push
// whose Plugin write and check both fall between that last look and the
// deletion, which the scheduler reports as a refused version (module
// missing) and a second push repairs.
//
// Modification times come from the Object Store server's clock and are
// compared with the collector's: the two must agree to well within the
// grace period (they are one clock with the embedded NATS server).
//
// Only what is a module is ever considered: the objects of the modules'
// bucket (subjects.PluginsBucket) named by a digest, and the files of the
// cache directory named <hex>.wasm (and <hex>.wasm.tmp, an unfinished
// write). Container images live in a bucket of their own
// (subjects.ImagesBucket) that the collector never opens; links and
// other names in the modules' bucket are left alone. wazero's compilation
// cache beside the module cache (<data-dir>/wasm-cache/compiled) is not
// collected: its files are named by wazero's internal hash of the module
// as the host rewrote it (loop interrupts) and of the CPU's features, not
// by the module's digest, so which file is whose cannot be told without
// reimplementing wazero's internals.
//
// Both collectors look when a Plugin stops referencing a digest (an
// update after which it names fewer, such as a push that trims the
// history, or a deletion), when a waiting copy's grace period ends, and
// every Timing.Interval (a module a failed push stored has no Plugin
// event).
// Both are idempotent and stateless between looks: a second collector
// racing the first (a replica that just lost the lease) deletes nothing
// the first would not, and deleting what is gone is not an error.
//
// Concurrency: Controller's handlers run on the shared informers'
// goroutines and only queue one key; its single worker does the looking
// and deleting. Dir.Run owns its informer's goroutine and does its
// looking on its own; both return after their goroutines have ended.
package modulegc
