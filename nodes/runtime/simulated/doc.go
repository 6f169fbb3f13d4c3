// Package simulated is a Runtime that runs nothing: sandboxes and
// containers are records whose states follow a script, so that one process
// can host thousands of nodes that go through the real agent code. By
// default an app container starts and runs until it is killed, and an init
// container exits 0 at once; pod annotations (Annotation*) script exits,
// exit codes, OOM kills, slow or ignored SIGTERM, probe results, and image
// pull failures.
//
// Time is the wall clock (time.Now and timers), so tests can run it under
// testing/synctest. State lives in memory, and in Config.StateFile when
// set, so that an agent (or a whole process) restarted on the same Runtime
// or file finds its pods again.
//
// Concurrency: a *Runtime is safe for concurrent use; one mutex guards all
// of its state, and event callbacks run under it (they must not block or
// call the Runtime back, as runtime.Runtime requires).
package simulated
