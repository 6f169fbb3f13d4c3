// Package runtimetest is the conformance suite every runtime.Runtime
// passes: the contract of package runtime (states, exit codes, signals,
// labels, events, errors, removal) checked against a real runtime. The
// simulated runtime runs it in its tests, and the containerd runtime runs
// the same suite against a private containerd daemon.
package runtimetest
