package subjects

// Subjects of pod I/O served by node agents (container logs, exec); the
// protocols are in docs/api-over-nats.md.

// PodLogs is the subject on which node's agent answers log requests for
// the pods bound to it (request/reply, no queue group: one agent per node).
func PodLogs(node string) string { return Node(node, "logs") }

// PodExec is the subject on which node's agent runs commands in its pods'
// containers (request/reply; operations in the Skiff-Exec-Op header).
func PodExec(node string) string { return Node(node, "exec") }
