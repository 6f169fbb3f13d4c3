// Package apiservertest runs the control plane's core in a test: a real
// in-process NATS server (bustest), the objects store, an API server
// serving it over NATS, and a client on a connection of its own.
//
// Everything Start begins is stopped in t.Cleanup: the API server's
// goroutines are cancelled and waited for before the connections and the
// NATS server close. An Env is safe for concurrent use as far as its
// parts are; the helper itself keeps no mutable state after Start.
//
// Only tests import this package; core/apiserver's own non-test code must
// not, or its external tests would form a cycle.
package apiservertest
