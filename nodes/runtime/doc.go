// Package runtime defines Runtime, the plug point between the node agent
// and whatever runs containers (containerd, simulated, later WASM), and the
// plain data types that cross it.
//
// The model is CRI's, cut to what Skiff's agent needs: a pod is one
// sandbox (the network namespace and resources its containers share; no
// pause container) holding containers, each created, started, signalled
// and removed on its own. Images are pulled into the runtime's store by
// reference.
//
// Ownership: the runtime owns the state of what it runs and reports it
// faithfully; the agent owns every decision (what to start, when to
// restart, when to escalate from SIGTERM to SIGKILL, when to remove). The
// runtime keeps the labels and annotations it is given verbatim and
// returns them from the List calls; the agent finds its pods again after
// a restart by those labels alone, so a runtime must keep them, and the
// objects they describe, across agent restarts (for as long as the runtime
// itself lives: a simulated runtime lives as long as its process, or its
// state file).
//
// Values returned are copies owned by the caller; values passed in are not
// retained after the call returns.
//
// Errors: ErrNotFound when an ID names nothing (it may have been removed
// concurrently), ErrImagePull for a pull that failed (retryable; the agent
// backs off), ErrUnsupported for an operation the runtime cannot do. Any
// other error is an operational failure of the runtime and is retried.
//
// Concurrency: a Runtime is safe for concurrent use. The agent calls it
// from one goroutine per pod, so calls for different pods arrive
// concurrently, and calls for one pod's sandbox and containers arrive one
// at a time; a runtime may rely on nothing more. Events calls its callback
// from the runtime's own goroutine(s) and the callback must not block.
package runtime
