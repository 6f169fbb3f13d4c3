// Package testenv runs what the controllers' end-to-end tests run
// against: a real NATS server (bus/bustest), the state store and the API
// server in-process, clients on their own connections, and Kubelet, a
// stand-in for node agents that binds pods to nodes, reports them running
// and ready, and removes terminating pods, as the scheduler and the
// kubelet would.
package testenv
