package agent

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/nodes/runtime"
)

// Termination messages, as the kubelet bounds them.
const (
	maxTerminationMessage = 4096 // bytes of terminationMessagePath read
	fallbackLogBytes      = 2048 // FallbackToLogsOnError: at most this much of the log's end...
	fallbackLogLines      = 80   // ...and at most this many lines
)

// terminationLog creates the host file a container's
// terminationMessagePath is mounted from, and returns its path and the
// path inside the container ("" when the agent keeps no pod files).
func (w *worker) terminationLog(pod *corev1.Pod, c *corev1.Container, attempt int) (host, inContainer string, err error) {
	dir := w.a.podVolumeDir(pod.UID)
	if dir == "" {
		return "", "", nil
	}
	inContainer = c.TerminationMessagePath
	if inContainer == "" {
		inContainer = corev1.TerminationMessagePathDefault
	}
	host = w.terminationLogPath(pod, c.Name, attempt)
	if err := os.MkdirAll(filepath.Dir(host), 0o750); err != nil {
		return "", "", err
	}
	f, err := os.OpenFile(host, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o666)
	if err != nil {
		return "", "", err
	}
	if err := f.Chmod(0o666); err != nil { // writable by any user the container runs as
		_ = f.Close()
		return "", "", err
	}
	return host, inContainer, f.Close()
}

func (w *worker) terminationLogPath(pod *corev1.Pod, name string, attempt int) string {
	return filepath.Join(w.a.podVolumeDir(pod.UID), "containers", name, strconv.Itoa(attempt)+"-termination-log")
}

// terminationMessages fills in the Message of exited containers that have
// none from what they wrote to their terminationMessagePath or, with
// terminationMessagePolicy FallbackToLogsOnError and a failure, from the
// end of their log, as the kubelet does. Messages are read once per
// container and kept in the worker's memory.
func (w *worker) terminationMessages(pod *corev1.Pod, cs []runtime.Container) {
	if w.a.podVolumeDir(pod.UID) == "" {
		return
	}
	specs := map[string]*corev1.Container{}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			specs[list[i].Name] = &list[i]
		}
	}
	for i := range cs {
		c := &cs[i]
		spec := specs[c.Name]
		if c.State != runtime.StateExited || c.Message != "" || spec == nil {
			continue
		}
		msg, ok := w.termMsgs[c.ID]
		if !ok {
			msg = readEnd(w.terminationLogPath(pod, c.Name, c.Attempt), maxTerminationMessage, 0, false)
			if msg == "" && c.ExitCode != 0 && spec.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
				if dir := w.a.podLogDir(pod); dir != "" {
					msg = readEnd(filepath.Join(dir, c.Name, strconv.Itoa(c.Attempt)+".log"), fallbackLogBytes, fallbackLogLines, true)
				}
			}
			w.termMsgs[c.ID] = msg
		}
		c.Message = msg
	}
}

// readEnd reads at most max bytes of a file: its start, or with tail its
// end, cut to the last lines lines when lines > 0. A missing file reads
// as "".
func readEnd(path string, max int64, lines int, tail bool) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	if tail {
		if st, err := f.Stat(); err == nil && st.Size() > max {
			if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
				return ""
			}
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return ""
	}
	if lines > 0 {
		// Keep what follows the lines-th newline from the end (a final
		// newline ends the last line, it does not start one).
		trimmed := bytes.TrimSuffix(b, []byte("\n"))
		for i, n := len(trimmed)-1, 0; i >= 0; i-- {
			if trimmed[i] == '\n' {
				if n++; n == lines {
					b = b[i+1:]
					break
				}
			}
		}
	}
	return string(b)
}
