package subjects

// Subjects and buckets of the node-side pod I/O (container logs) and of
// images pushed without a registry. The protocol is in
// docs/api-over-nats.md; images are described in docs/images.md.

// ImagesBucket is the JetStream Object Store bucket of images pushed with
// `skiff image push`: each image is an OCI archive stored under its
// manifest digest ("sha256:..."), and each name:tag is a link to it.
const ImagesBucket = "images"

// PodLogs is the subject on which node's agent answers log requests for
// the pods bound to it (request/reply, no queue group: one agent per node).
func PodLogs(node string) string { return Node(node, "logs") }

// PodExec is the subject on which node's agent runs commands in its pods'
// containers (request/reply; operations in the Skiff-Exec-Op header).
func PodExec(node string) string { return Node(node, "exec") }
