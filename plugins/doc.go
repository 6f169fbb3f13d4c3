// Package plugins is Skiff's WebAssembly plugin host: it loads modules
// that speak the ABI of docs/abi.md (package sdk/plugin/abi), runs them in
// a sandbox, and calls them once per pod per extension point with all of
// the candidate nodes.
//
// A Host owns one wazero runtime: modules are compiled once (with
// wazero's compilation cache, on disk when Config.CacheDir is set) and
// run as warm instances drawn from a pool per loaded version. Every call
// has a deadline (enforced by instrumenting the module's loops, see
// package internal/interrupt) and every instance a memory cap; a guest
// that traps, panics, runs out of memory or time, or answers something
// malformed fails its call with one *Error of a Kind, is counted in its
// Plugin's Stats, and its instance is discarded, never reused. Other
// calls and other plugins carry on.
//
// A Plugin is a named handle on the active version of a module. Swap
// replaces that version atomically: calls that started on the old one
// finish on it, later calls use the new one, and the old version's
// instances are closed when its last call returns. Load and Swap take
// module bytes (and compute their digest), so that a registry that keeps
// modules by digest (the JetStream Object Store) can sit on top.
//
// Each instance keeps a node table (docs/abi.md): the host sends a node's
// record to an instance once, then names it by slot, and resends
// everything after a failed call. An instance's linear memory is reserved
// up to its cap outside the Go heap where the system allows (mmap), so it
// is backed only where the guest writes and never counts toward the Go
// heap's GC target.
//
// Info reports what a version promises: the node and pod sections it
// reads and whether it is pure (its answer for a node depends on those
// alone), and a Serial per loaded version, so that callers (the scheduler
// adapter) may cache answers and know when to drop them. A Batch that
// implements PodFieldsBatch is asked for pod records with only the
// sections the version reads.
//
// Concurrency: Host and Plugin are safe for concurrent use. A wazero
// module instance is not: each instance serves one call at a time, so a
// version runs at most Config.PoolSize calls at once and further calls
// wait for an instance (or for their context). The only goroutines are
// the runtime's timers: each instance's deadline timer (stopped when the
// call returns and when the instance is closed) and, for a call whose
// context can end, a context.AfterFunc that is stopped with the call.
//
// Lock order: Plugin.mu (Swap, Close) before Host.mu; Plugin.reasonsMu is
// a leaf; version and instance state is lock-free (channels, atomics, and
// one goroutine at a time per instance).
//
// Only this package (and the wasm node runtime) imports wazero; no
// exported API exposes its types.
package plugins
