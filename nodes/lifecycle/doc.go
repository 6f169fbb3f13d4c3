// Package lifecycle is the node agent's pure decision core for one pod:
// given the pod, what the runtime reports for it and what the agent
// remembers (back-offs, probe results, signals sent), Decide says what to
// do next (create the sandbox, start, kill or remove containers, delete the
// pod) and Status says what status to report, both as the kubelet would:
// phases, container states and reasons, restart counts, conditions,
// restart policies with exponential back-off, init containers in order,
// probes, graceful termination.
//
// Nothing here performs I/O, reads the clock or keeps state: every input
// is an argument (Input), so the package is tested with tables and
// scenarios. The agent's pod worker is the shell that carries plans out.
//
// Not modelled yet: sidecar init containers (restartPolicy Always on an
// init container run as ordinary init containers), in-place resize, and
// restarting a container whose image changed in the spec.
package lifecycle
