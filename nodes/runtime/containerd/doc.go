// Package containerd is the runtime.Runtime that runs pods for real on a
// containerd 1.6 (or later) daemon through the containerd v2 Go client. It
// is the only Skiff package that imports containerd.
//
// Daemon: with Config.Address set, the runtime uses that daemon. Otherwise
// New starts a private daemon from the containerd binary on PATH, with its
// own root, state, gRPC and ttrpc sockets under Config.StateDir and the CRI
// plugin disabled (the agent does CRI's job), or reuses the private daemon
// a previous process left answering on that socket. Close stops a daemon
// New started; the containers keep running in their shims, and a daemon
// started later on the same directory picks them up again.
//
// Model: everything lives in containerd's metadata store, in the
// containerd namespace Config.Namespace ("skiff"), so that a restarted
// agent finds it again by labels alone. A sandbox is a containerd
// container record whose labels hold the pod's network namespace,
// address, host ports, host name and state. A container is a containerd
// container whose task's output goes to ContainerConfig.LogPath through
// the shim, so logs outlive the agent (stdout and stderr by two
// descriptors of the file: see logIO). The runtime's own labels (prefix
// "io.skiff.runtime/") are never returned; the agent's are returned
// verbatim.
//
// Shim: a pod's containers share one shim process (the runc shim's group
// annotation set to the sandbox ID, as CRI does). That shim exits when its
// last task is deleted, and a task created into it meanwhile fails to
// start ("failed to start shim: … no such file or directory", "ttrpc:
// closed"), as the start after a pod's last exit would (a restart in
// CrashLoopBackOff, the app after its init container). So the sandbox
// record has a task, the sandbox task, that holds the shim for the pod's
// life as CRI's pause container does: created in the pod's group and
// network namespace and never started (runc has made its namespaces and
// cgroup; its process waits as "runc init" and never runs the empty
// executable of <StateDir>/sandbox, its read-only root). The pod's
// first StartContainer creates it in the background once the container
// runs, off the start's path, and a later start again if it is missing (a
// sandbox of an earlier Skiff, a task someone killed); no task of the pod
// is deleted while it is being created, so it is in the shim before the
// shim's last container task can go. It is the last task StopSandbox
// deletes.
//
// Network: a pod's network namespace is pinned under <StateDir>/netns,
// with loopback up and eth0 attached by CNI (go-cni running the bridge,
// host-local and portmap plugins from Config.CNIPluginDirs, or the
// network of Config.CNIConfList): an address of Config.PodCIDR on the
// bridge Config.Bridge, host-local's leases under <StateDir>/cni/ipam, and
// hostPorts mapped by portmap. StopSandbox runs CNI DEL with the same
// port mappings (kept in the sandbox's labels) and removes the namespace;
// New releases sandboxes whose namespace is gone (a reboot) and removes
// pinned namespaces no sandbox names. The sandbox record is written before
// CNI ADD, so a crash in between leaves nothing that these do not find.
// Host-network sandboxes have no namespace of their own and no IP (the
// agent reports the node's).
//
// Exits: an exited task is finalized the first time the runtime sees it
// (in a List call or an event): its exit code, time and OOM verdict (the
// /tasks/oom event, or the cgroup's oom_kill counter read before the task
// is deleted) are written to the container's labels, then the task and its
// shim are deleted. Exit state therefore survives agent and daemon
// restarts. The exit is reported only once the task is deleted, which the
// shim does after copying the container's last output: what a container
// wrote before it exited is in its log when it is reported exited, as the
// kubelet guarantees.
//
// Concurrency: a *Runtime is safe for concurrent use. One mutex (finalize)
// serialises finalization so that a task is deleted once; another (lock)
// guards the host-wide lock of the pod bridge, taken with the first pod
// network (a second runtime on the same bridge is refused: it would give
// out the same addresses); a third (sandboxMu) guards the set of sandbox
// tasks being created. No two are ever held together. Nothing else is
// locked in the runtime, containerd's metadata store being the only
// state. The only goroutines the runtime starts are those sandbox task
// creations, at most one per sandbox at a time, each ending with its
// containerd calls (a minute at most); Close waits for them.
package containerd
