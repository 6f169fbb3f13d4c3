// Package podbench measures pod start latency on a real containerd
// through the real node agent: create → phase Running with the image
// already present, for pods created one at a time and for a burst created
// at once (`skiff bench pods`).
//
// Run owns everything it starts: a containerd runtime (a private daemon
// under its state dir, a pod bridge and range of its own), one node agent
// registered against the control plane the caller connects it to, and the
// pods, which it deletes at the end with the bridge. It prints figures as
// it goes and a last line
//
//	RESULT start_p50_ms=… start_p99_ms=… burst20_all_running_ms=…
//
// Latency is read from a watch on the pods: the time from just before the
// create call to the first watch event that shows the pod Running.
// Where it goes is printed too: the agent runs on the runtime through a
// tracer that stamps each pod's phases (worker first asks about the pod,
// RunSandbox, CreateContainer, StartContainer, each called and returned),
// printed as medians and maxima for the sequential pods and the burst;
// and the CPU the burst cost the daemon, its shims (with runc) and this
// process (with the CNI plugins), read from /proc.
// Concurrency: Run is one goroutine plus the agent's; it is not meant to
// run twice at once on one state dir or bridge.
package podbench
