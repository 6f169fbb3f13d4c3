// Package bench holds Skiff's cluster-scale benchmarks, run by `skiff
// bench`. Each one drives a control plane through the public client (one
// it starts itself on a temporary data directory, or one given by URL),
// bounds its load in count and time, and prints figures plus a final
// machine-readable RESULT line.
//
// RunAPI measures the API server (creates, updates, watch latency);
// RunScheduler the scheduler end to end (pods created by concurrent
// clients, scheduled and bound onto simulated nodes), with its policy
// built in or as the example WASM plugins, which it builds once into a
// cache directory.
package bench
