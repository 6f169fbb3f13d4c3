package agent

import (
	"path/filepath"
	"strconv"
)

// PodLogDir is the directory of a pod's container logs under a node's log
// directory, laid out as the kubelet lays out /var/log/pods:
// <dir>/<namespace>_<pod>_<uid>. Package nodes/podio reads what the agent
// writes there, so both use this function.
func PodLogDir(dir, namespace, pod, uid string) string {
	return filepath.Join(dir, namespace+"_"+pod+"_"+uid)
}

// LogPath is the log file of one instance (attempt) of a container:
// <PodLogDir>/<container>/<attempt>.log.
func LogPath(dir, namespace, pod, uid, container string, attempt int) string {
	return filepath.Join(PodLogDir(dir, namespace, pod, uid), container, strconv.Itoa(attempt)+".log")
}
