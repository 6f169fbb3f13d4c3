package containerd

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs/pkg/errgrpc"
)

// The runtime's own labels on containerd container records.
const (
	labelPrefix     = "io.skiff.runtime/"
	labelKind       = labelPrefix + "kind" // kindSandbox or kindContainer
	labelSandbox    = labelPrefix + "sandbox"
	labelName       = labelPrefix + "name"
	labelAttempt    = labelPrefix + "attempt"
	labelImage      = labelPrefix + "image"
	labelImageID    = labelPrefix + "image-id"
	labelLogPath    = labelPrefix + "log-path"
	labelStartedAt  = labelPrefix + "started-at"
	labelFinishedAt = labelPrefix + "finished-at"
	labelExitCode   = labelPrefix + "exit-code"
	labelReason     = labelPrefix + "reason"
	labelMessage    = labelPrefix + "message"
	labelOOM        = labelPrefix + "oom"
	labelState      = labelPrefix + "state" // of a sandbox
	labelNetNS      = labelPrefix + "netns"
	labelIP         = labelPrefix + "ip"
	labelPorts      = labelPrefix + "host-ports" // JSON []runtime.PortMapping
	labelHostname   = labelPrefix + "hostname"

	kindSandbox   = "sandbox"
	kindContainer = "container"
)

// userLabels are the caller's labels among all of a record's.
func userLabels(all map[string]string) map[string]string {
	out := make(map[string]string, len(all))
	for k, v := range all {
		if !strings.HasPrefix(k, labelPrefix) {
			out[k] = v
		}
	}
	return out
}

// matches reports whether labels include every key/value of match.
func matches(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// withLabels merges own into a copy of user.
func withLabels(user map[string]string, own map[string]string) map[string]string {
	out := maps.Clone(user)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, own)
	return out
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// native turns the gRPC error of a raw service call into containerd's
// errdefs errors (the client's typed wrappers do this; TaskService does not).
func native[T any](v T, err error) (T, error) { return v, errgrpc.ToNative(err) }
