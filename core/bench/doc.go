// Package bench holds Skiff's cluster-scale benchmarks, run by `skiff
// bench`. Each one drives a control plane through the public client (one
// it starts itself on a temporary data directory, or one given by URL),
// bounds its load in count and time, and prints figures plus a final
// machine-readable RESULT line.
package bench
