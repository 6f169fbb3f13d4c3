package api

import (
	"encoding/binary"
	"errors"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/bus/subjects"
)

// The node index (bucket subjects.NodePodsBucket) holds a copy of every
// pod bound to a node, so that a node agent watches only its own pods. The
// API server writes it after each pod write; a value is the pod's revision
// in the objects bucket (8 bytes, big-endian) followed by the pod's stored
// encoding.

// NodePodKey is the index key of pod ns/name bound to node.
func NodePodKey(node, ns, name string) string {
	return NodePodPrefix(node) + "." + subjects.Token(ns) + "." + subjects.Token(name)
}

// NodePodPrefix is the index prefix of every pod bound to node.
func NodePodPrefix(node string) string { return subjects.Token(node) }

// EncodeNodePod builds an index value from a pod's revision and stored
// encoding.
func EncodeNodePod(rev uint64, raw []byte) []byte {
	out := make([]byte, 8, 8+len(raw))
	binary.BigEndian.PutUint64(out, rev)
	return append(out, raw...)
}

// NodePodRevision is the objects-bucket revision an index value carries (0
// if it is malformed).
func NodePodRevision(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// ErrBadNodePod is returned for an index value that is not well formed.
var ErrBadNodePod = errors.New("api: malformed node index value")

// DecodeNodePod decodes an index value into the pod, with its
// resourceVersion set.
func DecodeNodePod(v []byte) (*corev1.Pod, error) {
	if len(v) < 9 {
		return nil, ErrBadNodePod
	}
	var p corev1.Pod
	if _, err := Decode(v[8:], &p); err != nil {
		return nil, err
	}
	p.ResourceVersion = FormatRevision(NodePodRevision(v))
	return &p, nil
}
