// Package nodes runs node agents: one for this machine, on the runtime it
// picks, or many simulated ones in one process sharing one NATS
// connection, one API client and one binding of the node index (each with
// its own registration, lease, pod watch and workers). It is what
// `skiff node` and `skiff up` call; the agent itself is nodes/agent, the
// runtimes are under nodes/runtime, the pure pod lifecycle is
// nodes/lifecycle.
//
// Concurrency: Run owns its agents and returns once they have all
// stopped.
package nodes
