// Package controlplane assembles a Skiff control plane in one process: an
// embedded NATS server (or a connection to an external one), the state
// store, the API server with its doors, and the slots where the scheduler,
// the controllers and a local node agent plug in.
//
// Concurrency: Run owns every goroutine it starts and returns only after
// all of them have ended, when its context is cancelled or a component
// fails.
package controlplane
