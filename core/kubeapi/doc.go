// Package kubeapi is the HTTPS door of the API server: the subset of the
// Kubernetes REST API that kubectl and client-go use, served over the same
// operations as the NATS door (core/apiserver.Server's methods), so the
// two doors cannot drift apart.
//
// It owns what only HTTP clients need: TLS (a self-signed CA and serving
// certificate generated into <data-dir>/pki on first start, or files given
// in Config), bearer-token authentication (the token lives in
// <data-dir>/token), the kubeconfig written to <data-dir>/kubeconfig,
// discovery (legacy and aggregated), OpenAPI v2 and v3 documents generated
// by reflection over the k8s.io/api types, content negotiation (JSON, YAML,
// protobuf), server-side printing (metav1.Table), watch streaming, and the
// scale, binding, log and exec subresources (the last two relayed to the
// pod's node over NATS: logs.go, exec.go). Everything that decides about
// objects (validation, defaulting, concurrency, deletion) stays in
// core/apiserver; patches are applied there too (Server.Patch).
//
// Errors reach clients as metav1.Status bodies built by apiserver.Status,
// with the Status's code as the HTTP status.
//
// Concurrency: a *Server is safe for concurrent use. Run owns the listener
// and every request goroutine; it returns once they have ended, after its
// context is cancelled (request contexts derive from it, so watches end
// too). The generated OpenAPI documents are built once, on first use, and
// are immutable afterwards.
package kubeapi
