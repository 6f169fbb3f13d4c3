// Package bustest starts real in-process NATS servers for tests: JetStream
// on, a random loopback port, the store in t.TempDir(), shut down in
// t.Cleanup. Restart brings a server back on the same port and directory,
// for durability and reconnect tests.
package bustest
