// Package podio is the node side of pod I/O over NATS: it answers the API
// server's requests for the logs of the containers of one node's pods, on
// subjects.PodLogs(node), with the protocol of sdk/api's LogRequest, and
// runs commands in them for exec, on subjects.PodExec(node), with the
// protocol of sdk/api's ExecStart (docs/api-over-nats.md).
//
// Exec sessions are the only state: each holds a command the runtime runs
// and bounded pipes for its stdin, stdout and stderr, so a command is held
// back while its output is not read. A session ends when its exit is read,
// when it is closed, when nobody has asked about it for api.ExecIdle, or
// when Run ends.
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
// a bounded pool of goroutines (ServeConfig.Workers), owns the goroutine
// of each exec'd command, and returns when ctx ends and all of them have
// finished. Lock order: the session table's mutex, then a session's; a
// pipe's mutex is never held with either.
package podio
