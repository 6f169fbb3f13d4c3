package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// LogRequest asks a node agent for a chunk of one container's log, on
// subjects.PodLogs(node). A log stream is a sequence of requests: the first
// has an empty Cursor and chooses the container instance and the starting
// point (TailLines, SinceTime); each later one carries the Cursor of the
// previous reply. The node keeps no state between requests, so a stream
// survives an agent restart, and the requester paces the stream: nothing is
// read on the node until it asks (flow control). Documented in
// docs/api-over-nats.md.
type LogRequest struct {
	// Namespace, Pod and UID identify the pod; Container is its container
	// (the API server has already resolved the default and checked the
	// name against the spec).
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	UID       string `json:"uid"`
	Container string `json:"container"`
	// Waiting is the container's waiting reason in the pod's status, used
	// in the error when the node has no instance of it yet.
	Waiting string `json:"waiting,omitempty"`

	// Previous, Follow, Timestamps, TailLines and SinceTime are
	// corev1.PodLogOptions' (SinceSeconds is turned into SinceTime by the
	// API server). They are read from the first request only.
	Previous   bool       `json:"previous,omitempty"`
	Follow     bool       `json:"follow,omitempty"`
	Timestamps bool       `json:"timestamps,omitempty"`
	TailLines  *int64     `json:"tailLines,omitempty"`
	SinceTime  *time.Time `json:"sinceTime,omitempty"`

	// Cursor is "" on the first request, then the previous reply's.
	Cursor string `json:"cursor,omitempty"`
	// MaxBytes bounds the reply's data (the node caps it at
	// MaxLogChunk); <= 0 is MaxLogChunk.
	MaxBytes int `json:"maxBytes,omitempty"`
	// Wait is how long a following request may wait on the node for new
	// output before it returns an empty chunk (the node caps it at
	// MaxLogWait); <= 0 returns at once.
	Wait time.Duration `json:"wait,omitempty"`
}

// LogReply is the header part of a node's answer; the message body is the
// log data itself (or, with HdrCode >= 400, a metav1.Status in JSON).
type LogReply struct {
	// Cursor continues the stream.
	Cursor string `json:"cursor"`
	// End: the stream is over (not following and the end of the log was
	// reached, or following and the container instance stopped).
	End bool `json:"end,omitempty"`
}

// Limits of the log protocol.
const (
	MaxLogChunk = 256 << 10
	MaxLogWait  = 10 * time.Second
)

// HdrLog carries a LogReply as JSON on a log reply.
const HdrLog = "Skiff-Log"

// EncodeLogReply and DecodeLogReply convert the HdrLog header.
func EncodeLogReply(r LogReply) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// DecodeLogReply parses a HdrLog header.
func DecodeLogReply(s string) (LogReply, error) {
	var r LogReply
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return LogReply{}, fmt.Errorf("log reply header: %w", err)
	}
	return r, nil
}
