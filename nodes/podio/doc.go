// Package podio is the node side of pod I/O over NATS: it answers the API
// server's requests for the logs of the containers of one node's pods, on
// subjects.PodLogs(node), with the protocol of sdk/api's LogRequest
// (docs/api-over-nats.md).
//
// It reads the log files the agent has the runtime write
// (agent.LogPath) and asks the runtime which instances of a container
// exist and whether they still run; it writes nothing and keeps no state
// between requests: the position in a stream travels in the request's
// cursor, so a stream survives an agent restart and costs the node nothing
// while its reader is slow or gone. The decisions (which instance, where a
// tail starts, which lines a since filter keeps, how a line is printed)
// are pure functions over bytes, tested apart from the shell that reads
// files and answers requests.
//
// Log files are either timestamped (each line starts with an RFC 3339
// time, optionally followed by a CRI stream and tag: the simulated
// runtime's and CRI's format) or raw (the bytes the container wrote: the
// containerd shim's cio.LogFile). For raw files, sinceSeconds/sinceTime
// apply to the whole file (by its modification time) and timestamps cannot
// be printed.
//
// Concurrency: a *Server is safe for concurrent use; Run serves requests on
// a bounded pool of goroutines (ServeConfig.Workers) and returns when ctx
// ends and they have finished.
package podio
