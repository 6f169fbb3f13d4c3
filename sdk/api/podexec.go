package api

import "time"

// ExecStart starts a command in a container of one of a node's pods, on
// subjects.PodExec(node) with HdrExecOp ExecOpStart. The reply carries
// HdrExecSession; later requests (read, write, resize, close) name the
// session. Output is pulled (ExecOpRead), so a slow reader holds the
// command back rather than making anything buffer without bound.
// Documented in docs/api-over-nats.md.
type ExecStart struct {
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	UID       string   `json:"uid"`
	Container string   `json:"container"`
	Command   []string `json:"command"`
	// Stdin: the command reads what ExecOpWrite sends; else it has none.
	Stdin bool `json:"stdin,omitempty"`
	// TTY: the command runs on a terminal (stderr is merged into stdout).
	TTY bool `json:"tty,omitempty"`
	// Size is the terminal's size at the start of a TTY session (nil:
	// the runtime's default).
	Size *ExecResize `json:"size,omitempty"`
	// DryRun: check that the command could start (the container runs),
	// start nothing and open no session.
	DryRun bool `json:"dryRun,omitempty"`
}

// ExecResize is the body of an ExecOpResize request.
type ExecResize struct {
	Width  uint16 `json:"width"`
	Height uint16 `json:"height"`
}

// Exec operations (HdrExecOp).
const (
	ExecOpStart  = "start"
	ExecOpRead   = "read"
	ExecOpWrite  = "write"
	ExecOpResize = "resize"
	ExecOpClose  = "close"
)

// Exec protocol headers.
const (
	HdrExecOp      = "Skiff-Exec-Op"
	HdrExecSession = "Skiff-Exec-Session"
	// HdrExecWait on a read: how long the node may wait for output
	// (a Go duration, at most MaxExecWait).
	HdrExecWait = "Skiff-Exec-Wait"
	// HdrExecStdout on a read's reply: the body is that many bytes of
	// stdout followed by stderr.
	HdrExecStdout = "Skiff-Exec-Stdout"
	// HdrExecExit on a read's reply: the command has exited with this
	// code and all its output has been read.
	HdrExecExit = "Skiff-Exec-Exit"
	// HdrExecEOF on a write: close the command's stdin after the body.
	HdrExecEOF = "Skiff-Exec-EOF"
	// HdrExecWritten on a write's reply: how many bytes of the body the
	// command's stdin took; a write that the command does not read within
	// MaxExecWait takes less than all, and the rest must be sent again
	// (with HdrExecEOF, if it was set).
	HdrExecWritten = "Skiff-Exec-Written"
)

// Limits of the exec protocol.
const (
	MaxExecWait = 10 * time.Second
	// ExecIdle is how long a node keeps a session nobody reads from
	// before it kills the command.
	ExecIdle = time.Minute
)
